/**
 * Bookkeeping for the heartbeat tool, kept free of sockets and timers: RTT windows and percentiles,
 * the sparkline, per-target state and outages (fed explicit timestamps), and the health verdict.
 */

import { InvalidArgumentError } from '../errors.js';

/** Samples the RTT statistics are computed over, per target (the most recent ones). */
export const DEFAULT_WINDOW_SIZE = 1000;
/** Probes shown in a sparkline. */
export const SPARKLINE_LENGTH = 20;
/** Outages kept per target (the most recent ones); older ones only count. */
export const MAX_OUTAGES_KEPT = 100;

const SPARK_LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;
/** The sparkline character for a failed probe. */
export const SPARK_FAILURE = '×';

/** `connecting` until the first probe ends; then `up` after an answered probe, `down` after a failed one. */
export type TargetState = 'connecting' | 'up' | 'down';

/** RTT statistics over a window of samples, in ms. Median and p99 are nearest-rank (always an observed value). */
export interface RttSummary {
  /** The fastest round trip in the window, in ms. */
  minMs: number;
  /** The median round trip (nearest-rank 50th percentile), in ms. */
  medianMs: number;
  /** The nearest-rank 99th percentile round trip, in ms. */
  p99Ms: number;
  /** The slowest round trip in the window, in ms. */
  maxMs: number;
  /** Samples the figures are computed from (at most the window size). */
  samples: number;
}

/** The nearest-rank `p`-th percentile (0 < p <= 100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A fixed-capacity ring of numbers: pushing beyond the capacity drops the oldest. */
export class Ring<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InvalidArgumentError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#items.length < this.capacity) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    if (this.#items.length < this.capacity) return this.#items.slice();
    return [...this.#items.slice(this.#next), ...this.#items.slice(0, this.#next)];
  }
}

/** min/median/p99/max of `values` (any order), or null when there are none. */
export function summarize(values: readonly number[]): RttSummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    minMs: sorted[0]!,
    medianMs: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1]!,
    samples: sorted.length,
  };
}

/**
 * One character per probe, oldest first: answered probes as ▁..█ scaled from 0 to the largest RTT
 * shown (so the bars compare absolute latency), failed ones (`null`) as {@link SPARK_FAILURE}.
 */
export function sparkline(samples: readonly (number | null)[]): string {
  let max = 0;
  for (const s of samples) if (s !== null && s > max) max = s;
  let out = '';
  for (const s of samples) {
    if (s === null) out += SPARK_FAILURE;
    else if (max === 0) out += SPARK_LEVELS[0];
    else out += SPARK_LEVELS[Math.min(7, Math.max(0, Math.ceil((s / max) * 8) - 1))];
  }
  return out;
}

/** A period during which a target's probes failed. */
export interface OutageRecord {
  /** Epoch ms of the first failed probe. */
  startedAt: number;
  /** Epoch ms of the next answered probe; null while the outage goes on. */
  endedAt: number | null;
  /** `endedAt - startedAt`, or up to the time of the snapshot while ongoing. */
  durationMs: number;
  /** Failed probes during the outage. */
  failures: number;
  /** What the first failed probe reported. */
  error: ErrorInfo;
}

/** A failed probe's error reduced to plain, JSON-serialisable data. */
export interface ErrorInfo {
  /** The error's message (for a thrown non-Error, its string form). */
  message: string;
  /** The error's stable `code` (see lib/errors.ts), or `ERROR` for an error without one. */
  code: string;
}

/** Everything known about one target, JSON-serialisable. */
export interface TargetStats {
  /** `tcp://host:port` or `http://host:port/ping`. */
  target: string;
  /** How the target is probed: `tcp` (PING over the V1 protocol) or `http` (`GET /ping`). */
  kind: 'tcp' | 'http';
  /** The `host:port` probed. */
  address: string;
  /** Where the target stands now (see {@link TargetState}). */
  state: TargetState;
  /** Probes finished (answered or failed). */
  probes: number;
  /** Probes answered. */
  successes: number;
  /** Probes failed (error, refusal or timeout), retries included. */
  failures: number;
  /** RTT of the last answered probe, in ms; null before the first answer. */
  lastRttMs: number | null;
  /**
   * RTT statistics over the most recent answered probes, as many as the heartbeat's `windowSize` option
   * (one thousand by default); null before the first answer.
   */
  rtt: RttSummary | null;
  /** What the last failed probe reported, and when; null if no probe has failed yet. */
  lastError:
    | (ErrorInfo & {
        /** Epoch ms at which the failed probe ended. */
        at: number;
      })
    | null;
  /** Epoch ms since which the target is down; null unless `state` is `down`. */
  downSince: number | null;
  /** Outages so far, counting the ongoing one. */
  outageCount: number;
  /**
   * The most recent outages (at most one hundred; older ones only count), oldest first; an ongoing one is
   * last.
   */
  outages: OutageRecord[];
  /**
   * The last twenty probes, one character each, oldest first: answered ones as bars `▁` to `█` scaled to
   * the slowest of them, failed ones as `×`.
   */
  sparkline: string;
}

export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message, code: typeof code === 'string' ? code : 'ERROR' };
  }
  return { message: String(error), code: 'ERROR' };
}

/** What a recorded probe changed. */
export interface Transition {
  previous: TargetState;
  state: TargetState;
  /** Set when this answer ended an outage. */
  endedOutage?: OutageRecord;
}

/** The per-target state machine and counters; the caller supplies every timestamp (epoch ms). */
export class TargetTracker {
  readonly target: string;
  readonly kind: 'tcp' | 'http';
  readonly address: string;
  #state: TargetState = 'connecting';
  #successes = 0;
  #failures = 0;
  #consecutiveFailures = 0;
  #lastRttMs: number | null = null;
  #lastError: (ErrorInfo & { at: number }) | null = null;
  #outageCount = 0;
  #current: OutageRecord | undefined;
  readonly #outages = new Ring<OutageRecord>(MAX_OUTAGES_KEPT);
  readonly #window: Ring<number>;
  readonly #recent = new Ring<number | null>(SPARKLINE_LENGTH);

  constructor(kind: 'tcp' | 'http', address: string, windowSize = DEFAULT_WINDOW_SIZE) {
    this.kind = kind;
    this.address = address;
    this.target = targetName(kind, address);
    this.#window = new Ring(windowSize);
  }

  get state(): TargetState {
    return this.#state;
  }

  /** Failed probes since the last answered one. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  success(rttMs: number, at: number): Transition {
    const previous = this.#state;
    this.#successes++;
    this.#consecutiveFailures = 0;
    this.#lastRttMs = rttMs;
    this.#window.push(rttMs);
    this.#recent.push(rttMs);
    this.#state = 'up';
    const outage = this.#current;
    if (!outage) return { previous, state: 'up' };
    this.#current = undefined;
    outage.endedAt = at;
    outage.durationMs = at - outage.startedAt;
    this.#outages.push(outage);
    return { previous, state: 'up', endedOutage: { ...outage } };
  }

  failure(error: unknown, at: number): Transition {
    const previous = this.#state;
    const info = errorInfo(error);
    this.#failures++;
    this.#consecutiveFailures++;
    this.#lastError = { ...info, at };
    this.#recent.push(null);
    this.#state = 'down';
    if (this.#current) this.#current.failures++;
    else {
      this.#outageCount++;
      this.#current = { startedAt: at, endedAt: null, durationMs: 0, failures: 1, error: info };
    }
    return { previous, state: 'down' };
  }

  snapshot(now: number): TargetStats {
    const outages = this.#outages.toArray().map((o) => ({ ...o, error: { ...o.error } }));
    if (this.#current) outages.push({ ...this.#current, durationMs: now - this.#current.startedAt });
    return {
      target: this.target,
      kind: this.kind,
      address: this.address,
      state: this.#state,
      probes: this.#successes + this.#failures,
      successes: this.#successes,
      failures: this.#failures,
      lastRttMs: this.#lastRttMs,
      rtt: summarize(this.#window.toArray()),
      lastError: this.#lastError ? { ...this.#lastError } : null,
      downSince: this.#current?.startedAt ?? null,
      outageCount: this.#outageCount,
      outages,
      sparkline: sparkline(this.#recent.toArray()),
    };
  }
}

/** `tcp://host:port` or `http://host:port/ping`. */
export function targetName(kind: 'tcp' | 'http', address: string): string {
  return kind === 'tcp' ? `tcp://${address}` : `http://${address}/ping`;
}

/** `ok` < `warn` < `crit`: the monitoring verdict for a target (exit codes 0, 1, 2). */
export type Health = 'ok' | 'warn' | 'crit';

export interface HealthThresholds {
  /** RTT above which a target is slow, in ms (`--warn`). */
  warnMs: number;
  /** RTT above which a target counts as down, in ms (`--crit`). */
  critMs: number;
}

export interface Verdict {
  health: Health;
  /** Why, in words, e.g. `median 301ms > warn 50ms`. */
  reason: string;
}

/**
 * Judges one target over its run (the RTT window):
 * - `crit`: its last probe failed or it never answered, or its median RTT is above `critMs`;
 * - `warn`: its median RTT is above `warnMs`, or its p99 RTT is above `critMs`, or it was down during
 *   the run (some probes failed) but answered the last one;
 * - `ok` otherwise.
 */
export function judge(stats: TargetStats, thresholds: HealthThresholds): Verdict {
  const { warnMs, critMs } = thresholds;
  if (stats.state === 'connecting' || stats.rtt === null) {
    return {
      health: 'crit',
      reason: stats.lastError ? `never answered: ${stats.lastError.message}` : 'never answered',
    };
  }
  if (stats.state === 'down') {
    return { health: 'crit', reason: `down: ${stats.lastError?.message ?? 'last probe failed'}` };
  }
  const { medianMs, p99Ms } = stats.rtt;
  if (medianMs > critMs)
    return { health: 'crit', reason: `median ${formatMs(medianMs)} > crit ${formatLimit(critMs)}` };
  if (medianMs > warnMs)
    return { health: 'warn', reason: `median ${formatMs(medianMs)} > warn ${formatLimit(warnMs)}` };
  if (p99Ms > critMs)
    return { health: 'warn', reason: `p99 ${formatMs(p99Ms)} > crit ${formatLimit(critMs)}` };
  if (stats.failures > 0) {
    return {
      health: 'warn',
      reason: `${stats.failures} failed probe(s) in ${stats.outageCount} outage(s), answering again`,
    };
  }
  return { health: 'ok', reason: `median ${formatMs(medianMs)} <= warn ${formatLimit(warnMs)}` };
}

const HEALTH_RANK: Record<Health, number> = { ok: 0, warn: 1, crit: 2 };

/** The worse of the verdicts (`ok` for none); its rank is the exit code. */
export function worst(healths: readonly Health[]): Health {
  let result: Health = 'ok';
  for (const h of healths) if (HEALTH_RANK[h] > HEALTH_RANK[result]) result = h;
  return result;
}

export function exitCodeOf(health: Health): 0 | 1 | 2 {
  return HEALTH_RANK[health] as 0 | 1 | 2;
}

/** A short RTT: `0.412ms`, `12.3ms`, `301ms`, `1.25s`. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${trim((ms / 1000).toFixed(2))}s`;
  if (ms >= 100) return `${ms.toFixed(0)}ms`;
  if (ms >= 10) return `${ms.toFixed(1)}ms`;
  return `${ms.toFixed(3)}ms`;
}

/** A duration the way Go prints one, to ms precision: `350ms`, `2.31s`, `1m5.2s`, `2h0m3s` (`0.250ms` below 1 ms). */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms < 1) return formatMs(ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.round(ms) / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trim((totalSeconds % 60).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/** A threshold as it was likely given: `50ms`, `1s`, `0.250ms`. */
function formatLimit(ms: number): string {
  return Number.isInteger(ms) ? formatDuration(ms) : formatMs(ms);
}

function trim(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
