import { InvalidArgumentError } from '../errors.js';

/** Milliseconds per unit, as Go's time.ParseDuration spells them (both micro signs included). */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.Duration limit (int64 nanoseconds), in ms. */
const MAX_DURATION_MS = 9_223_372_036_854.775;

/**
 * Parses a Go duration (`time.ParseDuration`: `300ms`, `1.5s`, `1m30s`, `2h45m`, `-1s`, `0`) into
 * milliseconds, possibly fractional (`1500us` is 1.5). Units: ns, us, µs, ms, s, m, h. Throws
 * {@link InvalidArgumentError}; when `flag` is given (say `--interval`) the message starts with it.
 */
export function parseDuration(text: string, flag?: string): number {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(
      `${flag ? `${flag}: ` : ''}invalid duration ${JSON.stringify(text)}: ${why} (Go syntax, e.g. 500ms, 1s, 1m30s)`,
    );
  };
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') fail('empty');
  let total = 0;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]*)/;
  while (rest !== '') {
    const match = part.exec(rest)!;
    const [whole, integer = '', fraction, unit = ''] = match;
    if (integer === '' && (fraction === undefined || fraction === '')) fail('expected a number');
    if (unit === '') fail('missing unit');
    const ms = UNIT_MS[unit];
    if (ms === undefined) fail(`unknown unit ${JSON.stringify(unit)}`);
    total += Number(`${integer || '0'}.${fraction || '0'}`) * ms!;
    rest = rest.slice(whole.length);
  }
  if (total > MAX_DURATION_MS) fail('out of range');
  return sign * total;
}
