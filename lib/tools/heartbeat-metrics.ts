import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import { HttpCheckError } from '../errors.js';
import { MetricNames, writeMetrics } from '../util/metrics-registry.js';
import type { Heartbeat, HeartbeatSample } from './heartbeat.js';
import type { TargetState } from './heartbeat-stats.js';

/** What {@link createHeartbeatMetrics} takes; every field is optional. */
export interface HeartbeatMetricsOptions {
  /** The prom-client registry to register into (default: a new one of its own). */
  registry?: MetricsRegistry;
  /** Metric name prefix (default `nsqd_lookup_heartbeat_`). */
  prefix?: string;
  /** Round-trip histogram buckets, in seconds. */
  rttBuckets?: number[];
}

/** A heartbeat's Prometheus metrics; `handler` serves them. */
export interface HeartbeatMetrics {
  readonly registry: MetricsRegistry;
  /** The exposition text of every metric in the registry. */
  metrics(): Promise<string>;
  /** A `node:http` handler: the metrics at `GET /metrics`, 404 elsewhere. */
  handler(request: IncomingMessage, response: ServerResponse): void;
  /** Stops listening to the heartbeat and unregisters the metrics registered here, and only those. */
  dispose(): void;
}

/**
 * Why a probe failed, as a bounded label value: the socket's errno (`ECONNREFUSED`, `ENOTFOUND`, ...)
 * when there is one anywhere in the cause chain, `HTTP_<status>` for an HTTP check that got an answer,
 * else the error's catalogue code (`NSQ_ERR_READ_TIMEOUT`, `NSQ_ERR_PROTOCOL`, ...).
 */
export function failureCause(error: unknown): string {
  let fallback: string | undefined;
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof HttpCheckError) return `HTTP_${e.status}`;
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (/^E[A-Z]+$/.test(code)) return code;
    fallback ??= code;
  }
  return fallback ?? 'ERROR';
}

/**
 * Prometheus metrics for a {@link Heartbeat}, per target labelled `check` (`tcp`: PING on lookupd's TCP
 * port; `http`: GET /ping on its HTTP port) and `address`: whether it is up, its round trips, probes,
 * and failures by cause.
 */
export function createHeartbeatMetrics(
  hb: Heartbeat,
  options: HeartbeatMetricsOptions = {},
): HeartbeatMetrics {
  const registry = options.registry ?? new MetricsRegistry();
  const prefix = options.prefix ?? 'nsqd_lookup_heartbeat_';
  const registers = [registry];
  const names = new MetricNames(prefix);
  const named = (suffix: string): string => names.name(suffix);
  const labelNames = ['check', 'address'] as const;
  const up = new Gauge({
    name: named('up'),
    help: '1 when the target answered its last probe, 0 when it is down or not yet answered',
    labelNames,
    registers,
  });
  const rtt = new Histogram({
    name: named('rtt_seconds'),
    help: 'round trip of answered probes (PING, or GET /ping), dialing left out',
    labelNames,
    buckets: options.rttBuckets ?? [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const probes = new Counter({ name: named('probes_total'), help: 'probes sent', labelNames, registers });
  const failures = new Counter({
    name: named('failures_total'),
    help: 'failed probes by cause: an errno (ECONNREFUSED, ENOTFOUND, ...), HTTP_<status>, or an NSQ_ERR_* code',
    labelNames: [...labelNames, 'cause'],
    registers,
  });
  const labels = new Map(hb.stats().map((s) => [s.target, { check: s.kind, address: s.address }]));
  // Every target is listed from the first scrape on, down until it answers.
  for (const target of labels.values()) {
    up.set(target, 0);
    probes.inc(target, 0);
    rtt.zero(target);
  }
  const onSample = (target: string, sample: HeartbeatSample) => {
    const where = labels.get(target);
    if (!where) return;
    probes.inc(where);
    if (sample.ok) rtt.observe(where, sample.rttMs / 1000);
    else failures.inc({ ...where, cause: failureCause(sample.error) });
  };
  const onState = (target: string, state: TargetState) => {
    const where = labels.get(target);
    if (where) up.set(where, state === 'up' ? 1 : 0);
  };
  hb.on('sample', onSample);
  hb.on('state', onState);
  return {
    registry,
    metrics: () => registry.metrics(),
    handler(request, response) {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' || path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('metrics are at GET /metrics\n');
        return;
      }
      writeMetrics(registry, response);
    },
    dispose() {
      hb.off('sample', onSample);
      hb.off('state', onState);
      names.removeFrom(registry);
    },
  };
}
