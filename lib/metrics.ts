import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { LookupLoop, PeerStats } from './loop/lookup-loop.js';
import type { PeerState } from './peer/lookup-peer.js';
import { MetricNames, writeMetrics } from './util/metrics-registry.js';

/** How {@link createLookupMetrics} names and registers its metrics; every field is optional. */
export interface LookupMetricsOptions {
  /** The prom-client registry to register into (default: a new one of its own). */
  registry?: MetricsRegistry;
  /** Metric name prefix (default `nsqd_lookup_`). */
  prefix?: string;
  /**
   * PING round-trip histogram buckets, upper bounds in seconds (default: half a millisecond to one second,
   * `0.0005` … `1`).
   */
  pingBuckets?: number[];
}

/** The metrics of one {@link LookupLoop}, as {@link createLookupMetrics} returns them. */
export interface LookupMetrics {
  /** The prom-client registry the metrics are in: the one passed in as an option, or a new one of its own. */
  readonly registry: MetricsRegistry;
  /** The exposition text of every metric in the registry. */
  metrics(): Promise<string>;
  /** A `node:http` handler serving {@link metrics} with the right content type. */
  handler(request: IncomingMessage, response: ServerResponse): void;
  /**
   * Stops listening to the loop and unregisters the metrics registered here, and only those: other
   * metrics on a registry passed in as {@link LookupMetricsOptions.registry} stay.
   */
  dispose(): void;
}

const STATES: PeerState[] = ['disconnected', 'connecting', 'connected', 'closed'];

/**
 * Prometheus metrics for one {@link LookupLoop}: peers by state, PING round trips, reconnects, commands
 * sent and failed, registrations acknowledged and in sync. Import it from `nsqd-lookup/metrics`
 * (prom-client is a regular dependency).
 */
export function createLookupMetrics(loop: LookupLoop, options: LookupMetricsOptions = {}): LookupMetrics {
  const registry = options.registry ?? new MetricsRegistry();
  const prefix = options.prefix ?? 'nsqd_lookup_';
  const registers = [registry];
  const names = new MetricNames(prefix);
  const named = (suffix: string): string => names.name(suffix);
  // One stats() snapshot per scrape, not one per metric: prom-client's registry.metrics() calls every
  // collect() in one synchronous pass, so the first takes the snapshot, the others of that pass reuse
  // it, and a microtask drops it before any later scrape can start.
  let scrape: PeerStats[] | undefined;
  const peers = (): PeerStats[] => {
    if (scrape === undefined) {
      scrape = loop.stats();
      queueMicrotask(() => {
        scrape = undefined;
      });
    }
    return scrape;
  };

  new Gauge({
    name: named('peers'),
    help: 'lookupd peers by connection state',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const counts = new Map(STATES.map((state) => [state, 0]));
      for (const peer of peers()) counts.set(peer.state, (counts.get(peer.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  const perPeer = (name: string, help: string, value: (peer: PeerStats) => number) =>
    new Gauge({
      name: named(name),
      help,
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const peer of peers()) this.set({ address: peer.address }, value(peer));
      },
    });
  const perPeerTotal = (name: string, help: string, value: (peer: PeerStats) => number) =>
    new Counter({
      name: named(name),
      help,
      labelNames: ['address'],
      registers,
      collect() {
        // The loop keeps the running totals; a scrape copies them.
        this.reset();
        for (const peer of peers()) this.inc({ address: peer.address }, value(peer));
      },
    });
  perPeerTotal('reconnects_total', 'connections to this lookupd after the first', (p) =>
    Math.max(0, p.connects - 1),
  );
  perPeerTotal('commands_sent_total', 'commands sent to this lookupd', (p) => p.commandsSent);
  perPeerTotal('commands_failed_total', 'commands to this lookupd that failed', (p) => p.commandsFailed);
  perPeer(
    'registrations_acknowledged',
    'registrations this lookupd has acknowledged',
    (p) => p.registrationsAcked,
  );
  perPeer(
    'registrations_expected',
    "the broker's registrations (what each lookupd should hold)",
    (p) => p.registrationsExpected,
  );
  perPeer('in_sync', '1 when this lookupd holds every registration and has acknowledged every change', (p) =>
    p.inSync ? 1 : 0,
  );
  const rtt = new Histogram({
    name: named('ping_rtt_seconds'),
    help: 'PING round trip to lookupd',
    labelNames: ['address'],
    buckets: options.pingBuckets ?? [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const onPing = (address: string, rttMs: number) => rtt.observe({ address }, rttMs / 1000);
  const onStatus = (event: { type: string; address: string }) => {
    if (event.type === 'removed') rtt.remove({ address: event.address });
  };
  loop.on('ping', onPing);
  loop.on('status', onStatus);

  return {
    registry,
    metrics: () => registry.metrics(),
    handler(_request, response) {
      writeMetrics(registry, response);
    },
    dispose() {
      loop.off('ping', onPing);
      loop.off('status', onStatus);
      names.removeFrom(registry);
    },
  };
}
