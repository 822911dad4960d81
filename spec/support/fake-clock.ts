import FakeTimers, { type Clock, type FakeMethod } from '@sinonjs/fake-timers';
import type { Cleanup } from './harness.js';

/** An installed fake clock: sinon's API (`tick`, `tickAsync`, `nextAsync`, `countTimers`, `now`), plus one count. */
export interface FakeClock extends Clock {
  /** Pending timers that are not unref'd: those that would keep a real process alive. */
  readonly referenced: number;
}

interface TimerHandle {
  hasRef(): boolean;
  [Symbol.toPrimitive](): number;
}

/**
 * The specs' one fake clock: @sinonjs/fake-timers, installed the same way everywhere. It fakes only
 * what the spec names (default setTimeout/clearTimeout; the pinger needs setInterval, epoch-ms fields
 * need Date), starts at 0, and lets a faked clearTimeout still clear a real timer armed before it.
 * Sockets stay real, and the helpers (the fake lookupd, V1Client, ClientSockets, eventually) keep
 * real time (harness/real-timers.ts), so a spec moves time between the I/O steps it awaits.
 *
 * The uninstall is registered with `cleanup`: whatever the spec creates after this call is closed
 * first, still on the fake timers it armed; whatever it created before is closed on real time.
 */
export function useFakeClock(
  cleanup: Cleanup,
  toFake: FakeMethod[] = ['setTimeout', 'clearTimeout'],
): FakeClock {
  const clock = FakeTimers.install({ now: 0, toFake, shouldClearNativeTimers: true });
  // sinon keeps a timer's ref state on the handle it returns, so the handles are kept to count them.
  // Its uninstall puts the real functions back, these wrappers included.
  const handles = new Set<TimerHandle>();
  for (const name of ['setTimeout', 'setInterval'] as const) {
    if (!toFake.includes(name)) continue;
    const global = globalThis as unknown as Record<string, (...args: unknown[]) => TimerHandle>;
    const fake = global[name]!;
    global[name] = (...args: unknown[]) => {
      const handle = fake(...args);
      handles.add(handle);
      return handle;
    };
  }
  Object.defineProperty(clock, 'referenced', {
    get: () => {
      let count = 0;
      for (const handle of handles) {
        if (!clock.timers?.has(Number(handle))) handles.delete(handle);
        else if (handle.hasRef()) count++;
      }
      return count;
    },
  });
  cleanup(() => clock.uninstall());
  return clock as FakeClock;
}
