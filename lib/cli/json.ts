/**
 * The CLI's JSON conventions, one place for all commands: snake_case keys (as nsq's own JSON), NDJSON
 * (one object per line) for streams, one document for reports.
 */

/** `registrationsAcked` → `registrations_acked`, `elapsedMs` → `elapsed_ms`. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * A copy of `value` with every object key in snake_case, arrays and nested objects included. Only for
 * the CLI's own records, whose keys are field names, never data (a topic name is a value, not a key).
 */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [snakeCase(key), snakeCaseKeys(v)]));
  }
  return value;
}

/** One NDJSON line: a stream's record. */
export function ndjsonLine(record: Record<string, unknown>): string {
  return `${JSON.stringify(snakeCaseKeys(record))}\n`;
}

/** A report as one pretty-printed JSON document. */
export function jsonDocument(report: unknown): string {
  return `${JSON.stringify(snakeCaseKeys(report), null, 2)}\n`;
}
