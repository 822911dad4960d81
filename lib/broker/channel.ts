import { NotInFlightError } from '../errors.js';
import { type Deadlined, DeadlineHeap } from './deadlines.js';
import { Fifo } from './fifo.js';
import type { Message } from './protocol-v2.js';

/** What a channel needs from a subscribed connection (nsqd's Consumer). */
export interface Consumer {
  /** The connection's number, unique in its broker. */
  readonly id: number;
  /** How long a message delivered to this consumer stays in flight, in ms (its IDENTIFY msg_timeout). */
  readonly msgTimeoutMs: number;
  /** RDY above in-flight, not closing, output not backed up. */
  readyForMessages(): boolean;
  /** Whether this client's `sample_rate` lets this message through (nsqd drops the others). */
  sampled(): boolean;
  /** Writes a message that the channel has just put in flight for this client. */
  sendMessage(message: Message): void;
  /** One of its in-flight messages timed out. */
  timedOutMessage(): void;
  /** The channel was emptied: nothing is in flight any more. */
  emptied(): void;
  /** The channel is being deleted: disconnect. */
  close(): void;
}

/** A channel's limits and hooks, set by its topic. */
export interface ChannelOptions {
  /** Messages a channel keeps in memory (queued plus deferred) before refusing more; nsqd's --mem-queue-size. */
  memQueueSize: number;
  /** Cap on how far TOUCH can push a message's timeout past its delivery, in ms; nsqd's --max-msg-timeout. */
  maxMsgTimeoutMs: number;
  /** Called when an ephemeral channel's last consumer leaves. */
  onLastConsumerLeft: (channel: Channel) => void;
}

interface InFlight extends Deadlined {
  message: Message;
  clientId: number;
  /** Epoch ms of the delivery. */
  deliveredAt: number;
}

interface Deferred {
  message: Message;
  timer: NodeJS.Timeout;
}

/**
 * One channel of a topic: a FIFO of messages that its consumers share, each message delivered to one
 * of them at a time. Every delivery is in flight until FIN, REQ or the client's msg_timeout; REQ with
 * a delay and DPUB go through the deferred set. As nsqd, in-flight messages of a client that
 * disconnects stay in flight until they time out.
 */
export class Channel {
  /** Whether the name ends in `#ephemeral`: deleted when its last consumer leaves, overflow dropped. */
  readonly ephemeral: boolean;
  /** Paused channels deliver nothing (nsqd's /channel/pause); messages keep queueing. */
  paused = false;
  /** Messages put into this channel (nsqd's message_count). */
  messageCount = 0;
  /** Messages put back by REQ (nsqd's requeue_count). */
  requeueCount = 0;
  /** In-flight messages that timed out (nsqd's timeout_count). */
  timeoutCount = 0;
  readonly #queue = new Fifo<Message>();
  readonly #inFlight = new Map<string, InFlight>();
  /** The in-flight messages by timeout, and one timer for the first (a timer per message costs more). */
  readonly #timeouts = new DeadlineHeap<InFlight>();
  #timeoutTimer: NodeJS.Timeout | undefined;
  /** The deadline `#timeoutTimer` is set for; Infinity when none is set. */
  #timeoutTimerAt = Number.POSITIVE_INFINITY;
  /** Orders equal deadlines as the timeouts were set, as separate timers would fire. */
  #timeoutOrder = 0;
  readonly #deferred = new Map<string, Deferred>();
  #consumers: Consumer[] = [];
  #nextConsumer = 0;
  #closed = false;

  constructor(
    /** The topic this channel belongs to. */
    readonly topicName: string,
    /** The channel's name. */
    readonly name: string,
    /** Its limits and hooks, from its topic. */
    readonly options: ChannelOptions,
  ) {
    this.ephemeral = name.endsWith('#ephemeral');
  }

  /** Messages queued, not in flight or deferred (nsqd's depth). */
  get depth(): number {
    return this.#queue.length;
  }

  /** Messages delivered and not yet FIN'd, REQ'd or timed out. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Messages waiting for their REQ delay or DPUB defer to pass. */
  get deferredCount(): number {
    return this.#deferred.size;
  }

  /** The subscribed connections, in the order messages go round them. */
  get consumers(): readonly Consumer[] {
    return this.#consumers;
  }

  /** Whether `count` more messages fit; ephemeral channels always accept (and drop the overflow). */
  hasRoom(count: number): boolean {
    return this.ephemeral || this.#held() + count <= this.options.memQueueSize;
  }

  /** Queues one message (its own copy) and delivers what consumers are ready for. */
  put(message: Message): void {
    if (this.#closed) return;
    this.messageCount++;
    // An ephemeral channel has no backend to spill to: nsqd drops what does not fit in memory.
    if (this.ephemeral && this.#held() >= this.options.memQueueSize) return;
    this.#queue.push(message);
    this.pump();
  }

  /** Queues one message once `delayMs` have passed (DPUB). */
  putDeferred(message: Message, delayMs: number): void {
    if (this.#closed) return;
    this.messageCount++;
    if (this.ephemeral && this.#held() >= this.options.memQueueSize) return;
    this.#defer(message, delayMs);
  }

  /** A connection subscribed (SUB): it gets a share of the messages. */
  addConsumer(consumer: Consumer): void {
    if (!this.#consumers.includes(consumer)) this.#consumers.push(consumer);
    this.pump();
  }

  /** A connection left; an ephemeral channel left without consumers is reported to its topic. */
  removeConsumer(consumer: Consumer): void {
    const index = this.#consumers.indexOf(consumer);
    if (index === -1) return;
    this.#consumers.splice(index, 1);
    if (this.#nextConsumer > index) this.#nextConsumer--;
    if (this.#consumers.length === 0 && this.ephemeral && !this.#closed)
      this.options.onLastConsumerLeft(this);
  }

  /** FIN: the message is done. Throws {@link NotInFlightError} with nsqd's reason otherwise. */
  finish(clientId: number, id: string): void {
    this.#popInFlight(clientId, id);
  }

  /** REQ: back to the queue now (delay 0) or after `delayMs`. */
  requeue(clientId: number, id: string, delayMs: number): void {
    const entry = this.#popInFlight(clientId, id);
    this.requeueCount++;
    if (delayMs === 0) {
      this.#queue.push(entry.message);
      this.pump();
    } else {
      this.#defer(entry.message, delayMs);
    }
  }

  /** TOUCH: restart the message's timeout, never past delivery + max_msg_timeout. */
  touch(clientId: number, id: string, msgTimeoutMs: number): void {
    const entry = this.#inFlight.get(id);
    if (!entry) throw new NotInFlightError('ID not in flight');
    if (entry.clientId !== clientId) throw new NotInFlightError('client does not own message');
    const now = Date.now();
    const deadline = Math.min(now + msgTimeoutMs, entry.deliveredAt + this.options.maxMsgTimeoutMs);
    this.#timeouts.remove(entry);
    this.#startTimeout(entry, deadline);
  }

  /** Drops everything queued, deferred and in flight (nsqd's /channel/empty). */
  empty(): void {
    this.#queue.clear();
    this.#timeouts.clear();
    clearTimeout(this.#timeoutTimer);
    this.#timeoutTimer = undefined;
    this.#timeoutTimerAt = Number.POSITIVE_INFINITY;
    this.#inFlight.clear();
    for (const entry of this.#deferred.values()) clearTimeout(entry.timer);
    this.#deferred.clear();
    for (const consumer of this.#consumers) consumer.emptied();
  }

  /** Stops delivering (nsqd's /channel/pause). */
  pause(): void {
    this.paused = true;
  }

  /** Delivers again (nsqd's /channel/unpause). */
  unpause(): void {
    this.paused = false;
    this.pump();
  }

  /** Deletes the channel's contents and disconnects its consumers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const consumers = this.#consumers;
    this.#consumers = [];
    this.empty();
    for (const consumer of consumers) consumer.close();
  }

  /** Hands queued messages to ready consumers, round robin, until one side runs out. */
  pump(): void {
    while (!this.paused && !this.#closed && this.#queue.length > 0) {
      const consumer = this.#nextReadyConsumer();
      if (!consumer) return;
      const message = this.#queue.shift()!;
      if (!consumer.sampled()) continue;
      message.attempts++;
      const deliveredAt = Date.now();
      const entry: InFlight = {
        message,
        clientId: consumer.id,
        deliveredAt,
        deadline: 0,
        order: 0,
        heapIndex: -1,
      };
      this.#startTimeout(entry, deliveredAt + consumer.msgTimeoutMs);
      this.#inFlight.set(message.id, entry);
      consumer.sendMessage(message);
    }
  }

  #held(): number {
    return this.#queue.length + this.#deferred.size;
  }

  #nextReadyConsumer(): Consumer | undefined {
    const count = this.#consumers.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#nextConsumer + i) % count;
      const consumer = this.#consumers[index]!;
      if (consumer.readyForMessages()) {
        this.#nextConsumer = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  #popInFlight(clientId: number, id: string): InFlight {
    const entry = this.#inFlight.get(id);
    if (!entry) throw new NotInFlightError('ID not in flight');
    if (entry.clientId !== clientId) throw new NotInFlightError('client does not own message');
    this.#inFlight.delete(id);
    // The timer stays set: when it fires it finds the next deadline, which is cheaper than resetting it.
    this.#timeouts.remove(entry);
    return entry;
  }

  #startTimeout(entry: InFlight, deadline: number): void {
    entry.deadline = deadline;
    entry.order = this.#timeoutOrder++;
    this.#timeouts.push(entry);
    if (deadline < this.#timeoutTimerAt) this.#setTimeoutTimer(deadline);
  }

  #setTimeoutTimer(deadline: number): void {
    clearTimeout(this.#timeoutTimer);
    this.#timeoutTimerAt = deadline;
    this.#timeoutTimer = setTimeout(this.#onTimeoutTimer, Math.max(0, deadline - Date.now()));
    this.#timeoutTimer.unref();
  }

  /** Requeues every in-flight message whose deadline has passed, in deadline order; then waits for the next. */
  readonly #onTimeoutTimer = (): void => {
    this.#timeoutTimer = undefined;
    this.#timeoutTimerAt = Number.POSITIVE_INFINITY;
    for (let entry = this.#timeouts.peek(); entry; entry = this.#timeouts.peek()) {
      if (entry.deadline > Date.now()) {
        this.#setTimeoutTimer(entry.deadline);
        return;
      }
      this.#timeouts.remove(entry);
      this.#inFlight.delete(entry.message.id);
      this.timeoutCount++;
      this.#consumers.find((consumer) => consumer.id === entry!.clientId)?.timedOutMessage();
      this.#queue.push(entry.message);
      this.pump();
    }
  };

  #defer(message: Message, delayMs: number): void {
    const entry: Deferred = { message, timer: undefined! };
    entry.timer = setTimeout(() => {
      if (this.#deferred.get(message.id) !== entry) return;
      this.#deferred.delete(message.id);
      this.#queue.push(message);
      this.pump();
    }, delayMs);
    entry.timer.unref();
    this.#deferred.set(message.id, entry);
  }
}
