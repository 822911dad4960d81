import FakeTimers, { type Clock, type FakeMethod } from '@sinonjs/fake-timers';
import type { Cleanup } from './harness.js';

/** An installed fake clock: `tick`, `tickAsync`, `nextAsync`, `countTimers`, `now` (sinon's API). */
export type FakeClock = Clock;

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
  cleanup(() => clock.uninstall());
  return clock;
}
