import type { BroadcastWarning, Resolver } from '../diagnostics/broadcast-check.js';
import type { PeerState } from '../peer/lookup-peer.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import type { LookupdInfo } from '../protocol/response.js';
import type { Registry } from '../registry/registry.js';
import type { LogFn } from '../util/debug.js';
import type { BackoffOptions } from './backoff.js';

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

export interface PeerErrorInfo {
  message: string;
  code: string;
  /** Epoch ms. */
  at: number;
}

/** Counters and state of one peer, JSON-serialisable: a snapshot, never updated after it is taken. */
export interface PeerStats {
  address: string;
  state: PeerState;
  phase: PeerPhase;
  /** Epoch ms of the current connection's successful connect callback; null when not connected. */
  connectedSince: number | null;
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

/** A PING answered, as {@link LoopEvent} reports it. */
export interface PingEvent {
  type: 'ping';
  address: string;
  at: number;
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
