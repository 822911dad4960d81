import { Heartbeat } from '../../tools/heartbeat.js';
import { exitCodeOf, judge, worst } from '../../tools/heartbeat-stats.js';
import type { HeartbeatConfig } from './flags.js';
import { createView } from './views.js';

/** Probes until `count` or SIGINT/SIGTERM, reporting to `out`; resolves to the exit code (0, 1 or 2). */
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
  view.start();
  hb.start();
  try {
    await Promise.race([hb.finished(), interrupted]);
  } finally {
    process.off('SIGINT', onSignal!);
    process.off('SIGTERM', onSignal!);
    await hb.close();
  }
  const stats = hb.stats();
  const verdicts = stats.map((s) => judge(s, config.thresholds));
  const health = worst(verdicts.map((v) => v.health));
  view.end(stats, verdicts, health);
  return exitCodeOf(health);
}
