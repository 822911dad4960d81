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

/**
 * What a registration records: `client` (a producer identified itself; key and subkey empty), `topic`
 * (a producer has the topic named by the key) or `channel` (a producer has the channel named by the
 * subkey, on the topic named by the key).
 */
export type Category = 'client' | 'topic' | 'channel';

/** What a producer (an nsqd) said about itself in IDENTIFY, plus where it connected from. */
export interface PeerInfo {
  /** The connection's remote address (`127.0.0.1:53412`): the producer's identity. */
  readonly id: string;
  /**
   * The connection's remote address, `host:port`, as /nodes reports it (`remote_address`); whatever
   * IDENTIFY claimed here is overwritten, as nsqlookupd does.
   */
  readonly remoteAddress: string;
  /** The nsqd's host name, from IDENTIFY (`hostname`); empty if it sent none. */
  readonly hostname: string;
  /** Where consumers should reach the nsqd, from IDENTIFY (`broadcast_address`); never empty. */
  readonly broadcastAddress: string;
  /**
   * The nsqd's TCP port for clients, from IDENTIFY (`tcp_port`): a Go int, hence a bigint; never zero,
   * but not checked to be a valid port, as nsqlookupd does not.
   */
  readonly tcpPort: bigint;
  /** The nsqd's HTTP port, from IDENTIFY (`http_port`): a Go int, hence a bigint; never zero. */
  readonly httpPort: bigint;
  /** The nsqd's version string, from IDENTIFY (`version`); never empty. */
  readonly version: string;
  /** The nsqd's topology zone, from IDENTIFY (`topology_zone`); empty if it sent none. */
  readonly topologyZone: string;
  /** The nsqd's topology region, from IDENTIFY (`topology_region`); empty if it sent none. */
  readonly topologyRegion: string;
  /** Last IDENTIFY or PING, in ms since the epoch (the clock of the lookupd's `now` option). */
  lastUpdate: number;
}

/** One producer in one registration; tombstoning marks this pair only. */
export class Producer {
  /** When /topic/tombstone hit this producer, in ms; undefined if never (/debug's `tombstoned`). */
  tombstonedAt: number | undefined;

  constructor(
    /** The producer this entry stands for, shared by all of its registrations. */
    readonly peer: PeerInfo,
  ) {}

  /**
   * Marks this producer tombstoned in this registration as of `now`, in ms since the epoch
   * (/topic/tombstone).
   */
  tombstone(now: number): void {
    this.tombstonedAt = now;
  }

  /** Tombstoned less than `lifetimeMs` ago (always false for a lifetime of 0). */
  isTombstoned(lifetimeMs: number, now: number): boolean {
    return this.tombstonedAt !== undefined && now - this.tombstonedAt < lifetimeMs;
  }
}

/**
 * One (category, key, subkey) entry of the registry and the producers that registered it. It may be
 * empty: it stays listed until removed explicitly.
 */
export class Registration {
  /** The producers in this registration, by producer id ({@link PeerInfo.id}), in the order they came. */
  readonly producers = new Map<string, Producer>();

  constructor(
    /** What the registration records (see {@link Category}). */
    readonly category: Category,
    /** The topic name for `topic` and `channel` registrations; empty for `client`. */
    readonly key: string,
    /** The channel name for `channel` registrations; empty otherwise. */
    readonly subKey: string,
  ) {}

  /** `category:key:subkey`, the name /debug lists it under. */
  get name(): string {
    return `${this.category}:${this.key}:${this.subKey}`;
  }

  /** Whether this registration is in `category` and has this key and subkey, `*` matching any. */
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

/**
 * The registry of an embedded lookupd: every {@link Registration}, indexed by category, by topic and by
 * producer. Read it through {@link Lookupd.db}; the protocols are what change it.
 */
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

  /** The registration with exactly this category, key and subkey (`*` is not a wildcard here), if any. */
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

  /**
   * Drops producer `id` from the registration, which stays even if empty. Answers whether the producer
   * was there (`removed`) and how many producers the registration still has (`left`); a registration
   * no longer in this registry answers `removed: false, left: 0`.
   */
  removeProducer(
    registration: Registration,
    id: string,
  ): {
    /** The producer was in the registration and is gone now. */
    removed: boolean;
    /** Producers the registration still has. */
    left: number;
  } {
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
