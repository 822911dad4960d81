import type { BroadcastWarning, Resolver } from '../diagnostics/broadcast-check.js';
import type { PeerState } from '../peer/lookup-peer.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import type { LookupdInfo } from '../protocol/response.js';
import type { Registry } from '../registry/registry.js';
import type { LogFn } from '../util/debug.js';
import type { BackoffOptions } from './backoff.js';

/** What {@link LookupLoop} takes; only `addresses`, `identity` and `registry` are required. */
export interface LookupLoopOptions {
  /** lookupd TCP addresses (`host:port`), nsqd's `--lookupd-tcp-address`. */
  addresses: string[];
  /** What IDENTIFY tells every lookupd; checked here, so a bad one throws at construction. */
  identity: IdentifyInfo;
  /** The topics and channels to keep registered. */
  registry: Registry;
  /** PING period per connected peer, in ms (default 15000, as nsqd). */
  pingIntervalMs?: number;
  /** Delays between reconnect attempts (see {@link BackoffOptions} for the defaults). */
  reconnect?: BackoffOptions;
  /** Per-peer TCP dial timeout, in ms (default 1000, as nsqd). */
  dialTimeoutMs?: number;
  /** Time each answer may take once it is the next one due, in ms (default 1000, as nsqd). */
  readTimeoutMs?: number;
  /** Largest response body accepted, in bytes (default 5 MiB). */
  maxBodyBytes?: number;
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

/**
 * Where one lookupd is in its life: dialing and identifying, re-registering, holding the registry
 * (changes may be in flight: see `PeerStats.inSync`), waiting for the next attempt, stopped by a
 * failure that retrying cannot fix (reported as `lastError`), or removed from the loop.
 */
export type PeerPhase = 'connecting' | 'syncing' | 'in-sync' | 'backing-off' | 'stopped' | 'removed';

/** A peer's failure as plain data, for {@link PeerStats.lastError} and the `disconnected` event. */
export interface PeerErrorInfo {
  /** The error's message; a connection error's names the lookupd. */
  message: string;
  /**
   * The error's `code`, to branch on: `NSQ_ERR_*` for this package's errors (e.g. `NSQ_ERR_READ_TIMEOUT`),
   * lookupd's own `E_*` for an error answer, `ERR` for an error from anywhere else.
   */
  code: string;
  /** When it happened, epoch ms. */
  at: number;
}

/** Counters and state of one peer, JSON-serialisable: a snapshot, never updated after it is taken. */
export interface PeerStats {
  /** The lookupd's TCP address, as given in `addresses`. */
  address: string;
  /** The TCP connection's state; {@link phase} tells syncing from in sync, and backing off from down. */
  state: PeerState;
  /** Where this lookupd is in its reconnect cycle. */
  phase: PeerPhase;
  /** Epoch ms of the current connection's successful connect callback; null when not connected. */
  connectedSince: number | null;
  /** The latest failure (attempt, command or dropped connection), kept after recovery; null before any. */
  lastError: PeerErrorInfo | null;
  /** Round trip of the last successful PING, in ms. */
  lastPingRttMs: number | null;
  /** Connections that completed the connect callback. */
  connects: number;
  /**
   * Failed attempts since a connection last proved itself (answered a PING): a connection that drops
   * before that counts as a failed attempt, so the delays keep growing.
   */
  reconnectAttempts: number;
  /** Epoch ms of the next connection attempt while one is scheduled, else null. */
  nextRetryAt: number | null;
  /**
   * Commands sent to this lookupd since it was added, over every connection: IDENTIFY, each REGISTER of
   * a re-registration, each registry change and each PING.
   */
  commandsSent: number;
  /** Of {@link commandsSent}, those that got no `OK`: an `E_*` answer, or lost with their connection. */
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
  | {
      /** A connection attempt starts: dial, magic, IDENTIFY, re-registration. */
      type: 'connecting';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** 1, or one more than the failures in a row before it. */
      attempt: number;
    }
  | {
      /** IDENTIFY answered and the whole registry re-registered: the connection is usable. */
      type: 'connected';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** lookupd's IDENTIFY answer. */
      lookupd: LookupdInfo;
      /** REGISTERs lookupd acknowledged in the re-registration. */
      registrations: number;
    }
  | {
      /** A connection that had reached `connected` ended; an attempt failing before that is not one. */
      type: 'disconnected';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** Why it ended. */
      error: PeerErrorInfo;
    }
  | {
      /** An attempt failed, or a connection ended before it answered a PING; the next one is timed. */
      type: 'retry-scheduled';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** Failures in a row, this one included. */
      attempt: number;
      /** Wait before the next attempt, in ms, jitter included: never more than `reconnect.maxDelayMs`. */
      delayMs: number;
      /** When the next attempt starts, epoch ms (`at + delayMs`). */
      nextRetryAt: number;
    }
  | {
      /** Once per connection: the re-registration and every change queued behind it are acknowledged. */
      type: 'in-sync';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** REGISTERs lookupd acknowledged in the re-registration. */
      registrations: number;
    }
  | {
      /** A failure that retrying cannot fix: the lookupd is left alone until it is removed. */
      type: 'stopped';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
      /** What stopped it. */
      error: PeerErrorInfo;
    }
  | {
      /** The address joined the loop, at `start()` or by `setAddresses()`. */
      type: 'added';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
    }
  | {
      /** The address left the loop (`setAddresses()` or `close()`); its connection is closed. */
      type: 'removed';
      /** The lookupd's TCP address. */
      address: string;
      /** Epoch ms. */
      at: number;
    };

/** A PING answered, as {@link LoopEvent} reports it. */
export interface PingEvent {
  /** Tells it from a {@link PeerStatusEvent}. */
  type: 'ping';
  /** The lookupd's TCP address. */
  address: string;
  /** When the answer arrived, epoch ms. */
  at: number;
  /** Round trip of the PING, in ms. */
  rttMs: number;
}

/** What `loop.events()` yields: every status transition, and every PING answered. */
export type LoopEvent = PeerStatusEvent | PingEvent;

/** A JSON-serialisable view of the whole loop. */
export interface LoopStatus {
  /** Epoch ms of this snapshot. */
  at: number;
  /** Topics and channels lookupd should hold: one registration per channel or channel-less topic. */
  registrySize: number;
  /** Every peer connected and in sync. */
  inSync: boolean;
  /** What IDENTIFY tells every lookupd. */
  identity: IdentifyInfo;
  /** One entry per lookupd address, as {@link LookupLoop.stats} returns them. */
  peers: PeerStats[];
}

/**
 * What {@link LookupLoop} emits, event name to listener arguments; only between `start()` and `close()`
 * (a `removed` status also during `close()`). `loop.events()` gives statuses and PINGs as one stream.
 */
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
