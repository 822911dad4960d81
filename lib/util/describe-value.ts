import { inspect } from 'node:util';

const MAX_LENGTH = 200;

/**
 * A short, never-throwing rendering of a value read from a file, for error messages. JSON.stringify
 * would throw on what msgpack can decode but JSON cannot hold: 64-bit integers (BigInt, shown as `5n`)
 * and reference cycles (shown as `[Circular *1]`).
 */
export function describeValue(value: unknown): string {
  const text = inspect(value, {
    depth: 2,
    maxArrayLength: 5,
    maxStringLength: 80,
    breakLength: Number.POSITIVE_INFINITY,
    compact: true,
    customInspect: false,
  });
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH)}...` : text;
}
