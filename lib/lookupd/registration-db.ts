/**
 * nsqlookupd's registry (nsq `nsqlookupd/registration_db.go`): registrations keyed by
 * (category, key, subkey), `client` (every identified producer), `topic` (key = topic) and `channel`
 * (key = topic, subkey = channel), each holding the producers that registered it, by producer id.
 *
 * Its quirks are part of the protocol and kept: a registration outlives its last producer (a topic
 * stays listed with no producers) unless something removes it explicitly; `*` as key or subkey is a
 * wildcard in finds; a producer is tombstoned per registration, not globally.
 *
 * Unlike Go's single map, which every find scans, registrations are indexed by category and by topic,
 * and each producer id keeps its own registrations, so lookups, finds and disconnects cost what they
 * return, not the size of the registry.
 */

export type Category = 'client' | 'topic' | 'channel';

/** What a producer (an nsqd) said about itself in IDENTIFY, plus where it connected from. */
export interface PeerInfo {
  /** The connection's remote address (`127.0.0.1:53412`): the producer's identity. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly hostname: string;
  readonly broadcastAddress: string;
  readonly tcpPort: bigint;
  readonly httpPort: bigint;
  readonly version: string;
  readonly topologyZone: string;
  readonly topologyRegion: string;
  /** Last IDENTIFY or PING, in ms since the epoch (the clock of the lookupd's `now` option). */
  lastUpdate: number;
}

/** One producer in one registration; tombstoning marks this pair only. */
export class Producer {
  /** When /topic/tombstone hit this producer, in ms; undefined if never (/debug's `tombstoned`). */
  tombstonedAt: number | undefined;

  constructor(readonly peer: PeerInfo) {}

  tombstone(now: number): void {
    this.tombstonedAt = now;
  }

  /** Tombstoned less than `lifetimeMs` ago (always false for a lifetime of 0). */
  isTombstoned(lifetimeMs: number, now: number): boolean {
    return this.tombstonedAt !== undefined && now - this.tombstonedAt < lifetimeMs;
  }
}

export class Registration {
  readonly producers = new Map<string, Producer>();

  constructor(
    readonly category: Category,
    readonly key: string,
    readonly subKey: string,
  ) {}

  /** `category:key:subkey`, the name /debug lists it under. */
  get name(): string {
    return `${this.category}:${this.key}:${this.subKey}`;
  }

  matches(category: string, key: string, subKey: string): boolean {
    return (
      category === this.category &&
      (key === '*' || key === this.key) &&
      (subKey === '*' || subKey === this.subKey)
    );
  }
}

interface TopicIndex {
  topic: Registration | undefined;
  channels: Map<string, Registration>;
}

// A separator no valid name contains; exact finds still compare the parts, so a key crafted to
// collide cannot alias another registration.
const SEP = '\u0000';

function mapKey(category: string, key: string, subKey: string): string {
  return `${category}${SEP}${key}${SEP}${subKey}`;
}

export class RegistrationDB {
  readonly #all = new Map<string, Registration>();
  readonly #byCategory = new Map<Category, Set<Registration>>([
    ['client', new Set()],
    ['topic', new Set()],
    ['channel', new Set()],
  ]);
  readonly #byTopic = new Map<string, TopicIndex>();
  readonly #byProducer = new Map<string, Set<Registration>>();

  /** Number of registrations, empty ones included. */
  get size(): number {
    return this.#all.size;
  }

  /** Every registration, in creation order. */
  registrations(): IterableIterator<Registration> {
    return this.#all.values();
  }

  get(category: Category, key: string, subKey: string): Registration | undefined {
    const registration = this.#all.get(mapKey(category, key, subKey));
    if (!registration || registration.key !== key || registration.subKey !== subKey) return undefined;
    return registration;
  }

  /** Creates the registration if missing (HTTP /topic/create, /channel/create). */
  addRegistration(category: Category, key: string, subKey: string): Registration {
    const existing = this.get(category, key, subKey);
    if (existing) return existing;
    const registration = new Registration(category, key, subKey);
    this.#all.set(mapKey(category, key, subKey), registration);
    this.#byCategory.get(category)!.add(registration);
    if (category !== 'client') {
      let index = this.#byTopic.get(key);
      if (!index) {
        index = { topic: undefined, channels: new Map() };
        this.#byTopic.set(key, index);
      }
      if (category === 'topic') index.topic = registration;
      else index.channels.set(subKey, registration);
    }
    return registration;
  }

  /** Adds `peer` to the registration (created if missing); false if it was already there. */
  addProducer(category: Category, key: string, subKey: string, peer: PeerInfo): boolean {
    const registration = this.addRegistration(category, key, subKey);
    if (registration.producers.has(peer.id)) return false;
    registration.producers.set(peer.id, new Producer(peer));
    let own = this.#byProducer.get(peer.id);
    if (!own) {
      own = new Set();
      this.#byProducer.set(peer.id, own);
    }
    own.add(registration);
    return true;
  }

  /** Drops producer `id` from the registration, which stays even if empty. */
  removeProducer(registration: Registration, id: string): { removed: boolean; left: number } {
    if (
      this.#all.get(mapKey(registration.category, registration.key, registration.subKey)) !== registration
    ) {
      return { removed: false, left: 0 };
    }
    const removed = registration.producers.delete(id);
    if (removed) this.#forget(id, registration);
    return { removed, left: registration.producers.size };
  }

  /** Deletes the registration with all its producers. */
  removeRegistration(registration: Registration): void {
    const key = mapKey(registration.category, registration.key, registration.subKey);
    if (this.#all.get(key) !== registration) return;
    this.#all.delete(key);
    this.#byCategory.get(registration.category)!.delete(registration);
    if (registration.category !== 'client') {
      const index = this.#byTopic.get(registration.key)!;
      if (registration.category === 'topic') index.topic = undefined;
      else index.channels.delete(registration.subKey);
      if (!index.topic && index.channels.size === 0) this.#byTopic.delete(registration.key);
    }
    for (const id of registration.producers.keys()) this.#forget(id, registration);
  }

  /** Registrations matching, `*` as key or subkey matching anything (nsq's FindRegistrations). */
  findRegistrations(category: Category, key: string, subKey: string): Registration[] {
    if (key !== '*' && subKey !== '*') {
      const registration = this.get(category, key, subKey);
      return registration ? [registration] : [];
    }
    if (key !== '*' && category === 'channel') {
      const channels = this.#byTopic.get(key)?.channels;
      if (!channels) return [];
      return subKey === '*' ? [...channels.values()] : [];
    }
    const out: Registration[] = [];
    for (const registration of this.#byCategory.get(category)!) {
      if (registration.matches(category, key, subKey)) out.push(registration);
    }
    return out;
  }

  /** Producers of the matching registrations, each producer id once (nsq's FindProducers). */
  findProducers(category: Category, key: string, subKey: string): Producer[] {
    if (key !== '*' && subKey !== '*') {
      const registration = this.get(category, key, subKey);
      return registration ? [...registration.producers.values()] : [];
    }
    const seen = new Set<string>();
    const out: Producer[] = [];
    for (const registration of this.findRegistrations(category, key, subKey)) {
      for (const [id, producer] of registration.producers) {
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(producer);
      }
    }
    return out;
  }

  /** Every registration producer `id` is in (nsq's LookupRegistrations). */
  lookupRegistrations(id: string): Registration[] {
    const own = this.#byProducer.get(id);
    return own ? [...own] : [];
  }

  #forget(id: string, registration: Registration): void {
    const own = this.#byProducer.get(id);
    if (!own) return;
    own.delete(registration);
    if (own.size === 0) this.#byProducer.delete(id);
  }
}

/**
 * nsq's `Producers.FilterByActive`: drops producers not heard from (IDENTIFY or PING) for more than
 * `inactiveTimeoutMs` and those tombstoned within `tombstoneLifetimeMs`.
 */
export function filterByActive(
  producers: Producer[],
  inactiveTimeoutMs: number,
  tombstoneLifetimeMs: number,
  now: number,
): Producer[] {
  return producers.filter(
    (p) => !(now - p.peer.lastUpdate > inactiveTimeoutMs) && !p.isTombstoned(tombstoneLifetimeMs, now),
  );
}
