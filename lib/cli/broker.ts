import { readFile } from 'node:fs/promises';
import { type Broker, type BrokerTlsOptions, startBroker } from '../broker/index.js';
import { InvalidArgumentError } from '../errors.js';
import { type Lookupd, startLookupd } from '../lookupd/index.js';
import { parseDuration } from '../util/duration.js';
import type { CommandMain } from './command.js';
import { EXIT } from './exit-codes.js';
import { parseCommandLine, printShown, runCommand, untilSignalOrTimeout } from './flags.js';
import { stderrLogger } from './lookupd.js';
import { UsageError } from './usage.js';

/**
 * `nsqd-lookup broker`: the package's broker (nsqd-lookup/broker) with nsqd's flag names, registered
 * with the lookupds given or with an embedded one.
 */

/** nsqd's --tls-* flags, shared by `broker` and `fake-producers`. */
export const TLS_FLAGS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-root-ca-file': { type: 'string' },
  'tls-client-auth-policy': { type: 'string' },
  'tls-min-version': { type: 'string' },
  'tls-required': { type: 'string' },
} as const;

/** The TLS option from checked --tls-* flags, the files read as PEM text. */
export async function readTls(flags: BrokerCommandLine['tls']): Promise<BrokerTlsOptions | undefined> {
  if (!flags) return undefined;
  return {
    cert: await readFile(flags.certFile, 'utf8'),
    key: await readFile(flags.keyFile, 'utf8'),
    rootCa: flags.rootCaFile === undefined ? undefined : await readFile(flags.rootCaFile, 'utf8'),
    clientAuthPolicy: flags.clientAuthPolicy,
    minVersion: flags.minVersion,
    required: flags.required,
  };
}

/** Every flag of `broker`, nsqd's names (the help text lists each; a spec checks). */
export const FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  'tcp-address': { type: 'string', default: '127.0.0.1:4150' },
  'http-address': { type: 'string', default: '127.0.0.1:4151' },
  'broadcast-address': { type: 'string', default: '127.0.0.1' },
  'data-path': { type: 'string' },
  'msg-timeout': { type: 'string' },
  'mem-queue-size': { type: 'string' },
  'max-msg-size': { type: 'string' },
  'max-body-size': { type: 'string' },
  ...TLS_FLAGS,
  deflate: { type: 'string' },
  'max-deflate-level': { type: 'string' },
  snappy: { type: 'string' },
} as const;

/** What `nsqd-lookup broker` was asked to run; undefined numbers and paths keep the broker's defaults. */
export interface BrokerCommandLine {
  /** Undefined: start an embedded lookupd and register with it. */
  lookupdTcpAddresses: string[] | undefined;
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string;
  dataPath: string | undefined;
  msgTimeoutMs: number | undefined;
  memQueueSize: number | undefined;
  maxMsgSize: number | undefined;
  maxBodySize: number | undefined;
  /** The --tls-* flags, files still unread; undefined without --tls-cert and --tls-key. */
  tls:
    | {
        certFile: string;
        keyFile: string;
        rootCaFile: string | undefined;
        clientAuthPolicy: 'require' | 'require-verify' | undefined;
        minVersion: 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3' | undefined;
        required: boolean | undefined;
      }
    | undefined;
  deflate: boolean | undefined;
  maxDeflateLevel: number | undefined;
  snappy: boolean | undefined;
}

/** A Go-style boolean flag's value (`--snappy=false`), or undefined when absent. */
function booleanValue(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw new UsageError(`--${name} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * The broker's settings, or what `--help`/`--version` asked to show. Pure: prints nothing; a mistake is
 * a {@link UsageError}.
 */
export function parseBrokerFlags(argv: string[]): BrokerCommandLine | { show: 'help' | 'version' } {
  const line = parseCommandLine(argv, FLAGS);
  if (line.show) return { show: line.show };
  const { values } = line;
  const positive = (name: 'mem-queue-size' | 'max-msg-size' | 'max-body-size'): number | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed <= 0) {
      throw new UsageError(`--${name} must be a positive whole number, got ${JSON.stringify(value)}`);
    }
    return parsed;
  };
  let msgTimeoutMs: number | undefined;
  if (values['msg-timeout'] !== undefined) {
    try {
      msgTimeoutMs = parseDuration(values['msg-timeout'], '--msg-timeout');
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new UsageError(error.message);
    }
    if (!(msgTimeoutMs >= 1)) {
      throw new UsageError(
        `--msg-timeout must be at least 1ms, got ${JSON.stringify(values['msg-timeout'])}`,
      );
    }
  }
  return {
    lookupdTcpAddresses: values['lookupd-tcp-address'],
    tcpAddress: values['tcp-address'],
    httpAddress: values['http-address'],
    broadcastAddress: values['broadcast-address'],
    dataPath: values['data-path'],
    msgTimeoutMs,
    memQueueSize: positive('mem-queue-size'),
    maxMsgSize: positive('max-msg-size'),
    maxBodySize: positive('max-body-size'),
    tls: tlsFlags(values),
    deflate: booleanValue('deflate', values.deflate),
    maxDeflateLevel: deflateLevel(values['max-deflate-level']),
    snappy: booleanValue('snappy', values.snappy),
  };
}

function deflateLevel(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]$/.test(value))
    throw new UsageError(`--max-deflate-level must be 1 to 9, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The --tls-* flags of `broker` and `fake-producers`, checked; files are read later. */
export function tlsFlags(
  values: Record<string, string | string[] | boolean | undefined>,
): BrokerCommandLine['tls'] {
  const get = (name: string) => values[name] as string | undefined;
  const certFile = get('tls-cert');
  const keyFile = get('tls-key');
  const policy = get('tls-client-auth-policy');
  const minVersion = get('tls-min-version');
  const requiredText = get('tls-required');
  if (requiredText === 'tcp-https')
    throw new UsageError(
      '--tls-required=tcp-https needs an HTTPS listener, which the broker does not have (use true or false)',
    );
  const required = booleanValue('tls-required', requiredText);
  if (policy !== undefined && policy !== 'require' && policy !== 'require-verify')
    throw new UsageError(
      `--tls-client-auth-policy must be require or require-verify, got ${JSON.stringify(policy)}`,
    );
  if (minVersion !== undefined && !['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'].includes(minVersion))
    throw new UsageError(
      `--tls-min-version must be tls1.0, tls1.1, tls1.2 or tls1.3, got ${JSON.stringify(minVersion)}`,
    );
  if (!certFile || !keyFile) {
    const given = ['tls-root-ca-file', 'tls-client-auth-policy', 'tls-min-version'].find(
      (n) => get(n) !== undefined,
    );
    if (certFile || keyFile || given || required)
      throw new UsageError(
        'TLS needs both --tls-cert and --tls-key (as nsqd: cannot require TLS without them)',
      );
    return undefined;
  }
  return {
    certFile,
    keyFile,
    rootCaFile: get('tls-root-ca-file'),
    clientAuthPolicy: policy as 'require' | 'require-verify' | undefined,
    minVersion: minVersion as 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3' | undefined,
    required,
  };
}

const main: CommandMain = (argv) =>
  runCommand('broker', async () => {
    const config = parseBrokerFlags(argv);
    if ('show' in config) {
      printShown('broker', config);
      return EXIT.ok;
    }
    return runBroker(config);
  });

async function runBroker(config: BrokerCommandLine): Promise<number> {
  let embedded: Lookupd | undefined;
  let broker: Broker;
  try {
    embedded = config.lookupdTcpAddresses
      ? undefined
      : await startLookupd({
          tcpAddress: '127.0.0.1:0',
          httpAddress: '127.0.0.1:0',
          broadcastAddress: '127.0.0.1',
        });
    broker = await startBroker({
      tcpAddress: config.tcpAddress,
      httpAddress: config.httpAddress,
      broadcastAddress: config.broadcastAddress,
      lookupdTcpAddresses: config.lookupdTcpAddresses ?? [embedded!.tcpAddress],
      dataPath: config.dataPath,
      msgTimeoutMs: config.msgTimeoutMs,
      memQueueSize: config.memQueueSize,
      maxMsgSize: config.maxMsgSize,
      maxBodySize: config.maxBodySize,
      deflate: config.deflate,
      maxDeflateLevel: config.maxDeflateLevel,
      snappy: config.snappy,
      tls: await readTls(config.tls),
    });
  } catch (error) {
    await embedded?.close();
    process.stderr.write(`nsqd-lookup broker: cannot start: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
  // nsqd's own listening lines, so whatever reads nsqd's log for its ports reads the broker's too.
  const log = stderrLogger('info', '[nsqd] ');
  log('info', 'TCP: listening on %s', broker.tcpAddress);
  log('info', 'HTTP: listening on %s', broker.httpAddress);
  const stopped = untilSignalOrTimeout();
  // A live line per lookupd transition, from the loop's status stream.
  broker.loop.on('status', (event) => {
    const peer = broker.loop.status().peers.find((p) => p.address === event.address);
    const detail =
      event.type === 'disconnected'
        ? `: ${event.error.message}`
        : event.type === 'retry-scheduled'
          ? ` (attempt ${event.attempt}, next in ${event.delayMs} ms)`
          : '';
    process.stdout.write(
      `lookupd ${event.address}: ${event.type}${detail}; in sync ${peer?.registrationsAcked ?? 0}/${peer?.registrationsExpected ?? 0}\n`,
    );
  });
  broker.loop.on('warning', (warning) => process.stderr.write(`warning: ${warning.message}\n`));

  process.stdout.write(`broker TCP ${broker.tcpAddress}, HTTP http://${broker.httpAddress}\n`);
  if (embedded) {
    process.stdout.write(
      `embedded lookupd TCP ${embedded.tcpAddress}, HTTP http://${embedded.httpAddress}\n`,
    );
    process.stdout.write(`  consumers: lookupdHTTPAddresses: ['${embedded.httpAddress}']\n`);
  }
  process.stdout.write(
    `GET http://${broker.httpAddress}/stats shows every lookupd's status under "lookupd"; Ctrl-C to stop\n`,
  );
  await stopped;
  await broker.close();
  await embedded?.close();
  return EXIT.ok;
}

export default main;
