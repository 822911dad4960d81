import pRetry, { AbortError } from 'p-retry';
import { ConnectionError, InvalidArgumentError, InvalidNameError, NsqLookupError } from '../errors.js';
import { type ConnectHandle, LookupPeer, type LookupPeerOptions } from '../peer/lookup-peer.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import type { LookupdInfo } from '../protocol/response.js';
import type { LogFn } from '../util/debug.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Pinger } from './pinger.js';
import type { PeerErrorInfo, PeerPhase, PeerStats, PeerStatusEvent } from './types.js';

/** What a slot needs from its loop: the registry to send, and where to report. */
export interface SlotHost {
  readonly identity: IdentifyInfo;
  /** The whole registry as one pipelined burst of REGISTERs. */
  registrations(): { bytes: Buffer; count: number };
  status(event: PeerStatusEvent): void;
  connected(address: string, info: LookupdInfo): void;
  disconnected(address: string, error: Error): void;
  failed(address: string, error: Error): void;
  pinged(address: string, rttMs: number): void;
}

export interface SlotOptions {
  pingIntervalMs: number;
  reconnect: BackoffOptions;
  peer: Omit<LookupPeerOptions, 'onConnect'>;
  log: LogFn;
}

/** Mutable counters of one slot; {@link PeerSlot.stats} turns them into a snapshot. */
interface PeerCounters {
  connects: number;
  commandsSent: number;
  commandsFailed: number;
  registrationsAcked: number;
}

/** Failures that another attempt cannot fix: the slot stops retrying and reports them. */
function retryable(error: Error): boolean {
  return !(error instanceof InvalidArgumentError || error instanceof InvalidNameError);
}

/**
 * One lookupd as the loop keeps it: its {@link LookupPeer}, its {@link Pinger}, its {@link Backoff}
 * and one phase. Its reconnect cycle runs until it is removed: attempts (with p-retry, delays from the
 * backoff) until a connection proves itself by answering a PING, then waits for that connection to
 * end and starts again at once. A connection that ends before its first PING answer is a failed
 * attempt, so a lookupd that accepts and drops gets the backoff's schedule, not a reconnect storm.
 */
export class PeerSlot {
  readonly address: string;
  readonly #peer: LookupPeer;
  readonly #host: SlotHost;
  readonly #log: LogFn;
  readonly #backoff: Backoff;
  readonly #pinger: Pinger;
  /** Ends the backoff delay being waited, when remove() comes during one. */
  #cancelDelay: (() => void) | undefined;
  readonly #counters: PeerCounters = {
    connects: 0,
    commandsSent: 0,
    commandsFailed: 0,
    registrationsAcked: 0,
  };
  #phase: PeerPhase = 'connecting';
  #connectedSince: number | null = null;
  #nextRetryAt: number | null = null;
  #lastPingRttMs: number | null = null;
  #lookupd: LookupdInfo | null = null;
  #lastError: PeerErrorInfo | null = null;
  #lastErrorObject: Error | undefined;
  /** Commands the slot sent that have not settled. */
  #outstanding = 0;
  #idleWaiters: Array<() => void> = [];
  /** Settles the cycle's wait on the current connection: a PING answered, or the connection's end. */
  #proven: (() => void) | undefined;
  #ended: ((error: Error) => void) | undefined;
  readonly #cycle: Promise<void>;

  constructor(address: string, host: SlotHost, options: SlotOptions) {
    this.address = address;
    this.#host = host;
    this.#log = options.log;
    this.#backoff = new Backoff(options.reconnect);
    this.#peer = new LookupPeer(address, { ...options.peer, onConnect: (peer) => this.#sync(peer) });
    this.#pinger = new Pinger(
      options.pingIntervalMs,
      () => this.#track(this.#peer.ping()),
      (rttMs) => this.#onPing(rttMs),
    );
    this.#peer.on('state', (state) => {
      if (state === 'connecting') this.#enter('connecting');
      if (state === 'connecting' && !this.removed) {
        this.#host.status({
          type: 'connecting',
          address,
          at: Date.now(),
          attempt: this.#backoff.failures + 1,
        });
      }
      this.#notifyIfIdle();
    });
    this.#peer.on('connect', () => this.#onConnect());
    this.#peer.on('disconnect', (error) => this.#onDisconnect(error));
    this.#cycle = this.#run();
  }

  get phase(): PeerPhase {
    return this.#phase;
  }

  get removed(): boolean {
    return this.#phase === 'removed';
  }

  /** Connected, re-registered, and every change sent since acknowledged. */
  get inSync(): boolean {
    return this.#phase === 'in-sync' && this.#outstanding === 0;
  }

  /** lookupd's IDENTIFY answer on the current or last connection. */
  get lookupd(): LookupdInfo | null {
    return this.#lookupd;
  }

  stats(registrySize: number): PeerStats {
    const inSync = this.inSync;
    return {
      address: this.address,
      state: this.#peer.state,
      phase: this.#phase,
      connectedSince: this.#connectedSince,
      lastError: this.#lastError && { ...this.#lastError },
      lastPingRttMs: this.#lastPingRttMs,
      connects: this.#counters.connects,
      reconnectAttempts: this.#backoff.failures,
      nextRetryAt: this.#nextRetryAt,
      commandsSent: this.#counters.commandsSent,
      commandsFailed: this.#counters.commandsFailed,
      lookupd: this.#lookupd && { ...this.#lookupd },
      registrationsAcked: inSync ? registrySize : this.#counters.registrationsAcked,
      registrationsExpected: registrySize,
      inSync,
    };
  }

  /** Sends registry changes if connected or connecting; a peer that is down catches up on connect. */
  send(commands: Buffer[]): void {
    const state = this.#peer.state;
    if (state !== 'connected' && state !== 'connecting') return;
    for (const command of commands) void this.#track(this.#peer.command(command)).catch(() => {});
  }

  /** Resolves once nothing is owed and no connect burst is under way. */
  whenIdle(): Promise<void> {
    if (this.#idle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops every timer and retry and closes the connection. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.#enter('removed');
    this.#pinger.cancel();
    this.#cancelDelay?.();
    this.#ended?.(new ConnectionError('NSQ_ERR_PEER_CLOSED', this.address, 'peer removed'));
    this.#log('%s: removing peer', this.address);
    await this.#peer.close();
    this.#outstanding = 0;
    this.#notifyIfIdle();
    await this.#cycle;
  }

  get #idle(): boolean {
    return this.#outstanding === 0 && this.#peer.state !== 'connecting';
  }

  async #run(): Promise<void> {
    while (!this.removed) {
      try {
        // No AbortSignal: remove() closes the peer (failing the attempt) and ends a delay itself, and
        // a fleet of 10,000 slots would pay about a kilobyte each for one.
        await pRetry(() => this.#connect(), {
          retries: Number.POSITIVE_INFINITY,
          // The delay is the backoff's, waited in onFailedAttempt; p-retry's own is zero.
          minTimeout: 0,
          maxTimeout: 0,
          randomize: false,
          shouldRetry: ({ error }) => !this.removed && retryable(error),
          onFailedAttempt: async ({ error }) => {
            this.#recordError(error);
            if (!this.removed && retryable(error)) await this.#backOff(error);
          },
        });
      } catch (error) {
        if (this.removed) return;
        // Not retryable: reported as this slot's last error; the slot stays down until removed.
        this.#log('%s: reconnecting stopped: %s', this.address, String(error));
        this.#enter('stopped');
        this.#host.status({
          type: 'stopped',
          address: this.address,
          at: Date.now(),
          error: this.#lastError!,
        });
        return;
      }
      // Connected. It proves itself by answering a PING; a connection that ends before that is one
      // more failure, waited out like a failed dial. Once proven, its end starts the next attempt at once.
      const first = await new Promise<'proven' | Error>((resolve) => {
        if (this.#peer.state !== 'connected') {
          resolve(
            this.#lastErrorObject ?? new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', this.address, 'closed'),
          );
          return;
        }
        this.#proven = () => resolve('proven');
        this.#ended = resolve;
      });
      if (this.removed) return;
      if (first === 'proven') {
        await new Promise<void>((resolve) => {
          if (this.#peer.state !== 'connected') resolve();
          else this.#ended = () => resolve();
        });
      } else {
        await this.#backOff(first);
      }
    }
  }

  /** One connection attempt: dial, magic and the connect callback. */
  async #connect(): Promise<void> {
    if (this.removed) throw new AbortError('peer removed');
    await this.#peer.connect();
  }

  /** Counts one more failure, announces the delay the backoff gives it, and waits it out. */
  async #backOff(error: Error): Promise<void> {
    const delayMs = this.#backoff.next();
    const now = Date.now();
    this.#nextRetryAt = now + delayMs;
    this.#enter('backing-off');
    this.#log(
      '%s: attempt %d failed (%s); next in %d ms',
      this.address,
      this.#backoff.failures,
      error.message,
      delayMs,
    );
    this.#host.status({
      type: 'retry-scheduled',
      address: this.address,
      at: now,
      attempt: this.#backoff.failures,
      delayMs,
      nextRetryAt: this.#nextRetryAt,
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#cancelDelay = done;
    });
    this.#cancelDelay = undefined;
    this.#nextRetryAt = null;
  }

  /** The connect callback: IDENTIFY, then the whole registry in one pipelined burst. */
  async #sync(peer: ConnectHandle): Promise<void> {
    const info = await this.#track(peer.identify(this.#host.identity));
    this.#lookupd = info;
    if (info.broadcastAddress === '') this.#log('%s: lookupd sent no broadcast address', this.address);
    this.#enter('syncing');
    this.#counters.registrationsAcked = 0;
    const { bytes, count } = this.#host.registrations();
    if (count === 0) return;
    this.#log('%s: re-registering %d', this.address, count);
    // One write and one promise for the whole burst; each answer but the last is counted as it comes.
    const counters = this.#counters;
    await this.#track(
      peer.commandBatch(bytes, count, () => {
        counters.registrationsAcked++;
      }),
      count,
      () => counters.registrationsAcked,
    );
    counters.registrationsAcked = count;
  }

  #onConnect(): void {
    if (this.removed) return;
    this.#counters.connects++;
    this.#connectedSince = Date.now();
    this.#pinger.start();
    this.#host.status({
      type: 'connected',
      address: this.address,
      at: this.#connectedSince,
      lookupd: { ...this.#lookupd! },
      registrations: this.#counters.registrationsAcked,
    });
    this.#host.connected(this.address, this.#lookupd!);
    this.#reportSync();
  }

  #onDisconnect(error: Error): void {
    if (this.removed) return;
    const wasConnected = this.#connectedSince !== null;
    this.#connectedSince = null;
    this.#counters.registrationsAcked = 0;
    this.#pinger.cancel();
    this.#recordError(error);
    if (wasConnected) {
      this.#host.status({
        type: 'disconnected',
        address: this.address,
        at: Date.now(),
        error: this.#lastError!,
      });
      this.#host.disconnected(this.address, error);
    }
    this.#enter('connecting');
    const ended = this.#ended;
    this.#proven = undefined;
    this.#ended = undefined;
    ended?.(error);
  }

  #onPing(rttMs: number): void {
    this.#lastPingRttMs = rttMs;
    const proven = this.#proven;
    if (proven) {
      // The first PING answered on a connection proves it: the failures before it are forgotten.
      this.#proven = undefined;
      this.#backoff.reset();
      proven();
    }
    this.#host.pinged(this.address, rttMs);
  }

  /** `in-sync` once per connection: when the burst and anything queued behind it are acknowledged. */
  #reportSync(): void {
    if (this.#phase !== 'syncing' || this.#peer.state !== 'connected' || !this.#idle) return;
    this.#enter('in-sync');
    this.#host.status({
      type: 'in-sync',
      address: this.address,
      at: Date.now(),
      registrations: this.#counters.registrationsAcked,
    });
  }

  #enter(phase: PeerPhase): void {
    if (this.#phase === phase || this.#phase === 'removed') return;
    this.#log('%s: %s -> %s', this.address, this.#phase, phase);
    this.#phase = phase;
  }

  #notifyIfIdle(): void {
    if (!this.#idle || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Counts `commands` the slot sent (one, or a batch), records a failure, and keeps whenIdle()
   * informed. `answered` tells how many of a failed batch were acknowledged before it failed.
   */
  #track<T>(operation: Promise<T>, commands = 1, answered = () => 0): Promise<T> {
    this.#outstanding++;
    this.#counters.commandsSent += commands;
    return operation.then(
      (value) => {
        this.#outstanding--;
        this.#notifyIfIdle();
        if (this.#outstanding === 0) this.#reportSync();
        return value;
      },
      (error: unknown) => {
        this.#outstanding--;
        this.#counters.commandsFailed += commands - answered();
        const reason =
          error instanceof Error
            ? error
            : new ConnectionError('NSQ_ERR_PROTOCOL', this.address, `command failed: ${String(error)}`);
        this.#recordError(reason);
        this.#notifyIfIdle();
        throw reason;
      },
    );
  }

  #recordError(error: Error): void {
    // One broken connection fails every command in flight with the same error: report it once.
    if (this.#lastErrorObject === error || error instanceof AbortError) return;
    this.#lastErrorObject = error;
    this.#lastError = {
      message: error.message,
      code: error instanceof NsqLookupError ? error.code : 'ERR',
      at: Date.now(),
    };
    if (!this.removed) this.#host.failed(this.address, error);
  }
}
