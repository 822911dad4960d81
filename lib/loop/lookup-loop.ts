import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { joinHostPort } from '../address.js';
import { type LogFn, logger } from '../debug.js';
import { NsqLookupError } from '../errors.js';
import { LookupPeer, type PeerState } from '../peer/lookup-peer.js';
import {
  encodeRegister,
  encodeRegistrations,
  encodeUnregister,
  type IdentifyInfo,
} from '../protocol/encoder.js';
import type { LookupdInfo } from '../protocol/response.js';
import { TypedEmitter } from '../typed-emitter.js';
import { type BroadcastWarning, checkBroadcastAddress, type Resolver } from './broadcast-check.js';
import type { Registry, RegistryChange } from './registry.js';

/** Backoff between reconnect attempts (p-retry's exponential backoff). */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms (default 100). */
  minTimeoutMs?: number;
  /** Cap on the delay between attempts, in ms (default 5000). */
  maxTimeoutMs?: number;
  /** Growth factor per attempt (default 2). */
  factor?: number;
  /** Multiply each delay by a random factor in [1, 2) so many brokers do not retry in lockstep (default true). */
  randomize?: boolean;
}

export interface LookupLoopOptions {
  /** lookupd TCP addresses (`host:port`), nsqd's `--lookupd-tcp-address`. */
  addresses: string[];
  /** What IDENTIFY tells every lookupd. */
  identity: IdentifyInfo;
  /** The topics and channels to keep registered. */
  registry: Registry;
  /** PING period per connected peer, in ms (nsqd: 15000). */
  pingIntervalMs?: number;
  /** Alias of `pingIntervalMs`, nsqd's name for it. */
  pingInterval?: number;
  reconnect?: ReconnectOptions;
  /** Per-peer TCP dial timeout, in ms (default 1000, as nsqd). */
  dialTimeoutMs?: number;
  /** Per-peer silence allowed while responses are owed, in ms (default 1000, as nsqd). */
  readTimeoutMs?: number;
  /** Largest response body accepted, in bytes (default 5 MiB). */
  maxBodySize?: number;
  /** Replaces the `debug` logger (`nsqd-lookup:lookup-loop`). */
  log?: LogFn;
  /**
   * Check the advertised broadcast address at start() and report problems as `warning` events
   * (default true): it must resolve, and must not be loopback while a lookupd is on another host.
   */
  checkBroadcastAddress?: boolean;
  /** With the check, also dial the advertised TCP and HTTP ports (default false). */
  verifyReachable?: boolean;
  /** Name resolution for the check (default: the system's, as consumers would resolve). */
  resolve?: Resolver;
}

export interface PeerErrorInfo {
  message: string;
  code: string;
  /** Epoch ms. */
  at: number;
}

/** Counters and state of one peer, JSON-serialisable. */
export interface PeerStats {
  address: string;
  state: PeerState;
  /** Epoch ms of the current connection's successful connect callback; null when not connected. */
  connectedSince: number | null;
  lastError: PeerErrorInfo | null;
  /** Round trip of the last successful PING, in ms. */
  lastPingRttMs: number | null;
  /** Connections that completed the connect callback. */
  connects: number;
  /** Failed connection attempts since the last successful one. */
  reconnectAttempts: number;
  /** Epoch ms of the next connection attempt while one is scheduled, else null. */
  nextRetryAt: number | null;
  commandsSent: number;
  commandsFailed: number;
  /** lookupd's IDENTIFY answer on the current or last connection. */
  lookupd: LookupdInfo | null;
  /** Registrations lookupd has acknowledged on the current connection (REGISTER answers, then changes). */
  registrationsAcked: number;
  /** The registry's size: what {@link registrationsAcked} reaches when this lookupd is in sync. */
  registrationsExpected: number;
  /** Connected, re-registration done and every change sent since then acknowledged. */
  inSync: boolean;
}

/** One transition of one peer, as the `status` event reports it. `at` is epoch ms. */
export type PeerStatusEvent =
  | { type: 'connecting'; address: string; at: number; attempt: number }
  | { type: 'connected'; address: string; at: number; lookupd: LookupdInfo; registrations: number }
  | { type: 'disconnected'; address: string; at: number; error: PeerErrorInfo }
  | {
      type: 'retry-scheduled';
      address: string;
      at: number;
      attempt: number;
      delayMs: number;
      nextRetryAt: number;
    }
  | { type: 'in-sync'; address: string; at: number; registrations: number }
  | { type: 'added'; address: string; at: number }
  | { type: 'removed'; address: string; at: number };

/** A JSON-serialisable view of the whole loop. */
export interface LoopStatus {
  /** Epoch ms of this snapshot. */
  at: number;
  /** Topics and channels lookupd should hold: one registration per channel or channel-less topic. */
  registrySize: number;
  /** Every peer connected and in sync. */
  inSync: boolean;
  identity: IdentifyInfo;
  peers: PeerStats[];
}

export type LookupLoopEvents = {
  [event: string]: unknown[];
  /** Every peer transition, as a union keyed on `type`. */
  status: [event: PeerStatusEvent];
  /** A peer connected, identified and re-registered the whole registry. */
  connect: [address: string, info: LookupdInfo];
  /** A peer's connection ended; a reconnect is scheduled unless the loop is closing. */
  disconnect: [address: string, error: Error];
  /** A failed attempt or command on one peer. Never thrown: an `error` nobody listens to is dropped. */
  error: [address: string, error: Error];
  /** A problem with the advertised identity (see `checkBroadcastAddress`). */
  warning: [warning: BroadcastWarning];
  /** A PING answered. */
  ping: [address: string, rttMs: number];
};

/** One lookupd as the loop manages it: its peer, its own timers and its own bookkeeping. */
class PeerSlot {
  readonly peer: LookupPeer;
  readonly stats: PeerStats;
  retry: AbortController | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  /** Commands the loop sent that have not settled. */
  outstanding = 0;
  idleWaiters: Array<() => void> = [];
  removed = false;
  lastErrorObject: Error | undefined;
  /** Whether the last `in-sync` transition reported was to true, so it is reported once per episode. */
  reportedInSync = false;

  constructor(address: string, peer: LookupPeer) {
    this.peer = peer;
    this.stats = {
      address,
      state: 'disconnected',
      connectedSince: null,
      lastError: null,
      lastPingRttMs: null,
      connects: 0,
      reconnectAttempts: 0,
      nextRetryAt: null,
      commandsSent: 0,
      commandsFailed: 0,
      lookupd: null,
      registrationsAcked: 0,
      registrationsExpected: 0,
      inSync: false,
    };
  }

  /** Nothing owed and not in the middle of a connect burst. */
  get idle(): boolean {
    return this.outstanding === 0 && this.peer.state !== 'connecting';
  }

  notifyIfIdle(): void {
    if (!this.idle || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * nsqd's `lookupLoop`, for any number of lookupds: each peer IDENTIFYs and re-registers the registry
 * (pipelined) on every connect, gets every registry change as REGISTER/UNREGISTER, PINGs on its own
 * timer and reconnects with backoff on its own. No peer ever waits for another.
 */
export class LookupLoop extends TypedEmitter<LookupLoopEvents> {
  readonly #identity: IdentifyInfo;
  readonly #registry: Registry;
  readonly #pingIntervalMs: number;
  readonly #reconnect: Required<ReconnectOptions>;
  readonly #peerOptions: {
    dialTimeoutMs?: number;
    readTimeoutMs?: number;
    maxBodySize?: number;
    log?: LogFn;
  };
  readonly #log: LogFn;
  readonly #slots = new Map<string, PeerSlot>();
  #addresses: string[];
  #phase: 'new' | 'running' | 'closed' = 'new';
  readonly #onChange = (change: RegistryChange) => this.#broadcast(change);
  readonly #check: { enabled: boolean; verifyReachable: boolean; resolve: Resolver | undefined };

  constructor(options: LookupLoopOptions) {
    super();
    this.#identity = options.identity;
    this.#registry = options.registry;
    this.#pingIntervalMs = options.pingIntervalMs ?? options.pingInterval ?? 15000;
    if (!(this.#pingIntervalMs > 0))
      throw new RangeError(`pingIntervalMs must be positive, got ${this.#pingIntervalMs}`);
    this.#reconnect = {
      minTimeoutMs: options.reconnect?.minTimeoutMs ?? 100,
      maxTimeoutMs: options.reconnect?.maxTimeoutMs ?? 5000,
      factor: options.reconnect?.factor ?? 2,
      randomize: options.reconnect?.randomize ?? true,
    };
    this.#peerOptions = {
      dialTimeoutMs: options.dialTimeoutMs,
      readTimeoutMs: options.readTimeoutMs,
      maxBodySize: options.maxBodySize,
      log: options.log,
    };
    this.#log = options.log ?? logger('lookup-loop');
    this.#addresses = unique(options.addresses);
    this.#check = {
      enabled: options.checkBroadcastAddress ?? true,
      verifyReachable: options.verifyReachable ?? false,
      resolve: options.resolve,
    };
  }

  /** Connects to every address. Returns at once; use {@link settled} or the `connect` event to wait. */
  start(): void {
    if (this.#phase !== 'new') return;
    this.#phase = 'running';
    this.#registry.on('change', this.#onChange);
    for (const address of this.#addresses) this.#addPeer(address);
    if (this.#check.enabled) {
      void this.checkBroadcastAddress().then(
        (warnings) => {
          for (const warning of warnings) {
            this.#log('warning: %s', warning.message);
            if (this.#phase === 'running') this.emit('warning', warning);
          }
        },
        (error: unknown) => this.#log('broadcast address check failed: %s', String(error)),
      );
    }
  }

  /** Checks the advertised broadcast address (see {@link LookupLoopOptions.checkBroadcastAddress}). */
  checkBroadcastAddress(): Promise<BroadcastWarning[]> {
    return checkBroadcastAddress({
      identity: this.#identity,
      lookupdAddresses: this.#addresses,
      verifyReachable: this.#check.verifyReachable,
      resolve: this.#check.resolve,
    });
  }

  get addresses(): string[] {
    return [...this.#addresses];
  }

  /** Adds peers for new addresses and closes those no longer listed; the others are left untouched. */
  async setAddresses(addresses: string[]): Promise<{ added: string[]; removed: string[] }> {
    const next = unique(addresses);
    const added = next.filter((a) => !this.#addresses.includes(a));
    const removed = this.#addresses.filter((a) => !next.includes(a));
    this.#addresses = next;
    this.#log('addresses: +%o -%o', added, removed);
    if (this.#phase === 'running') for (const address of added) this.#addPeer(address);
    await Promise.all(removed.map((address) => this.#removePeer(address)));
    return { added, removed };
  }

  /** Whether every peer is connected, re-registered and has acknowledged every change so far. */
  get inSync(): boolean {
    for (const slot of this.#slots.values()) if (!this.#slotInSync(slot)) return false;
    return true;
  }

  /** lookupd HTTP addresses from the peers' IDENTIFY answers (nsqd's `lookupdHTTPAddrs`). */
  lookupdHttpAddresses(): string[] {
    const result: string[] = [];
    for (const slot of this.#slots.values()) {
      const info = slot.stats.lookupd;
      if (info && info.broadcastAddress !== '')
        result.push(joinHostPort(info.broadcastAddress, info.httpPort));
    }
    return result;
  }

  /** A JSON-serialisable snapshot of the loop and every peer. */
  status(): LoopStatus {
    const peers = this.stats();
    return {
      at: Date.now(),
      registrySize: this.#registry.size,
      inSync: peers.every((peer) => peer.inSync),
      identity: { ...this.#identity },
      peers,
    };
  }

  /** A snapshot of every peer's stats. */
  stats(): PeerStats[] {
    const expected = this.#registry.size;
    return [...this.#slots.values()].map((slot) => ({
      ...slot.stats,
      state: slot.peer.state,
      inSync: this.#slotInSync(slot),
      registrationsAcked: this.#slotInSync(slot) ? expected : slot.stats.registrationsAcked,
      registrationsExpected: expected,
      lastError: slot.stats.lastError && { ...slot.stats.lastError },
      lookupd: slot.stats.lookupd && { ...slot.stats.lookupd },
    }));
  }

  /** The peer for `address`, for callers who need the raw connection. */
  peer(address: string): LookupPeer | undefined {
    return this.#slots.get(address)?.peer;
  }

  /**
   * Resolves once every peer that is connected (or connecting) has answered every command sent so far,
   * including its re-registration burst. Peers that are down are not waited for: they will receive the
   * registry as it is when they reconnect.
   */
  async settled(): Promise<void> {
    for (;;) {
      const busy = [...this.#slots.values()].filter((slot) => !slot.idle);
      if (busy.length === 0) return;
      await Promise.all(busy.map((slot) => new Promise<void>((resolve) => slot.idleWaiters.push(resolve))));
    }
  }

  /** Stops every timer and retry and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#registry.off('change', this.#onChange);
    await Promise.all([...this.#slots.keys()].map((address) => this.#removePeer(address)));
  }

  #slotInSync(slot: PeerSlot): boolean {
    return slot.peer.state === 'connected' && slot.idle;
  }

  #addPeer(address: string): void {
    if (this.#slots.has(address)) return;
    let slot: PeerSlot | undefined;
    const peer = new LookupPeer(address, {
      ...this.#peerOptions,
      onConnect: () => this.#connectCallback(slot!),
    });
    slot = new PeerSlot(address, peer);
    const current = slot;
    peer.on('state', (state) => {
      if (state === 'connecting' && !current.removed) {
        this.#status({
          type: 'connecting',
          address,
          at: Date.now(),
          attempt: current.stats.reconnectAttempts + 1,
        });
      }
      current.notifyIfIdle();
      // `connected` is reported by the peer's connect event, which follows this one.
      if (state !== 'connected') this.#reportSync(current);
    });
    peer.on('connect', () => this.#onPeerConnect(current));
    peer.on('disconnect', (error) => this.#onPeerDisconnect(current, error));
    this.#slots.set(address, slot);
    this.#log('%s: adding peer', address);
    this.#status({ type: 'added', address, at: Date.now() });
    this.#connectWithBackoff(slot);
  }

  async #removePeer(address: string): Promise<void> {
    const slot = this.#slots.get(address);
    if (!slot) return;
    this.#slots.delete(address);
    slot.removed = true;
    slot.retry?.abort();
    this.#stopPinging(slot);
    this.#log('%s: removing peer', address);
    await slot.peer.close();
    slot.outstanding = 0;
    slot.notifyIfIdle();
    this.#status({ type: 'removed', address, at: Date.now() });
  }

  /** IDENTIFY, then the whole registry in one pipelined burst; runs inside the peer's connect. */
  async #connectCallback(slot: PeerSlot): Promise<void> {
    const peer = slot.peer;
    const info = await this.#track(slot, peer.identify(this.#identity));
    slot.stats.lookupd = info;
    if (info.broadcastAddress === '') this.#log('%s: lookupd sent no broadcast address', peer.address);
    slot.stats.registrationsAcked = 0;
    const { bytes, count } = encodeRegistrations(this.#registry.registrations());
    if (count === 0) return;
    this.#log('%s: re-registering %d', peer.address, count);
    // One write and one promise for the whole burst; each answer but the last is counted as it comes.
    const acked = () => {
      slot.stats.registrationsAcked++;
    };
    await this.#track(
      slot,
      peer.commandBatch(bytes, count, acked),
      count,
      () => slot.stats.registrationsAcked,
    );
    slot.stats.registrationsAcked = count;
  }

  #onPeerConnect(slot: PeerSlot): void {
    if (slot.removed) return;
    slot.stats.connects++;
    slot.stats.reconnectAttempts = 0;
    slot.stats.connectedSince = Date.now();
    slot.stats.nextRetryAt = null;
    this.#startPinging(slot);
    this.#status({
      type: 'connected',
      address: slot.stats.address,
      at: slot.stats.connectedSince,
      lookupd: { ...slot.stats.lookupd! },
      registrations: slot.stats.registrationsAcked,
    });
    this.emit('connect', slot.stats.address, slot.stats.lookupd!);
    this.#reportSync(slot);
  }

  #onPeerDisconnect(slot: PeerSlot, error: Error): void {
    if (slot.removed || this.#phase !== 'running') return;
    const wasConnected = slot.stats.connectedSince !== null;
    slot.stats.connectedSince = null;
    slot.stats.registrationsAcked = 0;
    this.#stopPinging(slot);
    this.#recordError(slot, error);
    if (wasConnected) {
      this.#status({
        type: 'disconnected',
        address: slot.stats.address,
        at: Date.now(),
        error: slot.stats.lastError!,
      });
      this.emit('disconnect', slot.stats.address, error);
    }
    this.#reportSync(slot);
    this.#connectWithBackoff(slot);
  }

  /**
   * Reports `in-sync` once per connection, when the re-registration burst and anything queued behind it
   * are acknowledged; changes acknowledged later do not repeat it.
   */
  #reportSync(slot: PeerSlot): void {
    if (slot.removed) return;
    if (slot.peer.state !== 'connected') {
      slot.reportedInSync = false;
      return;
    }
    if (slot.reportedInSync || !this.#slotInSync(slot)) return;
    slot.reportedInSync = true;
    this.#status({
      type: 'in-sync',
      address: slot.stats.address,
      at: Date.now(),
      registrations: this.#registry.size,
    });
  }

  #status(event: PeerStatusEvent): void {
    if (this.#phase !== 'running' && event.type !== 'removed') return;
    this.emit('status', event);
  }

  /** Dials until connected (or the slot is removed), backing off between attempts. */
  #connectWithBackoff(slot: PeerSlot): void {
    if (slot.retry || slot.removed || this.#phase !== 'running') return;
    const retry = new AbortController();
    slot.retry = retry;
    const { minTimeoutMs, maxTimeoutMs, factor, randomize } = this.#reconnect;
    const address = slot.stats.address;
    pRetry(
      async () => {
        if (slot.removed) throw new Error('peer removed');
        await slot.peer.connect();
      },
      {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: minTimeoutMs,
        maxTimeout: maxTimeoutMs,
        factor,
        // p-retry's own jitter is applied where we cannot see it; ours (below) keeps nextRetryAt exact.
        randomize: false,
        signal: retry.signal,
        unref: true,
        onFailedAttempt: async ({ error, attemptNumber, retriesConsumed }) => {
          slot.stats.reconnectAttempts = attemptNumber;
          this.#recordError(slot, error);
          // The delay p-retry is about to wait (its formula), times a factor in [1, 2) when randomizing,
          // the extra part waited here first.
          const base = Math.min(Math.round(minTimeoutMs * factor ** retriesConsumed), maxTimeoutMs);
          const jitter = randomize ? Math.round(Math.random() * base) : 0;
          const now = Date.now();
          slot.stats.nextRetryAt = now + base + jitter;
          this.#log(
            '%s: attempt %d failed (%s); next in %d ms',
            address,
            attemptNumber,
            error.message,
            base + jitter,
          );
          this.#status({
            type: 'retry-scheduled',
            address,
            at: now,
            attempt: attemptNumber,
            delayMs: base + jitter,
            nextRetryAt: slot.stats.nextRetryAt,
          });
          if (jitter > 0) await sleep(jitter, undefined, { signal: retry.signal, ref: false });
        },
      },
    )
      .catch((error: unknown) => {
        if (!retry.signal.aborted)
          this.#log('%s: reconnecting stopped: %s', slot.stats.address, String(error));
      })
      .finally(() => {
        if (slot.retry === retry) slot.retry = undefined;
        slot.stats.nextRetryAt = null;
        // The connection may already have dropped again while the last attempt was finishing.
        if (!slot.removed && slot.peer.state === 'disconnected') this.#connectWithBackoff(slot);
      });
  }

  #startPinging(slot: PeerSlot): void {
    this.#stopPinging(slot);
    slot.pingTimer = setInterval(() => this.#ping(slot), this.#pingIntervalMs);
    slot.pingTimer.unref();
  }

  #stopPinging(slot: PeerSlot): void {
    if (slot.pingTimer) clearInterval(slot.pingTimer);
    slot.pingTimer = undefined;
  }

  #ping(slot: PeerSlot): void {
    if (slot.peer.state !== 'connected') return;
    const started = performance.now();
    this.#track(slot, slot.peer.ping()).then(
      () => {
        const rtt = performance.now() - started;
        slot.stats.lastPingRttMs = rtt;
        this.emit('ping', slot.stats.address, rtt);
      },
      () => {
        // Recorded by #track; the peer has dropped the connection and a reconnect follows.
      },
    );
  }

  /** Sends each registry change to every peer that is connected or connecting; down peers catch up on connect. */
  #broadcast(change: RegistryChange): void {
    const commands: Buffer[] = [];
    switch (change.type) {
      case 'topic-added':
        commands.push(encodeRegister(change.topic));
        break;
      case 'channel-added':
        commands.push(encodeRegister(change.topic, change.channel));
        break;
      case 'channel-removed':
        commands.push(encodeUnregister(change.topic, change.channel));
        break;
      case 'topic-removed':
        commands.push(encodeUnregister(change.topic));
        for (const channel of change.channels) commands.push(encodeUnregister(change.topic, channel));
        break;
    }
    for (const slot of this.#slots.values()) {
      const state = slot.peer.state;
      if (state !== 'connected' && state !== 'connecting') continue;
      for (const command of commands) void this.#track(slot, slot.peer.command(command)).catch(() => {});
    }
  }

  /** Counts a command the loop sent, records its failure, and keeps `settled()` informed. */
  /**
   * Counts `commands` the loop sent (one, or a batch), records a failure, and keeps `settled()`
   * informed. `answered` tells how many of a failed batch were acknowledged before it failed.
   */
  #track<T>(slot: PeerSlot, operation: Promise<T>, commands = 1, answered = () => 0): Promise<T> {
    slot.outstanding++;
    slot.stats.commandsSent += commands;
    return operation.then(
      (value) => {
        slot.outstanding--;
        slot.notifyIfIdle();
        if (slot.outstanding === 0) this.#reportSync(slot);
        return value;
      },
      (error: unknown) => {
        slot.outstanding--;
        slot.stats.commandsFailed += commands - answered();
        const reason = error instanceof Error ? error : new Error(String(error));
        this.#recordError(slot, reason);
        slot.notifyIfIdle();
        throw reason;
      },
    );
  }

  #recordError(slot: PeerSlot, error: Error): void {
    // One broken connection fails every command in flight with the same error: report it once.
    if (slot.lastErrorObject === error) return;
    slot.lastErrorObject = error;
    slot.stats.lastError = {
      message: error.message,
      code: error instanceof NsqLookupError ? error.code : 'ERR',
      at: Date.now(),
    };
    if (!slot.removed && this.#phase === 'running') this.emit('error', slot.stats.address, error);
  }
}

function unique(addresses: string[]): string[] {
  return [...new Set(addresses)];
}
