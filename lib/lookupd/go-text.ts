/**
 * The few pieces of Go's standard library whose exact behaviour nsqlookupd's answers depend on:
 * `strings.TrimSpace`, `utf8.DecodeRune`, `url.ParseQuery` and path unescaping, httprouter's
 * `CleanPath`, `path.Clean`.
 *
 * They work on byte strings: JavaScript strings holding one byte per char code (Node's `latin1`
 * encoding). Go strings are bytes, and nsqlookupd echoes them back unchanged (`E_BAD_TOPIC ... 'tópico'`),
 * so decoding them as UTF-8 here would lose exactly the bytes that must be reproduced.
 */

const RUNE_ERROR = 0xfffd;

/** Go's `utf8.DecodeRune` over `s[i:end]`: the rune and its size; invalid input is (U+FFFD, 1). */
export function decodeRune(s: string, i: number, end: number = s.length): [rune: number, size: number] {
  const b0 = s.charCodeAt(i);
  if (b0 < 0x80) return [b0, 1];
  let size: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) size = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    size = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    size = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return [RUNE_ERROR, 1];
  if (i + size > end) return [RUNE_ERROR, 1];
  const b1 = s.charCodeAt(i + 1);
  if (b1 < lo || b1 > hi) return [RUNE_ERROR, 1];
  if (size === 2) return [((b0 & 0x1f) << 6) | (b1 & 0x3f), 2];
  const b2 = s.charCodeAt(i + 2);
  if (b2 < 0x80 || b2 > 0xbf) return [RUNE_ERROR, 1];
  if (size === 3) return [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), 3];
  const b3 = s.charCodeAt(i + 3);
  if (b3 < 0x80 || b3 > 0xbf) return [RUNE_ERROR, 1];
  return [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f), 4];
}

/** Go's `utf8.DecodeLastRune` over `s[start:end]`. */
export function decodeLastRune(s: string, start: number, end: number): [rune: number, size: number] {
  const last = s.charCodeAt(end - 1);
  if (last < 0x80) return [last, 1];
  let i = end - 1;
  const limit = Math.max(start, end - 4);
  for (i--; i >= limit; i--) {
    if ((s.charCodeAt(i) & 0xc0) !== 0x80) break;
  }
  if (i < limit) i = limit;
  const [rune, size] = decodeRune(s, i, end);
  if (i + size !== end) return [RUNE_ERROR, 1];
  return [rune, size];
}

/** Go's `unicode.IsSpace`. */
export function isGoSpace(rune: number): boolean {
  if (rune <= 0xff) {
    return (rune >= 0x09 && rune <= 0x0d) || rune === 0x20 || rune === 0x85 || rune === 0xa0;
  }
  return (
    rune === 0x1680 ||
    (rune >= 0x2000 && rune <= 0x200a) ||
    rune === 0x2028 ||
    rune === 0x2029 ||
    rune === 0x202f ||
    rune === 0x205f ||
    rune === 0x3000
  );
}

/** Go's `strings.TrimSpace` on a byte string: Unicode spaces go too (NBSP, NEL, U+3000...). */
export function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end) {
    const [rune, size] = decodeRune(s, start, end);
    if (!isGoSpace(rune)) break;
    start += size;
  }
  while (end > start) {
    const [rune, size] = decodeLastRune(s, start, end);
    if (!isGoSpace(rune)) break;
    end -= size;
  }
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** A byte string (latin1) from UTF-8 text, for comparing Go strings with request bytes. */
export function utf8Bytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Go's `url.PathUnescape` (`mode` `path`) or `url.QueryUnescape` (`query`, which also turns `+` into a
 * space) of a byte string; null where Go returns an EscapeError (a `%` without two hex digits).
 */
export function unescapeUrl(s: string, mode: 'path' | 'query'): string | null {
  if (!s.includes('%') && (mode === 'path' || !s.includes('+'))) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = i + 2 < s.length ? hexValue(s.charCodeAt(i + 1)) : -1;
      const lo = hi < 0 ? -1 : hexValue(s.charCodeAt(i + 2));
      if (lo < 0) return null;
      out += String.fromCharCode((hi << 4) | lo);
      i += 2;
    } else if (c === 0x2b && mode === 'query') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

/**
 * Go's `url.ParseQuery`: values in order per key; `ok` is false wherever Go returns an error (a `;` in
 * a pair, a bad escape), though like Go the good pairs are still collected. Like nsqlookupd v1.3.0,
 * it takes any number of parameters: its releases predate Go's `urlmaxqueryparams` limit, and a build
 * from a module at go 1.17 (the oracle's) keeps the limit off. The request line's bound (about
 * 1 MiB) bounds the query.
 */
export function parseQuery(query: string): { values: Map<string, string[]>; ok: boolean } {
  const values = new Map<string, string[]>();
  let ok = true;
  for (let start = 0; start < query.length; ) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    // Empty pairs (`&&`) are skipped without a substring: a megabyte of them costs a scan.
    const pair = end === start ? '' : query.slice(start, end);
    start = end + 1;
    if (pair === '') continue;
    if (pair.includes(';')) {
      ok = false;
      continue;
    }
    const eq = pair.indexOf('=');
    const key = unescapeUrl(eq === -1 ? pair : pair.slice(0, eq), 'query');
    const value = key === null ? null : unescapeUrl(eq === -1 ? '' : pair.slice(eq + 1), 'query');
    if (key === null || value === null) {
      ok = false;
      continue;
    }
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return { values, ok };
}

// Bytes Go's url.PathEscape-style `escape(s, encodePath)` leaves alone: unreserved plus $&+,/:;=@.
const PATH_SAFE = /^[A-Za-z0-9\-._~$&+,/:;=@]*$/;

/** Go's `escape(path, encodePath)`, as used by `URL.EscapedPath` once a path was rewritten. */
export function escapePath(path: string): string {
  if (PATH_SAFE.test(path)) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    out += PATH_SAFE.test(ch) ? ch : `%${path.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** net/http's `hexEscapeNonASCII`, applied to a redirect's Location. */
export function hexEscapeNonAscii(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x80 ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : s[i];
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
};

/** net/http's `htmlEscape`, for the body of a redirect. */
export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function cleanSegments(path: string): string[] {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return out;
}

/** httprouter's `CleanPath`: rooted, no `.`/`..`/`//`, and a trailing slash is kept. */
export function cleanRoutePath(path: string): string {
  if (path === '') return '/';
  const cleaned = `/${cleanSegments(path).join('/')}`;
  return path.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** Go's `path.Clean` for a rooted path (used by `http.Redirect`). */
export function cleanPath(path: string): string {
  const rooted = path.startsWith('/');
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length > 0 && segments[segments.length - 1] !== '..') segments.pop();
      else if (!rooted) segments.push('..');
    } else segments.push(segment);
  }
  const joined = segments.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}
