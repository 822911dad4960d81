import { hostname as osHostname } from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import { logger } from '../util/debug.js';

/** The nsqlookupd release whose behaviour the embedded server reproduces (reported by /info and IDENTIFY). */
export const LOOKUPD_VERSION = '1.3.0';

/** How serious a log line of the embedded server is, from `debug` (chatter) to `error`. */
export type LookupdLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A printf-style log function (`%s`, `%d`, `%o`), told the level of each message. */
export type LookupdLogFn = (level: LookupdLogLevel, format: string, ...args: unknown[]) => void;

/**
 * Settings of the embedded server, as given to {@link startLookupd}; each one mirrors an nsqlookupd
 * flag where nsqlookupd has one. Every field is optional: the defaults are nsqlookupd's.
 */
export interface LookupdOptions {
  /** `host:port` of the V1 TCP listener (nsqlookupd's `--tcp-address`); port 0 picks one. Default `0.0.0.0:4160`. */
  tcpAddress?: string;
  /** `host:port` of the HTTP listener (`--http-address`); port 0 picks one. Default `0.0.0.0:4161`. */
  httpAddress?: string;
  /** Address this lookupd gives out in IDENTIFY answers (`--broadcast-address`). Default: {@link hostname}. */
  broadcastAddress?: string;
  /** Host name given out in IDENTIFY answers. Default: the OS host name, as nsqlookupd reports it. */
  hostname?: string;
  /**
   * A producer not heard from (IDENTIFY or PING) for longer than this drops out of /lookup and /nodes,
   * in ms (`--inactive-producer-timeout`, default 300 000 = 5m).
   */
  inactiveProducerTimeoutMs?: number;
  /** How long /topic/tombstone hides a producer from /lookup, in ms (`--tombstone-lifetime`, default 45 000). */
  tombstoneLifetimeMs?: number;
  /** The clock, in ms since the epoch (fractions allowed). Default: a monotonic wall clock. Tests inject their own. */
  now?: () => number;
  /**
   * Longest command line accepted on the TCP protocol, in bytes (default 1 MiB). nsqlookupd has no
   * bound; a longer line is answered `E_INVALID` and the connection closed.
   */
  maxLineBytes?: number;
  /**
   * Largest IDENTIFY body accepted, in bytes (default 1 MiB). nsqlookupd allocates whatever size is
   * announced; a larger (or negative) size is answered `E_BAD_BODY IDENTIFY failed to read body size`.
   */
  maxIdentifyBodyBytes?: number;
  /** Receives the server's log lines. Default: `debug` (`DEBUG=nsqd-lookup:lookupd`). */
  log?: LookupdLogFn;
}

export interface ResolvedOptions {
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string;
  hostname: string;
  inactiveProducerTimeoutMs: number;
  tombstoneLifetimeMs: number;
  now: () => number;
  maxLineBytes: number;
  maxIdentifyBodyBytes: number;
  log: LookupdLogFn;
}

/** Default {@link LookupdOptions.tcpAddress}: every interface, port 4160 (nsqlookupd's `--tcp-address`). */
export const DEFAULT_TCP_ADDRESS = '0.0.0.0:4160';
/** Default {@link LookupdOptions.httpAddress}: every interface, port 4161 (nsqlookupd's `--http-address`). */
export const DEFAULT_HTTP_ADDRESS = '0.0.0.0:4161';
/** Default {@link LookupdOptions.inactiveProducerTimeoutMs}: five minutes, in milliseconds. */
export const DEFAULT_INACTIVE_PRODUCER_TIMEOUT_MS = 300_000;
/** Default {@link LookupdOptions.tombstoneLifetimeMs}: forty-five seconds, in milliseconds. */
export const DEFAULT_TOMBSTONE_LIFETIME_MS = 45_000;
/** Default {@link LookupdOptions.maxLineBytes}: one mebibyte (1 048 576 bytes). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
/** Default {@link LookupdOptions.maxIdentifyBodyBytes}: one mebibyte (1 048 576 bytes). */
export const DEFAULT_MAX_IDENTIFY_BODY_BYTES = 1024 * 1024;

// performance.now() is monotonic; anchored to the epoch it makes a clock that never runs backwards.
const monotonicNow = () => performance.timeOrigin + performance.now();

export function defaultLog(): LookupdLogFn {
  const log = logger('lookupd');
  return (level, format, ...args) => log(`${level.toUpperCase()}: ${format}`, ...args);
}

export function resolveOptions(options: LookupdOptions): ResolvedOptions {
  const hostname = options.hostname ?? osHostname();
  return {
    tcpAddress: options.tcpAddress ?? DEFAULT_TCP_ADDRESS,
    httpAddress: options.httpAddress ?? DEFAULT_HTTP_ADDRESS,
    broadcastAddress: options.broadcastAddress ?? hostname,
    hostname,
    inactiveProducerTimeoutMs: duration(
      options.inactiveProducerTimeoutMs,
      DEFAULT_INACTIVE_PRODUCER_TIMEOUT_MS,
      'inactiveProducerTimeoutMs',
    ),
    tombstoneLifetimeMs: duration(
      options.tombstoneLifetimeMs,
      DEFAULT_TOMBSTONE_LIFETIME_MS,
      'tombstoneLifetimeMs',
    ),
    now: options.now ?? monotonicNow,
    maxLineBytes: size(options.maxLineBytes, DEFAULT_MAX_LINE_BYTES, 'maxLineBytes'),
    maxIdentifyBodyBytes: size(
      options.maxIdentifyBodyBytes,
      DEFAULT_MAX_IDENTIFY_BODY_BYTES,
      'maxIdentifyBodyBytes',
    ),
    log: options.log ?? defaultLog(),
  };
}

function duration(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  // Go durations may be zero or negative (a negative inactivity timeout hides every producer).
  if (!Number.isFinite(value))
    throw new InvalidArgumentError(`${name} must be a finite number of ms, got ${value}`);
  return value;
}

function size(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new InvalidArgumentError(`${name} must be an integer from 0 to 2147483647, got ${value}`);
  }
  return value;
}
