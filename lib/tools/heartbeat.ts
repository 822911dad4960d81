import { InvalidArgumentError, ThrownValueError } from '../errors.js';
import { Backoff } from '../loop/backoff.js';
import { splitHostPort } from '../util/address.js';
import { type LogFn, logger } from '../util/debug.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { HttpProber, type Prober, TcpProber } from './heartbeat-probers.js';
import {
  DEFAULT_WINDOW_SIZE,
  type ErrorInfo,
  errorInfo,
  type OutageRecord,
  type TargetState,
  type TargetStats,
  TargetTracker,
} from './heartbeat-stats.js';

/** What {@link Heartbeat} probes and how often; at least one TCP or HTTP address is required. */
export interface HeartbeatOptions {
  /** lookupd TCP addresses (`host:port`, nsqd's `--lookupd-tcp-address`), each PINGed over its own connection. */
  tcpAddresses?: string[];
  /** lookupd HTTP addresses (`host:port`, `--lookupd-http-address`) whose `GET /ping` must answer 200 `OK`. */
  httpAddresses?: string[];
  /** Time between the starts of two probes of an answering target, in ms (default 1000). */
  intervalMs?: number;
  /**
   * Time allowed per probe, in ms (default 1000): for TCP, the dial and the PING answer each get this long;
   * for HTTP, the whole request.
   */
  timeoutMs?: number;
  /** Probes per target (answered or failed, retries included) before that target stops; default: no limit. */
  count?: number;
  /**
   * Delay before the first retry of a failed target, in ms (default 100); it doubles per failure, capped
   * at `intervalMs`.
   */
  retryMinMs?: number;
  /** Answered probes the RTT statistics cover per target, the most recent ones (default 1000). */
  windowSize?: number;
  /**
   * Keep the process alive while probing (default false: the probe timers are unref'd, so a program
   * whose only work is the heartbeat would exit at once). A CLI or a script sets it; it lasts until
   * `close()` or until every target has sent `count` probes.
   */
  keepAlive?: boolean;
  /** Replaces the `debug` logger (`nsqd-lookup:heartbeat:<target>`). */
  log?: LogFn;
}

/** One finished probe. `at` is the epoch ms at which it ended. */
export type HeartbeatSample =
  | {
      /** The target answered. */
      ok: true;
      /** Epoch ms at which the probe ended. */
      at: number;
      /** The round trip, in ms, dialing left out. */
      rttMs: number;
    }
  | {
      /** The probe failed: an error answer, a refused or broken connection, or a timeout. */
      ok: false;
      /** Epoch ms at which the probe ended. */
      at: number;
      /**
       * Why it failed; this package's errors carry a stable `code` (`NSQ_ERR_READ_TIMEOUT`,
       * `NSQ_ERR_HTTP_CHECK`...).
       */
      error: Error;
    };

/** An outage that is over: the target answered again. */
export interface HeartbeatOutage {
  /** Epoch ms of the first failed probe. */
  startedAt: number;
  /** Epoch ms of the answer that ended it. */
  endedAt: number;
  /** How long the target was down, `endedAt - startedAt`, in ms. */
  durationMs: number;
  /** Failed probes during the outage. */
  failures: number;
  /** What the first failed probe reported. */
  error: ErrorInfo;
}

/**
 * What {@link Heartbeat} emits, event name to listener arguments; `target` is a {@link TargetStats.target}
 * name.
 */
export interface HeartbeatEvents {
  [event: string]: unknown[];
  /** Every finished probe. */
  sample: [target: string, sample: HeartbeatSample];
  /** A target changed state (`connecting` → `up`/`down`, `up` ↔ `down`). */
  state: [target: string, state: TargetState, previous: TargetState];
  /** A target that was down answered again. */
  outage: [target: string, outage: HeartbeatOutage];
  /** Every target has sent `count` probes (only with `count`). */
  end: [];
}

/**
 * Probes lookupds for liveness: per TCP address, PING over a connection that never sends IDENTIFY (so
 * lookupd never lists the prober as a producer); per HTTP address, `GET /ping`. Each target has its own
 * probe loop: every `intervalMs` while it answers; after a failure it is `down` and is retried with a
 * doubling backoff until it answers, which ends the outage (`outage` event). RTTs leave out dialing: a
 * PING's round trip on an open connection, an HTTP request's on a kept-alive one. Timers are unref'd
 * unless `keepAlive` is set; `close()` releases every socket and timer.
 */
export class Heartbeat extends TypedEmitter<HeartbeatEvents> {
  readonly #loops: ProbeLoop[];
  #started = false;
  #closing: Promise<void> | undefined;
  readonly #finished: Promise<void>;
  #resolveFinished!: () => void;

  constructor(options: HeartbeatOptions) {
    super();
    const intervalMs = positive(options.intervalMs, 1000, 'intervalMs');
    const timeoutMs = positive(options.timeoutMs, 1000, 'timeoutMs');
    const retryMinMs = positive(options.retryMinMs, 100, 'retryMinMs');
    const count = options.count ?? Number.POSITIVE_INFINITY;
    if (count !== Number.POSITIVE_INFINITY && (!Number.isInteger(count) || count < 1)) {
      throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
    }
    const windowSize = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    if (!Number.isInteger(windowSize) || windowSize < 1) {
      throw new InvalidArgumentError(`windowSize must be a positive integer, got ${windowSize}`);
    }
    const keepAlive = options.keepAlive ?? false;
    const tcp = dedupe(options.tcpAddresses ?? []);
    const httpAddresses = dedupe(options.httpAddresses ?? []);
    if (tcp.length + httpAddresses.length === 0) {
      throw new InvalidArgumentError('heartbeat needs at least one TCP or HTTP address');
    }
    const owner: LoopOwner = {
      emit: (event, ...args) => this.emit(event, ...args),
      done: () => this.#onLoopDone(),
    };
    const loop = (kind: 'tcp' | 'http', address: string): ProbeLoop => {
      splitHostPort(address);
      const tracker = new TargetTracker(kind, address, windowSize);
      const log = options.log ?? logger('heartbeat', tracker.target);
      const prober =
        kind === 'tcp' ? new TcpProber(address, timeoutMs, log) : new HttpProber(address, timeoutMs);
      return new ProbeLoop(owner, tracker, prober, { intervalMs, retryMinMs, count, keepAlive, log });
    };
    this.#loops = [...tcp.map((a) => loop('tcp', a)), ...httpAddresses.map((a) => loop('http', a))];
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
  }

  /** The target names, `tcp://host:port` then `http://host:port/ping`, in option order. */
  get targets(): string[] {
    return this.#loops.map((l) => l.tracker.target);
  }

  /** Starts every probe loop (the first probes go out at once). Idempotent; returns this. */
  start(): this {
    if (this.#started || this.#closing) return this;
    this.#started = true;
    for (const l of this.#loops) l.start();
    return this;
  }

  /** A snapshot of every target's statistics, in {@link targets} order. */
  stats(): TargetStats[] {
    const now = Date.now();
    return this.#loops.map((l) => l.tracker.snapshot(now));
  }

  /** Resolves once every target has sent `count` probes, or once {@link close} has finished. */
  finished(): Promise<void> {
    return this.#finished;
  }

  /** Stops probing: cancels timers, aborts probes in flight, closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#loops.map((l) => l.stop())).then(() => this.#resolveFinished());
    return this.#closing;
  }

  #onLoopDone(): void {
    if (this.#loops.every((l) => l.done)) {
      this.emit('end');
      this.#resolveFinished();
    }
  }
}

/** What a probe loop reports to its {@link Heartbeat}. */
interface LoopOwner {
  emit<E extends keyof HeartbeatEvents & string>(event: E, ...args: HeartbeatEvents[E]): void;
  /** The loop has sent its `count` probes. */
  done(): void;
}

interface LoopOptions {
  intervalMs: number;
  retryMinMs: number;
  count: number;
  keepAlive: boolean;
  log: LogFn;
}

/** One target's probe loop; owns its timer and its prober. */
class ProbeLoop {
  readonly tracker: TargetTracker;
  readonly #owner: LoopOwner;
  readonly #prober: Prober;
  readonly #options: LoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #sent = 0;
  #stopped = false;
  done = false;

  /** Retries after a failure: the package's one backoff, without jitter (a probe keeps its own cadence). */
  readonly #backoff: Backoff;

  constructor(owner: LoopOwner, tracker: TargetTracker, prober: Prober, options: LoopOptions) {
    this.#owner = owner;
    this.tracker = tracker;
    this.#prober = prober;
    this.#options = options;
    this.#backoff = new Backoff(
      {
        initialDelayMs: Math.min(options.retryMinMs, options.intervalMs),
        maxDelayMs: options.intervalMs,
        jitter: false,
      },
      'heartbeat retry',
    );
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel();
    const inFlight = this.#inFlight;
    await this.#prober.close();
    await inFlight;
  }

  #schedule(delayMs: number): void {
    this.#cancel();
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      const run = this.#probe().finally(() => {
        if (this.#inFlight === run) this.#inFlight = undefined;
      });
      this.#inFlight = run;
    }, delayMs);
    if (!this.#options.keepAlive) this.#timer.unref();
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #probe(): Promise<void> {
    const started = performance.now();
    this.#sent++;
    let sample: HeartbeatSample;
    try {
      const rttMs = await this.#prober.probe();
      sample = { ok: true, at: Date.now(), rttMs };
    } catch (error) {
      sample = {
        ok: false,
        at: Date.now(),
        error: ThrownValueError.wrap(error),
      };
    }
    if (this.#stopped) return;
    const target = this.tracker.target;
    const transition = sample.ok
      ? this.tracker.success(sample.rttMs, sample.at)
      : this.tracker.failure(sample.error, sample.at);
    if (!sample.ok) this.#options.log('probe failed: %s', sample.error.message);
    this.#owner.emit('sample', target, sample);
    if (transition.state !== transition.previous) {
      this.#options.log('%s -> %s', transition.previous, transition.state);
      this.#owner.emit('state', target, transition.state, transition.previous);
    }
    if (transition.endedOutage) this.#owner.emit('outage', target, ended(transition.endedOutage));
    if (this.#stopped) return;
    if (this.#sent >= this.#options.count) {
      this.done = true;
      this.#stopped = true;
      await this.#prober.close();
      this.#owner.done();
      return;
    }
    if (sample.ok) this.#backoff.reset();
    const delay = sample.ok
      ? Math.max(0, this.#options.intervalMs - (performance.now() - started))
      : this.#backoff.next();
    if (!sample.ok) this.#options.log('retrying in %d ms', delay);
    this.#schedule(delay);
  }
}

function ended(outage: OutageRecord): HeartbeatOutage {
  return {
    startedAt: outage.startedAt,
    endedAt: outage.endedAt ?? outage.startedAt + outage.durationMs,
    durationMs: outage.durationMs,
    failures: outage.failures,
    error: outage.error,
  };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${value}`);
  }
  return value;
}

function dedupe(addresses: string[]): string[] {
  return [...new Set(addresses)];
}

export type { ErrorInfo, OutageRecord, TargetState, TargetStats };
export { errorInfo };
