import { readFile } from 'node:fs/promises';
import { pack, unpack } from 'msgpackr';
import { InvalidArgumentError, SnapshotFileError } from '../errors.js';
import { LookupdHttpClient, type LookupdHttpClientOptions } from '../http/lookupd-http-client.js';
import { LookupPeer } from '../peer/lookup-peer.js';
import { isValidChannelName, isValidTopicName } from '../protocol/names.js';
import type { Registration } from '../registry/registry.js';
import { describeValue } from '../util/describe-value.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { nonEmptyText, port } from '../util/validate.js';
import type { FakeProducerSpec } from './fake-producers.js';

/** A lookupd's producers with what each registered: enough to replay it as fake producers. */
export interface TopologySnapshot {
  /** Always `nsqd-lookup/topology`: tells a snapshot from any other msgpack file. */
  format: typeof SNAPSHOT_FORMAT;
  /** The file layout's version; this build reads 1 only. */
  version: typeof SNAPSHOT_VERSION;
  /** ISO 8601 time of the capture. */
  savedAt: string;
  /** The lookupd HTTP address it was read from. */
  source: string;
  /** Every producer lookupd listed in `/nodes`. */
  producers: SnapshotProducer[];
  /**
   * Topics lookupd listed in `/topics` that no producer has (lookupd keeps a name after its producers
   * go), each with the channels it lists. Absent in files from before it was recorded.
   */
  unownedTopics?: SnapshotTopic[];
}

/** A topic and its channels, as lookupd lists them. */
export interface SnapshotTopic {
  /** The topic's name. */
  name: string;
  /** Every channel lookupd lists for the topic. */
  channels: string[];
}

/** One producer of a {@link TopologySnapshot}: its IDENTIFY and its topics, as lookupd listed them. */
export interface SnapshotProducer {
  /** Its host name. */
  hostname: string;
  /** Where consumers dial it. */
  broadcastAddress: string;
  /** Its TCP port for consumers. */
  tcpPort: number;
  /** Its HTTP port. */
  httpPort: number;
  /** Its nsqd version. */
  version: string;
  /** Its `--topology-zone`, `""` if none. */
  topologyZone: string;
  /** Its `--topology-region`, `""` if none. */
  topologyRegion: string;
  /**
   * What it registered; a capture sorts topics and channels by name. Each topic has every channel
   * lookupd lists for it: lookupd does not say which producer has which.
   */
  topics: SnapshotTopic[];
}

export const SNAPSHOT_FORMAT = 'nsqd-lookup/topology';
export const SNAPSHOT_VERSION = 1;

/**
 * Reads a live lookupd's topology over HTTP (`/nodes`, then `/channels` per topic). lookupd's HTTP API
 * does not say which producer registered which channel, so each producer is given every channel
 * lookupd lists for each of its topics. `options` are the HTTP client's.
 */
export async function captureSnapshot(
  httpAddress: string,
  options: LookupdHttpClientOptions = {},
): Promise<TopologySnapshot> {
  const client = new LookupdHttpClient(httpAddress, options);
  const nodes = await client.nodes();
  const owned = new Set(nodes.flatMap((node) => node.topics));
  const topicNames = new Set([...owned, ...(await client.topics())]);
  const channelsByTopic = new Map<string, string[]>();
  for (const topic of topicNames) channelsByTopic.set(topic, (await client.channels(topic)).sort());
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    savedAt: new Date().toISOString(),
    source: httpAddress,
    producers: nodes.map((node) => ({
      hostname: node.hostname,
      broadcastAddress: node.broadcast_address,
      tcpPort: node.tcp_port,
      httpPort: node.http_port,
      version: node.version,
      topologyZone: node.topology_zone ?? '',
      topologyRegion: node.topology_region ?? '',
      topics: [...node.topics].sort().map((name) => ({ name, channels: channelsByTopic.get(name) ?? [] })),
    })),
    unownedTopics: [...topicNames]
      .filter((name) => !owned.has(name))
      .sort()
      .map((name) => ({ name, channels: channelsByTopic.get(name) ?? [] })),
  };
}

/** The snapshot as msgpack bytes, what {@link saveSnapshot} writes and {@link decodeSnapshot} reads. */
export function encodeSnapshot(snapshot: TopologySnapshot): Buffer {
  return pack(snapshot);
}

/**
 * Parses and validates snapshot bytes; anything unexpected is a {@link SnapshotFileError}. A producer
 * IDENTIFY could not announce (a port outside 1-65535, an empty broadcast address or version) refuses
 * the whole file, naming the producer and the field: replayed, it would be retried for ever. The
 * result is built from the known fields only: whatever else the file holds (64-bit integers, decoded
 * as BigInt, or reference cycles, which JSON cannot hold) never reaches the caller.
 */
export function decodeSnapshot(bytes: Buffer, path = '<buffer>'): TopologySnapshot {
  let raw: unknown;
  try {
    raw = unpack(bytes);
  } catch (cause) {
    throw new SnapshotFileError(
      path,
      `not a msgpack snapshot (corrupt or truncated): ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const snapshot = raw as Partial<TopologySnapshot> | null;
  if (snapshot === null || typeof snapshot !== 'object' || snapshot.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotFileError(path, `not a topology snapshot (expected format "${SNAPSHOT_FORMAT}")`);
  }
  if (snapshot.version !== SNAPSHOT_VERSION) {
    throw new SnapshotFileError(
      path,
      `unsupported version ${describeValue(snapshot.version)} (this build reads ${SNAPSHOT_VERSION})`,
    );
  }
  if (
    typeof snapshot.savedAt !== 'string' ||
    typeof snapshot.source !== 'string' ||
    !Array.isArray(snapshot.producers)
  ) {
    throw new SnapshotFileError(path, 'missing savedAt, source or producers');
  }
  const unowned = snapshot.unownedTopics;
  if (unowned !== undefined && !Array.isArray(unowned))
    throw new SnapshotFileError(path, `unownedTopics is not a list: ${describeValue(unowned)}`);
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    savedAt: snapshot.savedAt,
    source: snapshot.source,
    producers: (snapshot.producers as unknown[]).map((producer, i) => validateProducer(producer, i, path)),
    unownedTopics: ((unowned ?? []) as unknown[]).map((entry, i) =>
      validateTopic(entry, `unownedTopics[${i}]`, (what) => {
        throw new SnapshotFileError(path, what);
      }),
    ),
  };
}

/** A {@link SnapshotTopic} read from a file; `fail` reports what is wrong with it. */
function validateTopic(entry: unknown, where: string, fail: (what: string) => never): SnapshotTopic {
  const at = where ? `${where}: ` : '';
  const topic = entry as { name?: unknown; channels?: unknown } | null;
  if (!topic || typeof topic.name !== 'string' || !isValidTopicName(topic.name))
    fail(`${at}invalid topic ${describeValue(entry)}`);
  const name = topic!.name as string;
  if (!Array.isArray(topic!.channels)) fail(`${at}topic ${name}: channels is not a list`);
  const channels: string[] = [];
  for (const channel of topic!.channels as unknown[]) {
    if (typeof channel !== 'string' || !isValidChannelName(channel))
      fail(`${at}topic ${name}: invalid channel ${describeValue(channel)}`);
    channels.push(channel as string);
  }
  return { name, channels };
}

function validateProducer(raw: unknown, index: number, path: string): SnapshotProducer {
  let where = `producers[${index}]`;
  const fail = (what: string): never => {
    throw new SnapshotFileError(path, `${where}: ${what}`);
  };
  /** The package's own checks (lib/validate.ts), their refusal reported against this file. */
  const checked = <T>(check: () => T): T => {
    try {
      return check();
    } catch (error) {
      if (error instanceof InvalidArgumentError) return fail(error.message);
      throw error;
    }
  };
  if (raw === null || typeof raw !== 'object') fail(`not an object: ${describeValue(raw)}`);
  const producer = raw as Record<string, unknown>;
  const string = (key: keyof SnapshotProducer): string => {
    const value = producer[key];
    return typeof value === 'string' ? value : fail(`${key} is not a string: ${describeValue(value)}`);
  };
  const text = (key: keyof SnapshotProducer): string => checked(() => nonEmptyText(key, producer[key]));
  const portOf = (key: keyof SnapshotProducer): number => checked(() => port(key, producer[key]));
  const hostname = string('hostname');
  const broadcastAddress = string('broadcastAddress');
  // From here on a reader can find the producer in the file by what it calls itself.
  where = `producers[${index}] (hostname ${describeValue(hostname)}, broadcast address ${describeValue(broadcastAddress)})`;
  const result: SnapshotProducer = {
    hostname,
    broadcastAddress: text('broadcastAddress'),
    tcpPort: portOf('tcpPort'),
    httpPort: portOf('httpPort'),
    version: text('version'),
    topologyZone: string('topologyZone'),
    topologyRegion: string('topologyRegion'),
    topics: [],
  };
  if (!Array.isArray(producer.topics)) fail(`topics is not a list: ${describeValue(producer.topics)}`);
  for (const entry of producer.topics as unknown[]) result.topics.push(validateTopic(entry, '', fail));
  return result;
}

/**
 * Writes the snapshot to `path` atomically (temporary file, fsync, rename): a reader, even after a
 * crash, finds the old file or the new one, never a mix.
 */
export async function saveSnapshot(snapshot: TopologySnapshot, path: string): Promise<void> {
  await writeFileAtomic(path, encodeSnapshot(snapshot));
}

/** Reads and validates a file written by {@link saveSnapshot}, as {@link decodeSnapshot} does. */
export async function loadSnapshot(path: string): Promise<TopologySnapshot> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new SnapshotFileError(path, `cannot read: ${(cause as Error).message}`, { cause });
  }
  return decodeSnapshot(bytes, path);
}

/** The snapshot's producers as fake-producer specs: same identities, topics and channels. */
export function snapshotToSpecs(snapshot: TopologySnapshot): FakeProducerSpec[] {
  return snapshot.producers.map((producer) => {
    const registrations: Registration[] = [];
    for (const topic of producer.topics) {
      if (topic.channels.length === 0) registrations.push({ topic: topic.name });
      for (const channel of topic.channels) registrations.push({ topic: topic.name, channel });
    }
    return {
      identity: {
        broadcastAddress: producer.broadcastAddress,
        hostname: producer.hostname,
        tcpPort: producer.tcpPort,
        httpPort: producer.httpPort,
        version: producer.version,
        topologyZone: producer.topologyZone,
        topologyRegion: producer.topologyRegion,
      },
      registrations,
    };
  });
}

/** The name the short-lived producer of {@link recreateUnownedNames} gives itself. */
export const NAME_KEEPER_HOSTNAME = 'nsqd-lookup-snapshot';

/**
 * Makes every lookupd at the TCP `addresses` list the snapshot's unowned topics and channels, as its
 * source did: one short-lived producer per lookupd registers them and disconnects, and lookupd (as
 * nsqlookupd does) keeps the names after their producer goes. Until it disconnects that producer is
 * listed in lookupd's `/nodes` as {@link NAME_KEEPER_HOSTNAME}. Resolves to the names registered per
 * lookupd; rejects with the first lookupd's failure.
 */
export async function recreateUnownedNames(
  addresses: string[],
  snapshot: TopologySnapshot,
  { readTimeoutMs = 5000 }: { readTimeoutMs?: number } = {},
): Promise<number> {
  const names: Registration[] = [];
  for (const topic of snapshot.unownedTopics ?? []) {
    if (topic.channels.length === 0) names.push({ topic: topic.name });
    for (const channel of topic.channels) names.push({ topic: topic.name, channel });
  }
  if (names.length === 0) return 0;
  await Promise.all(
    addresses.map(async (address) => {
      const peer = new LookupPeer(address, { readTimeoutMs });
      try {
        await peer.identify({
          broadcastAddress: '127.0.0.1',
          hostname: NAME_KEEPER_HOSTNAME,
          tcpPort: 1,
          httpPort: 1,
          version: '1.3.0',
        });
        await Promise.all(names.map(({ topic, channel }) => peer.register(topic, channel)));
      } finally {
        await peer.close();
      }
    }),
  );
  return names.length;
}
