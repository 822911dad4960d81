import {
  type BroadcastWarning,
  checkBroadcastAddress,
  type Resolver,
} from '../diagnostics/broadcast-check.js';
import { LookupdHttpClient, type LookupdHttpClientOptions } from '../http/lookupd-http-client.js';

/** One producer as one or more lookupds see it. */
export interface ReportProducer {
  /** `broadcast_address:tcp_port`, how consumers tell producers apart. */
  key: string;
  /** Its host name, from its IDENTIFY (as the first lookupd that lists it has it). */
  hostname: string;
  /** Where consumers dial it. */
  broadcastAddress: string;
  /** Its TCP port for consumers. */
  tcpPort: number;
  /** Its HTTP port. */
  httpPort: number;
  /** Its nsqd version. */
  version: string;
  /** Age of the freshest heartbeat (PING or any command) any lookupd has from it, in ms. */
  lastHeartbeatAgeMs: number | null;
  /** HTTP addresses of the lookupds that list it. */
  seenBy: string[];
  /** Problems with its broadcast address (does not resolve, loopback, unspecified). */
  broadcastWarnings: BroadcastWarning[];
}

/** A producer a lookupd has tombstoned for a topic: until that expires, /lookup omits it for the topic. */
export interface ReportTombstone {
  /** HTTP address of the lookupd holding the tombstone. */
  lookupd: string;
  /** The producer's {@link ReportProducer.key}. */
  producer: string;
  /** The topic it is tombstoned for. */
  topic: string;
  /** When it was tombstoned, epoch ms. */
  tombstonedAt: number;
  /** Until lookupd lets the producer back into /lookup, given `tombstoneLifetimeMs`. */
  remainingMs: number;
}

/**
 * Something that some reachable lookupds list and others do not. Producers and registrations that
 * differ are `critical`: consumers see different topologies depending on the lookupd they ask (a
 * broker that failed to register with every lookupd). A topic or channel name that no producer holds
 * is only a `warning`: such names outlive their producers on lookupd and vanish when it restarts, so
 * lookupds differ in them after any restart.
 */
export interface ReportDisagreement {
  /**
   * What {@link name} is: a producer; one producer's registration (`producer topic` or
   * `producer topic/channel`); or a topic or channel (`topic/channel`) name.
   */
  kind: 'producer' | 'registration' | 'topic' | 'channel';
  /** `critical` when consumers see a different topology; `warning` for names without producers. */
  severity: 'critical' | 'warning';
  /** A producer's {@link ReportProducer.key}, a registration, or a topic or channel name. */
  name: string;
  /** HTTP addresses of the lookupds that list it. */
  presentOn: string[];
  /** HTTP addresses of the reachable lookupds that do not. */
  missingFrom: string[];
}

/** What {@link buildLookupdReport} found, JSON-serialisable; {@link exitCode} sums it up. */
export interface LookupdReport {
  /** When the report was made, epoch ms. */
  at: number;
  /** One entry per lookupd asked, in the order given. */
  lookupds: Array<{
    /** The lookupd's HTTP address. */
    httpAddress: string;
    /** Whether every request to it succeeded; if not, nothing else from it is counted. */
    reachable: boolean;
    /** Why it was not reachable. */
    error?: string;
    /** Producers it lists (0 when unreachable). */
    producers: number;
    /** Topics it lists (0 when unreachable). */
    topics: number;
  }>;
  /** Every producer any lookupd lists, merged by {@link ReportProducer.key}, sorted by it. */
  producers: ReportProducer[];
  /** Topics a lookupd lists with no producer left (deleted on brokers, never on lookupd). */
  ghostTopics: Array<{
    /** HTTP address of the lookupd that lists it. */
    lookupd: string;
    /** The topic's name. */
    topic: string;
  }>;
  /** Channels a lookupd lists with no producer left, like {@link ghostTopics}. */
  ghostChannels: Array<{
    /** HTTP address of the lookupd that lists it. */
    lookupd: string;
    /** The channel's topic. */
    topic: string;
    /** The channel's name. */
    channel: string;
  }>;
  /** Every tombstone on every lookupd; an expired one stays listed, with `remainingMs` 0. */
  tombstones: ReportTombstone[];
  /** Producers heard from longer ago than `staleAfterMs`. */
  staleProducers: string[];
  /**
   * What the reachable lookupds do not agree on, critical ones first, each group sorted by kind and
   * name; empty with fewer than two.
   */
  disagreements: ReportDisagreement[];
  /**
   * 0 healthy; 1 warnings (ghosts, tombstones, stale or badly advertised producers, names without
   * producers that only some lookupds list); 2 a lookupd is unreachable, or lookupds differ in
   * producers or registrations.
   */
  exitCode: 0 | 1 | 2;
}

/** What {@link buildLookupdReport} takes; only `httpAddresses` is required. */
export interface ReportOptions {
  /** lookupd HTTP addresses (`host:port`), each asked in turn. */
  httpAddresses: string[];
  /** lookupd's `--tombstone-lifetime` (not exposed over HTTP), in ms; default 45 s. */
  tombstoneLifetimeMs?: number;
  /** Heartbeat age above which a producer counts as stale, in ms; default 60 s (nsqd PINGs every 15 s). */
  staleAfterMs?: number;
  /** Deadline of each HTTP request, in ms (default 5000). */
  timeoutMs?: number;
  /** Largest HTTP body read from a lookupd (default 256 MiB); see {@link LookupdHttpClientOptions}. */
  maxBodyBytes?: number;
  /** Name resolution for the producers' broadcast address check (default: the system's). */
  resolve?: Resolver;
  /** The clock, epoch ms (default `Date.now`); specs pass a fixed one. */
  now?: () => number;
}

interface DebugProducer {
  id: string;
  hostname: string;
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  version: string;
  last_update: number;
  tombstoned: boolean;
  tombstoned_at: number;
}

/**
 * The lookupd side of registration health, from each lookupd's `/debug` and `/topics`: who is
 * registered, since when it was last heard, what is left over, and where lookupds disagree.
 */
export async function buildLookupdReport(options: ReportOptions): Promise<LookupdReport> {
  const now = options.now?.() ?? Date.now();
  const lifetime = options.tombstoneLifetimeMs ?? 45_000;
  const staleAfter = options.staleAfterMs ?? 60_000;
  const report: LookupdReport = {
    at: now,
    lookupds: [],
    producers: [],
    ghostTopics: [],
    ghostChannels: [],
    tombstones: [],
    staleProducers: [],
    disagreements: [],
    exitCode: 0,
  };
  const producers = new Map<string, ReportProducer>();
  const topicsByLookupd = new Map<string, Set<string>>();
  const channelsByLookupd = new Map<string, Set<string>>();
  const producersByLookupd = new Map<string, Set<string>>();
  const registrationsByLookupd = new Map<string, Set<string>>();
  /** Topic names (`t`) and channel names (`t/c`) some producer holds on some lookupd. */
  const held = new Set<string>();

  for (const httpAddress of options.httpAddresses) {
    const client = new LookupdHttpClient(httpAddress, {
      timeoutMs: options.timeoutMs ?? 5000,
      maxBodyBytes: options.maxBodyBytes,
    });
    let debug: Record<string, DebugProducer[]>;
    let topics: string[];
    const channelsByTopic = new Map<string, string[]>();
    // Everything is read before anything is counted, so a lookupd failing halfway counts only as down.
    try {
      debug = (await client.debug()) as unknown as Record<string, DebugProducer[]>;
      topics = await client.topics();
      for (const topic of topics) channelsByTopic.set(topic, await client.channels(topic));
    } catch (error) {
      report.lookupds.push({
        httpAddress,
        reachable: false,
        error: (error as Error).message,
        producers: 0,
        topics: 0,
      });
      continue;
    }
    const seen = new Set<string>();
    for (const p of debug['client::'] ?? []) {
      const key = `${p.broadcast_address}:${p.tcp_port}`;
      seen.add(key);
      const ageMs = Math.max(0, now - p.last_update / 1e6);
      const existing = producers.get(key);
      if (existing) {
        existing.seenBy.push(httpAddress);
        existing.lastHeartbeatAgeMs = Math.min(existing.lastHeartbeatAgeMs ?? ageMs, ageMs);
      } else {
        producers.set(key, {
          key,
          hostname: p.hostname,
          broadcastAddress: p.broadcast_address,
          tcpPort: p.tcp_port,
          httpPort: p.http_port,
          version: p.version,
          lastHeartbeatAgeMs: ageMs,
          seenBy: [httpAddress],
          broadcastWarnings: [],
        });
      }
    }
    // /debug lists only registrations that still have producers; /topics and /channels list every name.
    const live = new Set<string>();
    const registrations = new Set<string>();
    for (const [registration, list] of Object.entries(debug)) {
      const [category, topic = '', channel = ''] = registration.split(':');
      if (list.length > 0) live.add(category === 'channel' ? `${topic}:${channel}` : `${category}:${topic}`);
      if (category === 'topic' || category === 'channel') {
        const name = category === 'channel' ? `${topic}/${channel}` : topic;
        for (const p of list) registrations.add(`${p.broadcast_address}:${p.tcp_port} ${name}`);
        if (list.length > 0) held.add(name);
      }
      if (category !== 'topic') continue;
      for (const p of list) {
        if (!p.tombstoned) continue;
        const tombstonedAt = p.tombstoned_at / 1e6;
        report.tombstones.push({
          lookupd: httpAddress,
          producer: `${p.broadcast_address}:${p.tcp_port}`,
          topic,
          tombstonedAt,
          remainingMs: Math.max(0, lifetime - (now - tombstonedAt)),
        });
      }
    }
    for (const topic of topics) {
      if (!live.has(`topic:${topic}`)) report.ghostTopics.push({ lookupd: httpAddress, topic });
      for (const channel of channelsByTopic.get(topic) ?? []) {
        if (!live.has(`${topic}:${channel}`))
          report.ghostChannels.push({ lookupd: httpAddress, topic, channel });
      }
    }
    topicsByLookupd.set(httpAddress, new Set(topics));
    channelsByLookupd.set(
      httpAddress,
      new Set(topics.flatMap((topic) => (channelsByTopic.get(topic) ?? []).map((c) => `${topic}/${c}`))),
    );
    producersByLookupd.set(httpAddress, seen);
    registrationsByLookupd.set(httpAddress, registrations);
    report.lookupds.push({ httpAddress, reachable: true, producers: seen.size, topics: topics.length });
  }

  for (const producer of producers.values()) {
    producer.broadcastWarnings = await checkBroadcastAddress({
      identity: {
        broadcastAddress: producer.broadcastAddress,
        tcpPort: producer.tcpPort,
        httpPort: producer.httpPort,
        version: producer.version,
      },
      // The lookupds' own hosts stand in for where consumers are.
      lookupdAddresses: producer.seenBy,
      resolve: options.resolve,
    });
    if ((producer.lastHeartbeatAgeMs ?? 0) > staleAfter) report.staleProducers.push(producer.key);
  }
  report.producers = [...producers.values()].sort((a, b) => compare(a.key, b.key));
  // A producer missing from a lookupd is one disagreement, not one more per registration it holds.
  const everywhere = new Set(
    [...producers.keys()].filter((key) => [...producersByLookupd.values()].every((seen) => seen.has(key))),
  );
  for (const [address, registrations] of registrationsByLookupd) {
    registrationsByLookupd.set(
      address,
      new Set([...registrations].filter((r) => everywhere.has(r.slice(0, r.indexOf(' '))))),
    );
  }
  const names = (kind: 'topic' | 'channel', byLookupd: Map<string, Set<string>>) =>
    disagreements(kind, byLookupd, (name) => (held.has(name) ? 'critical' : 'warning'));
  report.disagreements = [
    ...disagreements('producer', producersByLookupd, () => 'critical'),
    ...disagreements('registration', registrationsByLookupd, () => 'critical'),
    ...names('topic', topicsByLookupd),
    ...names('channel', channelsByLookupd),
  ].sort(
    (a, b) =>
      compare(a.severity, b.severity) ||
      KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) ||
      compare(a.name, b.name),
  );
  // lookupd lists names in Go map order, different on every run: sort everything so runs compare.
  report.ghostTopics.sort((a, b) => compare(a.topic, b.topic) || order(a.lookupd, b.lookupd));
  report.ghostChannels.sort(
    (a, b) => compare(a.topic, b.topic) || compare(a.channel, b.channel) || order(a.lookupd, b.lookupd),
  );
  report.tombstones.sort(
    (a, b) => compare(a.topic, b.topic) || compare(a.producer, b.producer) || order(a.lookupd, b.lookupd),
  );
  report.staleProducers.sort(compare);

  const unreachable = report.lookupds.some((l) => !l.reachable);
  const warnings =
    report.ghostTopics.length +
    report.ghostChannels.length +
    report.tombstones.length +
    report.staleProducers.length +
    report.producers.filter((p) => p.broadcastWarnings.length > 0).length;
  const critical = report.disagreements.some((d) => d.severity === 'critical');
  const warned = warnings > 0 || report.disagreements.length > 0;
  report.exitCode = unreachable || critical ? 2 : warned ? 1 : 0;
  return report;

  /** lookupds in the order they were given. */
  function order(a: string, b: string): number {
    return options.httpAddresses.indexOf(a) - options.httpAddresses.indexOf(b);
  }
}

const KINDS: ReportDisagreement['kind'][] = ['producer', 'registration', 'topic', 'channel'];

/** Code-unit order: the same on every machine and locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function disagreements(
  kind: ReportDisagreement['kind'],
  byLookupd: Map<string, Set<string>>,
  severity: (name: string) => ReportDisagreement['severity'],
): ReportDisagreement[] {
  if (byLookupd.size < 2) return [];
  const all = new Set<string>();
  for (const names of byLookupd.values()) for (const name of names) all.add(name);
  const result: ReportDisagreement[] = [];
  for (const name of [...all].sort()) {
    const presentOn = [...byLookupd].filter(([, names]) => names.has(name)).map(([address]) => address);
    if (presentOn.length === byLookupd.size) continue;
    const missingFrom = [...byLookupd.keys()].filter((address) => !presentOn.includes(address));
    result.push({ kind, severity: severity(name), name, presentOn, missingFrom });
  }
  return result;
}
