import { realTimers } from '../../harness/real-timers.js';

export interface EventuallyOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Re-check this often (default 10 ms). */
  pollMs?: number;
  /**
   * Subscribes `recheck` to whatever announces a change the condition reads (a server's commands, a
   * client's frames), so the check runs at once instead of at the next poll; returns the unsubscribe.
   */
  wake?: (recheck: () => void) => () => void;
}

/**
 * Resolves once `condition` holds: checked now, then every `pollMs` and on every `wake`. Fails naming
 * `what` after `timeoutMs`. It runs on real time, so it keeps working while a spec's fake clock holds
 * the library's timers. The one way the specs wait for a condition.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: EventuallyOptions = {},
): Promise<void> {
  const { timeoutMs = 5000, pollMs = 10, wake } = options;
  const deadline = realTimers.now() + timeoutMs;
  let woken = false;
  let wakeUp: (() => void) | undefined;
  const unsubscribe = wake?.(() => {
    woken = true;
    wakeUp?.();
  });
  try {
    for (;;) {
      woken = false;
      if (await condition()) return;
      const left = deadline - realTimers.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      if (woken) continue;
      await new Promise<void>((resolve) => {
        const timer = realTimers.setTimeout(() => done(), Math.min(pollMs, left));
        const done = () => {
          realTimers.clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        };
        wakeUp = done;
      });
    }
  } finally {
    unsubscribe?.();
  }
}

/** Resolves with the arguments of the next `event` whose first argument is `first`. */
export async function nextEventFor<T extends unknown[]>(
  emitter: {
    on(event: string, listener: (...args: T) => void): unknown;
    off(event: string, listener: (...args: T) => void): unknown;
  },
  event: string,
  first: unknown,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (...args: T) => {
      if (args[0] !== first) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}
