import type { IncomingMessage, ServerResponse } from 'node:http';
import { goJsonString } from './go-json.js';
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
import { isValidName } from './names.js';
import type { LookupdLogFn } from './options.js';
import { filterByActive, type PeerInfo, type Producer, type RegistrationDB } from './registration-db.js';

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

type Handler = (ctx: HttpContext, params: QueryParams | undefined) => string | undefined;

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

function stringArray(values: string[]): string {
  return `[${values.map(goJsonString).join(',')}]`;
}

// A peer's JSON never changes once it has identified, and /lookup may list thousands: build it once.
const peerJsonCache = new WeakMap<PeerInfo, string>();

/** The fields of nsq's PeerInfo, in its JSON order, without the braces. */
function peerFields(peer: PeerInfo): string {
  let json = peerJsonCache.get(peer);
  if (json === undefined) {
    json =
      `"remote_address":${goJsonString(peer.remoteAddress)},"hostname":${goJsonString(peer.hostname)},` +
      `"broadcast_address":${goJsonString(peer.broadcastAddress)},"tcp_port":${peer.tcpPort},` +
      `"http_port":${peer.httpPort},"version":${goJsonString(peer.version)},` +
      `"topology_zone":${goJsonString(peer.topologyZone)},"topology_region":${goJsonString(peer.topologyRegion)}`;
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

const doInfo: Handler = (ctx) => `{"version":${goJsonString(ctx.version)}}`;

const doTopics: Handler = (ctx) =>
  `{"topics":${stringArray(ctx.db.findRegistrations('topic', '*', '').map((r) => r.key))}}`;

const doChannels: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  return `{"channels":${stringArray(ctx.db.findRegistrations('channel', topic, '*').map((r) => r.subKey))}}`;
};

const doLookup: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  const { db } = ctx;
  if (db.findRegistrations('topic', topic, '').length === 0) throw new HttpError(404, 'TOPIC_NOT_FOUND');
  const channels = db.findRegistrations('channel', topic, '*').map((r) => r.subKey);
  const producers = filterByActive(
    db.findProducers('topic', topic, ''),
    ctx.inactiveProducerTimeoutMs,
    ctx.tombstoneLifetimeMs,
    ctx.now(),
  );
  let list = '';
  for (const producer of producers) list += `${list === '' ? '' : ','}{${peerFields(producer.peer)}}`;
  return `{"channels":${stringArray(channels)},"producers":[${list}]}`;
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
  const nodes: string[] = [];
  for (const { peer } of producers) {
    const topics: string[] = [];
    const tombstones: boolean[] = [];
    for (const registration of db.lookupRegistrations(peer.id)) {
      if (registration.category !== 'topic') continue;
      topics.push(registration.key);
      const producer: Producer | undefined = registration.producers.get(peer.id);
      tombstones.push(producer?.peer === peer && producer.isTombstoned(ctx.tombstoneLifetimeMs, now));
    }
    nodes.push(
      `{${peerFields(peer)},"tombstones":[${tombstones.join(',')}],"topics":${stringArray(topics)}}`,
    );
  }
  return `{"producers":[${nodes.join(',')}]}`;
};

const doDebug: Handler = (ctx) => {
  // Go marshals the map with sorted keys and leaves out registrations without producers.
  const registrations = [...ctx.db.registrations()].filter((r) => r.producers.size > 0);
  const named = registrations.map((r) => ({ name: r.name, registration: r }));
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries = named.map(({ name, registration }) => {
    const producers = [...registration.producers.values()].map(({ peer, tombstonedAt }) => {
      return (
        `{"broadcast_address":${goJsonString(peer.broadcastAddress)},"hostname":${goJsonString(peer.hostname)},` +
        `"http_port":${peer.httpPort},"id":${goJsonString(peer.id)},"last_update":${unixNano(peer.lastUpdate)},` +
        `"tcp_port":${peer.tcpPort},"tombstoned":${tombstonedAt !== undefined},` +
        `"tombstoned_at":${tombstonedAt === undefined ? GO_ZERO_TIME_UNIX_NANO : unixNano(tombstonedAt)},` +
        `"topology_region":${goJsonString(peer.topologyRegion)},"topology_zone":${goJsonString(peer.topologyZone)},` +
        `"version":${goJsonString(peer.version)}}`
      );
    });
    return `${goJsonString(name)}:[${producers.join(',')}]`;
  });
  return `{${entries.join(',')}}`;
};

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
  sendV1(res, status, `{"message":${goJsonString(message)}}`);
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

/** The request handler for node:http. */
export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? 'GET';
    const raw = req.url ?? '/';
    // Go answers `OPTIONS *` itself, before any handler.
    if (method === 'OPTIONS' && raw === '*') {
      req.resume();
      res.end();
      return;
    }
    const target = parseTarget(raw);
    if (!target) {
      req.resume();
      sendBadRequest(res);
      return;
    }
    const { path } = target;
    const routes = ROUTES.get(method);
    if (routes) {
      const found = routes.get(path);
      if (found) {
        serve(ctx, req, res, found, target);
        return;
      }
      if (path !== '/') {
        let fixed: string | undefined;
        if (path.length > 1 && path.endsWith('/') && routes.has(path.slice(0, -1))) fixed = path.slice(0, -1);
        else if (routes.has(`${path}/`)) fixed = `${path}/`;
        else fixed = caseInsensitiveRoute(method, cleanRoutePath(path));
        if (fixed !== undefined) {
          req.resume();
          sendRedirect(res, method, target, fixed);
          return;
        }
      }
    }
    req.resume();
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
  };
}

function serve(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  target: RequestTarget,
): void {
  if (!route.readsParams) {
    req.resume();
    respond(ctx, res, route, undefined, req);
    return;
  }
  // nsq reads query and body (io.ReadAll) before anything else; the body is drained, not kept.
  const { values, ok } = parseQuery(target.rawQuery);
  let failed = !ok;
  req.on('data', () => {});
  req.on('error', () => {
    failed = true;
  });
  req.on('end', () => {
    if (failed) {
      sendV1Error(res, 400, 'INVALID_REQUEST');
      return;
    }
    respond(ctx, res, route, new QueryParams(values), req);
  });
}

function respond(
  ctx: HttpContext,
  res: ServerResponse,
  route: Route,
  params: QueryParams | undefined,
  req: IncomingMessage,
): void {
  let status = 200;
  try {
    const data = route.handler(ctx, params);
    if (route.plainText) {
      res.setHeader('Content-Type', TEXT_TYPE);
      res.end(data);
    } else {
      sendV1(res, 200, data);
    }
  } catch (error) {
    if (error instanceof HttpError) {
      status = error.status;
      sendV1Error(res, error.status, error.message);
    } else {
      status = 500;
      ctx.log('error', 'panic in HTTP handler - %s', error instanceof Error ? error.message : String(error));
      sendV1Error(res, 500, 'INTERNAL_ERROR');
    }
  }
  ctx.log('info', '%d %s %s (%s)', status, req.method, req.url, req.socket.remoteAddress);
}
