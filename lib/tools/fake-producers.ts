import { hostname } from 'node:os';
import { type Broker, type BrokerTlsOptions, startBroker } from '../broker/broker.js';
import type { BrokerLimits } from '../broker/context.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { LookupdHttpClient } from '../http/lookupd-http-client.js';
import { LookupLoop } from '../loop/lookup-loop.js';
import { Registry } from '../registry/registry.js';
import { joinHostPort } from '../util/address.js';
import { type LogFn, logger } from '../util/debug.js';
import { mulberry32 } from '../util/random.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { integerAtLeast, nonEmptyText, port, positiveNumber } from '../util/validate.js';
import {
  checkSpecs,
  type FakeProducerSpec,
  fill,
  generateProducerSpecs,
  type ProducerShape,
} from './fake-producer-specs.js';
import { TrafficGenerator } from './fake-traffic.js';

export { type FakeProducerSpec, generateProducerSpecs, type ProducerShape } from './fake-producer-specs.js';

/**
 * What {@link FakeProducerFleet} takes: the lookupds, and either explicit `specs` or the shape of the
 * producers to generate (see {@link generateProducerSpecs}). Only `addresses` is required.
 */
export interface FakeProducersOptions extends ProducerShape {
  /** lookupd TCP addresses every producer registers with. */
  addresses: string[];
  /**
   * Register only, without listening (default false): for load-testing lookupd with 10,000+
   * producers. Consumers cannot use such fakes: the addresses they advertise lead nowhere.
   */
  registrationOnly?: boolean;
  /**
   * Where serving fakes listen (default `127.0.0.1`); they advertise it (the host name for `0.0.0.0`
   * or `::`) unless `broadcastAddressPattern` says otherwise. Ports are `tcpPortBase + i` and `httpPortBase + i`
   * when given, else chosen by the OS.
   */
  listenAddress?: string;
  /** Explicit producers (a snapshot replay); replaces the generated ones. */
  specs?: FakeProducerSpec[];
  /** Messages a second that every serving fake publishes to each of its topics (default 0). */
  messageRate?: number;
  /** Bytes per generated message, padding its JSON with spaces (default: the JSON alone). */
  messageSize?: number;
  /** nsqd limits for every serving fake (say a small `memQueueSize`); nsqd's defaults otherwise. */
  brokerLimits?: Partial<BrokerLimits>;
  /** TLS that every serving fake's IDENTIFY may negotiate, as the broker's `tls` option (PEM strings). */
  tls?: BrokerTlsOptions;
  /**
   * lookupd HTTP addresses that {@link FakeProducerFleet.verify} reads to find registrations a lookupd
   * dropped on its own (nsqadmin's delete reaches lookupd, but not a registration-only fake).
   */
  lookupdHttpAddresses?: string[];
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
  /** Producers listening on their TCP and HTTP ports (none with `registrationOnly`). */
  serving: number;
  /** Peers (producer × lookupd) connected now. */
  connected: number;
  /** Peers in total. */
  peers: number;
  /** Registrations the lookupds have acknowledged on the current connections. */
  registrationsAcked: number;
  /** What {@link registrationsAcked} reaches once all are in sync: each registry's size, per lookupd. */
  registrationsExpected: number;
  /**
   * Acknowledged registrations that a lookupd no longer held at the last {@link FakeProducerFleet.verify}
   * (dropped by lookupd itself, say by nsqadmin's delete); 0 before any.
   */
  registrationsDropped: number;
  /** Whether the fleet checks lookupd's own view (it was given `lookupdHttpAddresses`). */
  verified: boolean;
  /** Failed commands and connection attempts so far. */
  errors: number;
  /** Random topic and channel creations and deletions made so far (see `churnPerSecond`). */
  churnOperations: number;
  /** Messages generated so far (see `messageRate`). */
  messagesGenerated: number;
  /** Topics whose generation is held back now because a queue is full (no consumer keeps up). */
  generationPaused: number;
}

/** What {@link FakeProducerFleet} emits, event name to listener arguments. */
export type FleetEvents = {
  [event: string]: unknown[];
  /** During start-up, at most every 100 ms and once all producers have started. */
  progress: [status: FleetStatus];
  /**
   * A failure on one producer's peer (the loop retries on its own). `producer` is its index in the
   * whole fleet: `firstIndex` plus its index here.
   */
  error: [producer: number, address: string, error: Error];
};

/** One producer of the fleet: its loop and registry, and its broker when it serves. */
interface Producer {
  loop: LookupLoop;
  registry: Registry;
  broker?: Broker;
}

/**
 * Many simulated nsqds, each registering with every lookupd through its own {@link LookupLoop} and
 * {@link Registry}, heartbeating like nsqd. By default each one is a real small nsqd (a
 * {@link Broker}) listening on its own TCP and HTTP ports, so consumers, nsqadmin and nsq_tail can use
 * it, and what they do to it (nsqadmin deleting a topic) reaches its registry and so the lookupds.
 * With `registrationOnly` nothing listens: cheap enough for load-testing lookupd with 10,000+.
 */
export class FakeProducerFleet extends TypedEmitter<FleetEvents> {
  /** Every producer's identity and registrations, generated or given, checked; index i is producer i. */
  readonly specs: FakeProducerSpec[];
  /** Whether the fakes only register (see {@link FakeProducersOptions.registrationOnly}). */
  readonly registrationOnly: boolean;
  /** The whole fleet's index of producer 0 (see {@link ProducerShape.firstIndex}). */
  readonly firstIndex: number;
  readonly #options: FakeProducersOptions;
  readonly #producers: Producer[] = [];
  readonly #log: LogFn;
  readonly #listenAddress: string;
  readonly #traffic: TrafficGenerator;
  readonly #httpClients: LookupdHttpClient[];
  #errors = 0;
  #churnOperations = 0;
  #dropped = 0;
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
    this.registrationOnly = options.registrationOnly === true;
    this.firstIndex = integerAtLeast('firstIndex', options.firstIndex, 0, 0);
    this.#listenAddress = nonEmptyText('listenAddress', options.listenAddress ?? '127.0.0.1');
    const rate = integerAtLeast('messageRate', options.messageRate, 0, 0);
    const size = integerAtLeast('messageSize', options.messageSize, 0, 0);
    const maxMsgSize = options.brokerLimits?.maxMsgSize ?? 1024 * 1024;
    if (size > maxMsgSize)
      throw new InvalidArgumentError(`messageSize ${size} is above the brokers' maxMsgSize ${maxMsgSize}`);
    if (this.registrationOnly && rate > 0)
      throw new InvalidArgumentError(
        'messageRate needs serving fakes: registration-only fakes have no topics to publish to',
      );
    if (!this.registrationOnly) {
      if (options.tcpPortBase !== undefined) port('tcpPortBase', options.tcpPortBase);
      if (options.httpPortBase !== undefined) port('httpPortBase', options.httpPortBase);
    }
    this.#options = options;
    this.specs = checkSpecs(options.specs ?? generateProducerSpecs(options));
    this.#log = options.log ?? logger('fake-producers');
    this.#random = mulberry32(options.seed ?? Date.now());
    this.#traffic = new TrafficGenerator({ rate, size }, () => this.#brokers());
    this.#httpClients = (options.lookupdHttpAddresses ?? []).map(
      (address) => new LookupdHttpClient(address, { timeoutMs: 10_000 }),
    );
  }

  /** The registry of producer `i`, to add or remove topics and channels by hand. */
  registry(i: number): Registry | undefined {
    return this.#producers[i]?.registry;
  }

  /** The broker of serving producer `i` (its addresses, topics and channels); none when registration-only. */
  broker(i: number): Broker | undefined {
    return this.#producers[i]?.broker;
  }

  /** Changes `messageRate` for every serving fake; 0 stops generating (what is queued stays). */
  setMessageRate(rate: number): void {
    integerAtLeast('rate', rate, 0, 0);
    if (this.registrationOnly && rate > 0) throw new InvalidArgumentError('messageRate needs serving fakes');
    this.#traffic.setRate(this.#closed ? 0 : rate);
  }

  /**
   * Starts every producer, at most `connectConcurrency` connecting at once, and resolves when each
   * listens (serving fakes) and has connected to every lookupd or failed a first attempt (failed ones
   * keep retrying in the background). Rejects with a {@link ClosedError} if the fleet is closed before
   * that (or was already), and with the listen error if a serving fake cannot listen.
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
    let failure: Error | undefined;
    const worker = async () => {
      while (!this.#closed && failure === undefined && next < this.specs.length) {
        const index = next++;
        try {
          await this.#startProducer(index);
        } catch (error) {
          failure ??= error as Error;
          return;
        }
        if (this.#closed) return;
        // status() walks every producer: report at most every 100 ms, and the last one.
        const now = performance.now();
        const last = this.#producers.length === this.specs.length;
        if (this.listenerCount('progress') > 0 && (last || now - lastProgress >= 100)) {
          lastProgress = now;
          this.emit('progress', this.status());
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.specs.length) }, worker));
    if (failure) throw failure;
    if (this.#closed) throw this.#closedWhileStarting();
    this.#startChurn();
    this.#traffic.start();
  }

  #closedWhileStarting(): ClosedError {
    return new ClosedError(
      `fake producer fleet closed while starting (${this.#producers.length} of ${this.specs.length} producers started)`,
    );
  }

  /** The fleet's counts now, over the producers started so far. */
  status(): FleetStatus {
    let connected = 0;
    let peers = 0;
    let acked = 0;
    let expected = 0;
    let serving = 0;
    let started = 0;
    for (const producer of this.#producers) {
      if (!producer) continue;
      started++;
      if (producer.broker?.state === 'running') serving++;
      for (const stats of producer.loop.stats()) {
        peers++;
        if (stats.state === 'connected') connected++;
        acked += stats.registrationsAcked;
        expected += stats.registrationsExpected;
      }
    }
    return {
      producers: this.specs.length,
      started,
      serving,
      connected,
      peers,
      registrationsAcked: acked,
      registrationsExpected: expected,
      registrationsDropped: this.#dropped,
      verified: this.#httpClients.length > 0,
      errors: this.#errors,
      churnOperations: this.#churnOperations,
      messagesGenerated: this.#traffic.generated,
      generationPaused: this.#traffic.paused,
    };
  }

  /**
   * Reads every `lookupdHttpAddresses` lookupd's registrations (its `/debug`) and counts the
   * registrations of producers in sync with it that it no longer holds, reported as
   * `registrationsDropped`. A lookupd that cannot be read rejects, and the count stays as it was.
   * Resolves to 0 without `lookupdHttpAddresses`.
   */
  async verify(): Promise<number> {
    let dropped = 0;
    for (const client of this.#httpClients) {
      const held = new Set<string>();
      for (const [key, producers] of Object.entries(await client.debug())) {
        for (const p of producers) held.add(`${p.broadcast_address}:${p.tcp_port}:${p.http_port} ${key}`);
      }
      for (const producer of this.#producers) {
        if (!producer) continue;
        const { broadcastAddress, tcpPort, httpPort } = producer.loop.identity;
        const who = `${broadcastAddress}:${tcpPort}:${httpPort}`;
        // Only what the producer believes is acknowledged can have been dropped.
        if (
          !producer.loop
            .stats()
            .every((s) => s.state === 'connected' && s.registrationsAcked === s.registrationsExpected)
        )
          continue;
        for (const { topic, channel } of producer.registry.registrations()) {
          const key = channel === undefined ? `topic:${topic}:` : `channel:${topic}:${channel}`;
          if (!held.has(`${who} ${key}`)) dropped++;
        }
      }
    }
    this.#dropped = dropped;
    return dropped;
  }

  /** Resolves once every connected producer has acknowledged everything sent so far. */
  async settled(): Promise<void> {
    await Promise.all(this.#producers.map((producer) => producer?.loop.settled()));
  }

  /**
   * Stops churn and traffic, and closes every producer: its listeners and clients, and its lookupd
   * connections, which lookupd drops as nsqd's SIGTERM does.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#traffic.stop();
    if (this.#churnTimer) clearInterval(this.#churnTimer);
    this.#churnTimer = undefined;
    const closeAll = () =>
      Promise.all(
        this.#producers.map((producer) =>
          producer?.broker ? producer.broker.close() : producer?.loop.close(),
        ),
      );
    // Closing ends the event streams start() waits on; then start() settles (rejected), and the
    // producers whose listeners came up meanwhile are closed too.
    await closeAll();
    await this.#starting?.catch(() => undefined);
    await closeAll();
  }

  *#brokers(): Iterable<[number, Broker]> {
    for (let i = 0; i < this.#producers.length; i++) {
      const broker = this.#producers[i]?.broker;
      if (broker?.state === 'running') yield [this.firstIndex + i, broker];
    }
  }

  async #startProducer(index: number): Promise<void> {
    const spec = this.specs[index]!;
    const lookup = {
      pingIntervalMs: this.#options.pingIntervalMs,
      readTimeoutMs: this.#options.readTimeoutMs,
      // Fleets of thousands would flood DNS (serving fakes are dialled soon enough by their users).
      checkBroadcastAddress: false,
    };
    let producer: Producer;
    if (this.registrationOnly) {
      const registry = new Registry(spec.registrations);
      const loop = new LookupLoop({
        ...lookup,
        addresses: this.#options.addresses,
        identity: spec.identity,
        registry,
        log: this.#log,
      });
      producer = { loop, registry };
    } else {
      const { tcpPortBase, httpPortBase, broadcastAddressPattern } = this.#options;
      const global = this.firstIndex + index;
      const { hostname, version, topologyZone, topologyRegion } = spec.identity;
      const broker = await startBroker({
        ...this.#options.brokerLimits,
        tls: this.#options.tls,
        tcpAddress: joinHostPort(this.#listenAddress, tcpPortBase === undefined ? 0 : tcpPortBase + global),
        httpAddress: joinHostPort(
          this.#listenAddress,
          httpPortBase === undefined ? 0 : httpPortBase + global,
        ),
        broadcastAddress: broadcastAddressPattern
          ? fill(broadcastAddressPattern, global)
          : advertisedFor(this.#listenAddress),
        hostname,
        version,
        topologyZone,
        topologyRegion,
        registrations: spec.registrations,
        lookupdTcpAddresses: this.#options.addresses,
        lookup,
        log: this.#log,
      });
      producer = { loop: broker.loop, registry: broker.registry, broker };
    }
    this.#producers[index] = producer;
    if (this.#closed) return;
    const { loop } = producer;
    loop.on('error', (address, error) => {
      this.#errors++;
      this.emit('error', this.firstIndex + index, address, error);
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
    if (!(rate > 0) || this.#closed || this.#producers.length === 0) return;
    // Up to 100 timer ticks a second; several operations per tick above that.
    const ticksPerSecond = Math.min(rate, 100);
    let owed = 0;
    this.#churnTimer = setInterval(() => {
      owed += rate / ticksPerSecond;
      for (; owed >= 1; owed--) this.#churnOnce();
    }, 1000 / ticksPerSecond);
    this.#churnTimer.unref();
  }

  /**
   * One random creation or deletion on a random producer, within a bounded name space. A serving
   * fake's topics change as nsqd's do (its registry follows); a registration-only one's registry
   * changes alone.
   */
  #churnOnce(): void {
    const producer = this.#producers[Math.floor(this.#random() * this.#producers.length)];
    if (!producer) return;
    const topic = `churn-topic-${Math.floor(this.#random() * 10)}`;
    const channel = `churn-channel-${Math.floor(this.#random() * 10)}`;
    const roll = this.#random();
    const { broker, registry } = producer;
    if (broker) {
      if (roll < 0.4) broker.getTopic(topic).getChannel(channel);
      else if (roll < 0.5) broker.getTopic(topic);
      else if (roll < 0.9) broker.deleteChannel(topic, channel);
      else broker.deleteTopic(topic);
    } else if (roll < 0.4) registry.addChannel(topic, channel);
    else if (roll < 0.5) registry.addTopic(topic);
    else if (roll < 0.9) registry.removeChannel(topic, channel);
    else registry.removeTopic(topic);
    this.#churnOperations++;
  }
}

/** What a fake listening on `address` advertises: the address, or the host name for a wildcard. */
function advertisedFor(address: string): string {
  return address === '0.0.0.0' || address === '::' ? hostname() : address;
}

/** Creates and starts a fleet: the library form of `nsqd-lookup fake-producers`. */
export async function startFakeProducers(options: FakeProducersOptions): Promise<FakeProducerFleet> {
  const fleet = new FakeProducerFleet(options);
  try {
    await fleet.start();
  } catch (error) {
    await fleet.close();
    throw error;
  }
  return fleet;
}
