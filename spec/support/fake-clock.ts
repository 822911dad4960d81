import { fileURLToPath } from 'node:url';

const LIB_DIR = fileURLToPath(new URL('../../lib/', import.meta.url));

/**
 * A tiny fake clock for the library's timers. While installed, every setTimeout called from lib/ code
 * gets a fake timer that fires only when the test calls {@link advance}; everything else (mocha, the
 * test helpers, Node internals) keeps real timers. Sockets stay real: a test moves time forward
 * between I/O steps it awaits, so timeouts are tested without sleeping and without racing the clock.
 */
export class FakeClock {
  /** Fake milliseconds since install. */
  now = 0;
  readonly #timers = new Set<FakeTimeout>();
  #uninstall: (() => void) | undefined;

  /** Replaces the global setTimeout/clearTimeout; returns (and remembers) the function that restores them. */
  install(): () => void {
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const clock = this;
    const fakeSet = function (
      this: unknown,
      callback: (...args: unknown[]) => void,
      ms?: number,
      ...args: unknown[]
    ) {
      if (!(new Error().stack ?? '').includes(LIB_DIR)) {
        return realSet(callback, ms, ...args);
      }
      return new FakeTimeout(clock, callback, Math.max(1, ms ?? 0), args);
    } as unknown as typeof setTimeout;
    const fakeClear = ((timer: unknown) => {
      if (timer instanceof FakeTimeout) clock.#timers.delete(timer);
      else realClear(timer as Parameters<typeof clearTimeout>[0]);
    }) as typeof clearTimeout;
    globalThis.setTimeout = fakeSet;
    globalThis.clearTimeout = fakeClear;
    this.#uninstall = () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
      this.#uninstall = undefined;
    };
    return this.#uninstall;
  }

  uninstall(): void {
    this.#uninstall?.();
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order (a timer armed while firing may fire too). */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: FakeTimeout | undefined;
      for (const t of this.#timers) if (t.at <= target && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.now = next.at;
      this.#timers.delete(next);
      next.fire();
    }
    this.now = target;
  }

  /** Pending timers that are not unref'd: those that would keep a real process alive. */
  get referenced(): number {
    let count = 0;
    for (const t of this.#timers) if (t.hasRef()) count++;
    return count;
  }

  schedule(timer: FakeTimeout): void {
    this.#timers.add(timer);
  }
}

/** The parts of Node's Timeout the library uses: refresh, unref/ref, hasRef. */
class FakeTimeout {
  at: number;
  #referenced = true;

  constructor(
    private readonly clock: FakeClock,
    private readonly callback: (...args: unknown[]) => void,
    private readonly ms: number,
    private readonly args: unknown[],
  ) {
    this.at = clock.now + ms;
    clock.schedule(this);
  }

  refresh(): this {
    this.at = this.clock.now + this.ms;
    this.clock.schedule(this);
    return this;
  }

  unref(): this {
    this.#referenced = false;
    return this;
  }

  ref(): this {
    this.#referenced = true;
    return this;
  }

  hasRef(): boolean {
    return this.#referenced;
  }

  fire(): void {
    this.callback(...this.args);
  }
}
