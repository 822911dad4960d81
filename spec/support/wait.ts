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

export { once };

/** A small deterministic PRNG (mulberry32) so randomized specs can print and replay their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
