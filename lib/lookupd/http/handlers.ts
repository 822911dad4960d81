import { HttpStatusError } from '../../errors.js';
import { goString } from '../../protocol/encoder.js';
import { isValidName } from '../../protocol/names.js';
import { utf8Bytes } from '../go-text.js';
import type { LookupdLogFn } from '../options.js';
import {
  filterByActive,
  type PeerInfo,
  type Producer,
  type Registration,
  type RegistrationDB,
} from '../registration-db.js';
import { type BodyPieces, PAUSE } from './answer.js';

/**
 * The endpoints of nsqlookupd's HTTP API (nsq `nsqlookupd/http.go`), one handler each, and the JSON
 * they render, byte for byte as Go's encoding/json writes it. Routing is the router's.
 */

export interface HttpContext {
  readonly db: RegistrationDB;
  now(): number;
  readonly inactiveProducerTimeoutMs: number;
  readonly tombstoneLifetimeMs: number;
  readonly version: string;
  readonly log: LookupdLogFn;
}

/** What Go's time.Time{}.UnixNano() returns: /debug's tombstoned_at for a producer never tombstoned. */
const GO_ZERO_TIME_UNIX_NANO = '-6795364578871345152';
// Items sorted, or merge steps taken, between two turns of the event loop, so that a producer's
// PING never waits long behind the largest /debug.
const SORT_RUN = 1024;
const MERGE_STEPS_PER_SLICE = 16 * 1024;

/**
 * Validates the request and returns the answer: text, nothing, or pieces to render in slices. An
 * HttpStatusError thrown before the pieces' first output still sets the answer's status.
 */
export type Handler = (ctx: HttpContext, params: QueryParams | undefined) => string | undefined | BodyPieces;

export class QueryParams {
  constructor(readonly values: Map<string, string[]>) {}
  get(key: string): string | undefined {
    return this.values.get(key)?.[0];
  }
}

function required(params: QueryParams | undefined, key: string, message: string): string {
  const value = params?.get(key);
  if (value === undefined) throw new HttpStatusError(400, message);
  return value;
}

/** nsq's http_api.GetTopicChannelArgs. */
function topicChannelArgs(params: QueryParams | undefined): { topic: string; channel: string } {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  if (!isValidName(topic)) throw new HttpStatusError(400, 'INVALID_ARG_TOPIC');
  const channel = required(params, 'channel', 'MISSING_ARG_CHANNEL');
  if (!isValidName(channel)) throw new HttpStatusError(400, 'INVALID_ARG_CHANNEL');
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

export const doPing: Handler = () => 'OK';

export const doInfo: Handler = (ctx) => `{"version":${goString(ctx.version)}}`;

export const doTopics: Handler = (ctx) =>
  (function* () {
    yield '{"topics":[';
    yield* elements(ctx.db.findRegistrations('topic', '*', ''), (r) => goString(r.key));
    yield ']}';
  })();

export const doChannels: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  return (function* () {
    yield '{"channels":[';
    yield* elements(ctx.db.findRegistrations('channel', topic, '*'), (r) => goString(r.subKey));
    yield ']}';
  })();
};

export const doLookup: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  const { db } = ctx;
  if (db.findRegistrations('topic', topic, '').length === 0)
    throw new HttpStatusError(404, 'TOPIC_NOT_FOUND');
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

export const doCreateTopic: Handler = (ctx, params) => {
  const topic = required(params, 'topic', 'MISSING_ARG_TOPIC');
  if (!isValidName(topic)) throw new HttpStatusError(400, 'INVALID_ARG_TOPIC');
  ctx.log('info', 'DB: adding topic(%s)', topic);
  ctx.db.addRegistration('topic', topic, '');
  return undefined;
};

export const doDeleteTopic: Handler = (ctx, params) => {
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

export const doTombstoneTopicProducer: Handler = (ctx, params) => {
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

export const doCreateChannel: Handler = (ctx, params) => {
  const { topic, channel } = topicChannelArgs(params);
  ctx.log('info', 'DB: adding channel(%s) in topic(%s)', channel, topic);
  ctx.db.addRegistration('channel', topic, channel);
  ctx.log('info', 'DB: adding topic(%s)', topic);
  ctx.db.addRegistration('topic', topic, '');
  return undefined;
};

export const doDeleteChannel: Handler = (ctx, params) => {
  const { topic, channel } = topicChannelArgs(params);
  const registrations = ctx.db.findRegistrations('channel', topic, channel);
  if (registrations.length === 0) throw new HttpStatusError(404, 'CHANNEL_NOT_FOUND');
  ctx.log('info', 'DB: removing channel(%s) from topic(%s)', channel, topic);
  for (const registration of registrations) ctx.db.removeRegistration(registration);
  return undefined;
};

export const doNodes: Handler = (ctx) => {
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

export const doDebug: Handler = (ctx) =>
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
export const noProfiler: Handler = () => {
  throw new HttpStatusError(404, 'NOT_FOUND');
};
