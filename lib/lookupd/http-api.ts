import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { goString } from '../protocol/encoder.js';
import { isValidName } from '../protocol/names.js';
import {
  cleanPath,
  cleanRoutePath,
  escapePath,
  hexEscapeNonAscii,
  htmlEscape,
  parseQuery,
  unescapeUrl,
  utf8Bytes,
} from './go-text.js';
import type { LookupdLogFn } from './options.js';
import {
  filterByActive,
  type PeerInfo,
  type Producer,
  type Registration,
  type RegistrationDB,
} from './registration-db.js';

/**
 * nsqlookupd's HTTP API (nsq `nsqlookupd/http.go`, `internal/http_api`), routed the way its
 * julienschmidt/httprouter v1.3.0 router does: 405 with an `Allow` list when the path exists for
 * another method, automatic OPTIONS answers, 301/307 redirects for a stray trailing slash or a path
 * in the wrong case, and nsq's V1 envelope: JSON bodies, `{"message":"..."}` errors, and the
 * `X-NSQ-Content-Type: nsq; version=1.0` header on everything but /ping.
 */

export interface HttpContext {
  readonly db: RegistrationDB;
  now(): number;
  readonly inactiveProducerTimeoutMs: number;
  readonly tombstoneLifetimeMs: number;
  readonly version: string;
  readonly log: LookupdLogFn;
}

/** The request as Go's url.ParseRequestURI leaves it; all strings are byte strings. */
interface RequestTarget {
  /** `scheme://host` of an absolute-form request, kept for redirects; usually empty. */
  origin: string;
  /** Percent-decoded path. */
  path: string;
  rawQuery: string;
  /** A bare `?` with nothing after it. */
  forceQuery: boolean;
}

class HttpError {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

/**
 * Yielded by a body generator after a slice's worth of work that wrote nothing (sorting, say), so
 * that the writer lets the event loop turn.
 */
const PAUSE = Symbol('pause');
type BodyPiece = string | typeof PAUSE;
/** An answer rendered piece by piece, so that a large one is written in slices. */
type BodyPieces = Generator<BodyPiece, void, undefined>;

/**
 * Validates the request and returns the answer: text, nothing, or pieces to render in slices. An
 * HttpError thrown before the pieces' first output still sets the answer's status.
 */
type Handler = (ctx: HttpContext, params: QueryParams | undefined) => string | undefined | BodyPieces;

interface Route {
  handler: Handler;
  /** Whether nsq's handler reads query and body (http_api.NewReqParams), and so can fail on them. */
  readsParams: boolean;
  plainText?: boolean;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
// Spelled as Go's canonical header keys write it.
const NSQ_TYPE_HEADER = 'X-Nsq-Content-Type';
const NSQ_TYPE = 'nsq; version=1.0';
/** What Go's time.Time{}.UnixNano() returns: /debug's tombstoned_at for a producer never tombstoned. */
const GO_ZERO_TIME_UNIX_NANO = '-6795364578871345152';

const STATUS_TEXT: Record<number, string> = { 301: 'Moved Permanently', 307: 'Temporary Redirect' };

// net/http buffers this much of a handler's answer before it commits to chunked encoding: an answer
// that fits goes out with a Content-Length, a longer one chunked (as nsqlookupd's large answers do).
const GO_CHUNKING_THRESHOLD = 2048;
// Text rendered between two turns of the event loop: about a millisecond of work, so that a
// producer's PING never waits long behind the largest answer (a 30 MB /debug is ~500 slices).
const SLICE_CHARS = 64 * 1024;
// Items sorted, or merge steps taken, between two turns of the event loop, for the same reason.
const SORT_RUN = 1024;
const MERGE_STEPS_PER_SLICE = 16 * 1024;

class QueryParams {
  constructor(readonly values: Map<string, string[]>) {}
  get(key: string): string | undefined {
    return this.values.get(key)?.[0];
  }
}

function required(params: QueryParams | undefined, key: string, message: string): string {
  const value = params?.get(key);
  if (value === undefined) throw new HttpError(400, message);
  return value;
}

/** nsq's http_api.GetTopicChannelArgs. */
function topicChannelArgs(params: QueryParams | undefined): { topic: string; channel: string } {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  if (!isValidName(topic)) throw new HttpError(400, 'INVALID_ARG_TOPIC');
  const channel = required(params, 'channel', 'MISSING_ARG_CHANNEL');
  if (!isValidName(channel)) throw new HttpError(400, 'INVALID_ARG_CHANNEL');
  return { topic, channel };
}

/** The elements of a JSON array, comma-separated, one piece each (no brackets). */
function* elements<T>(items: Iterable<T>, render: (item: T) => string): BodyPieces {
  let separator = '';
  for (const item of items) {
    yield separator + render(item);
    separator = ',';
  }
}

// A peer's JSON never changes once it has identified, and /lookup may list thousands: build it once.
const peerJsonCache = new WeakMap<PeerInfo, string>();

/** The fields of nsq's PeerInfo, in its JSON order, without the braces. */
function peerFields(peer: PeerInfo): string {
  let json = peerJsonCache.get(peer);
  if (json === undefined) {
    json =
      `"remote_address":${goString(peer.remoteAddress)},"hostname":${goString(peer.hostname)},` +
      `"broadcast_address":${goString(peer.broadcastAddress)},"tcp_port":${peer.tcpPort},` +
      `"http_port":${peer.httpPort},"version":${goString(peer.version)},` +
      `"topology_zone":${goString(peer.topologyZone)},"topology_region":${goString(peer.topologyRegion)}`;
    peerJsonCache.set(peer, json);
  }
  return json;
}

/** ms since the epoch as int64 ns; a double holds a time of today to about a microsecond, no finer. */
function unixNano(ms: number): string {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1000)) * 1000n).toString();
}

const doPing: Handler = () => 'OK';

const doInfo: Handler = (ctx) => `{"version":${goString(ctx.version)}}`;

const doTopics: Handler = (ctx) =>
  (function* () {
    yield '{"topics":[';
    yield* elements(ctx.db.findRegistrations('topic', '*', ''), (r) => goString(r.key));
    yield ']}';
  })();

const doChannels: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  return (function* () {
    yield '{"channels":[';
    yield* elements(ctx.db.findRegistrations('channel', topic, '*'), (r) => goString(r.subKey));
    yield ']}';
  })();
};

const doLookup: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  const { db } = ctx;
  if (db.findRegistrations('topic', topic, '').length === 0) throw new HttpError(404, 'TOPIC_NOT_FOUND');
  const channels = db.findRegistrations('channel', topic, '*');
  const producers = filterByActive(
    db.findProducers('topic', topic, ''),
    ctx.inactiveProducerTimeoutMs,
    ctx.tombstoneLifetimeMs,
    ctx.now(),
  );
  return (function* () {
    yield '{"channels":[';
    yield* elements(channels, (r) => goString(r.subKey));
    yield '],"producers":[';
    yield* elements(producers, (p) => `{${peerFields(p.peer)}}`);
    yield ']}';
  })();
};

const doCreateTopic: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  if (!isValidName(topic)) throw new HttpError(400, 'INVALID_ARG_TOPIC');
  ctx.log('info', 'DB: adding topic(%s)', topic);
  ctx.db.addRegistration('topic', topic, '');
  return undefined;
};

const doDeleteTopic: Handler = (ctx, params) => {
  // No name check: `*` deletes every topic and channel, as in nsqlookupd.
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  const { db, log } = ctx;
  for (const registration of db.findRegistrations('channel', topic, '*')) {
    log('info', 'DB: removing channel(%s) from topic(%s)', registration.subKey, topic);
    db.removeRegistration(registration);
  }
  for (const registration of db.findRegistrations('topic', topic, '')) {
    log('info', 'DB: removing topic(%s)', topic);
    db.removeRegistration(registration);
  }
  return undefined;
};

const doTombstoneTopicProducer: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  const node = required(params, 'node', 'MISSING_ARG_NODE');
  ctx.log('info', 'DB: setting tombstone for producer@%s of topic(%s)', node, topic);
  const now = ctx.now();
  for (const producer of ctx.db.findProducers('topic', topic, '')) {
    // `node` holds request bytes; compare with the bytes Go's Sprintf("%s:%d") would make.
    if (utf8Bytes(`${producer.peer.broadcastAddress}:${producer.peer.httpPort}`) === node)
      producer.tombstone(now);
  }
  return undefined;
};

const doCreateChannel: Handler = (ctx, params) => {
  const { topic, channel } = topicChannelArgs(params);
  ctx.log('info', 'DB: adding channel(%s) in topic(%s)', channel, topic);
  ctx.db.addRegistration('channel', topic, channel);
  ctx.log('info', 'DB: adding topic(%s)', topic);
  ctx.db.addRegistration('topic', topic, '');
  return undefined;
};

const doDeleteChannel: Handler = (ctx, params) => {
  const { topic, channel } = topicChannelArgs(params);
  const registrations = ctx.db.findRegistrations('channel', topic, channel);
  if (registrations.length === 0) throw new HttpError(404, 'CHANNEL_NOT_FOUND');
  ctx.log('info', 'DB: removing channel(%s) from topic(%s)', channel, topic);
  for (const registration of registrations) ctx.db.removeRegistration(registration);
  return undefined;
};

const doNodes: Handler = (ctx) => {
  const { db } = ctx;
  const now = ctx.now();
  // Tombstoned producers stay listed here (a tombstone lifetime of 0 never counts as tombstoned).
  const producers = filterByActive(db.findProducers('client', '', ''), ctx.inactiveProducerTimeoutMs, 0, now);
  return (function* () {
    yield '{"producers":[';
    let separator = '';
    for (const { peer } of producers) {
      // One list for both arrays, so that tombstones[i] stays the state of topics[i].
      const topics = db.lookupRegistrations(peer.id).filter((r) => r.category === 'topic');
      yield `${separator}{${peerFields(peer)},"tombstones":[`;
      yield* elements(topics, (registration) => {
        const producer: Producer | undefined = registration.producers.get(peer.id);
        return String(producer?.peer === peer && producer.isTombstoned(ctx.tombstoneLifetimeMs, now));
      });
      yield '],"topics":[';
      yield* elements(topics, (registration) => goString(registration.key));
      yield ']}';
      separator = ',';
    }
    yield ']}';
  })();
};

/** The parts of a peer's /debug entry that never change, around its last_update and tombstone. */
interface DebugPeerJson {
  /** Up to and including `"last_update":`. */
  head: string;
  /** `,"tcp_port":N,"tombstoned":`. */
  middle: string;
  /** From `,"topology_region":` to the closing brace. */
  tail: string;
  lastUpdate: number;
  lastUpdateNano: string;
}

// A producer is listed once per registration it holds: build its fixed JSON once, not every time.
const debugJsonCache = new WeakMap<PeerInfo, DebugPeerJson>();

/** One producer of a registration as nsqlookupd's /debug marshals it (a Go map: keys sorted). */
function debugProducer({ peer, tombstonedAt }: Producer): string {
  let json = debugJsonCache.get(peer);
  if (json === undefined) {
    json = {
      head:
        `{"broadcast_address":${goString(peer.broadcastAddress)},"hostname":${goString(peer.hostname)},` +
        `"http_port":${peer.httpPort},"id":${goString(peer.id)},"last_update":`,
      middle: `,"tcp_port":${peer.tcpPort},"tombstoned":`,
      tail:
        `,"topology_region":${goString(peer.topologyRegion)},"topology_zone":${goString(peer.topologyZone)},` +
        `"version":${goString(peer.version)}}`,
      lastUpdate: Number.NaN,
      lastUpdateNano: '',
    };
    debugJsonCache.set(peer, json);
  }
  if (json.lastUpdate !== peer.lastUpdate) {
    json.lastUpdate = peer.lastUpdate;
    json.lastUpdateNano = unixNano(peer.lastUpdate);
  }
  const tombstone =
    tombstonedAt === undefined
      ? `false,"tombstoned_at":${GO_ZERO_TIME_UNIX_NANO}`
      : `true,"tombstoned_at":${unixNano(tombstonedAt)}`;
  return `${json.head}${json.lastUpdateNano}${json.middle}${tombstone}${json.tail}`;
}

/**
 * The indices of `keys` in ascending order (by UTF-16 code unit, as `<` compares), sorted in slices:
 * runs of SORT_RUN sorted one per slice, then merged a bounded number of steps per slice.
 */
function* sortedIndices(keys: readonly string[]): Generator<typeof PAUSE, Uint32Array, undefined> {
  const n = keys.length;
  let from = new Uint32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  const compare = (a: number, b: number) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0);
  for (let start = 0; start < n; start += SORT_RUN) {
    from.subarray(start, start + SORT_RUN).sort(compare);
    if (start + SORT_RUN < n) yield PAUSE;
  }
  let to = new Uint32Array(n);
  let steps = 0;
  for (let width = SORT_RUN; width < n; width *= 2) {
    for (let low = 0; low < n; low += 2 * width) {
      const middle = Math.min(low + width, n);
      const high = Math.min(low + 2 * width, n);
      let i = low;
      let j = middle;
      let k = low;
      while (i < middle && j < high) {
        to[k++] = keys[from[i]!]! <= keys[from[j]!]! ? from[i++]! : from[j++]!;
        if (++steps === MERGE_STEPS_PER_SLICE) {
          steps = 0;
          yield PAUSE;
        }
      }
      to.set(from.subarray(i, middle), k);
      to.set(from.subarray(j, high), k + middle - i);
    }
    [from, to] = [to, from];
  }
  return from;
}

const doDebug: Handler = (ctx) =>
  (function* () {
    const { db } = ctx;
    // Go marshals the map with sorted keys and leaves out registrations without producers.
    const registrations: Registration[] = [];
    const names: string[] = [];
    for (const registration of [...db.registrations()]) {
      if (registration.producers.size === 0) continue;
      registrations.push(registration);
      names.push(registration.name);
      if (names.length % SORT_RUN === 0) yield PAUSE;
    }
    const order = yield* sortedIndices(names);
    // Each registration is rendered as it stands when its turn comes (nsqlookupd renders a copy made
    // under its read lock); one removed or emptied in the meantime is left out.
    yield '{';
    let separator = '';
    for (const index of order) {
      const registration = registrations[index]!;
      if (
        registration.producers.size === 0 ||
        db.get(registration.category, registration.key, registration.subKey) !== registration
      ) {
        continue;
      }
      yield `${separator}${goString(names[index]!)}:[`;
      yield* elements(registration.producers.values(), debugProducer);
      yield ']';
      separator = ',';
    }
    yield '}';
  })();

/**
 * nsqlookupd serves Go's pprof under /debug/pprof; there is no Go runtime to profile here, so these
 * routes exist only to route (405, redirects) like the real ones, and answer 404.
 */
const noProfiler: Handler = () => {
  throw new HttpError(404, 'NOT_FOUND');
};

function route(handler: Handler, readsParams: boolean, plainText = false): Route {
  return { handler, readsParams, plainText };
}

const PPROF_GET = ['', '/cmdline', '/symbol', '/profile', '/heap', '/goroutine', '/block', '/threadcreate'];

const ROUTES = new Map<string, Map<string, Route>>([
  [
    'GET',
    new Map([
      ['/ping', route(doPing, false, true)],
      ['/info', route(doInfo, false)],
      ['/debug', route(doDebug, false)],
      ['/lookup', route(doLookup, true)],
      ['/topics', route(doTopics, false)],
      ['/channels', route(doChannels, true)],
      ['/nodes', route(doNodes, false)],
      ...PPROF_GET.map((p): [string, Route] => [`/debug/pprof${p}`, route(noProfiler, false)]),
    ]),
  ],
  [
    'POST',
    new Map([
      ['/topic/create', route(doCreateTopic, true)],
      ['/topic/delete', route(doDeleteTopic, true)],
      ['/channel/create', route(doCreateChannel, true)],
      ['/channel/delete', route(doDeleteChannel, true)],
      ['/topic/tombstone', route(doTombstoneTopicProducer, true)],
      ['/debug/pprof/symbol', route(noProfiler, false)],
    ]),
  ],
]);

/** Lower-cased route path → route path, per method, for httprouter's case-insensitive redirect. */
const ROUTES_BY_LOWER_PATH = new Map(
  [...ROUTES].map(([method, routes]) => [
    method,
    new Map([...routes.keys()].map((p) => [p.toLowerCase(), p])),
  ]),
);

/** httprouter's allowed(): the other methods serving exactly `path`, plus OPTIONS, sorted. */
function allowedMethods(path: string, method: string): string {
  if (path === '*') return [...ROUTES.keys(), 'OPTIONS'].sort().join(', ');
  const allowed: string[] = [];
  for (const [other, routes] of ROUTES) {
    if (other !== method && routes.has(path)) allowed.push(other);
  }
  if (allowed.length === 0) return '';
  allowed.push('OPTIONS');
  return allowed.sort().join(', ');
}

/** httprouter's findCaseInsensitivePath for static routes, fixing a trailing slash as well. */
function caseInsensitiveRoute(method: string, path: string): string | undefined {
  const byLower = ROUTES_BY_LOWER_PATH.get(method)!;
  const lower = asciiLower(path);
  return (
    byLower.get(lower) ??
    (lower.length > 1 && lower.endsWith('/') ? byLower.get(lower.slice(0, -1)) : undefined)
  );
}

// Go's case-insensitive matching here never maps a non-ASCII byte onto a route's ASCII letters.
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Go's ParseRequestURI, enough for origin-form, `*` and absolute-form targets; null means 400. */
function parseTarget(raw: string): RequestTarget | null {
  if (raw === '*') return { origin: '', path: '*', rawQuery: '', forceQuery: false };
  let rest = raw;
  let origin = '';
  if (!rest.startsWith('/')) {
    const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/s.exec(rest);
    if (!absolute) return null;
    origin = `${absolute[1]!.toLowerCase()}://${absolute[2]}`;
    rest = absolute[3]!;
  }
  let rawQuery = '';
  let forceQuery = false;
  const q = rest.indexOf('?');
  if (q !== -1) {
    if (q === rest.length - 1) forceQuery = true;
    else rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const path = unescapeUrl(rest, 'path');
  if (path === null) return null;
  return { origin, path, rawQuery, forceQuery };
}

function sendV1(res: ServerResponse, status: number, json: string | undefined): void {
  const body = json === undefined ? undefined : Buffer.from(json, 'utf8');
  if (body) res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader(NSQ_TYPE_HEADER, NSQ_TYPE);
  res.statusCode = status;
  res.end(body);
}

function sendV1Error(res: ServerResponse, status: number, message: string): void {
  sendV1(res, status, `{"message":${goString(message)}}`);
}

/** net/http's http.Redirect to a path this router rewrote. */
function sendRedirect(res: ServerResponse, method: string, target: RequestTarget, path: string): void {
  const status = method === 'GET' ? 301 : 307;
  const query = target.rawQuery !== '' || target.forceQuery ? `?${target.rawQuery}` : '';
  let url = `${target.origin}${escapePath(path)}${query}`;
  if (target.origin === '') {
    // http.Redirect cleans a local path but keeps its trailing slash.
    const cleaned = cleanPath(escapePath(path));
    url = `${path.endsWith('/') && !cleaned.endsWith('/') ? `${cleaned}/` : cleaned}${query}`;
  }
  res.statusCode = status;
  res.setHeader('Location', hexEscapeNonAscii(url));
  if (method === 'GET') {
    res.setHeader('Content-Type', HTML_TYPE);
    res.end(Buffer.from(`<a href="${htmlEscape(url)}">${STATUS_TEXT[status]}</a>.\n\n`, 'latin1'));
  } else {
    res.end();
  }
}

/** Go's answer to a request it cannot parse (here: a bad escape in the path). */
function sendBadRequest(res: ServerResponse): void {
  res.writeHead(400, { 'Content-Type': TEXT_TYPE, Connection: 'close' });
  res.end('400 Bad Request');
}

/** The request node:http is parsing or answering on one connection. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Set while the request body is read: ends the wait as a body that cannot be read. */
  failBody: (() => void) | undefined;
}

/** node:http's `request` and `clientError` listeners, sharing what each connection is doing. */
export interface HttpHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  clientError(error: NodeJS.ErrnoException, socket: Socket): void;
}

/** The handlers for node:http. */
export function createHttpHandlers(ctx: HttpContext): HttpHandlers {
  // The latest request of each connection whose answer is not complete.
  const exchanges = new WeakMap<Socket, Exchange>();
  // node:http reports a broken parser again for every chunk that arrives after it broke.
  const broken = new WeakSet<Socket>();
  return {
    request(req, res) {
      const { socket } = req;
      const exchange: Exchange = { req, res, failBody: undefined };
      exchanges.set(socket, exchange);
      res.once('close', () => {
        if (exchanges.get(socket) === exchange) exchanges.delete(socket);
      });
      handleRequest(ctx, req, res, exchange);
    },
    clientError(error, socket) {
      if (broken.has(socket)) return;
      broken.add(socket);
      const exchange = exchanges.get(socket);
      if (exchange?.failBody && !exchange.req.complete && socket.writable) {
        // A body that breaks off (a bad chunk size, say): net/http's body reader fails, and the
        // handler answers as it would have, with Connection: close (node:http closes after it).
        exchange.failBody();
        return;
      }
      // A request after one still being answered: Go answers the request before, then this one.
      if (exchange) exchange.res.once('close', () => answerUnparsable(error, socket));
      else answerUnparsable(error, socket);
    },
  };
}

/** net/http's answer to a request it cannot parse, where the socket still allows one. */
function answerUnparsable(error: NodeJS.ErrnoException, socket: Socket): void {
  if (socket.writable && error.code !== 'ECONNRESET') {
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(
      `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status}`,
    );
  } else {
    socket.destroy();
  }
}

/**
 * Drains the request body (never kept), then calls `then` with whether it could be read. Go's
 * handlers answer once they have read it (those with parameters) or net/http has drained it after
 * them (the others); either way a body that breaks off makes the answer end with Connection: close.
 */
function afterBody(req: IncomingMessage, exchange: Exchange, then: (bodyRead: boolean) => void): void {
  let settled = false;
  const settle = (bodyRead: boolean) => {
    if (settled) return;
    settled = true;
    exchange.failBody = undefined;
    then(bodyRead);
  };
  exchange.failBody = () => settle(false);
  req.on('data', () => {});
  req.on('end', () => settle(true));
  // The client went away: there is nobody left to answer.
  req.on('error', () => {
    settled = true;
    exchange.failBody = undefined;
  });
}

function handleRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
): void {
  const method = req.method ?? 'GET';
  const raw = req.url ?? '/';
  const target = method === 'OPTIONS' && raw === '*' ? undefined : parseTarget(raw);
  if (target === null) {
    // net/http refuses the request line itself, before reading any body.
    req.resume();
    sendBadRequest(res);
    return;
  }
  afterBody(req, exchange, (bodyRead) => {
    if (!bodyRead) res.setHeader('Connection', 'close');
    // Go answers `OPTIONS *` itself, before any handler.
    if (target === undefined) res.end();
    else routeTarget(ctx, req, res, method, raw, target, bodyRead);
  });
}

function routeTarget(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  raw: string,
  target: RequestTarget,
  bodyRead: boolean,
): void {
  const { path } = target;
  const routes = ROUTES.get(method);
  if (routes) {
    const found = routes.get(path);
    if (found) {
      serve(ctx, req, res, found, target, bodyRead);
      return;
    }
    if (path !== '/') {
      let fixed: string | undefined;
      if (path.length > 1 && path.endsWith('/') && routes.has(path.slice(0, -1))) fixed = path.slice(0, -1);
      else if (routes.has(`${path}/`)) fixed = `${path}/`;
      else fixed = caseInsensitiveRoute(method, cleanRoutePath(path));
      if (fixed !== undefined) {
        sendRedirect(res, method, target, fixed);
        return;
      }
    }
  }
  if (method === 'OPTIONS') {
    const allow = allowedMethods(path, method);
    if (allow !== '') {
      res.setHeader('Allow', allow);
      res.end();
      return;
    }
  } else {
    const allow = allowedMethods(path, method);
    if (allow !== '') {
      res.setHeader('Allow', allow);
      ctx.log('info', '405 %s %s', method, raw);
      sendV1Error(res, 405, 'METHOD_NOT_ALLOWED');
      return;
    }
  }
  ctx.log('info', '404 %s %s', method, raw);
  sendV1Error(res, 404, 'NOT_FOUND');
}

function serve(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  target: RequestTarget,
  bodyRead: boolean,
): void {
  if (!route.readsParams) {
    respond(ctx, res, route, undefined, req);
    return;
  }
  // nsq reads query and body (http_api.NewReqParams) before anything else.
  const { values, ok } = parseQuery(target.rawQuery);
  if (!ok || !bodyRead) {
    sendV1Error(res, 400, 'INVALID_REQUEST');
    return;
  }
  respond(ctx, res, route, new QueryParams(values), req);
}

function respond(
  ctx: HttpContext,
  res: ServerResponse,
  route: Route,
  params: QueryParams | undefined,
  req: IncomingMessage,
): void {
  const logStatus = (status: number) =>
    ctx.log('info', '%d %s %s (%s)', status, req.method, req.url, req.socket.remoteAddress);
  let data: ReturnType<Handler>;
  try {
    data = route.handler(ctx, params);
  } catch (error) {
    logStatus(sendFailure(ctx, res, error));
    return;
  }
  if (typeof data === 'object') {
    new SlicedAnswer(ctx, res, data, logStatus).start();
    return;
  }
  if (route.plainText) {
    res.setHeader('Content-Type', TEXT_TYPE);
    res.end(data);
  } else {
    sendV1(res, 200, data);
  }
  logStatus(200);
}

/** Answers a handler's error as nsq's V1 envelope does; returns the status sent. */
function sendFailure(ctx: HttpContext, res: ServerResponse, error: unknown): number {
  if (error instanceof HttpError) {
    sendV1Error(res, error.status, error.message);
    return error.status;
  }
  ctx.log('error', 'panic in HTTP handler - %s', error instanceof Error ? error.message : String(error));
  sendV1Error(res, 500, 'INTERNAL_ERROR');
  return 500;
}

/**
 * Writes a 200 answer rendered in slices: up to SLICE_CHARS of text per turn of the event loop, the
 * next slice after a setImmediate, or after 'drain' when the client reads slower than it is written,
 * so that neither the loop nor memory is held by one large answer. Like net/http, it sends an answer
 * of at most GO_CHUNKING_THRESHOLD bytes with a Content-Length and a longer one chunked.
 */
class SlicedAnswer {
  readonly #ctx: HttpContext;
  readonly #res: ServerResponse;
  readonly #pieces: BodyPieces;
  readonly #logStatus: (status: number) => void;
  #pending = '';
  #committed = false;
  #stopped = false;
  #immediate: NodeJS.Immediate | undefined;

  constructor(
    ctx: HttpContext,
    res: ServerResponse,
    pieces: BodyPieces,
    logStatus: (status: number) => void,
  ) {
    this.#ctx = ctx;
    this.#res = res;
    this.#pieces = pieces;
    this.#logStatus = logStatus;
  }

  start(): void {
    // 'close' comes after the last byte or when the client or close() ends the connection early.
    this.#res.once('close', () => this.#stop());
    this.#slice();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#pieces.return();
  }

  readonly #next = () => {
    this.#immediate = undefined;
    this.#slice();
  };

  // 'drain' can come from a write that completed at once, on the same turn: wait for the next one.
  readonly #afterDrain = () => {
    if (!this.#stopped) this.#immediate = setImmediate(this.#next);
  };

  #slice(): void {
    if (this.#stopped) return;
    let done = false;
    try {
      for (;;) {
        const piece = this.#pieces.next();
        if (piece.done) {
          done = true;
          break;
        }
        if (piece.value === PAUSE) break;
        this.#pending += piece.value;
        if (this.#pending.length >= SLICE_CHARS) break;
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    const res = this.#res;
    if (!this.#committed) {
      // Until the answer outgrows net/http's buffer, it may still go out whole, with its length.
      const small =
        this.#pending.length <= GO_CHUNKING_THRESHOLD &&
        Buffer.byteLength(this.#pending, 'utf8') <= GO_CHUNKING_THRESHOLD;
      if (small && done) {
        this.#stopped = true;
        sendV1(res, 200, this.#pending);
        this.#logStatus(200);
        return;
      }
      if (!small) {
        this.#committed = true;
        res.statusCode = 200;
        res.setHeader('Content-Type', JSON_TYPE);
        res.setHeader(NSQ_TYPE_HEADER, NSQ_TYPE);
        this.#logStatus(200);
      }
    }
    let flowing = true;
    if (this.#committed && this.#pending !== '') {
      flowing = res.write(Buffer.from(this.#pending, 'utf8'));
      this.#pending = '';
    }
    if (done) {
      this.#stopped = true;
      res.end();
    } else if (flowing) {
      this.#immediate = setImmediate(this.#next);
    } else {
      res.once('drain', this.#afterDrain);
    }
  }

  #fail(error: unknown): void {
    if (!this.#committed) {
      this.#stopped = true;
      this.#logStatus(sendFailure(this.#ctx, this.#res, error));
      return;
    }
    // The status is out already: all that is left is to cut the answer short.
    this.#ctx.log(
      'error',
      'panic in HTTP handler - %s',
      error instanceof Error ? error.message : String(error),
    );
    this.#stop();
    this.#res.destroy();
  }
}
