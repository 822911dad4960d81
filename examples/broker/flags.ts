import { parseArgs } from 'node:util';
import { InvalidArgumentError } from 'nsqd-lookup';
import { normalizeGoFlags, parseDuration } from 'nsqd-lookup/tools';

/**
 * The example broker's command line, with nsqd's rules: `-flag` as well as `--flag`, nsqd's names and
 * durations in Go syntax (`--msg-timeout 60s`). Pure: throws {@link InvalidArgumentError} on a mistake.
 */

export const BROKER_USAGE = `usage: npx tsx examples/broker/main.ts [flags]

Flags (-flag works as well as --flag, as in nsqd):
  --lookupd-tcp-address HOST:PORT  lookupd to register with (repeatable) (default: an embedded lookupd)
  --tcp-address HOST:PORT          V2 protocol listener (default 127.0.0.1:4150)
  --http-address HOST:PORT         HTTP API listener (default 127.0.0.1:4151)
  --broadcast-address HOST         address lookupd gives consumers (default 127.0.0.1)
  --data-path DIR                  save topics and channels there and reload them at start (default: none)
  --msg-timeout DURATION           default in-flight timeout (default 1m0s, as nsqd)
  --mem-queue-size N               messages per topic or channel before publishing fails (default 10000)
  --max-msg-size BYTES             largest message (default 1048576)
  --max-body-size BYTES            largest IDENTIFY or MPUB body (default 5242880)
  -h, --help                       show this help

Durations use Go syntax: 500ms, 60s, 1m30s.
Exit codes: 0 stopped by SIGINT/SIGTERM, 1 failure (could not listen), 2 usage error (bad flags).
`;

const FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  'tcp-address': { type: 'string', default: '127.0.0.1:4150' },
  'http-address': { type: 'string', default: '127.0.0.1:4151' },
  'broadcast-address': { type: 'string', default: '127.0.0.1' },
  'data-path': { type: 'string' },
  'msg-timeout': { type: 'string' },
  'mem-queue-size': { type: 'string' },
  'max-msg-size': { type: 'string' },
  'max-body-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface BrokerCommandLine {
  lookupdTcpAddresses: string[] | undefined;
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string;
  dataPath: string | undefined;
  msgTimeoutMs: number | undefined;
  memQueueSize: number | undefined;
  maxMsgSize: number | undefined;
  maxBodySize: number | undefined;
}

/** The broker's settings, or `'help'` for `--help`. */
export function parseBrokerFlags(argv: string[]): BrokerCommandLine | 'help' {
  let values: ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];
  try {
    values = parseArgs({
      args: normalizeGoFlags(argv, new Set(['help'])),
      options: FLAGS,
      strict: true,
    }).values;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  if (values.help) return 'help';
  const positive = (name: keyof typeof FLAGS): number | undefined => {
    const value = values[name] as string | undefined;
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed <= 0) {
      throw new InvalidArgumentError(
        `--${name} must be a positive whole number, got ${JSON.stringify(value)}`,
      );
    }
    return parsed;
  };
  let msgTimeoutMs: number | undefined;
  if (values['msg-timeout'] !== undefined) {
    msgTimeoutMs = parseDuration(values['msg-timeout'], '--msg-timeout');
    if (!(msgTimeoutMs >= 1)) {
      throw new InvalidArgumentError(
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
  };
}
