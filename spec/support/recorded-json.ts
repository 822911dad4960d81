import { type ExactJson, ExactObject, showExact } from './exact-json.js';

/**
 * Compares the JSON a lookupd answers with a recording of it (spec/fixtures/lookupd-v1.3.0, format in
 * its README): the recordings' placeholders (`<lookupd_hostname>`, `<unixnano>`, `<port:a>`, ...)
 * stand for this server's and this run's values, arrays nsqlookupd emits in Go map order (the
 * `unordered` notes) are compared as sets, and the topology fields are left out for a server built
 * without them. Also the test side's Go JSON vocabulary the replayer and the recorder share. Shares
 * no code with the server.
 */

/** Go's encoding/json for a string or a number: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goJson(value: string | number): string {
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Go's zero time.Time as UnixNano, which nsqlookupd reports for a producer never tombstoned. */
export const GO_ZERO_TIME_UNIX_NANO = -6795364578871345152n;
/** The producer fields the v1.3.0 tag does not have (the recording server did). */
export const TOPOLOGY_KEYS: ReadonlySet<string> = new Set(['topology_zone', 'topology_region']);

/** Removes the topology fields from a raw body, for a server built without them. */
export function dropTopologyFromRaw(body: string): string {
  return body.replace(/,"topology_(?:zone|region)":"(?:[^"\\]|\\.)*"/g, '');
}

/** What the recordings' placeholders stand for on the server and in the run being compared. */
export interface PlaceholderValues {
  hostname: string;
  broadcastAddress: string;
  version: string;
  tcpPort: number;
  httpPort: number;
  /** Epoch ms the scenario started: a `<unixnano>` must fall between a minute before it and a minute from now. */
  startedAt: number;
  /** The local port of the client connection named `name` (`<port:name>`). */
  connectionPort(name: string): number;
}

/**
 * Mismatches between a recorded JSON value and the server's, each as `path: what`; none when they
 * match. `unordered` are the recording's notes; `topology` says whether the server sends the topology
 * fields.
 */
export function matchRecordedJson(
  expected: unknown,
  actual: ExactJson,
  values: PlaceholderValues,
  options: { unordered?: string[]; topology: boolean },
): string[] {
  return new JsonMatcher(values, unorderedRules(options.unordered ?? []), options.topology).match(
    expected,
    actual,
  );
}

class JsonMatcher {
  readonly #values: PlaceholderValues;
  readonly #rules: UnorderedRules;
  readonly #topology: boolean;

  constructor(values: PlaceholderValues, rules: UnorderedRules, topology: boolean) {
    this.#values = values;
    this.#rules = rules;
    this.#topology = topology;
  }

  /** Mismatches between a recorded JSON value (with placeholders) and the server's, at `path`. */
  match(expected: unknown, actual: ExactJson, path: JsonPath = []): string[] {
    const at = showPath(path);
    if (typeof expected === 'string') return this.#matchString(expected, actual, at);
    if (expected === null || typeof expected !== 'object') {
      return expected === actual ? [] : [`${at}: ${showExact(actual)}, recorded ${JSON.stringify(expected)}`];
    }
    if (Array.isArray(expected)) {
      if (!Array.isArray(actual)) return [`${at}: ${showExact(actual)}, recorded an array`];
      if (actual.length !== expected.length) {
        return [
          `${at}: ${actual.length} element(s) ${showExact(actual)}, recorded ${expected.length} ${JSON.stringify(expected)}`,
        ];
      }
      if (!this.#rules.isUnordered(path)) {
        return expected.flatMap((e, i) => this.match(e, actual[i]!, [...path, { index: i }]));
      }
      return this.#matchUnordered(expected, actual, [...path, 'each'], at);
    }
    if (!(actual instanceof ExactObject)) return [`${at}: ${showExact(actual)}, recorded an object`];
    const recorded = Object.entries(expected as Record<string, unknown>).filter(
      ([key]) => this.#topology || !TOPOLOGY_KEYS.has(key),
    );
    const keys = actual.keys();
    const wantKeys = recorded.map(([k]) => k);
    if (keys.join(',') !== wantKeys.join(','))
      return [`${at}: keys ${keys.join(',')}, recorded ${wantKeys.join(',')}`];
    const paired = this.#rules.pairAt(path);
    const problems: string[] = [];
    for (const [key, value] of recorded) {
      const child: JsonPath = [...path, { key }];
      if (paired && key === paired.companion) continue;
      if (paired && key === paired.key) {
        problems.push(
          ...this.#matchPaired(expected as Record<string, unknown>, actual, paired, showPath(child)),
        );
        continue;
      }
      problems.push(...this.match(value, actual.get(key)!, child));
    }
    return problems;
  }

  #matchUnordered(expected: unknown[], actual: ExactJson[], elementPath: JsonPath, at: string): string[] {
    const used = new Set<number>();
    for (const item of expected) {
      const match = actual.findIndex((a, i) => !used.has(i) && this.match(item, a, elementPath).length === 0);
      if (match === -1)
        return [`${at}: no element matches ${JSON.stringify(item)} among ${showExact(actual)}`];
      used.add(match);
    }
    return [];
  }

  /** `topics` with `tombstones` permuted alike: compared as a set of (topic, tombstone) pairs. */
  #matchPaired(
    expected: Record<string, unknown>,
    actual: ExactObject,
    pair: { key: string; companion: string },
    at: string,
  ): string[] {
    const wantKeys = expected[pair.key] as unknown[];
    const wantCompanions = expected[pair.companion] as unknown[];
    const gotKeys = actual.get(pair.key);
    const gotCompanions = actual.get(pair.companion);
    if (!Array.isArray(gotKeys) || !Array.isArray(gotCompanions) || gotKeys.length !== gotCompanions.length) {
      return [`${at}: ${showExact(gotKeys)} / ${showExact(gotCompanions)} are not arrays of one length`];
    }
    const want = wantKeys.map((k, i) => JSON.stringify([k, wantCompanions[i]])).sort();
    const got = gotKeys.map((k, i) => JSON.stringify([k, gotCompanions[i]])).sort();
    return want.join() === got.join() ? [] : [`${at}: pairs ${got.join(' ')}, recorded ${want.join(' ')}`];
  }

  #matchString(expected: string, actual: ExactJson, at: string): string[] {
    const values = this.#values;
    const bad = (why: string) => [`${at}: ${showExact(actual)} ${why}`];
    switch (expected) {
      case '<lookupd_hostname>':
        return actual === values.hostname ? [] : bad(`is not the server's hostname ${values.hostname}`);
      case '<lookupd_broadcast_address>':
        return actual === values.broadcastAddress
          ? []
          : bad(`is not the broadcast address ${values.broadcastAddress}`);
      case '<lookupd_version>':
        return actual === values.version ? [] : bad(`is not the version ${values.version}`);
      case '<lookupd_tcp_port>':
        return actual === values.tcpPort ? [] : bad('is not the TCP port (an integer)');
      case '<lookupd_http_port>':
        return actual === values.httpPort ? [] : bad('is not the HTTP port (an integer)');
      case '<go_zero_time_unixnano>':
        return actual === GO_ZERO_TIME_UNIX_NANO ? [] : bad('is not Go zero time in ns');
      case '<unixnano>': {
        if (typeof actual !== 'bigint' && typeof actual !== 'number') return bad('is not an integer');
        if (typeof actual === 'number' && !Number.isInteger(actual)) return bad('is not an integer');
        const ns = BigInt(actual);
        const from = BigInt(values.startedAt - 60_000) * 1_000_000n;
        const to = BigInt(Date.now() + 60_000) * 1_000_000n;
        return ns >= from && ns <= to ? [] : bad('is not a time of this scenario in ns');
      }
    }
    const resolved = expected.replace(/<port:([a-z0-9]+)>/g, (_, name: string) =>
      String(values.connectionPort(name)),
    );
    return actual === resolved ? [] : [`${at}: ${showExact(actual)}, recorded ${JSON.stringify(resolved)}`];
  }
}

/** Where a value sits in a JSON document: object keys, array indexes, or `each` element of an unordered array. */
type JsonPath = ({ key: string } | { index: number } | 'each')[];

function showPath(path: JsonPath): string {
  if (path.length === 0) return 'body';
  return path
    .map((segment, i) => {
      if (segment === 'each') return '[]';
      if ('index' in segment) return `[${segment.index}]`;
      return i === 0 ? segment.key : `.${segment.key}`;
    })
    .join('');
}

/** A note's path: `key`, `*` (any key), `each` (the elements of an array). */
type PathPattern = ({ key: string } | '*' | 'each')[];

function parsePathPattern(text: string): PathPattern {
  return (text.match(/\[\]|[^.[\]]+/g) ?? []).map((token) =>
    token === '[]' ? 'each' : token === '*' ? '*' : { key: token },
  );
}

function pathMatches(pattern: PathPattern, path: JsonPath): boolean {
  return (
    pattern.length === path.length &&
    pattern.every((token, i) => {
      const segment = path[i]!;
      if (token === 'each') return segment === 'each';
      if (segment === 'each' || 'index' in segment) return false;
      return token === '*' || token.key === segment.key;
    })
  );
}

interface UnorderedRules {
  isUnordered(path: JsonPath): boolean;
  pairAt(objectPath: JsonPath): { key: string; companion: string } | undefined;
}

/**
 * The fixture's `unordered` notes as rules: `channels`, `producers[].topics (tombstones[] reordered
 * alike)`, `*[] (each registration's producer list)`. A note names an array by its path: object keys
 * joined by `.`, `[]` for the elements of an array, `*` for any key (`*[]`: the array under any
 * top-level key). Paths are compared segment by segment, so keys holding dots (topic names in /debug)
 * are still one key.
 */
function unorderedRules(notes: string[]): UnorderedRules {
  const patterns: PathPattern[] = [];
  const pairs: { object: PathPattern; key: string; companion: string }[] = [];
  for (const note of notes) {
    const [spec = '', comment = ''] = /^([^ (]+)\s*(?:\((.*)\))?/.exec(note)?.slice(1) ?? [];
    // `*[]` names the arrays themselves (under any key), not elements of arrays.
    const pattern = parsePathPattern(spec.startsWith('*') && spec.endsWith('[]') ? spec.slice(0, -2) : spec);
    patterns.push(pattern);
    const companion = /^(\w+)\[\] reordered alike/.exec(comment)?.[1];
    const last = pattern[pattern.length - 1];
    if (companion && last && last !== '*' && last !== 'each') {
      pairs.push({ object: pattern.slice(0, -1), key: last.key, companion });
    }
  }
  return {
    isUnordered: (path) => patterns.some((p) => pathMatches(p, path)),
    pairAt: (objectPath) => {
      const pair = pairs.find((p) => pathMatches(p.object, objectPath));
      return pair ? { key: pair.key, companion: pair.companion } : undefined;
    },
  };
}
