import type { LoopEvent } from './types.js';

/** What {@link EventStream} listens to: the loop's `event` feed and its end. */
export interface EventSource {
  subscribe(listener: (event: LoopEvent) => void, end: () => void): () => void;
}

/** What {@link LookupLoop.events} takes. */
export interface EventStreamOptions {
  /** Only this lookupd's events (default: every lookupd's). */
  address?: string;
  /**
   * Events kept while nobody reads (default 1000). When the buffer is full, the oldest event is
   * dropped to make room and counted in {@link EventStream.dropped}: a slow reader loses history,
   * never the latest state, and never holds memory without bound.
   */
  maxBuffered?: number;
}

/**
 * The loop's events as an async iterator (`for await (const event of loop.events())`). It listens from
 * the moment it is created, so nothing that happens between creating it and reading it is lost, and
 * it ends once the loop is closed and every event before that has been read. Leaving the loop early
 * (`break`, `return()`) stops it listening.
 */
export class EventStream implements AsyncIterableIterator<LoopEvent> {
  /** Events dropped because the buffer was full. */
  dropped = 0;
  readonly #buffer: LoopEvent[] = [];
  readonly #maxBuffered: number;
  #reader: ((result: IteratorResult<LoopEvent>) => void) | undefined;
  #ended = false;
  #unsubscribe: (() => void) | undefined;

  constructor(source: EventSource, options: EventStreamOptions = {}) {
    this.#maxBuffered = Math.max(1, options.maxBuffered ?? 1000);
    const address = options.address;
    const unsubscribe = source.subscribe(
      (event) => {
        if (address !== undefined && event.address !== address) return;
        this.#push(event);
      },
      () => this.#end(),
    );
    // A source that has already ended calls end() from inside subscribe().
    if (this.#ended) unsubscribe();
    else this.#unsubscribe = unsubscribe;
  }

  /**
   * The oldest unread event, waiting for one if none is buffered; `done` once the loop has closed and
   * every event before that has been read.
   */
  next(): Promise<IteratorResult<LoopEvent>> {
    const event = this.#buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#reader = resolve;
    });
  }

  /** Stops listening and drops unread events; what `break` out of `for await` calls. */
  return(): Promise<IteratorResult<LoopEvent>> {
    this.#end();
    this.#buffer.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The stream itself, so that it can be read with `for await`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  #push(event: LoopEvent): void {
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader({ value: event, done: false });
      return;
    }
    if (this.#buffer.length >= this.#maxBuffered) {
      this.#buffer.shift();
      this.dropped++;
    }
    this.#buffer.push(event);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe?.();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.({ value: undefined, done: true });
  }
}
