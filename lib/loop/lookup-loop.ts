import {
  type BroadcastWarning,
  checkBroadcastAddress,
  type Resolver,
} from '../diagnostics/broadcast-check.js';
import { ClosedError } from '../errors.js';
import { encodeRegister, encodeUnregister, type IdentifyInfo } from '../protocol/encoder.js';
import { checkIdentity } from '../protocol/identity.js';
import type { LookupdInfo } from '../protocol/response.js';
import type { Registry, RegistryChange } from '../registry/registry.js';
import { joinHostPort } from '../util/address.js';
import { type LogFn, logger } from '../util/debug.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { positiveNumber } from '../util/validate.js';
import { Backoff } from './backoff.js';
import { EventStream, type EventStreamOptions } from './event-stream.js';
import { LoopHost, type SlotReport } from './loop-host.js';
import { PeerSlot, type SlotOptions } from './peer-slot.js';
import type {
  LookupLoopEvents,
  LookupLoopOptions,
  LoopEvent,
  LoopStatus,
  PeerStats,
  PeerStatusEvent,
} from './types.js';

export type { EventStream, EventStreamOptions } from './event-stream.js';
export type {
  LookupLoopEvents,
  LookupLoopOptions,
  LoopEvent,
  LoopStatus,
  PeerErrorInfo,
  PeerPhase,
  PeerStats,
  PeerStatusEvent,
  PingEvent,
} from './types.js';

/**
 * nsqd's `lookupLoop`, for any number of lookupds: each peer IDENTIFYs and re-registers the registry
 * (pipelined) on every connect, gets every registry change as REGISTER/UNREGISTER, PINGs on its own
 * timer and reconnects with backoff on its own (one internal actor per lookupd). No peer ever waits
 * for another. This class keeps the address list, fans registry changes out and sums up the status.
 */
export class LookupLoop extends TypedEmitter<LookupLoopEvents> {
  readonly #identity: IdentifyInfo;
  readonly #registry: Registry;
  readonly #slotOptions: SlotOptions;
  readonly #log: LogFn;
  readonly #slots = new Map<string, PeerSlot>();
  #addresses: string[];
  #phase: 'new' | 'running' | 'closed' = 'new';
  readonly #closed: Promise<void>;
  #markClosed!: () => void;
  /** Listeners of {@link events} streams, and how to end them. */
  readonly #streams = new Map<(event: LoopEvent) => void, () => void>();
  readonly #onChange = (change: RegistryChange) => this.#broadcast(change);
  readonly #check: { enabled: boolean; verifyReachable: boolean; resolve: Resolver | undefined };
  readonly #host: LoopHost;
  /** Aborted by {@link close}: cuts short a broadcast address check in progress. */
  /** Aborted by close(): ends a broadcast check in progress. Made on the first check (most loops of a
   * fleet never run one, and an AbortController costs about a kilobyte). */
  #stop: AbortController | undefined;

  constructor(options: LookupLoopOptions) {
    super();
    this.#closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    this.#identity = { ...checkIdentity(options.identity, 'identity') };
    this.#registry = options.registry;
    this.#log = options.log ?? logger('lookup-loop');
    const reconnect = options.reconnect ?? {};
    new Backoff(reconnect); // checks the options here, not in each slot
    this.#slotOptions = {
      pingIntervalMs: positiveNumber('pingIntervalMs', options.pingIntervalMs, 15_000),
      reconnect,
      peer: {
        dialTimeoutMs: options.dialTimeoutMs,
        readTimeoutMs: options.readTimeoutMs,
        maxBodyBytes: options.maxBodyBytes,
        log: options.log,
      },
      log: this.#log,
    };
    this.#addresses = unique(options.addresses);
    this.#check = {
      enabled: options.checkBroadcastAddress ?? true,
      verifyReachable: options.verifyReachable ?? false,
      resolve: options.resolve,
    };
    const registry = this.#registry;
    // One closure into the loop, not one per report: a fleet has a loop per simulated broker.
    this.#host = new LoopHost(this.#identity, registry, (report) => this.#onReport(report));
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
            this.#emitRunning('warning', warning);
          }
        },
        (error: unknown) => {
          if (this.#phase !== 'closed') this.#log('broadcast address check failed: %s', String(error));
        },
      );
    }
  }

  /**
   * Checks the advertised broadcast address (see {@link LookupLoopOptions.checkBroadcastAddress}).
   * Rejects with {@link ClosedError} when the loop is closed before the check is done.
   */
  checkBroadcastAddress(): Promise<BroadcastWarning[]> {
    this.#stop ??= this.#newStop();
    return checkBroadcastAddress({
      identity: this.#identity,
      lookupdAddresses: this.#addresses,
      verifyReachable: this.#check.verifyReachable,
      resolve: this.#check.resolve,
      signal: this.#stop.signal,
    });
  }

  #newStop(): AbortController {
    const stop = new AbortController();
    if (this.#phase === 'closed') stop.abort(this.#closedBeforeCheck());
    return stop;
  }

  #closedBeforeCheck(): ClosedError {
    return new ClosedError('LookupLoop closed before the broadcast address check finished');
  }

  /** The lookupd addresses the loop keeps, without duplicates, in the order given (a copy). */
  get addresses(): string[] {
    return [...this.#addresses];
  }

  /**
   * Adds peers for new addresses and closes those no longer listed; the others are left untouched.
   * Before {@link start}, only the list changes. Resolves once the removed peers are closed.
   */
  async setAddresses(addresses: string[]): Promise<{
    /** Addresses that were not in the loop before. */
    added: string[];
    /** Addresses no longer in the loop; their connections are closed. */
    removed: string[];
  }> {
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
    for (const slot of this.#slots.values()) if (!slot.inSync) return false;
    return true;
  }

  /** lookupd HTTP addresses from the peers' IDENTIFY answers (nsqd's `lookupdHTTPAddrs`). */
  lookupdHttpAddresses(): string[] {
    const result: string[] = [];
    for (const slot of this.#slots.values()) {
      const info = slot.lookupd;
      if (info && info.broadcastAddress !== '')
        result.push(joinHostPort(info.broadcastAddress, info.httpPort));
    }
    return result;
  }

  /** What every IDENTIFY of this loop says. */
  get identity(): Readonly<IdentifyInfo> {
    return this.#identity;
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
    const size = this.#registry.size;
    return [...this.#slots.values()].map((slot) => slot.stats(size));
  }

  /**
   * Resolves once every peer that is connected (or connecting) has answered every command sent so far,
   * including its re-registration burst. Peers that are down are not waited for: they will receive the
   * registry as it is when they reconnect.
   */
  async settled(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((slot) => slot.whenIdle()));
  }

  /**
   * Every status transition and PING answer from now on, as an async iterator that ends when the loop
   * is closed (see {@link EventStream} for the buffer and its overflow rule).
   */
  events(options: EventStreamOptions = {}): EventStream {
    return new EventStream(
      {
        subscribe: (listener, end) => {
          if (this.#phase === 'closed') {
            end();
            return () => {};
          }
          this.#streams.set(listener, end);
          return () => this.#streams.delete(listener);
        },
      },
      options,
    );
  }

  /** Resolves once {@link close} has finished. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /** Stops every timer and retry and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#phase === 'closed') return this.#closed;
    this.#phase = 'closed';
    this.#stop?.abort(this.#closedBeforeCheck());
    this.#registry.off('change', this.#onChange);
    await Promise.all([...this.#slots.keys()].map((address) => this.#removePeer(address)));
    for (const end of [...this.#streams.values()]) end();
    this.#markClosed();
  }

  #addPeer(address: string): void {
    if (this.#slots.has(address)) return;
    this.#log('%s: adding peer', address);
    this.#status({ type: 'added', address, at: Date.now() });
    this.#slots.set(address, new PeerSlot(address, this.#host, this.#slotOptions));
  }

  async #removePeer(address: string): Promise<void> {
    const slot = this.#slots.get(address);
    if (!slot) return;
    this.#slots.delete(address);
    await slot.remove();
    this.#status({ type: 'removed', address, at: Date.now() });
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
    for (const slot of this.#slots.values()) slot.send(commands);
  }

  #onReport(report: SlotReport): void {
    switch (report.kind) {
      case 'status':
        this.#status(report.event);
        return;
      case 'connected':
        this.#emitRunning('connect', report.address, report.info);
        return;
      case 'disconnected':
        this.#emitRunning('disconnect', report.address, report.error);
        return;
      case 'failed':
        this.#emitRunning('error', report.address, report.error);
        return;
      case 'pinged':
        if (this.#phase !== 'running') return;
        this.emit('ping', report.address, report.rttMs);
        this.#publish({ type: 'ping', address: report.address, at: Date.now(), rttMs: report.rttMs });
        return;
    }
  }

  #status(event: PeerStatusEvent): void {
    if (this.#phase !== 'running' && event.type !== 'removed') return;
    this.emit('status', event);
    this.#publish(event);
  }

  #publish(event: LoopEvent): void {
    for (const listener of [...this.#streams.keys()]) listener(event);
  }

  #emitRunning<E extends keyof LookupLoopEvents & string>(event: E, ...args: LookupLoopEvents[E]): void {
    if (this.#phase === 'running') this.emit(event, ...args);
  }
}

function unique(addresses: string[]): string[] {
  return [...new Set(addresses)];
}

export type { LookupdInfo };
