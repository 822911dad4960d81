import { EventEmitter } from 'node:events';

/** Event name → listener argument tuple. */
export type EventMap = { [event: string]: unknown[] };

/** An EventEmitter whose `on`/`once`/`off`/`emit` are checked against an event map. */
export class TypedEmitter<Events extends EventMap> {
  readonly #emitter = new EventEmitter();

  /** Calls `listener` on every `event` until {@link off} removes it; returns this for chaining. */
  on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Calls `listener` on the next `event` only. */
  once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener added with {@link on} or {@link once}; does nothing for an unknown one. */
  off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** How many listeners `event` has now. */
  listenerCount<E extends keyof Events & string>(event: E): number {
    return this.#emitter.listenerCount(event);
  }

  /** Like EventEmitter's, except that an `error` event nobody listens to is dropped instead of thrown. */
  protected emit<E extends keyof Events & string>(event: E, ...args: Events[E]): boolean {
    if (event === 'error' && this.#emitter.listenerCount('error') === 0) return false;
    return this.#emitter.emit(event, ...args);
  }
}
