import { decodeRune } from './go-text.js';

/**
 * JSON as nsqlookupd's Go code sees it (encoding is the protocol's `goString`). Decoding: `json.Unmarshal` of an IDENTIFY body
 * into nsqlookupd's PeerInfo struct, which differs from `JSON.parse` in ways a client can observe:
 * keys match fields case-insensitively (`TCP_PORT`, even `broadcaſt_address`), unknown keys are
 * skipped, `null` leaves a field alone, a mistyped value fails the whole body, integers must be
 * integer literals within int64, and bad UTF-8 or lone surrogates become U+FFFD.
 */

/** The IDENTIFY fields nsqlookupd decodes (its PeerInfo struct, topology fields included). */
export interface IdentifyFields {
  remoteAddress: string;
  hostname: string;
  broadcastAddress: string;
  /** Go `int`: any int64, zero when absent. */
  tcpPort: bigint;
  httpPort: bigint;
  version: string;
  topologyZone: string;
  topologyRegion: string;
}

type StringField =
  | 'remoteAddress'
  | 'hostname'
  | 'broadcastAddress'
  | 'version'
  | 'topologyZone'
  | 'topologyRegion';
type IntField = 'tcpPort' | 'httpPort';

// Field names as Go's encoding/json folds them for its case-insensitive match (ASCII upper case).
const FIELDS = new Map<string, { kind: 'string'; name: StringField } | { kind: 'int'; name: IntField }>([
  ['REMOTE_ADDRESS', { kind: 'string', name: 'remoteAddress' }],
  ['HOSTNAME', { kind: 'string', name: 'hostname' }],
  ['BROADCAST_ADDRESS', { kind: 'string', name: 'broadcastAddress' }],
  ['TCP_PORT', { kind: 'int', name: 'tcpPort' }],
  ['HTTP_PORT', { kind: 'int', name: 'httpPort' }],
  ['VERSION', { kind: 'string', name: 'version' }],
  ['TOPOLOGY_ZONE', { kind: 'string', name: 'topologyZone' }],
  ['TOPOLOGY_REGION', { kind: 'string', name: 'topologyRegion' }],
]);

/** Go's scanner refuses documents nested deeper than this. */
const MAX_NESTING_DEPTH = 10000;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const Ch = {
  Quote: 0x22,
  Backslash: 0x5c,
  Minus: 0x2d,
  Zero: 0x30,
  Nine: 0x39,
} as const;

/**
 * `json.Unmarshal(body, &peerInfo)` for nsqlookupd's PeerInfo: the decoded fields, or null wherever Go
 * returns an error (bad syntax, a value of the wrong type, an integer out of range, a top-level value
 * that is neither an object nor `null`).
 */
export function decodeIdentify(body: Buffer): IdentifyFields | null {
  if (!isValidJson(body)) return null;
  const fields: IdentifyFields = {
    remoteAddress: '',
    hostname: '',
    broadcastAddress: '',
    tcpPort: 0n,
    httpPort: 0n,
    version: '',
    topologyZone: '',
    topologyRegion: '',
  };
  let i = skipSpace(body, 0);
  const first = body[i];
  if (first === 0x6e) return fields; // null: nothing to decode, not an error
  if (first !== 0x7b) return null; // an array, string, number or boolean cannot fill a struct
  i = skipSpace(body, i + 1);
  if (body[i] === 0x7d) return fields;
  let typeError = false;
  for (;;) {
    const keyEnd = stringEnd(body, i);
    const key = unquote(body, i, keyEnd);
    i = skipSpace(body, keyEnd);
    i = skipSpace(body, i + 1); // the colon
    const valueEnd = valueEndAt(body, i);
    const field = FIELDS.get(foldName(key));
    if (field) {
      const c = body[i];
      if (c === 0x6e) {
        // null leaves the field as it was
      } else if (field.kind === 'string') {
        if (c === Ch.Quote) fields[field.name] = unquote(body, i, valueEnd);
        else typeError = true;
      } else {
        const value =
          c === Ch.Minus || (c !== undefined && c >= Ch.Zero && c <= Ch.Nine)
            ? parseInt64(body, i, valueEnd)
            : null;
        if (value === null) typeError = true;
        else fields[field.name] = value;
      }
    }
    i = skipSpace(body, valueEnd);
    if (body[i] === 0x7d) break;
    i = skipSpace(body, i + 1); // the comma
  }
  return typeError ? null : fields;
}

function skipSpace(b: Buffer, i: number): number {
  while (i < b.length) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** Index just past the string literal starting at `i` (input already validated). */
function stringEnd(b: Buffer, i: number): number {
  for (i++; ; i++) {
    const c = b[i];
    if (c === Ch.Backslash) i++;
    else if (c === Ch.Quote) return i + 1;
  }
}

/** Index just past the value starting at `i` (input already validated). */
function valueEndAt(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c === Ch.Quote) return stringEnd(b, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (;;) {
      const d = b[i];
      if (d === Ch.Quote) {
        i = stringEnd(b, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  while (i < b.length) {
    const d = b[i]!;
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d) break;
    i++;
  }
  return i;
}

/** `strconv.ParseInt(literal, 10, 64)`: only plain integer literals within int64 pass. */
function parseInt64(b: Buffer, start: number, end: number): bigint | null {
  const literal = b.toString('latin1', start, end);
  if (!/^-?\d+$/.test(literal)) return null;
  const value = BigInt(literal);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

function hex4(b: Buffer, i: number): number {
  if (i + 4 > b.length) return -1;
  const text = b.toString('latin1', i, i + 4);
  return /^[0-9a-fA-F]{4}$/.test(text) ? Number.parseInt(text, 16) : -1;
}

/** Go's `unquote` of the string literal `b[start:end]`, into a JavaScript string. */
function unquote(b: Buffer, start: number, end: number): string {
  let out = '';
  // The literal as a byte string, for decodeRune; made only if it holds a non-ASCII byte.
  let bytes: string | undefined;
  let i = start + 1;
  const last = end - 1;
  while (i < last) {
    const c = b[i]!;
    if (c === Ch.Backslash) {
      const e = b[i + 1]!;
      i += 2;
      switch (e) {
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          let rune = hex4(b, i);
          i += 4;
          if (rune >= 0xd800 && rune <= 0xdfff) {
            // A high surrogate pairs with a following \u low surrogate; anything else is U+FFFD.
            const low = rune <= 0xdbff && b[i] === Ch.Backslash && b[i + 1] === 0x75 ? hex4(b, i + 2) : -1;
            if (low >= 0xdc00 && low <= 0xdfff) {
              rune = 0x10000 + ((rune - 0xd800) << 10) + (low - 0xdc00);
              i += 6;
            } else {
              rune = 0xfffd;
            }
          }
          out += String.fromCodePoint(rune);
          break;
        }
        default:
          out += String.fromCharCode(e); // " \ /
      }
    } else if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
    } else {
      bytes ??= b.toString('latin1', start, end);
      const [rune, size] = decodeRune(bytes, i - start, last - start);
      out += String.fromCodePoint(rune);
      i += size;
    }
  }
  return out;
}

/**
 * Go's `foldName`: ASCII letters upper-cased, other runes folded to the smallest of their case orbit.
 * Only two non-ASCII runes fold onto ASCII (ſ → S, the Kelvin sign → K); any other one keeps the key
 * from matching a field, which a NUL stand-in achieves here.
 */
function foldName(key: string): string {
  let out = '';
  for (const ch of key) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) out += code >= 0x61 && code <= 0x7a ? String.fromCharCode(code - 0x20) : ch;
    else if (code === 0x17f) out += 'S';
    else if (code === 0x212a) out += 'K';
    else out += '\u0000';
  }
  return out;
}

/**
 * Go's `checkValid`: the scanner's syntax rules (no UTF-8 check inside strings, control characters
 * refused, nesting capped), with only whitespace allowed around the single top-level value.
 */
export function isValidJson(b: Buffer): boolean {
  const stack: number[] = []; // 0x7b for an object, 0x5b for an array
  let i = skipSpace(b, 0);
  // `expect` is what may come next: a value, an object key (or `}` on an empty object), or the
  // punctuation after a value.
  let expect: 'value' | 'key' | 'after' = 'value';
  let emptyAllowed = false; // `}` / `]` right after the opener
  while (i < b.length) {
    const c = b[i]!;
    if (expect === 'after') {
      const top = stack[stack.length - 1];
      if (top === undefined) return false; // trailing garbage after the top-level value
      if (c === 0x2c) {
        expect = top === 0x7b ? 'key' : 'value';
        emptyAllowed = false;
        i = skipSpace(b, i + 1);
        continue;
      }
      if ((c === 0x7d && top === 0x7b) || (c === 0x5d && top === 0x5b)) {
        stack.pop();
        i = skipSpace(b, i + 1);
        continue;
      }
      return false;
    }
    if (expect === 'key') {
      if (c === 0x7d && emptyAllowed) {
        stack.pop();
        expect = 'after';
        i = skipSpace(b, i + 1);
        continue;
      }
      if (c !== Ch.Quote) return false;
      const end = scanString(b, i);
      if (end < 0) return false;
      i = skipSpace(b, end);
      if (b[i] !== 0x3a) return false;
      i = skipSpace(b, i + 1);
      expect = 'value';
      emptyAllowed = false;
      continue;
    }
    // expect === 'value'
    if (c === 0x5d && emptyAllowed && stack[stack.length - 1] === 0x5b) {
      stack.pop();
      expect = 'after';
      i = skipSpace(b, i + 1);
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      stack.push(c);
      if (stack.length > MAX_NESTING_DEPTH) return false;
      expect = c === 0x7b ? 'key' : 'value';
      emptyAllowed = true;
      i = skipSpace(b, i + 1);
      continue;
    }
    let end: number;
    if (c === Ch.Quote) end = scanString(b, i);
    else if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) end = scanNumber(b, i);
    else end = scanLiteral(b, i);
    if (end < 0) return false;
    expect = 'after';
    emptyAllowed = false;
    i = skipSpace(b, end);
  }
  return expect === 'after' && stack.length === 0;
}

function scanString(b: Buffer, i: number): number {
  for (i++; i < b.length; i++) {
    const c = b[i]!;
    if (c === Ch.Quote) return i + 1;
    if (c < 0x20) return -1;
    if (c === Ch.Backslash) {
      const e = b[i + 1];
      if (e === 0x75) {
        if (hex4(b, i + 2) < 0) return -1;
        i += 5;
      } else if (
        e === 0x22 ||
        e === 0x5c ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i++;
      } else return -1;
    }
  }
  return -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= Ch.Zero && c <= Ch.Nine;
}

function scanNumber(b: Buffer, i: number): number {
  if (b[i] === Ch.Minus) i++;
  if (b[i] === Ch.Zero) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === Ch.Minus) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

function scanLiteral(b: Buffer, i: number): number {
  for (const word of ['true', 'false', 'null']) {
    if (b.toString('latin1', i, i + word.length) === word) return i + word.length;
  }
  return -1;
}
