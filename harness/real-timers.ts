/**
 * Node's own timer functions and monotonic clock, taken when this module is first imported: before any
 * spec installs a fake clock (that happens in hooks and tests, after every import). Helpers that wait
 * on real I/O (polls, helper timeouts) use these, so a fake clock moves only the code under test.
 */
export const realTimers = Object.freeze({
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  /** Milliseconds on a monotonic clock (performance.now). */
  now: performance.now.bind(performance),
});

/** Resolves after `ms` of real time. */
export function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => realTimers.setTimeout(resolve, ms));
}
