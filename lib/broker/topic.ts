import { QueueFullError } from '../errors.js';
import { Channel, type ChannelOptions } from './channel.js';
import { Fifo } from './fifo.js';
import type { Message } from './protocol-v2.js';

/** A topic's limits, message IDs and hooks, set by its broker. */
export interface TopicOptions extends Omit<ChannelOptions, 'onLastConsumerLeft'> {
  /** A new 16-byte message ID (nsqd's guid, hex ASCII). */
  newMessageId: () => string;
  /** Called right after a channel is created, before any message reaches it. */
  onChannelCreated: (topic: Topic, channel: Channel) => void;
  /** Called when an ephemeral channel's last consumer leaves. */
  onLastConsumerLeft: (topic: Topic, channel: Channel) => void;
}

interface Pending {
  message: Message;
  deferMs: number;
}

/**
 * A topic: messages published to it are copied to every channel. Until it has a channel (or while it
 * is paused) they wait in the topic itself, and go to the channels that exist when they leave, as in
 * nsqd's topic messagePump.
 */
export class Topic {
  /** Whether the name ends in `#ephemeral`: deleted with its last channel, overflow dropped. */
  readonly ephemeral: boolean;
  /** Paused topics hold what is published instead of copying it to their channels. */
  paused = false;
  /** Messages published to this topic (nsqd's message_count). */
  messageCount = 0;
  /** Bytes of message bodies published to this topic (nsqd's message_bytes). */
  messageBytes = 0;
  readonly #channels = new Map<string, Channel>();
  readonly #backlog = new Fifo<Pending>();

  constructor(
    /** The topic's name. */
    readonly name: string,
    /** Its limits, message IDs and hooks, from the broker. */
    readonly options: TopicOptions,
  ) {
    this.ephemeral = name.endsWith('#ephemeral');
  }

  /** Messages waiting in the topic itself (nsqd's topic depth). */
  get depth(): number {
    return this.#backlog.length;
  }

  /** Its channels, in the order they were created. */
  channels(): Channel[] {
    return [...this.#channels.values()];
  }

  /** The channel, if it exists. */
  channel(name: string): Channel | undefined {
    return this.#channels.get(name);
  }

  /** The channel, created (and announced) if it does not exist: nsqd's GetChannel. */
  getChannel(name: string): Channel {
    let channel = this.#channels.get(name);
    if (channel) return channel;
    channel = new Channel(this.name, name, {
      memQueueSize: this.options.memQueueSize,
      maxMsgTimeoutMs: this.options.maxMsgTimeoutMs,
      onLastConsumerLeft: (c) => this.options.onLastConsumerLeft(this, c),
    });
    this.#channels.set(name, channel);
    this.options.onChannelCreated(this, channel);
    this.#drain();
    return channel;
  }

  /** Removes the channel, dropping its messages and disconnecting its consumers. */
  deleteChannel(name: string): boolean {
    const channel = this.#channels.get(name);
    if (!channel) return false;
    this.#channels.delete(name);
    channel.close();
    return true;
  }

  /**
   * Publishes `bodies` as one batch, deferred by `deferMs` when positive. All or nothing: throws
   * {@link QueueFullError} before queueing anything if the topic or a channel lacks room.
   */
  publish(bodies: Buffer[], deferMs = 0): void {
    const holding = this.#channels.size === 0 || this.paused;
    if (holding && !this.ephemeral && this.#backlog.length + bodies.length > this.options.memQueueSize) {
      throw new QueueFullError(
        `topic ${this.name} holds ${this.#backlog.length} messages (mem-queue-size ${this.options.memQueueSize})`,
      );
    }
    if (!holding) {
      for (const channel of this.#channels.values()) {
        if (!channel.hasRoom(bodies.length)) {
          throw new QueueFullError(
            `channel ${this.name}/${channel.name} is full (mem-queue-size ${this.options.memQueueSize})`,
          );
        }
      }
    }
    const timestampNs = BigInt(Date.now()) * 1_000_000n;
    for (const body of bodies) {
      const message: Message = { id: this.options.newMessageId(), body, timestampNs, attempts: 0 };
      this.messageCount++;
      this.messageBytes += body.length;
      if (holding) {
        if (this.ephemeral && this.#backlog.length >= this.options.memQueueSize) continue;
        this.#backlog.push({ message, deferMs });
      } else {
        this.#dispatch(message, deferMs);
      }
    }
  }

  /** Drops the messages waiting in the topic itself; channels keep theirs (nsqd's /topic/empty). */
  empty(): void {
    this.#backlog.clear();
  }

  /** Stops copying messages to the channels (nsqd's /topic/pause). */
  pause(): void {
    this.paused = true;
  }

  /** Copies again, starting with what was held (nsqd's /topic/unpause). */
  unpause(): void {
    this.paused = false;
    this.#drain();
  }

  /** Closes every channel (disconnecting their consumers) and drops all messages. */
  close(): void {
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
    this.#backlog.clear();
  }

  #drain(): void {
    if (this.#channels.size === 0 || this.paused) return;
    for (let pending = this.#backlog.shift(); pending; pending = this.#backlog.shift()) {
      this.#dispatch(pending.message, pending.deferMs);
    }
  }

  #dispatch(message: Message, deferMs: number): void {
    let left = this.#channels.size;
    for (const channel of this.#channels.values()) {
      // Each channel gets its own copy (same ID, body and timestamp, its own attempts); the last one
      // takes the message itself, which nothing else holds and which has not been delivered yet.
      const copy: Message =
        --left === 0
          ? message
          : { id: message.id, body: message.body, timestampNs: message.timestampNs, attempts: 0 };
      if (deferMs > 0) channel.putDeferred(copy, deferMs);
      else channel.put(copy);
    }
  }
}
