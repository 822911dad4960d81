import { readFile } from 'node:fs/promises';
import { pack, unpack } from 'msgpackr';
import { NsqLookupError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { LookupdHttpClient } from '../lookupd-http.js';
import type { Registration } from '../loop/registry.js';
import { isValidChannelName, isValidTopicName } from '../protocol/names.js';
import type { FakeProducerSpec } from './fake-producers.js';

/** A lookupd's producers with what each registered: enough to replay it as fake producers. */
export interface TopologySnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** ISO 8601 time of the capture. */
  savedAt: string;
  /** The lookupd HTTP address it was read from. */
  source: string;
  producers: SnapshotProducer[];
}

export interface SnapshotProducer {
  hostname: string;
  broadcastAddress: string;
  tcpPort: number;
  httpPort: number;
  version: string;
  topologyZone: string;
  topologyRegion: string;
  topics: Array<{ name: string; channels: string[] }>;
}

export const SNAPSHOT_FORMAT = 'nsqd-lookup/topology';
export const SNAPSHOT_VERSION = 1;

export class SnapshotFileError extends NsqLookupError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NSQ_ERR_SNAPSHOT_FILE', `snapshot ${path}: ${message}`, options);
  }
}

/**
 * Reads a live lookupd's topology over HTTP (`/nodes`, then `/channels` per topic). lookupd's HTTP API
 * does not say which producer registered which channel, so each producer is given every channel
 * lookupd lists for each of its topics.
 */
export async function captureSnapshot(httpAddress: string, timeoutMs = 5000): Promise<TopologySnapshot> {
  const client = new LookupdHttpClient(httpAddress, timeoutMs);
  const nodes = await client.nodes();
  const topicNames = new Set(nodes.flatMap((node) => node.topics));
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
  };
}

export function encodeSnapshot(snapshot: TopologySnapshot): Buffer {
  return pack(snapshot);
}

/** Parses and validates snapshot bytes; anything unexpected is a {@link SnapshotFileError}. */
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
      `unsupported version ${String(snapshot.version)} (this build reads ${SNAPSHOT_VERSION})`,
    );
  }
  if (
    typeof snapshot.savedAt !== 'string' ||
    typeof snapshot.source !== 'string' ||
    !Array.isArray(snapshot.producers)
  ) {
    throw new SnapshotFileError(path, 'missing savedAt, source or producers');
  }
  for (const [i, producer] of snapshot.producers.entries())
    validateProducer(producer, `producers[${i}]`, path);
  return snapshot as TopologySnapshot;
}

function validateProducer(producer: SnapshotProducer, where: string, path: string): void {
  const fail = (what: string) => {
    throw new SnapshotFileError(path, `${where}: ${what}`);
  };
  if (producer === null || typeof producer !== 'object') fail('not an object');
  for (const key of ['hostname', 'broadcastAddress', 'version', 'topologyZone', 'topologyRegion'] as const) {
    if (typeof producer[key] !== 'string') fail(`${key} is not a string`);
  }
  for (const key of ['tcpPort', 'httpPort'] as const) {
    if (!Number.isInteger(producer[key]) || producer[key] < 0 || producer[key] > 65535)
      fail(`${key} is not a port`);
  }
  if (!Array.isArray(producer.topics)) fail('topics is not a list');
  for (const topic of producer.topics) {
    if (!topic || !isValidTopicName(topic.name)) fail(`invalid topic ${JSON.stringify(topic)}`);
    if (
      !Array.isArray(topic.channels) ||
      !topic.channels.every((c) => typeof c === 'string' && isValidChannelName(c))
    ) {
      fail(`topic ${topic.name}: invalid channels`);
    }
  }
}

export async function saveSnapshot(snapshot: TopologySnapshot, path: string): Promise<void> {
  await writeFileAtomic(path, encodeSnapshot(snapshot));
}

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
