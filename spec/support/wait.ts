import { realTimers } from '../../harness/real-timers.js';
import type { EventStream } from '../../lib/loop/event-stream.js';
import type { LoopEvent } from '../../lib/loop/types.js';

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

/**
 * Resolves with the next event of `type` that `events` yields, then stops the stream. Pass a stream
 * created before the step that causes the event (`nextLoopEvent(loop.events({ address }),
 * 'connected')`, then `loop.start()`): it listens from its creation, so nothing is missed. Rejects if
 * the loop closes first; a spec that fails before awaiting it leaves no unhandled rejection behind.
 */
export function nextLoopEvent<T extends LoopEvent['type']>(
  events: EventStream,
  type: T,
): Promise<Extract<LoopEvent, { type: T }>> {
  const promise = (async () => {
    try {
      for await (const event of events) {
        if (event.type === type) return event as Extract<LoopEvent, { type: T }>;
      }
      throw new Error(`the loop closed before a '${type}' event`);
    } finally {
      await events.return();
    }
  })();
  promise.catch(() => {});
  return promise;
}
