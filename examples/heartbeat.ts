/**
 * Watch lookupds from a script: PING each (never IDENTIFY, so it never shows up as a producer) every
 * 500 ms, optionally check HTTP /ping, log answers and outages, and print the statistics after
 * 20 probes per target or on Ctrl-C.
 *
 *   npx tsx examples/heartbeat.ts 127.0.0.1:4160                   # a lookupd's TCP address
 *   npx tsx examples/heartbeat.ts 127.0.0.1:4160 127.0.0.1:4161    # plus its HTTP address
 */
import { Heartbeat } from 'nsqd-lookup/tools';

const [tcpAddress, httpAddress] = process.argv.slice(2);

if (!tcpAddress) {
  console.log('usage: npx tsx examples/heartbeat.ts <lookupd tcp host:port> [<lookupd http host:port>]');
} else {
  const heartbeat = new Heartbeat({
    tcpAddresses: [tcpAddress],
    httpAddresses: httpAddress ? [httpAddress] : [],
    intervalMs: 500,
    count: 20,
    keepAlive: true, // the heartbeat is this script's only work
  });
  heartbeat.on('sample', (target, sample) => {
    console.log(target, sample.ok ? `${sample.rttMs.toFixed(3)} ms` : `failed: ${sample.error.message}`);
  });
  heartbeat.on('outage', (target, outage) => {
    console.log(`${target} answers again after ${Math.round(outage.durationMs)} ms down`);
  });
  process.once('SIGINT', () => void heartbeat.close());

  heartbeat.start();
  await heartbeat.finished(); // every target sent `count` probes, or close() ran
  await heartbeat.close();
  for (const { target, state, rtt, failures, outageCount } of heartbeat.stats()) {
    console.log(target, state, rtt, `${failures} failed probe(s), ${outageCount} outage(s)`);
  }
}
