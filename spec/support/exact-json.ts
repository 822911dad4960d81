/**
 * A strict JSON parser for test assertions that keeps what JSON.parse loses: integers outside the
 * safe range come back as bigint (nsqlookupd's /debug times are int64 nanoseconds), and object keys
 * keep their order even when they look like array indexes.
 */

export type ExactJson = null | boolean | number | bigint | string | ExactJson[] | ExactObject;

/** An object as its ordered entries. */
export class ExactObject {
  constructor(readonly entries: [string, ExactJson][]) {}
  get(key: string): ExactJson | undefined {
    return this.entries.find(([k]) => k === key)?.[1];
  }
  keys(): string[] {
    return this.entries.map(([k]) => k);
  }
}

export function parseExactJson(text: string): ExactJson {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at offset ${i} of ${JSON.stringify(text.slice(0, 200))}`);
  };
  const space = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const value = (): ExactJson => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, ExactJson][] = [];
      space();
      if (text[i] === '}') {
        i++;
        return new ExactObject(entries);
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        space();
        if (text[i++] !== ':') fail('expected :');
        entries.push([key, value()]);
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i++] !== '}') fail('expected , or }');
        return new ExactObject(entries);
      }
    }
    if (c === '[') {
      i++;
      const items: ExactJson[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i++] !== ']') fail('expected , or ]');
        return items;
      }
    }
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(
      text.slice(i, i + 400),
    );
    if (!literal) return fail('unexpected character');
    i += literal[0].length;
    const token = literal[0];
    if (token === 'true') return true;
    if (token === 'false') return false;
    if (token === 'null') return null;
    if (/^-?\d+$/.test(token)) {
      const big = BigInt(token);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(token)
        : big;
    }
    return Number(token);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  space();
  if (i !== text.length) fail('trailing characters');
  return result;
}

/** A plain rendering for assertion messages (bigint as digits, objects in key order). */
export function showExact(value: ExactJson | undefined): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof ExactObject) {
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${showExact(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(showExact).join(',')}]`;
  return JSON.stringify(value);
}
