import { createServer, type Server } from 'node:http';
import { Heartbeat } from '../../tools/heartbeat.js';
import { exitCodeOf, judge, worst } from '../../tools/heartbeat-stats.js';
import { splitHostPort } from '../../util/address.js';
import { MONITORING_EXIT } from '../exit-codes.js';
import type { HeartbeatConfig } from './flags.js';
import { createView } from './views.js';

/**
 * Probes until `count` or SIGINT/SIGTERM, reporting to `out`; resolves to the exit code (0, 1 or 2).
 * With `metricsAddress` it also serves Prometheus metrics, runs until a signal and then exits 0 (an
 * exporter stopped on purpose), or 3 (UNKNOWN) if it cannot listen.
 */
export async function run(config: HeartbeatConfig, out: NodeJS.WriteStream): Promise<number> {
  const hb = new Heartbeat({
    tcpAddresses: config.tcpAddresses,
    httpAddresses: config.httpAddresses,
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    count: config.count,
    keepAlive: true,
  });
  const view = createView(config, out, hb);
  hb.on('sample', (target, sample) => view.sample(target, sample));
  hb.on('state', (target, state, previous) => view.state(target, state, previous));
  hb.on('outage', (target, outage) => view.outage(target, outage));

  let onSignal: (() => void) | undefined;
  const interrupted = new Promise<void>((resolve) => {
    onSignal = resolve;
  });
  process.once('SIGINT', onSignal!);
  process.once('SIGTERM', onSignal!);
  // Whoever reads the output went away (`| head`): stop as on SIGINT; later writes fail quietly.
  out.on('error', () => onSignal!());
  let server: Server | undefined;
  if (config.metricsAddress !== undefined) {
    // prom-client is loaded only by the exporter: a plain heartbeat run starts without it.
    const { createHeartbeatMetrics } = await import('../../tools/heartbeat-metrics.js');
    const metrics = createHeartbeatMetrics(hb);
    try {
      server = await listen(config.metricsAddress, metrics.handler);
    } catch (error) {
      process.off('SIGINT', onSignal!);
      process.off('SIGTERM', onSignal!);
      await hb.close();
      process.stderr.write(
        `nsqd-lookup heartbeat: cannot serve metrics on ${config.metricsAddress}: ${(error as Error).message}\n`,
      );
      return MONITORING_EXIT.usage;
    }
    const { address, port } = server.address() as { address: string; port: number };
    const host = address.includes(':') ? `[${address}]` : address;
    process.stderr.write(
      `nsqd-lookup heartbeat: serving Prometheus metrics at http://${host}:${port}/metrics\n`,
    );
  }
  view.start();
  hb.start();
  try {
    await Promise.race([hb.finished(), interrupted]);
  } finally {
    process.off('SIGINT', onSignal!);
    process.off('SIGTERM', onSignal!);
    await hb.close();
    if (server) await closeServer(server);
  }
  const stats = hb.stats();
  const verdicts = stats.map((s) => judge(s, config.thresholds));
  const health = worst(verdicts.map((v) => v.health));
  view.end(stats, verdicts, health);
  return server ? MONITORING_EXIT.ok : exitCodeOf(health);
}

function listen(address: string, handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const { host, port } = splitHostPort(address);
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
