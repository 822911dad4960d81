import { InvalidArgumentError } from '../errors.js';
import { numberAtLeast, positiveNumber } from '../util/validate.js';

/** Delays between reconnect attempts: exponential, capped, with jitter inside the cap. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms (default 200; with jitter, 100-200). */
  initialDelayMs?: number;
  /**
   * Longest delay, in ms, jitter included (default 2000). It bounds how long a lookupd that comes
   * back waits for its brokers: every registration is back within this plus one re-registration.
   */
  maxDelayMs?: number;
  /** Growth factor per failure (default 2). */
  factor?: number;
  /**
   * Draw each delay from [d/2, d] instead of waiting exactly d, so that many brokers that lost the
   * same lookupd do not retry in lockstep (default true).
   */
  jitter?: boolean;
  /** A number in [0, 1), for jitter (default Math.random; specs inject a seeded one). */
  random?: () => number;
}

/**
 * The one place a reconnect delay is computed. The n-th consecutive failure waits
 * d = min(maxDelayMs, initialDelayMs * factor^(n-1)), or a uniform draw from [d/2, d] with jitter:
 * never more than maxDelayMs. {@link reset} once a connection has proved itself.
 */
export class Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly jitter: boolean;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions = {}, option = 'reconnect') {
    this.initialDelayMs = positiveNumber(`${option}.initialDelayMs`, options.initialDelayMs, 200);
    this.maxDelayMs = positiveNumber(`${option}.maxDelayMs`, options.maxDelayMs, 2000);
    this.factor = numberAtLeast(`${option}.factor`, options.factor, 1, 2);
    if (this.maxDelayMs < this.initialDelayMs) {
      throw new InvalidArgumentError(
        `${option}.maxDelayMs (${this.maxDelayMs}) must be at least ${option}.initialDelayMs (${this.initialDelayMs})`,
      );
    }
    this.jitter = options.jitter ?? true;
    this.#random = options.random ?? Math.random;
  }

  /** Consecutive failures since the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts one more failure and returns the delay, in whole ms, to wait before the next attempt. */
  next(): number {
    this.#failures++;
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** (this.#failures - 1));
    const delay = this.jitter ? ceiling * (0.5 + 0.5 * this.#random()) : ceiling;
    return Math.min(this.maxDelayMs, Math.round(delay));
  }

  reset(): void {
    this.#failures = 0;
  }
}
