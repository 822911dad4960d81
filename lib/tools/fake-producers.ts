import { ClosedError, InvalidArgumentError } from '../errors.js';
import { LookupLoop } from '../loop/lookup-loop.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import { checkIdentity } from '../protocol/identity.js';
import { type Registration, Registry } from '../registry/registry.js';
import { type LogFn, logger } from '../util/debug.js';
import { mulberry32 } from '../util/random.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { integerAtLeast, nonEmptyText, optionalText, port, positiveNumber } from '../util/validate.js';

/** One simulated nsqd: what it tells lookupd about itself and what it registers. */
export interface FakeProducerSpec {
  /** What its IDENTIFY says; checked when the fleet is built. */
  identity: IdentifyInfo;
  /** Topics and channels it registers at start-up (its {@link Registry} starts from a copy). */
  registrations: Registration[];
}

/**
 * What {@link FakeProducerFleet} takes: the lookupds, and either explicit `specs` or the shape of the
 * producers to generate (see {@link generateProducerSpecs}). Only `addresses` is required.
 */
export interface FakeProducersOptions {
  /** lookupd TCP addresses every producer registers with. */
  addresses: string[];
  /** Producers to simulate (default 1); ignored when `specs` is given. */
  producers?: number;
  /** Topics per producer (default 1). */
  topics?: number;
  /** Channels per topic (default 1; 0 registers bare topics). */
  channels?: number;
  /** Topic names; `%d` is the topic's index (default `topic-%d`). Every producer has the same topics. */
  topicPattern?: string;
  /** Channel names; `%d` is the channel's index (default `channel-%d`). */
  channelPattern?: string;
  /** Broadcast address of producer i; `%d` is i (default `fake-nsqd-%d`). */
  broadcastAddressPattern?: string;
  /** Hostname of producer i; `%d` is i (default: the broadcast address). */
  hostnamePattern?: string;
  /** TCP port of producer i is `tcpPortBase + i` (default 20000). */
  tcpPortBase?: number;
  /** HTTP port of producer i is `httpPortBase + i` (default 40000). */
  httpPortBase?: number;
  /** Version sent in IDENTIFY (default `1.3.0`). */
  version?: string;
  /** Explicit producers (a snapshot replay); replaces the generated ones. */
  specs?: FakeProducerSpec[];
  /** PING period per producer and lookupd, in ms (default 15000, nsqd's). */
  pingIntervalMs?: number;
  /** Producers connecting at once during start-up (default 200), so lookupd's accept backlog is not flooded. */
  connectConcurrency?: number;
  /** Topic/channel creations and deletions per second across the fleet (default 0). */
  churnPerSecond?: number;
  /** Seed of the churn's choices, for reproducible runs. */
  seed?: number;
  /** Per-peer read timeout, in ms (default 1000, nsqd's; raise it when one lookupd serves thousands). */
  readTimeoutMs?: number;
  /** Replaces the `debug` logger shared by every producer. */
  log?: LogFn;
}

/** A snapshot of the whole fleet, summed over every producer and lookupd. */
export interface FleetStatus {
  /** Producers in the fleet. */
  producers: number;
  /** Producers whose start-up has been initiated. */
  started: number;
  /** Peers (producer × lookupd) connected now. */
  connected: number;
  /** Peers in total. */
  peers: number;
  /** Registrations the lookupds have acknowledged on the current connections. */
  registrationsAcked: number;
  /** What {@link registrationsAcked} reaches once all are in sync: each registry's size, per lookupd. */
  registrationsExpected: number;
  /** Failed commands and connection attempts so far. */
  errors: number;
  /** Random topic and channel creations and deletions made so far (see `churnPerSecond`). */
  churnOperations: number;
}

/** What {@link FakeProducerFleet} emits, event name to listener arguments. */
export type FleetEvents = {
  [event: string]: unknown[];
  /** During start-up, at most every 100 ms and once all producers have started. */
  progress: [status: FleetStatus];
  /** A failure on one producer's peer (the loop retries on its own). */
  error: [producer: number, address: string, error: Error];
};

/**
 * Producer i's identity and registrations from the generating options. A bad option is an
 * {@link InvalidArgumentError} naming it, thrown before any producer exists.
 */
export function generateProducerSpecs(options: FakeProducersOptions): FakeProducerSpec[] {
  const count = integerAtLeast('producers', options.producers, 1, 1);
  const topics = integerAtLeast('topics', options.topics, 0, 1);
  const channels = integerAtLeast('channels', options.channels, 0, 1);
  const tcpPortBase = port('tcpPortBase', options.tcpPortBase ?? 20000);
  const httpPortBase = port('httpPortBase', options.httpPortBase ?? 40000);
  const broadcastAddressPattern = nonEmptyText(
    'broadcastAddressPattern',
    options.broadcastAddressPattern ?? 'fake-nsqd-%d',
  );
  const hostnamePattern = optionalText('hostnamePattern', options.hostnamePattern);
  const version = nonEmptyText('version', options.version ?? '1.3.0');
  if (tcpPortBase + count - 1 > 65535 || httpPortBase + count - 1 > 65535) {
    throw new InvalidArgumentError(
      `${count} producers do not fit in ports from tcpPortBase ${tcpPortBase} / httpPortBase ${httpPortBase}`,
    );
  }
  const registrations: Registration[] = [];
  for (let t = 0; t < topics; t++) {
    const topic = fill(options.topicPattern ?? 'topic-%d', t);
    if (channels === 0) registrations.push({ topic });
    for (let c = 0; c < channels; c++)
      registrations.push({ topic, channel: fill(options.channelPattern ?? 'channel-%d', c) });
  }
  const specs: FakeProducerSpec[] = [];
  for (let i = 0; i < count; i++) {
    const broadcastAddress = fill(broadcastAddressPattern, i);
    specs.push({
      identity: {
        broadcastAddress,
        hostname: hostnamePattern ? fill(hostnamePattern, i) : broadcastAddress,
        tcpPort: tcpPortBase + i,
        httpPort: httpPortBase + i,
        version,
      },
      // Shared and never mutated: each producer's Registry copies it.
      registrations,
    });
  }
  return specs;
}

/**
 * Many simulated nsqds, each a real {@link LookupLoop} with its own {@link Registry} and one TCP
 * connection per lookupd, heartbeating like nsqd. For load-testing lookupd and for giving consumers,
 * nsqadmin and tests a topology to discover.
 */
export class FakeProducerFleet extends TypedEmitter<FleetEvents> {
  /** Every producer's identity and registrations, generated or given, checked; index i is producer i. */
  readonly specs: FakeProducerSpec[];
  readonly #options: FakeProducersOptions;
  readonly #loops: LookupLoop[] = [];
  readonly #registries: Registry[] = [];
  readonly #log: LogFn;
  #errors = 0;
  #churnOperations = 0;
  #churnTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The running start(), settled or not; close() waits for it to settle. */
  #starting: Promise<void> | undefined;
  #random: () => number;
  readonly #connectConcurrency: number;

  /**
   * Checks every option and every producer's identity: a bad one is an {@link InvalidArgumentError}
   * naming the option or the producer, thrown here, before any connection (a LookupLoop would refuse
   * it too, but only once the producers before it had connected).
   */
  constructor(options: FakeProducersOptions) {
    super();
    if (!Array.isArray(options.addresses) || options.addresses.length === 0)
      throw new InvalidArgumentError('fake producers need at least one lookupd address');
    this.#connectConcurrency = integerAtLeast('connectConcurrency', options.connectConcurrency, 1, 200);
    positiveNumber('pingIntervalMs', options.pingIntervalMs, 15_000);
    positiveNumber('readTimeoutMs', options.readTimeoutMs, 1000);
    this.#options = options;
    this.specs = checkSpecs(options.specs ?? generateProducerSpecs(options));
    this.#log = options.log ?? logger('fake-producers');
    this.#random = mulberry32(options.seed ?? Date.now());
  }

  /** The registry of producer `i`, to add or remove topics and channels by hand. */
  registry(i: number): Registry | undefined {
    return this.#registries[i];
  }

  /**
   * Starts every producer, at most `connectConcurrency` connecting at once, and resolves when each has
   * connected to every lookupd or failed a first attempt (failed ones keep retrying in the background).
   * Rejects with a {@link ClosedError} if the fleet is closed before that (or was already).
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedWhileStarting());
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const concurrency = this.#connectConcurrency;
    let next = 0;
    let lastProgress = 0;
    const worker = async () => {
      while (!this.#closed && next < this.specs.length) {
        const index = next++;
        await this.#startProducer(index);
        if (this.#closed) return;
        // status() walks every producer: report at most every 100 ms, and the last one.
        const now = performance.now();
        const last = this.#loops.length === this.specs.length;
        if (this.listenerCount('progress') > 0 && (last || now - lastProgress >= 100)) {
          lastProgress = now;
          this.emit('progress', this.status());
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.specs.length) }, worker));
    if (this.#closed) throw this.#closedWhileStarting();
    this.#startChurn();
  }

  #closedWhileStarting(): ClosedError {
    return new ClosedError(
      `fake producer fleet closed while starting (${this.#loops.length} of ${this.specs.length} producers started)`,
    );
  }

  /** The fleet's counts now, over the producers started so far. */
  status(): FleetStatus {
    let connected = 0;
    let peers = 0;
    let acked = 0;
    let expected = 0;
    for (const loop of this.#loops) {
      for (const stats of loop.stats()) {
        peers++;
        if (stats.state === 'connected') connected++;
        acked += stats.registrationsAcked;
        expected += stats.registrationsExpected;
      }
    }
    return {
      producers: this.specs.length,
      started: this.#loops.length,
      connected,
      peers,
      registrationsAcked: acked,
      registrationsExpected: expected,
      errors: this.#errors,
      churnOperations: this.#churnOperations,
    };
  }

  /** Resolves once every connected producer has acknowledged everything sent so far. */
  async settled(): Promise<void> {
    await Promise.all(this.#loops.map((loop) => loop.settled()));
  }

  /** Stops churn and closes every producer's connections; lookupd drops them as nsqd's SIGTERM does. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#churnTimer) clearInterval(this.#churnTimer);
    this.#churnTimer = undefined;
    await Promise.all(this.#loops.map((loop) => loop.close()));
    // So that start() has settled (rejected) by the time close() resolves.
    await this.#starting?.catch(() => undefined);
  }

  async #startProducer(index: number): Promise<void> {
    const spec = this.specs[index]!;
    const registry = new Registry(spec.registrations);
    const loop = new LookupLoop({
      addresses: this.#options.addresses,
      identity: spec.identity,
      registry,
      pingIntervalMs: this.#options.pingIntervalMs,
      readTimeoutMs: this.#options.readTimeoutMs,
      log: this.#log,
      // Simulated brokers advertise addresses nobody will dial; checking them would only flood DNS.
      checkBroadcastAddress: false,
    });
    this.#registries[index] = registry;
    this.#loops[index] = loop;
    loop.on('error', (address, error) => {
      this.#errors++;
      this.emit('error', index, address, error);
    });
    // A first outcome per lookupd: connected, a failed attempt (the loop keeps retrying) or a stop; or
    // close(), which ends the stream.
    const remaining = new Set(this.#options.addresses);
    const events = loop.events();
    loop.start();
    for await (const event of events) {
      if (event.type !== 'connected' && event.type !== 'retry-scheduled' && event.type !== 'stopped')
        continue;
      remaining.delete(event.address);
      if (remaining.size === 0) break;
    }
  }

  #startChurn(): void {
    const rate = this.#options.churnPerSecond ?? 0;
    if (!(rate > 0) || this.#closed || this.#registries.length === 0) return;
    // Up to 100 timer ticks a second; several operations per tick above that.
    const ticksPerSecond = Math.min(rate, 100);
    let owed = 0;
    this.#churnTimer = setInterval(() => {
      owed += rate / ticksPerSecond;
      for (; owed >= 1; owed--) this.#churnOnce();
    }, 1000 / ticksPerSecond);
    this.#churnTimer.unref();
  }

  /** One random creation or deletion on a random producer, within a bounded name space. */
  #churnOnce(): void {
    const registry = this.#registries[Math.floor(this.#random() * this.#registries.length)];
    if (!registry) return;
    const topic = `churn-topic-${Math.floor(this.#random() * 10)}`;
    const channel = `churn-channel-${Math.floor(this.#random() * 10)}`;
    const roll = this.#random();
    if (roll < 0.4) registry.addChannel(topic, channel);
    else if (roll < 0.5) registry.addTopic(topic);
    else if (roll < 0.9) registry.removeChannel(topic, channel);
    else registry.removeTopic(topic);
    this.#churnOperations++;
  }
}

/** Creates and starts a fleet: the library form of `nsqd-lookup fake-producers`. */
export async function startFakeProducers(options: FakeProducersOptions): Promise<FakeProducerFleet> {
  const fleet = new FakeProducerFleet(options);
  await fleet.start();
  return fleet;
}

function fill(pattern: string, index: number): string {
  return pattern.replaceAll('%d', String(index));
}

/** Each producer's identity as IDENTIFY needs it, named by its index among the specs. */
function checkSpecs(specs: FakeProducerSpec[]): FakeProducerSpec[] {
  if (!Array.isArray(specs)) throw new InvalidArgumentError(`specs must be a list, got ${typeof specs}`);
  specs.forEach((spec, i) => {
    if (spec === null || typeof spec !== 'object')
      throw new InvalidArgumentError(`specs[${i}] must be an object, got ${String(spec)}`);
    checkIdentity(spec.identity, `specs[${i}].identity`);
  });
  return specs;
}
