/**
 * Serving fake producers (each a Broker with its own TCP and HTTP listeners) in a process of their
 * own, driven line by line from stdin by bench/fleet-serving.ts, so that the parent can time them from
 * outside and their memory is measured alone. Run with --expose-gc.
 *   argv: <lookupd tcp address>
 *   stdin: `start <count> <hostname pattern>`: one more fleet of <count> fakes, 1 topic and 1 channel
 *          each, message rate 0; answers {"started": count, "failures": {message: count},
 *          "eventLoopDelayMaxMs"} once every fake is connected and its registrations acknowledged.
 *          `memory`: answers {"rss", "heapUsed", "external", "arrayBuffers"}, after gc and a settle
 *          period (as bench/fleet-child.ts measures).
 *          `close`: closes every fleet and exits.
 * Every answer is one JSON line on stdout; {"ready": true} first.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { FakeProducerFleet } from '../lib/tools/fake-producers.js';

const [address] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('fleet-serving-child needs node --expose-gc');
const fleets: FakeProducerFleet[] = [];
const answer = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function start(count: number, hostnamePattern: string): Promise<void> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const fleet = new FakeProducerFleet({
    addresses: [address!],
    producers: count,
    topics: 1,
    channels: 1,
    messageRate: 0,
    hostnamePattern,
    // One lookupd answers a thousand fakes connecting at once.
    readTimeoutMs: 30_000,
  });
  fleets.push(fleet);
  // A failed attempt is retried by its loop: counted, and waited for.
  const failures = new Map<string, number>();
  fleet.on('error', (_producer, _address, error) => {
    failures.set(error.message, (failures.get(error.message) ?? 0) + 1);
  });
  await fleet.start();
  const deadline = performance.now() + 60_000;
  for (;;) {
    await fleet.settled();
    const status = fleet.status();
    if (
      status.serving === count &&
      status.connected === status.peers &&
      status.registrationsAcked === status.registrationsExpected
    )
      break;
    if (performance.now() > deadline)
      throw new Error(`fleet of ${count} not in sync after 60 s: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  delay.disable();
  answer({ started: count, failures: Object.fromEntries(failures), eventLoopDelayMaxMs: delay.max / 1e6 });
}

async function memory(): Promise<void> {
  gc!();
  // A fleet runs for a long time: memory also counts once V8 has given back what start-up used.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  gc!();
  gc!();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  answer({ rss, heapUsed, external, arrayBuffers });
}

const lines = createInterface({ input: process.stdin });
answer({ ready: true });
for await (const line of lines) {
  const [command, ...rest] = line.trim().split(' ');
  if (command === 'start') await start(Number(rest[0]), rest[1]!);
  else if (command === 'memory') await memory();
  else if (command === 'close') break;
  else throw new Error(`unknown command ${line}`);
}
lines.close();
await Promise.all(fleets.map((fleet) => fleet.close()));
