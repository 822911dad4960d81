import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { splitHostPort } from '../util/address.js';
import { normalizeGoFlags } from '../util/go-flags.js';
import { EXIT } from './exit-codes.js';
import { helpText, packageVersion } from './help.js';
import { UsageError, usageMessage } from './usage.js';

export { normalizeGoFlags };

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a command line asked for: `--help`, `--version`, or a run with these flags. */
export type CommandLine<V> =
  | { show: 'help' | 'version' }
  | { show?: undefined; values: V; positionals: string[] };

type Values<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: boolean }>
>['values'];

/**
 * The one command-line parser of every command: nsq-style flags (see {@link normalizeGoFlags}), with
 * `-h`/`--help` and `--version` built in. Pure: prints nothing; every mistake is a {@link UsageError}.
 */
export function parseCommandLine<O extends Options>(
  argv: string[],
  options: O,
  { positionals = false, renamed = {} }: CommandLineSettings = {},
): CommandLine<Values<O>> {
  refuseRenamed(argv, renamed);
  const all: Options = {
    ...options,
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  const booleans = new Set(Object.entries(all).flatMap(([name, o]) => (o.type === 'boolean' ? [name] : [])));
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: normalizeGoFlags(argv, booleans),
      options: all,
      allowPositionals: positionals,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) return { show: 'help' };
  if (parsed.values.version) return { show: 'version' };
  // biome-ignore lint/suspicious/noExplicitAny: parseArgs' own value type, re-narrowed by the signature.
  return parsed as any;
}

/** How a command's line is read, beyond its flags. */
export interface CommandLineSettings {
  /** Whether arguments other than flags are allowed (`snapshot load FILE`). */
  positionals?: boolean;
  /**
   * Old flag names and their new ones, so that a command line from before the rename gets told the new
   * name instead of "Unknown option". `version` means `--version VALUE` (a value after it): `--version`
   * alone prints the version.
   */
  renamed?: Record<string, string>;
}

function refuseRenamed(argv: string[], renamed: Record<string, string>): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return;
    const match = /^--?([a-z][a-z0-9-]*)(=.*)?$/s.exec(arg);
    const now = match ? renamed[match[1]!] : undefined;
    if (!match || now === undefined) continue;
    const takesValue = match[1] !== 'version' || match[2] !== undefined || /^[^-]/.test(argv[i + 1] ?? '-');
    if (takesValue) throw new UsageError(`--${match[1]} was renamed --${now}`);
  }
}

/** `nsqd-lookup <command> v<version>`: what `--version` prints. */
export function versionLine(command?: string): string {
  return `nsqd-lookup${command ? ` ${command}` : ''} v${packageVersion()} (node ${process.version})`;
}

/** Prints what `--help` or `--version` asked for; true when the command line asked for one of them. */
export function printShown(
  command: string,
  line: { show?: 'help' | 'version' },
  version = versionLine,
): boolean {
  if (line.show === 'help') process.stdout.write(helpText(command));
  else if (line.show === 'version')
    process.stdout.write(`${version(command)}
`);
  return line.show !== undefined;
}

/**
 * {@link parseCommandLine} for a command: prints help/<command>.txt for `--help` or the version for
 * `--version` and returns null then.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  settings: CommandLineSettings = {},
): { values: Values<O>; positionals: string[] } | null {
  const line = parseCommandLine(argv, options, settings);
  if (printShown(command, line) || line.show) return null;
  return line;
}

/** Validates repeated `host:port` flags, naming the flag in the error. */
export function addressList(values: string[] | undefined, flag: string): string[] {
  const list = values ?? [];
  for (const address of list) {
    try {
      splitHostPort(address);
    } catch {
      throw new UsageError(`--${flag} ${JSON.stringify(address)} is not host:port`);
    }
  }
  return list;
}

/** A whole number flag within bounds. */
export function integerFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(
      `--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** A non-negative number flag (fractions allowed). */
export function numberFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${flag} must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Runs a command body, turning a bad flag or argument into a message with a hint and `usageExitCode`
 * (2; monitoring commands whose 2 means "critical" pass 3).
 */
export async function runCommand(
  command: string,
  body: () => Promise<number>,
  usageExitCode: number = EXIT.usage,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidArgumentError) {
      process.stderr.write(usageMessage(command, error.message));
      return usageExitCode;
    }
    throw error;
  }
}

/** Resolves on the first SIGINT or SIGTERM (or when `ms` elapse, if given), removing its listeners. */
export function untilSignalOrTimeout(ms?: number): Promise<'signal' | 'timeout'> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (why: 'signal' | 'timeout') => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (timer) clearTimeout(timer);
      resolve(why);
    };
    const onSignal = () => done('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (ms !== undefined && ms > 0) timer = setTimeout(() => done('timeout'), ms);
  });
}
