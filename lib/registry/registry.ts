import { readFile } from 'node:fs/promises';
import { pack, unpack } from 'msgpackr';
import { InvalidNameError, RegistryFileError } from '../errors.js';
import { isEphemeral, isValidChannelName, isValidTopicName } from '../protocol/names.js';
import { describeValue } from '../util/describe-value.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { TypedEmitter } from '../util/typed-emitter.js';

/** One change to the registry, in the order it happened. */
export type RegistryChange =
  | {
      /** A new topic, with no channel yet. */
      type: 'topic-added';
      /** Its name. */
      topic: string;
    }
  | {
      /** A topic removed, and its channels with it. */
      type: 'topic-removed';
      /** Its name. */
      topic: string;
      /** The channels it had, removed with it (no `channel-removed` for them). */
      channels: string[];
    }
  | {
      /** A new channel; a `topic-added` comes first if its topic was new. */
      type: 'channel-added';
      /** The channel's topic. */
      topic: string;
      /** The channel's name. */
      channel: string;
    }
  | {
      /** A channel removed; its topic stays. */
      type: 'channel-removed';
      /** The channel's topic. */
      topic: string;
      /** The channel's name. */
      channel: string;
    };

/** What {@link Registry} emits, event name to listener arguments. */
export interface RegistryEvents {
  [event: string]: unknown[];
  /** Every change, synchronously, in the order made; a call that changes nothing emits nothing. */
  change: [change: RegistryChange];
}

/** A topic or a topic/channel pair as lookupd registers it. */
export interface Registration {
  /** The topic's name. */
  topic: string;
  /** The channel's name; absent for the topic alone. */
  channel?: string;
}

const FILE_FORMAT = 'nsqd-lookup/registry';
const FILE_VERSION = 1;

interface RegistryFile {
  format: typeof FILE_FORMAT;
  version: typeof FILE_VERSION;
  topics: Array<{ name: string; channels: string[] }>;
}

/**
 * The broker's topics and their channels: the source of truth that every lookupd is brought in line
 * with. Changes are synchronous and announced through the `change` event, in order.
 */
export class Registry extends TypedEmitter<RegistryEvents> {
  readonly #topics = new Map<string, Set<string>>();

  constructor(initial?: Iterable<Registration>) {
    super();
    if (initial) {
      for (const { topic, channel } of initial) {
        if (channel === undefined) this.addTopic(topic);
        else this.addChannel(topic, channel);
      }
    }
  }

  /** Number of topics. */
  get topicCount(): number {
    return this.#topics.size;
  }

  /** Number of registrations a lookupd holds for this registry: one per channel, one per channel-less topic. */
  get size(): number {
    let size = 0;
    for (const channels of this.#topics.values()) size += channels.size === 0 ? 1 : channels.size;
    return size;
  }

  /** Whether the topic is registered. */
  hasTopic(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /** Whether the channel is registered on that topic. */
  hasChannel(topic: string, channel: string): boolean {
    return this.#topics.get(topic)?.has(channel) ?? false;
  }

  /** Every topic's name, in the order they were added. */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /** The topic's channels; empty for an unknown topic. */
  channels(topic: string): string[] {
    return [...(this.#topics.get(topic) ?? [])];
  }

  /** Adds a topic; false (and no event) if it exists. */
  addTopic(topic: string): boolean {
    if (!isValidTopicName(topic)) throw new InvalidNameError('topic', topic);
    if (this.#topics.has(topic)) return false;
    this.#topics.set(topic, new Set());
    this.emit('change', { type: 'topic-added', topic });
    return true;
  }

  /** Removes a topic with all its channels; false if it does not exist. */
  removeTopic(topic: string): boolean {
    const channels = this.#topics.get(topic);
    if (!channels) return false;
    this.#topics.delete(topic);
    this.emit('change', { type: 'topic-removed', topic, channels: [...channels] });
    return true;
  }

  /** Adds a channel, creating its topic first if needed (as nsqd's GetTopic().GetChannel()). */
  addChannel(topic: string, channel: string): boolean {
    if (!isValidTopicName(topic)) throw new InvalidNameError('topic', topic);
    if (!isValidChannelName(channel)) throw new InvalidNameError('channel', channel);
    this.addTopic(topic);
    const channels = this.#topics.get(topic)!;
    if (channels.has(channel)) return false;
    channels.add(channel);
    this.emit('change', { type: 'channel-added', topic, channel });
    return true;
  }

  /** Removes a channel; its topic stays. False if it does not exist. */
  removeChannel(topic: string, channel: string): boolean {
    const channels = this.#topics.get(topic);
    if (!channels?.delete(channel)) return false;
    this.emit('change', { type: 'channel-removed', topic, channel });
    return true;
  }

  /**
   * What a (re)connecting peer registers, as nsqd's connect callback builds it: `REGISTER t c` for each
   * channel, `REGISTER t` only for a topic without channels (lookupd adds the topic with its channel).
   */
  *registrations(): IterableIterator<Registration> {
    for (const [topic, channels] of this.#topics) {
      if (channels.size === 0) yield { topic };
      else for (const channel of channels) yield { topic, channel };
    }
  }

  /**
   * Writes the registry to `path` atomically (temporary file, fsync, rename), as nsqd persists its
   * metadata. Ephemeral topics and channels are left out, as nsqd leaves them out.
   */
  async save(path: string): Promise<void> {
    const file: RegistryFile = { format: FILE_FORMAT, version: FILE_VERSION, topics: [] };
    for (const [name, channels] of this.#topics) {
      if (isEphemeral(name)) continue;
      file.topics.push({ name, channels: [...channels].filter((c) => !isEphemeral(c)) });
    }
    await writeFileAtomic(path, pack(file));
  }

  /** Reads a file written by {@link save}. A missing, corrupt or truncated file throws {@link RegistryFileError}. */
  static async load(path: string): Promise<Registry> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new RegistryFileError(path, `cannot read: ${(cause as Error).message}`, { cause });
    }
    return Registry.decode(bytes, path);
  }

  /** Like {@link load}, from bytes already read. */
  static decode(bytes: Buffer, path = '<buffer>'): Registry {
    let raw: unknown;
    try {
      raw = unpack(bytes);
    } catch (cause) {
      throw new RegistryFileError(
        path,
        `not a msgpack registry snapshot (corrupt or truncated): ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const file = raw as Partial<RegistryFile> | null;
    if (file === null || typeof file !== 'object' || file.format !== FILE_FORMAT) {
      throw new RegistryFileError(path, `not a registry snapshot (expected format "${FILE_FORMAT}")`);
    }
    if (file.version !== FILE_VERSION) {
      throw new RegistryFileError(
        path,
        `unsupported version ${describeValue(file.version)} (this build reads ${FILE_VERSION})`,
      );
    }
    if (!Array.isArray(file.topics))
      throw new RegistryFileError(path, `topics is not a list: ${describeValue(file.topics)}`);
    // Validate everything before building, so a bad entry never leaves a half-loaded registry behind.
    // Only known fields are read and copied: whatever else the file holds (64-bit integers, decoded as
    // BigInt, or reference cycles) never reaches the caller.
    const registrations: Registration[] = [];
    for (const entry of file.topics as unknown[]) {
      const topic = entry as { name?: unknown; channels?: unknown } | null;
      if (!topic || typeof topic.name !== 'string' || !isValidTopicName(topic.name)) {
        throw new RegistryFileError(path, `invalid topic entry ${describeValue(entry)}`);
      }
      if (!Array.isArray(topic.channels))
        throw new RegistryFileError(path, `topic ${topic.name}: channels is not a list`);
      registrations.push({ topic: topic.name });
      for (const channel of topic.channels as unknown[]) {
        if (typeof channel !== 'string' || !isValidChannelName(channel)) {
          throw new RegistryFileError(path, `topic ${topic.name}: invalid channel ${describeValue(channel)}`);
        }
        registrations.push({ topic: topic.name, channel });
      }
    }
    return new Registry(registrations);
  }
}
