import { once } from 'node:events';

/**
 * Re-checks `condition` until it holds, for state that lives in another server and announces nothing
 * (lookupd dropping a producer after its socket closes). Fails with `message` after `timeoutMs`.
 */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  message: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
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

/** A small deterministic PRNG (mulberry32) so randomized specs can print and replay their seed. */
export { mulberry32 as prng } from '../../lib/util/random.js';
export { once };
