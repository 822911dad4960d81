import { format } from 'node:util';
import { NsqLookupError } from '../errors.js';
import { LOOKUPD_VERSION, type LookupdLogFn, type LookupdLogLevel, startLookupd } from '../lookupd/index.js';
import { DEFAULT_HTTP_ADDRESS, DEFAULT_TCP_ADDRESS } from '../lookupd/options.js';
import { parseDuration } from './args.js';
import type { CommandMain } from './command.js';
import { EXIT } from './exit-codes.js';
import { parseCommandLine, printShown } from './flags.js';
import { packageVersion } from './help.js';
import { UsageError, usageMessage } from './usage.js';

/** `nsqd-lookup lookupd`: the embedded server as a drop-in nsqlookupd, with nsqlookupd's flags and log lines. */

type CliLogLevel = LookupdLogLevel | 'fatal';
const LEVELS: CliLogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

/** nsqlookupd's flags (the help text lists each; a spec checks). */
export const FLAGS = {
  'tcp-address': { type: 'string' },
  'http-address': { type: 'string' },
  'broadcast-address': { type: 'string' },
  'inactive-producer-timeout': { type: 'string' },
  'tombstone-lifetime': { type: 'string' },
  'log-level': { type: 'string' },
  'log-prefix': { type: 'string' },
  verbose: { type: 'boolean' },
  config: { type: 'string' },
} as const;

export interface LookupdCliConfig {
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string | undefined;
  inactiveProducerTimeoutMs: number;
  tombstoneLifetimeMs: number;
  logLevel: CliLogLevel;
  logPrefix: string;
}

/** Parses the command line; null when it asked for --help or --version (printed here). */
export function parseLookupdFlags(argv: string[]): LookupdCliConfig | null {
  const line = parseCommandLine(argv, FLAGS);
  if (printShown('lookupd', line, versionLine) || line.show) return null;
  const { values } = line;
  if (values.config !== undefined) {
    throw new UsageError('--config (a TOML file) is not supported; pass the settings as flags');
  }
  const duration = (flag: 'inactive-producer-timeout' | 'tombstone-lifetime', fallback: number): number => {
    const text = values[flag];
    if (text === undefined) return fallback;
    try {
      return parseDuration(text, `--${flag}`);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  const logLevel = (values['log-level'] ?? 'info').toLowerCase() as CliLogLevel;
  if (!LEVELS.includes(logLevel)) {
    throw new UsageError(
      `--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(values['log-level'])}`,
    );
  }
  return {
    tcpAddress: values['tcp-address'] ?? DEFAULT_TCP_ADDRESS,
    httpAddress: values['http-address'] ?? DEFAULT_HTTP_ADDRESS,
    broadcastAddress: values['broadcast-address'],
    inactiveProducerTimeoutMs: duration('inactive-producer-timeout', 300_000),
    tombstoneLifetimeMs: duration('tombstone-lifetime', 45_000),
    logLevel,
    logPrefix: values['log-prefix'] ?? '[nsqlookupd] ',
  };
}

function versionLine(): string {
  return `nsqlookupd v${LOOKUPD_VERSION} (nsqd-lookup v${packageVersion()}, built w/node ${process.version})`;
}

/** Go's log format: `[prefix]2006/01/02 15:04:05.000000 LEVEL: message`, local time. */
function timestamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const micros = String(date.getMilliseconds() * 1000).padStart(6, '0');
  return (
    `${date.getFullYear()}/${two(date.getMonth() + 1)}/${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${micros}`
  );
}

/** A log function printing nsqlookupd-style lines on stderr from `level` up. */
export function stderrLogger(
  level: CliLogLevel,
  prefix: string,
): (level: CliLogLevel, fmt: string, ...args: unknown[]) => void {
  const threshold = LEVELS.indexOf(level);
  return (messageLevel, fmt, ...args) => {
    if (LEVELS.indexOf(messageLevel) < threshold) return;
    process.stderr.write(
      `${prefix}${timestamp(new Date())} ${messageLevel.toUpperCase()}: ${format(fmt, ...args)}\n`,
    );
  };
}

/** The first SIGINT or SIGTERM; `cancel` removes the listeners without waiting. */
function untilSignal(): { signal: Promise<NodeJS.Signals>; cancel(): void } {
  let onSignal!: (signal: NodeJS.Signals) => void;
  const cancel = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (received) => {
      cancel();
      resolve(received);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { signal, cancel };
}

const main: CommandMain = async (argv) => {
  let config: LookupdCliConfig | null;
  try {
    config = parseLookupdFlags(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(usageMessage('lookupd', error.message));
    return EXIT.usage;
  }
  if (!config) return EXIT.ok;
  const log = stderrLogger(config.logLevel, config.logPrefix);
  // Registered before listening, so a signal during startup is not lost.
  const stopped = untilSignal();
  log('info', '%s', versionLine());
  let lookupd: Awaited<ReturnType<typeof startLookupd>>;
  try {
    lookupd = await startLookupd({
      tcpAddress: config.tcpAddress,
      httpAddress: config.httpAddress,
      broadcastAddress: config.broadcastAddress,
      inactiveProducerTimeoutMs: config.inactiveProducerTimeoutMs,
      tombstoneLifetimeMs: config.tombstoneLifetimeMs,
      log: log as LookupdLogFn,
    });
  } catch (error) {
    const message = error instanceof NsqLookupError ? error.message : String(error);
    log('fatal', 'failed to instantiate nsqlookupd - %s', message);
    stopped.cancel();
    return EXIT.failed;
  }
  const signal = await stopped.signal;
  log('info', 'received %s, exiting', signal);
  await lookupd.close();
  return EXIT.ok;
};

export default main;
