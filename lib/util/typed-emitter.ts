import { EventEmitter } from 'node:events';

/** Event name → listener argument tuple. */
export type EventMap = { [event: string]: unknown[] };

/** An EventEmitter whose `on`/`once`/`off`/`emit` are checked against an event map. */
export class TypedEmitter<Events extends EventMap> {
  readonly #emitter = new EventEmitter();

  on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  listenerCount<E extends keyof Events & string>(event: E): number {
    return this.#emitter.listenerCount(event);
  }

  /** Like EventEmitter's, except that an `error` event nobody listens to is dropped instead of thrown. */
  protected emit<E extends keyof Events & string>(event: E, ...args: Events[E]): boolean {
    if (event === 'error' && this.#emitter.listenerCount('error') === 0) return false;
    return this.#emitter.emit(event, ...args);
  }
}
