import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { LookupLoop, type LookupLoopOptions } from '../loop/lookup-loop.js';
import { type Registration, Registry } from '../registry/registry.js';
import { joinHostPort, splitHostPort } from '../util/address.js';
import { type LogFn, logger } from '../util/debug.js';
import { ClientV2 } from './client.js';
import { type BrokerHttpContext, type BrokerLimits, DEFAULT_LIMITS, type StatsFilter } from './context.js';
import { createHttpHandler } from './http.js';
import { MESSAGE_ID_LENGTH } from './protocol-v2.js';
import { Topic } from './topic.js';
import type { TlsSettings } from './transport.js';

/** How {@link startBroker} starts a broker; every limit of {@link BrokerLimits} left out is nsqd's default. */
export interface BrokerOptions extends Partial<BrokerLimits> {
  /** Where clients connect with the V2 protocol, `host:port` (default `127.0.0.1:4150`; port 0 picks one). */
  tcpAddress?: string;
  /** nsqd's HTTP API, `host:port` (default `127.0.0.1:4151`; port 0 picks one). */
  httpAddress?: string;
  /** The address lookupd hands to consumers (default `127.0.0.1`; nsqd defaults to the host name). */
  broadcastAddress?: string;
  /** Reported to lookupd and in /info (default: the OS host name). */
  hostname?: string;
  /** nsqd's --topology-zone, sent to lookupd (default none). */
  topologyZone?: string;
  /** nsqd's --topology-region, sent to lookupd (default none). */
  topologyRegion?: string;
  /** Topics and channels that exist (empty) from the start, as if saved by an earlier run. */
  registrations?: Registration[];
  /** lookupd TCP addresses to register with, nsqd's --lookupd-tcp-address (default: none). */
  lookupdTcpAddresses?: string[];
  /** Tuning for the LookupLoop (PING period, reconnect backoff, timeouts). */
  lookup?: Pick<
    LookupLoopOptions,
    'pingIntervalMs' | 'reconnect' | 'dialTimeoutMs' | 'readTimeoutMs' | 'checkBroadcastAddress'
  >;
  /** Directory where topics and channels are saved after every change and loaded at start (default: none). */
  dataPath?: string;
  /** Replaces the `debug` logger (`nsqd-lookup:broker`). */
  log?: LogFn;
  /** TLS that IDENTIFY may negotiate, as nsqd's --tls-* flags (default: none, `tls_v1` answers false). */
  tls?: BrokerTlsOptions;
}

/** nsqd's --tls-* flags, with the PEM contents instead of file names. */
export interface BrokerTlsOptions {
  /** PEM certificate (chain), nsqd's --tls-cert. */
  cert: string | Buffer;
  /** PEM private key, nsqd's --tls-key. */
  key: string | Buffer;
  /** PEM CA certificates that client certificates are checked against, nsqd's --tls-root-ca-file. */
  rootCa?: string | Buffer;
  /** nsqd's --tls-client-auth-policy: `require` a client certificate, or `require-verify` it against `rootCa`. */
  clientAuthPolicy?: 'require' | 'require-verify';
  /** nsqd's --tls-min-version (default `tls1.2`, OpenSSL 3's floor; nsqd's is tls1.0). */
  minVersion?: 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3';
  /**
   * nsqd's --tls-required: no command but IDENTIFY before the client upgrades to TLS (default: true
   * when a client auth policy is set, as nsqd). The HTTP API stays plain text (there is no HTTPS
   * listener).
   */
  required?: boolean;
}

const TLS_VERSIONS = {
  'tls1.0': 'TLSv1',
  'tls1.1': 'TLSv1.1',
  'tls1.2': 'TLSv1.2',
  'tls1.3': 'TLSv1.3',
} as const;

/** The settings connections use, from the options (a bad certificate or key throws here). */
function tlsSettings(options: BrokerTlsOptions | undefined): TlsSettings | undefined {
  if (!options) return undefined;
  const minVersion = options.minVersion ?? 'tls1.2';
  if (!(minVersion in TLS_VERSIONS))
    throw new InvalidArgumentError(
      `tls minVersion must be tls1.0, tls1.1, tls1.2 or tls1.3, got ${String(minVersion)}`,
    );
  if (options.clientAuthPolicy === 'require-verify' && !options.rootCa)
    throw new InvalidArgumentError('tls clientAuthPolicy require-verify needs a rootCa to verify against');
  return {
    secureContext: createSecureContext({
      cert: options.cert,
      key: options.key,
      ca: options.rootCa,
      minVersion: TLS_VERSIONS[minVersion],
    }),
    clientAuthPolicy: options.clientAuthPolicy,
    rootCas: splitPem(options.rootCa).map((pem) => new X509Certificate(pem)),
  };
}

/** Each certificate of a PEM bundle. */
function splitPem(bundle: string | Buffer | undefined): string[] {
  return String(bundle ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

const REGISTRY_FILE = 'registry.msgpack';

/**
 * A small in-memory nsqd: the V2 TCP protocol for producers and consumers, nsqd's HTTP API, and a
 * {@link LookupLoop} driven by a {@link Registry} so that every topic and channel is registered with
 * lookupd the moment it exists. Create one with {@link startBroker}.
 */
export class Broker implements BrokerHttpContext {
  /** The limits in force: {@link DEFAULT_LIMITS} with those the options set. */
  readonly options: BrokerLimits;
  /** Where the broker logs (the `log` option, else `debug`'s `nsqd-lookup:broker`). */
  readonly log: LogFn;
  /** The topics and channels as lookupd sees them; the broker keeps it in step with its topics. */
  readonly registry: Registry;
  /** The address lookupd hands to consumers. */
  readonly broadcastAddress: string;
  /** Reported to lookupd and in /info. */
  readonly hostname: string;
  /** TLS as IDENTIFY negotiates it; none without the `tls` option. */
  readonly tls: TlsSettings | undefined;
  /** Whether clients must upgrade to TLS before any command but IDENTIFY. */
  readonly tlsRequired: boolean;
  /** When the broker was created, epoch seconds (nsqd's start_time). */
  readonly startTime = Math.floor(Date.now() / 1000);
  readonly #topics = new Map<string, Topic>();
  readonly #clients = new Set<ClientV2>();
  readonly #tcp = createTcpServer({ noDelay: true });
  readonly #http = createHttpServer();
  readonly #lookupdTcpAddresses: string[];
  readonly #topology: { topologyZone?: string; topologyRegion?: string };
  readonly #lookupOptions: BrokerOptions['lookup'];
  readonly #dataPath: string | undefined;
  /** The last message ID given out, as ASCII: a random prefix, then a sequence counted up in place. */
  readonly #lastId = Buffer.from(`${randomBytes(3).toString('hex')}0000000000`, 'latin1');
  #nextClientId = 1;
  #loop: LookupLoop | undefined;
  #tcpAddress = '';
  #httpAddress = '';
  #state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | undefined;
  #saving: Promise<void> = Promise.resolve();

  /** @internal use {@link startBroker} */
  constructor(options: BrokerOptions, registry: Registry) {
    this.options = limitsFrom(options);
    this.tls = tlsSettings(options.tls);
    this.tlsRequired =
      this.tls !== undefined && (options.tls?.required ?? options.tls?.clientAuthPolicy !== undefined);
    this.log = options.log ?? debugLog;
    this.registry = registry;
    this.broadcastAddress = options.broadcastAddress ?? '127.0.0.1';
    this.hostname = options.hostname ?? osHostname();
    this.#lookupdTcpAddresses = options.lookupdTcpAddresses ?? [];
    this.#topology = { topologyZone: options.topologyZone, topologyRegion: options.topologyRegion };
    this.#lookupOptions = options.lookup;
    this.#dataPath = options.dataPath;
    this.#tcp.on('connection', (socket) => {
      if (this.#state !== 'running') {
        socket.destroy();
        return;
      }
      const client = new ClientV2(this.#nextClientId++, socket, this);
      this.#clients.add(client);
      void client.closed.then(() => this.#clients.delete(client));
    });
    this.#http.on('request', createHttpHandler(this));
    this.#http.on('clientError', (_error, socket) => socket.destroy());
    // Topics and channels saved by an earlier run exist (empty) before lookupd hears of them.
    for (const { topic, channel } of [...this.registry.registrations()]) {
      const created = this.getTopic(topic);
      if (channel !== undefined) created.getChannel(channel);
    }
    if (this.#dataPath) this.registry.on('change', () => this.#save());
  }

  /** @internal Listens on both addresses, then starts the LookupLoop with the ports it got. */
  async start(tcpAddress: string, httpAddress: string): Promise<void> {
    try {
      await listen(this.#tcp, tcpAddress);
      await listen(this.#http, httpAddress);
    } catch (error) {
      this.#tcp.close();
      this.#http.close();
      throw error;
    }
    this.#tcpAddress = addressOf(this.#tcp);
    this.#httpAddress = addressOf(this.#http);
    this.#state = 'running';
    this.#loop = new LookupLoop({
      ...this.#lookupOptions,
      addresses: this.#lookupdTcpAddresses,
      identity: {
        broadcastAddress: this.broadcastAddress,
        tcpPort: portOf(this.#tcpAddress),
        httpPort: portOf(this.#httpAddress),
        version: this.options.version,
        hostname: this.hostname,
        ...this.#topology,
      },
      registry: this.registry,
    });
    this.#loop.on('connect', (address) => this.log('lookupd %s: registered %d', address, this.registry.size));
    this.#loop.on('disconnect', (address, error) =>
      this.log('lookupd %s: lost (%s)', address, error.message),
    );
    this.#loop.start();
  }

  /** Keeps every lookupd in step with {@link registry}; its events tell when lookupds connect. */
  get loop(): LookupLoop {
    if (!this.#loop) throw new ClosedError('the broker has not started');
    return this.#loop;
  }

  /** Where clients connect, `host:port` (the port chosen when the options said 0). */
  get tcpAddress(): string {
    return this.#tcpAddress;
  }

  /** Where the HTTP API listens, `host:port` (the port chosen when the options said 0). */
  get httpAddress(): string {
    return this.#httpAddress;
  }

  /** `running` from {@link startBroker} until {@link close} starts; `closed` once it has finished. */
  get state(): 'new' | 'running' | 'closing' | 'closed' {
    return this.#state;
  }

  /** Every topic, in the order they were created. */
  topics(): Topic[] {
    return [...this.#topics.values()];
  }

  /** The topic, if it exists (unlike {@link getTopic}, never creates one). */
  topic(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  /** nsqd's GetTopic: the topic, created and registered with lookupd if it does not exist. */
  getTopic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic) return topic;
    topic = new Topic(name, {
      memQueueSize: this.options.memQueueSize,
      maxMsgTimeoutMs: this.options.maxMsgTimeoutMs,
      newMessageId: () => this.#newMessageId(),
      onChannelCreated: (t, channel) => {
        this.log('channel %s/%s: created', t.name, channel.name);
        this.registry.addChannel(t.name, channel.name);
      },
      onLastConsumerLeft: (t, channel) => {
        if (this.#state === 'running') this.deleteChannel(t.name, channel.name);
      },
    });
    this.#topics.set(name, topic);
    this.log('topic %s: created', name);
    this.registry.addTopic(name);
    return topic;
  }

  /** Deletes a topic and its channels (their consumers are disconnected) and unregisters them. */
  deleteTopic(name: string): boolean {
    const topic = this.#topics.get(name);
    if (!topic) return false;
    for (const channel of topic.channels()) this.deleteChannel(name, channel.name, false);
    this.#topics.delete(name);
    topic.close();
    this.log('topic %s: deleted', name);
    this.registry.removeTopic(name);
    return true;
  }

  /** Deletes a channel (its consumers are disconnected); an ephemeral topic left without channels goes too. */
  deleteChannel(topicName: string, channelName: string, dropEmptyEphemeralTopic = true): boolean {
    const topic = this.#topics.get(topicName);
    if (!topic?.deleteChannel(channelName)) return false;
    this.log('channel %s/%s: deleted', topicName, channelName);
    this.registry.removeChannel(topicName, channelName);
    if (dropEmptyEphemeralTopic && topic.ephemeral && topic.channels().length === 0)
      this.deleteTopic(topicName);
    return true;
  }

  /** nsqd's `/info` answer. */
  info(): Record<string, unknown> {
    return {
      version: this.options.version,
      broadcast_address: this.broadcastAddress,
      hostname: this.hostname,
      http_port: portOf(this.#httpAddress),
      tcp_port: portOf(this.#tcpAddress),
      start_time: this.startTime,
      // nsqd reports these three as Go durations, in nanoseconds.
      max_heartbeat_interval: this.options.maxHeartbeatIntervalMs * 1e6,
      max_output_buffer_size: this.options.maxOutputBufferSize,
      max_output_buffer_timeout: this.options.maxOutputBufferTimeoutMs * 1e6,
      max_deflate_level: this.options.maxDeflateLevel,
    };
  }

  /** nsqd's `/stats?format=json`, without `memory`. Topics and channels sorted by name, as nsqd. */
  stats(filter: StatsFilter = {}): Record<string, unknown> {
    const includeClients = filter.includeClients ?? true;
    const byName = <T extends { name: string }>(a: T, b: T) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    const topics = this.topics()
      .filter((topic) => !filter.topic || topic.name === filter.topic)
      .sort(byName)
      .map((topic) => ({
        topic_name: topic.name,
        channels: topic
          .channels()
          .filter((channel) => !filter.channel || channel.name === filter.channel)
          .sort(byName)
          .map((channel) => ({
            channel_name: channel.name,
            depth: channel.depth,
            backend_depth: 0,
            in_flight_count: channel.inFlightCount,
            deferred_count: channel.deferredCount,
            message_count: channel.messageCount,
            requeue_count: channel.requeueCount,
            timeout_count: channel.timeoutCount,
            client_count: channel.consumers.length,
            clients: includeClients
              ? channel.consumers.map((consumer) => (consumer as ClientV2).stats())
              : [],
            paused: channel.paused,
            e2e_processing_latency: { count: 0, percentiles: null },
          })),
        depth: topic.depth,
        backend_depth: 0,
        message_count: topic.messageCount,
        message_bytes: topic.messageBytes,
        paused: topic.paused,
        e2e_processing_latency: { count: 0, percentiles: null },
      }));
    const producers = [...this.#clients].filter((client) => client.pubCounts.size > 0);
    return {
      version: this.options.version,
      health: 'OK',
      start_time: this.startTime,
      topics,
      producers: producers.length > 0 ? producers.map((client) => client.stats()) : null,
      // Not in nsqd's /stats: how each lookupd sees this broker (LookupLoop.status()).
      lookupd: this.#loop?.status() ?? null,
    };
  }

  /**
   * Stops listening, disconnects every client, drops every message and closes the lookupd
   * connections, so lookupd forgets this broker. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    this.log('closing');
    const tcpClosed = new Promise((resolve) => this.#tcp.close(resolve));
    const httpClosed = new Promise((resolve) => this.#http.close(resolve));
    this.#http.closeAllConnections();
    const clients = [...this.#clients];
    for (const client of clients) client.close();
    for (const topic of this.#topics.values()) topic.close();
    await Promise.all([
      this.#loop?.close(),
      tcpClosed,
      httpClosed,
      ...clients.map((client) => client.closed),
      this.#saving,
    ]);
    this.#state = 'closed';
    this.log('closed');
  }

  #newMessageId(): string {
    // nsqd's IDs are 16 hex characters; a random prefix per broker, then a sequence.
    // Counted in place and read once: a flat string, cheaper than building one per message.
    const id = this.#lastId;
    for (let i = MESSAGE_ID_LENGTH - 1; i >= MESSAGE_ID_LENGTH - 10; i--) {
      const digit = id[i]!;
      if (digit === 0x39) {
        id[i] = 0x61; // 9 -> a
        break;
      }
      if (digit !== 0x66) {
        id[i] = digit + 1;
        break;
      }
      id[i] = 0x30; // f -> 0, carry
    }
    return id.toString('latin1');
  }

  #save(): void {
    const dataPath = this.#dataPath!;
    // One save at a time, each writing the registry as it is when it runs.
    this.#saving = this.#saving
      .then(() => this.registry.save(join(dataPath, REGISTRY_FILE)))
      .catch((error: Error) => this.log('saving topics and channels failed: %s', error.message));
  }
}

const debugLog: LogFn = logger('broker');

/** DEFAULT_LIMITS, with the limits `options` sets. */
function limitsFrom(options: BrokerOptions): BrokerLimits {
  const limits: BrokerLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limits) as Array<keyof BrokerLimits>) {
    if (options[key] !== undefined) Object.assign(limits, { [key]: options[key] });
  }
  return limits;
}

/**
 * Starts a broker: listens on both addresses, loads saved topics and channels (with `dataPath`),
 * and starts registering with every lookupd in `lookupdTcpAddresses`. Returns once both listeners are
 * up; lookupd registration proceeds in the background (see `broker.loop`).
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  let registry = new Registry(options.registrations);
  if (options.dataPath) {
    await mkdir(options.dataPath, { recursive: true });
    const file = join(options.dataPath, REGISTRY_FILE);
    if (existsSync(file)) registry = await Registry.load(file);
  }
  const broker = new Broker(options, registry);
  await broker.start(options.tcpAddress ?? '127.0.0.1:4150', options.httpAddress ?? '127.0.0.1:4151');
  return broker;
}

function addressOf(server: TcpServer | HttpServer): string {
  const { address, port } = server.address() as AddressInfo;
  return joinHostPort(address, port);
}

function portOf(address: string): number {
  return splitHostPort(address).port;
}

async function listen(server: TcpServer | HttpServer, address: string): Promise<void> {
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
