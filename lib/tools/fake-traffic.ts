import type { Broker } from '../broker/broker.js';
import type { Topic } from '../broker/topic.js';
import { QueueFullError } from '../errors.js';

/** What one generated message says: a consumer checks exactly-once delivery per channel with it. */
export interface GeneratedMessage {
  /** The producer's index in its fleet. */
  producer: number;
  /** The topic it was published to. */
  topic: string;
  /** 0, 1, 2... per producer and topic, with no gap: a message is generated only once it is queued. */
  sequence: number;
}

/**
 * The body of a generated message: its JSON, padded with spaces (still JSON) to `size` bytes. A size
 * below what the JSON needs gives the JSON alone.
 */
export function messageBody(message: GeneratedMessage, size = 0): Buffer {
  const json = JSON.stringify({
    producer: message.producer,
    topic: message.topic,
    sequence: message.sequence,
  });
  const length = Math.max(size, Buffer.byteLength(json));
  const body = Buffer.alloc(length, 0x20);
  body.write(json, 0, 'utf8');
  return body;
}

/** Generation ticks a second: often enough to spread a rate evenly, rarely enough to stay cheap. */
const TICKS_PER_SECOND = 10;

/**
 * Publishes `rate` messages a second to every topic of every serving fake, straight into its broker
 * (no socket in between). A topic whose queue (or one of whose channels) is full is skipped until it
 * has room again, and counted as paused: every channel gets every message, so a full one holds the
 * whole topic back, and nothing is dropped or fails.
 */
export class TrafficGenerator {
  /** Messages queued so far. */
  generated = 0;
  #rate: number;
  readonly #size: number;
  readonly #brokers: () => Iterable<[producer: number, broker: Broker]>;
  readonly #sequences = new WeakMap<Topic, number>();
  #paused = new Set<Topic>();
  #owed = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    options: { rate: number; size: number },
    brokers: () => Iterable<[producer: number, broker: Broker]>,
  ) {
    this.#rate = options.rate;
    this.#size = options.size;
    this.#brokers = brokers;
  }

  /** Topics skipped at their last attempt because a queue was full. */
  get paused(): number {
    return this.#paused.size;
  }

  /** Messages a second per topic and producer now. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate; 0 stops generating (what is queued stays). */
  setRate(rate: number): void {
    this.#rate = rate;
    if (rate > 0) this.start();
    else this.stop();
  }

  start(): void {
    if (this.#timer || !(this.#rate > 0)) return;
    this.#timer = setInterval(() => this.#tick(), 1000 / TICKS_PER_SECOND);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#owed = 0;
    // Stopped, nothing is held back: a topic counts as paused again only once an attempt fails.
    this.#paused = new Set();
  }

  #tick(): void {
    this.#owed += this.#rate / TICKS_PER_SECOND;
    const count = Math.floor(this.#owed);
    this.#owed -= count;
    if (count === 0) return;
    const paused = new Set<Topic>();
    for (const [producer, broker] of this.#brokers()) {
      for (const topic of broker.topics()) {
        if (!this.#publish(producer, topic, count)) paused.add(topic);
      }
    }
    // Built afresh each tick, so a deleted topic stops counting.
    this.#paused = paused;
  }

  /** Queues up to `count` messages; false if the topic had no room for all of them. */
  #publish(producer: number, topic: Topic, count: number): boolean {
    let sequence = this.#sequences.get(topic) ?? 0;
    try {
      for (let i = 0; i < count; i++) {
        topic.publish([messageBody({ producer, topic: topic.name, sequence }, this.#size)]);
        sequence++;
        this.generated++;
      }
      return true;
    } catch (error) {
      if (error instanceof QueueFullError) return false;
      throw error;
    } finally {
      this.#sequences.set(topic, sequence);
    }
  }
}
