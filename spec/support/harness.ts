import assert from 'node:assert/strict';
import { realTimers } from '../../harness/real-timers.js';
import { ConnectionError, NsqLookupError } from '../../lib/errors.js';
import type { LookupPeer, LookupPeerEvents } from '../../lib/peer/lookup-peer.js';
import { LIB_DIR } from './leak-check.js';

/** Registers one cleanup step; see {@link useCleanup}. */
export interface Cleanup {
  (step: () => unknown): void;
  /**
   * Runs the steps registered so far, last first, and forgets them; every step runs even when one
   * throws, and the first error is rethrown. The afterEach hook calls it; a test that sets up many
   * times over (one property run after another) calls it between runs.
   */
  run(): Promise<void>;
}

/**
 * Per-test cleanup, run LIFO after each test even when it failed. Register each server, client, clock
 * or temporary directory right after creating it. Call once per describe block.
 */
export function useCleanup(): Cleanup {
  const stack: (() => unknown)[] = [];
  const cleanup = ((step: () => unknown) => {
    stack.push(step);
  }) as Cleanup;
  cleanup.run = async () => {
    let first: unknown;
    while (stack.length > 0) {
      try {
        await stack.pop()!();
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  };
  afterEach(() => cleanup.run());
  return cleanup;
}

/** TCP handles still open in this process (sockets, listeners): none may outlive a test's cleanup. */
export function openTcpHandles(): string[] {
  return process.getActiveResourcesInfo().filter((name) => /^TCP/.test(name));
}

/**
 * Tracks the timers that library code (lib/) creates with the global setTimeout, so a test can check
 * that none is left pending, unref'd ones included (getActiveResourcesInfo does not list those).
 */
export function trackLibraryTimers(): { pending(): string[]; restore(): void } {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Map<unknown, string>();
  const patchedSet = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const stack = new Error().stack ?? '';
    const fromLib = stack
      .split('\n')
      .slice(2)
      .find((line) => line.includes(LIB_DIR));
    const timer: NodeJS.Timeout = realSet(
      (...a: unknown[]) => {
        live.delete(timer);
        callback(...a);
      },
      ms,
      ...args,
    );
    if (fromLib) live.set(timer, `${ms} ms timer ${fromLib.trim()}`);
    return timer;
  }) as typeof setTimeout;
  const patchedClear = ((timer: Parameters<typeof clearTimeout>[0]) => {
    live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout;
  globalThis.setTimeout = patchedSet;
  globalThis.clearTimeout = patchedClear;
  return {
    pending: () => [...live.values()],
    restore: () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

/**
 * For a describe block using {@link useCleanup}: each test must leave no TCP handle (beyond those open
 * when it started) and no pending library timer once its cleanup has run. Call right after useCleanup.
 */
export function useLeakChecks(cleanup: Cleanup): void {
  beforeEach(async () => {
    await quiesce();
    const baseline = openTcpHandles();
    const timers = trackLibraryTimers();
    // Registered first, so it runs after every other cleanup of the test.
    cleanup(async () => {
      timers.restore();
      await quiesce();
      assert.deepEqual(timers.pending(), [], 'library timers left pending');
      assert.deepEqual(openTcpHandles(), baseline, 'TCP handles left open');
    });
  });
}

/** Every event of a peer as text, in emission order: `a->b` (state), `connect`, `disconnect:<code>`. */
export function recordEvents(peer: LookupPeer): string[] {
  const events: string[] = [];
  peer.on('state', (state, previous) => events.push(`${previous}->${state}`));
  peer.on('connect', () => events.push('connect'));
  peer.on('disconnect', (error) => events.push(`disconnect:${(error as NsqLookupError).code}`));
  return events;
}

/** Resolves with the arguments of the peer's next `event`. */
export function nextEvent<E extends keyof LookupPeerEvents & string>(
  peer: LookupPeer,
  event: E,
  timeoutMs = 5000,
): Promise<LookupPeerEvents[E]> {
  const promise = new Promise<LookupPeerEvents[E]>((resolve, reject) => {
    const listener = (...args: LookupPeerEvents[E]) => {
      realTimers.clearTimeout(timer);
      resolve(args);
    };
    const timer = realTimers.setTimeout(() => {
      peer.off(event, listener);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    peer.once(event, listener);
  });
  // A test that fails before awaiting it must not also leave an unhandled rejection behind.
  promise.catch(() => {});
  return promise;
}

/** Lets the event loop run a full turn twice, so that handle closes already under way complete. */
export async function quiesce(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => realTimers.setTimeout(resolve, 0));
  await new Promise((resolve) => realTimers.setImmediate(resolve));
}

/** Resolves once the peer's state is `state` (now or after a state event). */
export async function untilState(peer: LookupPeer, state: LookupPeer['state']): Promise<void> {
  while (peer.state !== state) await nextEvent(peer, 'state');
}

/** The settled outcome of a promise, for asserting on many at once. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Asserts a rejection is a ConnectionError with this code that names `address`. */
export function assertConnectionError(
  outcome: Outcome<unknown>,
  code: string,
  address: string,
): ConnectionError {
  assert.ok(!outcome.ok, `expected a rejection with ${code}, got a success`);
  const error = outcome.error;
  assert.ok(error instanceof ConnectionError, `expected a ConnectionError, got ${String(error)}`);
  assert.ok(error instanceof NsqLookupError);
  assert.equal(error.code, code, error.message);
  assert.equal(error.address, address);
  assert.ok(error.message.includes(address), `message names the address: ${error.message}`);
  return error;
}
