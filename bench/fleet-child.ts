/**
 * Runs one fake-producer fleet in a process of its own so that its memory is measured alone.
 * argv: <lookupd tcp address> <producers> ; prints one JSON line.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startFakeProducers } from '../lib/tools/fake-producers.js';

const [address, count] = process.argv.slice(2);
const producers = Number(count);
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const rssBefore = process.memoryUsage().rss;
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const started = performance.now();
const fleet = await startFakeProducers({
  addresses: [address!],
  // The listener-less fakes this group has always measured (bench/fleet-serving.ts has the serving ones).
  registrationOnly: true,
  producers,
  topics: 5,
  channels: 2,
  readTimeoutMs: 30_000,
  connectConcurrency: 500,
});
await fleet.settled();
const registeredMs = performance.now() - started;
delay.disable();
const status = fleet.status();
gc?.();
const rssRegistered = process.memoryUsage().rss;
// A fleet runs for a long time: memory also counts once V8 has given back what start-up used.
await new Promise((resolve) => setTimeout(resolve, 3000));
gc?.();
gc?.();
const rssSteady = process.memoryUsage().rss;
process.stdout.write(
  `${JSON.stringify({
    registeredMs,
    rssPerProducerKiB: (rssSteady - rssBefore) / producers / 1024,
    rssPerProducerAtRegisteredKiB: (rssRegistered - rssBefore) / producers / 1024,
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    eventLoopDelayMaxMs: delay.max / 1e6,
    inSync: status.registrationsAcked === status.registrationsExpected && status.connected === status.peers,
    registrations: status.registrationsAcked,
  })}\n`,
);
await fleet.close();
