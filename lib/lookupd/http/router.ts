import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  cleanPath,
  cleanRoutePath,
  escapePath,
  hexEscapeNonAscii,
  htmlEscape,
  parseQuery,
  unescapeUrl,
} from '../go-text.js';
import { SlicedAnswer, sendFailure, sendV1, sendV1Error, TEXT_TYPE } from './answer.js';
import {
  doChannels,
  doCreateChannel,
  doCreateTopic,
  doDebug,
  doDeleteChannel,
  doDeleteTopic,
  doInfo,
  doLookup,
  doNodes,
  doPing,
  doTombstoneTopicProducer,
  doTopics,
  type Handler,
  type HttpContext,
  noProfiler,
  QueryParams,
} from './handlers.js';

/**
 * nsqlookupd's HTTP API (nsq `nsqlookupd/http.go`, `internal/http_api`), routed the way its
 * julienschmidt/httprouter v1.3.0 router does: 405 with an `Allow` list when the path exists for
 * another method, automatic OPTIONS answers, 301/307 redirects for a stray trailing slash or a path
 * in the wrong case. Requests are read and refused the way net/http does; the endpoints themselves
 * are in handlers.ts, and their answers leave through answer.ts, in nsq's V1 envelope on everything
 * but /ping.
 */

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

interface Route {
  handler: Handler;
  /** Whether nsq's handler reads query and body (http_api.NewReqParams), and so can fail on them. */
  readsParams: boolean;
  plainText?: boolean;
}

const HTML_TYPE = 'text/html; charset=utf-8';
const STATUS_TEXT: Record<number, string> = { 301: 'Moved Permanently', 307: 'Temporary Redirect' };

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
export interface HttpListeners {
  request(req: IncomingMessage, res: ServerResponse): void;
  clientError(error: NodeJS.ErrnoException, socket: Socket): void;
}

/** The listeners for node:http. */
export function createHttpListeners(ctx: HttpContext): HttpListeners {
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
    logStatus(sendFailure(ctx.log, res, error));
    return;
  }
  if (typeof data === 'object') {
    new SlicedAnswer(ctx.log, res, data, logStatus).start();
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
