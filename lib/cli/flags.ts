import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { splitHostPort } from '../util/address.js';
import { EXIT } from './exit-codes.js';
import { helpText } from './help.js';
import { UsageError } from './usage.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with `--help` built in (prints help/<command>.txt and returns null) and every mistake
 * turned into a {@link UsageError}.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
): {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean }>>['values'];
  positionals: string[];
} | null {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(command));
    return null;
  }
  // biome-ignore lint/suspicious/noExplicitAny: parseArgs' own value type, re-narrowed by the signature.
  return parsed as any;
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
      process.stderr.write(`nsqd-lookup ${command}: ${error.message}\nSee: nsqd-lookup ${command} --help\n`);
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
