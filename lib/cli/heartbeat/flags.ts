import type { HealthThresholds } from '../../tools/heartbeat-stats.js';
import { parseDuration } from '../args.js';
import { addressList, parseCommandLine } from '../flags.js';
import { UsageError } from '../usage.js';

/** `nsqd-lookup heartbeat`'s command line: what to probe, how often, and the health thresholds. */

export interface HeartbeatConfig {
  tcpAddresses: string[];
  httpAddresses: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Undefined: until SIGINT/SIGTERM. */
  count: number | undefined;
  thresholds: HealthThresholds;
  json: boolean;
  /** `host:port` to serve Prometheus metrics on at /metrics; the run then ends only on a signal. */
  metricsAddress: string | undefined;
}

/**
 * Parses the command line (pure: prints nothing); `{ show }` when it asked for `--help` or `--version`.
 * Throws {@link UsageError}.
 */
export function parseHeartbeatFlags(argv: string[]): HeartbeatConfig | { show: 'help' | 'version' } {
  const line = parseCommandLine(argv, HEARTBEAT_FLAGS);
  if (line.show) return { show: line.show };
  const { values } = line;
  const addresses = (flag: 'lookupd-tcp-address' | 'lookupd-http-address'): string[] =>
    addressList(values[flag], flag);
  const duration = (flag: 'interval' | 'timeout' | 'warn' | 'crit', fallback: number): number => {
    const text = values[flag];
    if (text === undefined) return fallback;
    let ms: number;
    try {
      ms = parseDuration(text, `--${flag}`);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (!(ms > 0)) throw new UsageError(`--${flag} must be positive, got ${JSON.stringify(text)}`);
    return ms;
  };
  const tcpAddresses = addresses('lookupd-tcp-address');
  const httpAddresses = addresses('lookupd-http-address');
  if (tcpAddresses.length + httpAddresses.length === 0) {
    throw new UsageError('give at least one --lookupd-tcp-address or --lookupd-http-address');
  }
  let count: number | undefined;
  if (values.count !== undefined) {
    count = Number(values.count);
    if (!/^\d+$/.test(values.count) || !Number.isSafeInteger(count) || count < 1) {
      throw new UsageError(
        `--count must be a whole number of at least 1, got ${JSON.stringify(values.count)}`,
      );
    }
  }
  const [metricsAddress] = values['metrics-address']
    ? addressList([values['metrics-address']], 'metrics-address')
    : [undefined];
  if (metricsAddress !== undefined && count !== undefined) {
    throw new UsageError(
      '--count cannot be used with --metrics-address: an exporter runs until SIGINT/SIGTERM',
    );
  }
  const thresholds = { warnMs: duration('warn', 100), critMs: duration('crit', 1000) };
  if (thresholds.warnMs > thresholds.critMs) {
    throw new UsageError(
      `--warn (${values.warn ?? '100ms'}) must not exceed --crit (${values.crit ?? '1s'})`,
    );
  }
  return {
    tcpAddresses,
    httpAddresses,
    intervalMs: duration('interval', 1000),
    timeoutMs: duration('timeout', 1000),
    count,
    thresholds,
    json: values.json ?? false,
    metricsAddress,
  };
}

/** Every flag of `heartbeat` (the help text lists each; a spec checks). */
export const HEARTBEAT_FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  'lookupd-http-address': { type: 'string', multiple: true },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  count: { type: 'string' },
  warn: { type: 'string' },
  crit: { type: 'string' },
  json: { type: 'boolean' },
  'metrics-address': { type: 'string' },
} as const;
