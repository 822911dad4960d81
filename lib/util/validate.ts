import { InvalidArgumentError } from '../errors.js';
import { describeValue } from './describe-value.js';

/**
 * The package's one set of option checks. Every actor checks what it is given in its constructor, so
 * a bad value is an {@link InvalidArgumentError} naming the option at once, never a retry loop that
 * fails for ever later.
 */

/** A positive, finite number (a delay or a timeout in ms); `fallback` when undefined. */
export function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** An integer of at least `min`; `fallback` when undefined. */
export function integerAtLeast(
  name: string,
  value: number | undefined,
  min: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** A number of at least `min` (a growth factor, say); `fallback` when undefined. */
export function numberAtLeast(
  name: string,
  value: number | undefined,
  min: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * A TCP port a consumer can dial: an integer from 1 to 65535. Values may come from a file, so the
 * message renders them without throwing (a BigInt shows as `5n`).
 */
export function port(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidArgumentError(
      `${name} must be an integer port from 1 to 65535, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A non-empty string. */
export function nonEmptyText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    // JSON.stringify would throw on a BigInt or a cycle, which msgpack files can hold.
    const got = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
    throw new InvalidArgumentError(`${name} must be a non-empty string, got ${got}`);
  }
  return value;
}

/** A string or undefined. */
export function optionalText(name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new InvalidArgumentError(`${name} must be a string, got ${typeof value}`);
  }
  return value;
}
