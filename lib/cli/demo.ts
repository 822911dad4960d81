import { TimeoutError } from '../errors.js';
import { LookupdHttpClient } from '../http/lookupd-http-client.js';
import { type Lookupd, startLookupd } from '../lookupd/index.js';
import { LookupLoop, type LoopEvent } from '../loop/lookup-loop.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import { Registry } from '../registry/registry.js';
import { parseDuration } from './args.js';
import type { CommandMain } from './command.js';
import { EXIT } from './exit-codes.js';
import { addressList, integerFlag, parseFlags, runCommand } from './flags.js';

const BROKER: IdentifyInfo = {
  broadcastAddress: '127.0.0.1',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
  hostname: 'demo-broker',
};
const CONNECT_TIMEOUT_MS = 10_000;

/** Every flag of `demo` (the help text lists each; a spec checks). */
export const FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  'lookupd-http-address': { type: 'string', multiple: true },
  'ping-interval': { type: 'string' },
  heartbeats: { type: 'string' },
} as const;

const main: CommandMain = (argv) =>
  runCommand('demo', async () => {
    const parsed = parseFlags('demo', argv, FLAGS);
    if (!parsed) return EXIT.ok;
    const { values } = parsed;
    return runDemo({
      tcpAddresses: addressList(values['lookupd-tcp-address'], 'lookupd-tcp-address'),
      httpAddresses: addressList(values['lookupd-http-address'], 'lookupd-http-address'),
      pingIntervalMs: values['ping-interval']
        ? parseDuration(values['ping-interval'], '--ping-interval')
        : 1000,
      heartbeats: integerFlag(values.heartbeats, 'heartbeats', 3, 0, 100),
    });
  });

export default main;

interface DemoOptions {
  tcpAddresses: string[];
  httpAddresses: string[];
  pingIntervalMs: number;
  heartbeats: number;
}

async function runDemo(options: DemoOptions): Promise<number> {
  const say = (text = '') => process.stdout.write(`${text}\n`);
  const live = process.stdout.isTTY === true;
  const ms = (value: number) =>
    value >= 1000
      ? `${(value / 1000).toFixed(value % 1000 ? 1 : 0)} s`
      : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  let embedded: Lookupd | undefined;
  let loop: LookupLoop | undefined;
  try {
    say('nsqd-lookup demo: how an NSQ broker announces itself to nsqlookupd');
    say();
    let tcpAddresses = options.tcpAddresses;
    if (tcpAddresses.length === 0) {
      embedded = await startLookupd({
        tcpAddress: '127.0.0.1:0',
        httpAddress: '127.0.0.1:0',
        broadcastAddress: '127.0.0.1',
      });
      tcpAddresses = [embedded.tcpAddress];
      say('1. Started an embedded nsqlookupd (behaves like the Go nsqlookupd v1.3.0)');
      say(`     TCP  ${embedded.tcpAddress}   brokers register here`);
      say(`     HTTP ${embedded.httpAddress}   consumers look topics up here`);
    } else {
      say(`1. Using the lookupd(s) at ${tcpAddresses.join(', ')}`);
    }
    say();

    const registry = new Registry([
      { topic: 'orders', channel: 'billing' },
      { topic: 'orders', channel: 'shipping' },
      { topic: 'clicks', channel: 'analytics' },
      { topic: 'audit' },
    ]);
    say(
      `2. A broker "${BROKER.hostname}" (${BROKER.broadcastAddress}:${BROKER.tcpPort}) with these topics and channels:`,
    );
    for (const topic of registry.topics()) {
      const channels = registry.channels(topic);
      say(`     ${topic}${channels.length ? `: ${channels.join(', ')}` : ' (no channels yet)'}`);
    }
    say('   It dials each lookupd, sends the magic "  V1", IDENTIFY, then one REGISTER per');
    say('   channel (a topic without channels registers alone), all pipelined in one write.');
    loop = new LookupLoop({
      addresses: tcpAddresses,
      identity: BROKER,
      registry,
      pingIntervalMs: options.pingIntervalMs,
    });
    const started = performance.now();
    const firstConnects = tcpAddresses.map((address) => next(loop!, address, 'connected'));
    loop.start();
    await withTimeout(
      Promise.all(firstConnects),
      CONNECT_TIMEOUT_MS,
      `no lookupd answered within ${CONNECT_TIMEOUT_MS / 1000} s`,
    );
    await loop.settled();
    for (const stats of loop.stats()) {
      say(
        `   ✓ registered with ${stats.address} in ${ms(performance.now() - started)}: ${stats.registrationsAcked} registrations acknowledged`,
      );
    }
    say();

    const httpAddresses = embedded
      ? [embedded.httpAddress]
      : options.httpAddresses.length
        ? options.httpAddresses
        : loop.lookupdHttpAddresses();
    const http = new LookupdHttpClient(httpAddresses[0]!);
    say(`3. What a consumer sees (lookupd HTTP ${http.httpAddress})`);
    await showLookup(http, 'orders', say);
    say('   GET /nodes');
    for (const node of await http.nodes()) {
      say(
        `     ${node.hostname} ${node.broadcast_address}:${node.tcp_port} (http ${node.http_port}, v${node.version}) topics: ${[...node.topics].sort().join(', ')}`,
      );
    }
    say();

    say('4. The broker changes: a new channel orders/fraud-check, the topic clicks deleted');
    const changed = performance.now();
    registry.addChannel('orders', 'fraud-check');
    registry.removeTopic('clicks');
    await loop.settled();
    say(
      `   ✓ every lookupd acknowledged in ${ms(performance.now() - changed)} (REGISTER orders fraud-check, UNREGISTER clicks, UNREGISTER clicks analytics)`,
    );
    await showLookup(http, 'orders', say);
    await showLookup(http, 'clicks', say);
    say();

    if (options.heartbeats > 0) {
      say(`5. Heartbeats: a PING every ${ms(options.pingIntervalMs)} here (every 15 s in nsqd)`);
      for (let i = 0; i < options.heartbeats; i++) {
        await Promise.all(tcpAddresses.map((address) => next(loop!, address, 'ping')));
        for (const s of loop.status().peers) {
          const line = `   ${s.address}  ${s.state}  in sync ${s.registrationsAcked}/${s.registrationsExpected}  last PING ${ms(s.lastPingRttMs ?? 0)}  (${i + 1}/${options.heartbeats})`;
          process.stdout.write(live && tcpAddresses.length === 1 ? `\r\x1b[2K${line}` : `${line}\n`);
        }
      }
      if (live && tcpAddresses.length === 1) say();
      say();
    }

    if (embedded) {
      say('6. lookupd restarts: it is stopped and started again on the same ports, with an empty registry');
      const tcpPort = Number(embedded.tcpAddress.split(':').pop());
      const httpPort = Number(embedded.httpAddress.split(':').pop());
      const address = embedded.tcpAddress;
      const lost = next(loop, address, 'disconnected');
      await embedded.close();
      embedded = undefined;
      await lost;
      const reconnected = next(loop, address, 'connected');
      const restarted = performance.now();
      embedded = await startLookupd({
        tcpAddress: `127.0.0.1:${tcpPort}`,
        httpAddress: `127.0.0.1:${httpPort}`,
        broadcastAddress: '127.0.0.1',
      });
      await withTimeout(reconnected, CONNECT_TIMEOUT_MS, 'the broker did not reconnect');
      await loop.settled();
      const elapsed = performance.now() - restarted;
      const stats = loop.stats()[0]!;
      say(
        `   ✓ the broker noticed at once, reconnected with backoff and re-registered ${stats.registrationsAcked} registrations`,
      );
      say(
        `     ${ms(elapsed)} after the restart (nsqd v1.3.0 waits for its next 15 s heartbeat: 17-28 s measured)`,
      );
      say(
        `     loop.status(): ${stats.state}, in sync ${stats.registrationsAcked}/${stats.registrationsExpected}, ` +
          `${stats.connects} connections, last error ${stats.lastError?.code ?? 'none'} (${stats.lastError?.message ?? ''})`,
      );
      await showLookup(new LookupdHttpClient(embedded.httpAddress), 'orders', say);
      say();
    }
    say(
      'Done. Next: `nsqd-lookup --help`, and the examples/ folder (a broker, fake producers, a heartbeat probe).',
    );
    return EXIT.ok;
  } catch (error) {
    process.stderr.write(`nsqd-lookup demo: ${(error as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await loop?.close();
    await embedded?.close();
  }
}

async function showLookup(
  http: LookupdHttpClient,
  topic: string,
  say: (text: string) => void,
): Promise<void> {
  const result = await http.lookup(topic);
  say(`   GET /lookup?topic=${topic}`);
  if (!result) {
    say('     404 TOPIC_NOT_FOUND');
    return;
  }
  const producers = result.producers.map((p) => `${p.hostname} ${p.broadcast_address}:${p.tcp_port}`);
  say(
    `     producers: ${producers.length ? producers.join(', ') : '(none: the name outlives its producers)'}`,
  );
  say(`     channels:  ${result.channels.length ? [...result.channels].sort().join(', ') : '(none)'}`);
}

/**
 * Resolves at `address`'s next event of `type`. The stream listens from this call on, so an event that
 * follows the caller's next step is not missed.
 */
function next(loop: LookupLoop, address: string, type: LoopEvent['type']): Promise<void> {
  const events = loop.events({ address });
  return (async () => {
    for await (const event of events) if (event.type === type) return;
  })().finally(() => events.return());
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(message, timeoutMs)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
