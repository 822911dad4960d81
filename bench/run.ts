/**
 * `npm run bench`: every measurement in one run, side by side, reported as medians with spread and,
 * where there is a reference, as ratios paired round by round. `--json` prints the rows as JSON;
 * `--quick` runs fewer rounds; `--only=re-register,recovery,outage,storm,isolation,fleet,fleet-serving,fleet-command,codec,stalled,lookupd,lookupd-debug,broker-throughput,broker-throughput-tls,broker-throughput-snappy,broker-stats`
 * a subset. `outage` (a 60 s outage per target, 20 s with `--quick`) runs only when named in `--only`.
 * Against the embedded lookupd, and the real nsqlookupd too when NSQLOOKUPD_BIN is set; the broker
 * groups against `nsqd-lookup broker`, and the real nsqd too when NSQD_BIN is set.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ClientSockets } from '../harness/client-sockets.js';
import { FaultProxy } from '../harness/fault-proxy.js';
import { producerRegistrations } from '../harness/lookupd-view.js';
import { startNsqProcess } from '../harness/oracle.js';
import { LOOKUPD_TARGETS, type LookupdTarget, portOf } from '../harness/targets.js';
import { Backoff } from '../lib/loop/backoff.js';
import { LookupLoop, type PeerStatusEvent } from '../lib/loop/lookup-loop.js';
import { LookupPeer } from '../lib/peer/lookup-peer.js';
import { DEFAULT_MAX_BODY_BYTES, MAGIC_V1 } from '../lib/protocol/constants.js';
import { ResponseDecoder } from '../lib/protocol/decoder.js';
import { encodeIdentify, encodeRegister } from '../lib/protocol/encoder.js';
import { Registry } from '../lib/registry/registry.js';
import { benchBrokerStats, benchBrokerThroughput } from './broker.js';
import { benchFleetCommand } from './fleet-command.js';
import { benchFleetServing } from './fleet-serving.js';
import { benchDebugPing, benchLookupd } from './lookupd.js';
import { printRows, type Row, ratioOf, summarize } from './stats.js';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const ROUNDS = QUICK ? 3 : 5;
const IDENTITY = {
  broadcastAddress: '127.0.0.1',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
  hostname: 'bench',
};
const rows: Row[] = [];
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const BIN = new URL('../lib/cli/bin.ts', import.meta.url).pathname;
/** Groups too slow for the default run: only run when `--only` names them. */
const OPT_IN = new Set(['outage']);

// The embedded lookupd runs in a process of its own, as the real one does, so that the client being
// measured does not share its event loop with the server.
const BENCH_TARGETS: LookupdTarget[] = LOOKUPD_TARGETS.map((target) =>
  target.name.startsWith('embedded')
    ? {
        name: target.name,
        async start(ports = {}) {
          const server = await startNsqProcess(process.execPath, ['--import', 'tsx', BIN, 'lookupd'], {
            ...ports,
            extraArgs: ['--broadcast-address=127.0.0.1'],
          });
          return {
            tcpAddress: server.tcpAddress,
            httpAddress: server.httpAddress,
            close: () => server.close(),
          };
        },
      }
    : target,
);
const log = (text: string) => process.stderr.write(`${text}\n`);

function pairsRegistry(pairs: number): Registry {
  const registry = new Registry();
  const channelsPerTopic = 100;
  for (let i = 0; i < pairs; i++)
    registry.addChannel(`topic-${Math.floor(i / channelsPerTopic)}`, `channel-${i % channelsPerTopic}`);
  return registry;
}

function onceConnected(loop: LookupLoop, address: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (which: string) => {
      if (which === address) {
        loop.off('connect', listener);
        resolve();
      }
    };
    loop.on('connect', listener);
  });
}

/** 1. Re-registration of 10,000 pairs on connect: LookupLoop vs one-at-a-time vs raw burst. */
async function benchReregister(target: LookupdTarget): Promise<void> {
  const pairs = 10_000;
  const registry = pairsRegistry(pairs);
  const commands = [...registry.registrations()].map(({ topic, channel }) => encodeRegister(topic, channel));
  const loopMs: number[] = [];
  const serialMs: number[] = [];
  const rawMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    {
      const server = await target.start();
      const loop = new LookupLoop({
        addresses: [server.tcpAddress],
        identity: IDENTITY,
        registry,
        readTimeoutMs: 10_000,
      });
      const connected = onceConnected(loop, server.tcpAddress);
      const t0 = performance.now();
      loop.start();
      await connected;
      loopMs.push(performance.now() - t0);
      await loop.close();
      await server.close();
    }
    {
      const server = await target.start();
      const peer = new LookupPeer(server.tcpAddress, {
        readTimeoutMs: 10_000,
        // nsqd's connect callback: one round trip per command.
        onConnect: async (p) => {
          await p.identify(IDENTITY);
          for (const command of commands) await p.command(command);
        },
      });
      const t0 = performance.now();
      await peer.connect();
      serialMs.push(performance.now() - t0);
      await peer.close();
      await server.close();
    }
    {
      const server = await target.start();
      const t0 = performance.now();
      await rawBurst(
        server.tcpAddress,
        Buffer.concat([MAGIC_V1, encodeIdentify(IDENTITY), ...commands]),
        commands.length + 1,
      );
      rawMs.push(performance.now() - t0);
      await server.close();
    }
  }
  const group = `re-register ${pairs} pairs (${target.name})`;
  const vsRaw = ratioOf(loopMs, rawMs);
  const serialVsLoop = ratioOf(serialMs, loopMs);
  rows.push({ group, measure: 'raw socket, one burst (ceiling)', value: summarize(rawMs), unit: 'ms' });
  rows.push({
    group,
    measure: 'LookupLoop (pipelined)',
    value: summarize(loopMs),
    unit: 'ms',
    ratio: { value: vsRaw, of: 'the raw burst' },
    goal: '<= 1.2x raw',
    goalMet: vsRaw.median <= 1.2,
  });
  rows.push({
    group,
    measure: 'nsqd-style, one round trip each',
    value: summarize(serialMs),
    unit: 'ms',
    ratio: { value: serialVsLoop, of: 'LookupLoop' },
    goal: '>= 2.5x LookupLoop',
    goalMet: serialVsLoop.median >= 2.5,
  });
}

async function rawBurst(address: string, bytes: Buffer, responses: number): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), portOf(address)];
  const socket = net.connect({ host, port });
  await once(socket, 'connect');
  socket.setNoDelay(true);
  const decoder = new ResponseDecoder();
  let seen = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      decoder.parse(chunk, () => {
        seen++;
      });
      if (seen >= responses) resolve();
    });
    socket.on('error', reject);
  });
  socket.write(bytes);
  await done;
  socket.destroy();
}

/** 2. Recovery: lookupd restarted on the same port; time until its HTTP view lists all 1,000 again. */
async function benchRecovery(target: LookupdTarget): Promise<void> {
  const registry = pairsRegistry(1000);
  const expected = registry.size + registry.topicCount;
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let server = await target.start();
    const loop = new LookupLoop({ addresses: [server.tcpAddress], identity: IDENTITY, registry });
    const connected = onceConnected(loop, server.tcpAddress);
    loop.start();
    await connected;
    const ports = { tcpPort: portOf(server.tcpAddress), httpPort: portOf(server.httpAddress) };
    await server.close();
    server = await target.start(ports);
    const t0 = performance.now();
    while ((await producerRegistrations(server.httpAddress, IDENTITY)).length < expected) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    times.push(performance.now() - t0);
    await loop.close();
    await server.close();
  }
  const value = summarize(times);
  rows.push({
    group: `recovery (${target.name})`,
    measure: 'restart → HTTP view lists all 1,000 registrations',
    value,
    unit: 'ms',
    goal: '< 1000 ms (nsqd v1.3.0: 17-28 s)',
    goalMet: value.median < 1000,
  });
}

/** `retry-scheduled` delays of the events seen so far, for one address. */
function retryDelays(events: PeerStatusEvent[], address: string): number[] {
  return events.flatMap((e) => (e.type === 'retry-scheduled' && e.address === address ? [e.delayMs] : []));
}

/**
 * 2b. Recovery after a long outage, with the default LookupLoop options: lookupd down for 60 s (20 s
 * with --quick), restarted on the same ports; time from it listening again until its HTTP view lists
 * all 1,000 registrations. One round per target: the outage is the wait.
 */
async function benchOutage(target: LookupdTarget): Promise<void> {
  const outageMs = QUICK ? 20_000 : 60_000;
  const registry = pairsRegistry(1000);
  const expected = registry.size + registry.topicCount;
  let server = await target.start();
  const address = server.tcpAddress;
  const loop = new LookupLoop({ addresses: [address], identity: IDENTITY, registry });
  const events: PeerStatusEvent[] = [];
  loop.on('status', (event) => events.push(event));
  const connected = onceConnected(loop, address);
  loop.start();
  await connected;
  const ports = { tcpPort: portOf(address), httpPort: portOf(server.httpAddress) };
  await server.close();
  const down = events.length;
  await new Promise((resolve) => setTimeout(resolve, outageMs));
  const outageEvents = events.slice(down);
  server = await target.start(ports);
  const t0 = performance.now();
  while ((await producerRegistrations(server.httpAddress, IDENTITY)).length < expected) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const listedMs = performance.now() - t0;
  await loop.close();
  await server.close();
  const group = `outage ${outageMs / 1000} s, default options, 1 round (${target.name})`;
  const value = summarize([listedMs]);
  rows.push({
    group,
    measure: 'lookupd listening again → HTTP view lists all 1,000 registrations',
    value,
    unit: 'ms',
    goal: '< 2500 ms after lookupd listens',
    goalMet: value.median < 2500,
  });
  const delays = summarize(retryDelays(outageEvents, address));
  const cap = new Backoff().maxDelayMs;
  rows.push({
    group,
    measure: `reconnect delays during the outage (${delays.rounds} retries)`,
    value: delays,
    unit: 'ms',
    goal: `<= maxDelayMs (${cap} ms)`,
    goalMet: delays.max <= cap,
  });
}

/**
 * Most attempts the default schedule allows in [fromMs, toMs) of a run whose first attempt is at 0:
 * every delay at its shortest (half its ceiling, with jitter), connection time left out.
 */
function scheduleMaxAttempts(fromMs: number, toMs: number): number {
  const schedule = new Backoff({ random: () => 0 });
  let attempts = 0;
  for (let at = 0; at < toMs; at += schedule.next()) if (at >= fromMs) attempts++;
  return attempts;
}

/**
 * 2c. Reconnects per second, default options, for 10 s: against a lookupd that accepts, answers
 * IDENTIFY and the whole re-registration (1,000 REGISTER) and then closes (a proxy in front of the
 * target), and, side by side in the same seconds, against a port nobody listens on.
 */
async function benchStorm(target: LookupdTarget): Promise<void> {
  const windowMs = 10_000;
  const capFromMs = 5_000;
  const registry = pairsRegistry(1000);
  const server = await target.start();
  const proxy = await FaultProxy.start(server.tcpAddress);
  await proxy.setFault({ type: 'close-after', afterFrames: 1 + registry.size });
  const nobody = net.createServer();
  nobody.listen(0, '127.0.0.1');
  await once(nobody, 'listening');
  const refused = `127.0.0.1:${(nobody.address() as net.AddressInfo).port}`;
  await new Promise((resolve) => nobody.close(resolve));
  const cases = [
    { name: 'accept-and-drop', address: proxy.address },
    { name: 'refused dial', address: refused },
  ];
  const runs = cases.map(({ address }) => {
    const events: Array<PeerStatusEvent & { sinceStartMs: number }> = [];
    const loop = new LookupLoop({ addresses: [address], identity: IDENTITY, registry });
    return { address, loop, events };
  });
  const t0 = performance.now();
  for (const { loop, events } of runs) {
    loop.on('status', (event) => events.push({ ...event, sinceStartMs: performance.now() - t0 }));
    loop.start();
  }
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  await Promise.all(runs.map(({ loop }) => loop.close()));
  const connectedDrops = runs[0]!.events.filter((e) => e.type === 'connected').length;
  await proxy.stop();
  await server.close();
  const attempts = (events: Array<PeerStatusEvent & { sinceStartMs: number }>, fromMs: number) =>
    events.filter((e) => e.type === 'connecting' && e.sinceStartMs >= fromMs && e.sinceStartMs < windowMs)
      .length;
  const defaults = new Backoff();
  const allowed = scheduleMaxAttempts(0, windowMs);
  const allowedAtCap = scheduleMaxAttempts(capFromMs, windowMs);
  const rates = runs.map(({ events }) => (attempts(events, 0) / windowMs) * 1000);
  const group = `storm, default options, ${windowMs / 1000} s, 1 round (${target.name})`;
  cases.forEach(({ name }, i) => {
    const { events, address } = runs[i]!;
    const total = attempts(events, 0);
    const atCap = attempts(events, capFromMs);
    rows.push({
      group,
      measure:
        i === 0
          ? `${name} (IDENTIFY + 1,000 REGISTER answered, then closed): connections/s (${connectedDrops} re-registered)`
          : `${name} (nothing listening): connections/s`,
      value: summarize([rates[i]!]),
      unit: 'conn/s',
      ...(i === 0 ? { ratio: { value: ratioOf([rates[0]!], [rates[1]!]), of: 'the refused dial' } } : {}),
      goal: `the backoff's schedule (<= 1 per ${defaults.initialDelayMs}..${defaults.maxDelayMs} ms: <= ${allowed} in ${windowMs / 1000} s)`,
      goalMet: total <= allowed,
    });
    rows.push({
      group,
      measure: `${name}: connections/s from ${capFromMs / 1000} s on (at the ${defaults.maxDelayMs} ms cap)`,
      value: summarize([(atCap / (windowMs - capFromMs)) * 1000]),
      unit: 'conn/s',
      goal: `0.5-1/s (<= ${allowedAtCap} in ${(windowMs - capFromMs) / 1000} s)`,
      goalMet: atCap <= allowedAtCap,
    });
    const delays = summarize(retryDelays(events, address));
    rows.push({
      group,
      measure: `${name}: retry-scheduled delayMs (${delays.rounds} retries)`,
      value: delays,
      unit: 'ms',
      goal: `<= maxDelayMs (${defaults.maxDelayMs} ms)`,
      goalMet: delays.max <= defaults.maxDelayMs,
    });
  });
}

/** 3. Isolation: a silent lookupd beside a healthy one; 20 new topics reach the healthy one. */
async function benchIsolation(target: LookupdTarget): Promise<void> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const healthy = await target.start();
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const registry = new Registry();
    const loop = new LookupLoop({
      addresses: [silentAddress, healthy.tcpAddress],
      identity: IDENTITY,
      registry,
    });
    const connected = onceConnected(loop, healthy.tcpAddress);
    loop.start();
    await connected;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) registry.addTopic(`isolated-${i}`);
    while ((await producerRegistrations(healthy.httpAddress, IDENTITY)).length < 20) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    times.push(performance.now() - t0);
    await loop.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
    await healthy.close();
  }
  const value = summarize(times);
  rows.push({
    group: `isolation (${target.name})`,
    measure: '20 new topics reach the healthy lookupd beside a silent one',
    value,
    unit: 'ms',
    goal: '< 100 ms (nsqd v1.3.0: 21 s)',
    goalMet: value.median < 100,
  });
}

/** 4. Fake producers from one process: time to registered, RSS per producer, event-loop delay. */
async function benchFleet(target: LookupdTarget, producers: number, rounds: number): Promise<void> {
  const registered: number[] = [];
  const rss: number[] = [];
  const rssAtRegistered: number[] = [];
  const delayP99: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const server = await target.start();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        new URL('./fleet-child.ts', import.meta.url).pathname,
        server.tcpAddress,
        String(producers),
      ],
      { maxBuffer: 1 << 20 },
    );
    await server.close();
    const result = JSON.parse(stdout) as {
      registeredMs: number;
      rssPerProducerKiB: number;
      rssPerProducerAtRegisteredKiB: number;
      eventLoopDelayP99Ms: number;
      inSync: boolean;
    };
    if (!result.inSync) throw new Error(`fleet of ${producers} did not get in sync`);
    registered.push(result.registeredMs);
    rss.push(result.rssPerProducerKiB);
    rssAtRegistered.push(result.rssPerProducerAtRegisteredKiB);
    delayP99.push(result.eventLoopDelayP99Ms);
  }
  const group = `${producers} fake producers x 10 registrations (${target.name})`;
  const memory = summarize(rss);
  rows.push({ group, measure: 'time until all registered', value: summarize(registered), unit: 'ms' });
  rows.push({
    group,
    measure: 'RSS per producer, right after all registered (after GC)',
    value: summarize(rssAtRegistered),
    unit: 'KiB',
  });
  rows.push({
    group,
    measure: 'RSS per producer, steady (3 s later, after GC)',
    value: memory,
    unit: 'KiB',
    goal: '< 20 KiB',
    goalMet: memory.median < 20,
  });
  rows.push({
    group,
    measure: 'event-loop delay p99 (fleet process)',
    value: summarize(delayP99),
    unit: 'ms',
  });
}

/** 6. Codec rates, against a decoder that concatenates every chunk (as nsqjs's FrameBuffer does). */
function benchCodec(): void {
  const encodeRates: number[] = [];
  const decodeRates: number[] = [];
  const naiveRates: number[] = [];
  const frames = 200_000;
  const frame = Buffer.from([0, 0, 0, 2, 0x4f, 0x4b]);
  const stream = Buffer.concat(Array.from({ length: frames }, () => frame));
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 1500) chunks.push(stream.subarray(i, i + 1500));
  for (let round = 0; round < ROUNDS; round++) {
    let t0 = performance.now();
    const n = 300_000;
    for (let i = 0; i < n; i++) encodeRegister('topic-name', `channel-${i & 1023}`);
    encodeRates.push(n / ((performance.now() - t0) / 1000));

    const decoder = new ResponseDecoder();
    let count = 0;
    t0 = performance.now();
    for (const chunk of chunks) decoder.parse(chunk, () => count++);
    decodeRates.push(count / ((performance.now() - t0) / 1000));

    count = 0;
    let buffer = Buffer.alloc(0);
    t0 = performance.now();
    for (const chunk of chunks) {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4) {
        const size = buffer.readInt32BE(0);
        if (buffer.length < 4 + size) break;
        buffer.subarray(4, 4 + size);
        buffer = buffer.subarray(4 + size);
        count++;
      }
    }
    naiveRates.push(count / ((performance.now() - t0) / 1000));
  }
  rows.push({
    group: 'codec',
    measure: 'encode REGISTER topic channel',
    value: summarize(encodeRates),
    unit: 'ops/s',
  });
  rows.push({
    group: 'codec',
    measure: 'decode OK frames (1500-byte chunks)',
    value: summarize(decodeRates),
    unit: 'frames/s',
    ratio: { value: ratioOf(decodeRates, naiveRates), of: 'concat-per-chunk decoder' },
  });
}

/**
 * 7. Buffer memory held by peers whose lookupd announced a 5 MiB answer and sent a few bytes of it, in
 * two reads (the size prefix, then the bytes), then stalled: process.memoryUsage().arrayBuffers after
 * a GC, against the same peers connected and idle. The server runs in this process: it holds nothing
 * but its sockets.
 */
async function benchStalledPeers(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const arrayBuffers = () => {
    gc();
    gc();
    return process.memoryUsage().arrayBuffers;
  };
  const peerCount = 300;
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(DEFAULT_MAX_BODY_BYTES);
  const rest = Buffer.from('abc');
  const held: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const clients = new ClientSockets();
    const accepted: net.Socket[] = [];
    const stalled: Promise<void>[] = [];
    let allAnswering!: () => void;
    const answering = new Promise<void>((resolve) => {
      allAnswering = resolve;
    });
    const server = net.createServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => {});
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        if (!seen.includes('PING\n')) return;
        seen = '';
        socket.write(prefix);
        stalled.push(
          clients.received(socket, prefix.length).then(async () => {
            socket.write(rest);
            await clients.received(socket, prefix.length + rest.length);
          }),
        );
        if (stalled.length === peerCount) allAnswering();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const peers = Array.from(
      { length: peerCount },
      () => new LookupPeer(address, { readTimeoutMs: 600_000, dialTimeoutMs: 10_000 }),
    );
    await Promise.all(peers.map((p) => p.connect()));
    const idle = arrayBuffers();
    const pings = peers.map((p) => p.ping().catch(() => {}));
    await answering;
    await Promise.all(stalled);
    held.push(arrayBuffers() - idle);
    clients.uninstall();
    for (const socket of accepted) socket.destroy();
    await Promise.all([...pings, ...peers.map((p) => p.close())]);
    await new Promise((resolve) => server.close(resolve));
  }
  const perPeer = held.map((bytes) => bytes / peerCount);
  const received = prefix.length + rest.length;
  rows.push({
    group: `stalled peers (${peerCount}, 5 MiB declared, ${received} B sent)`,
    measure: 'buffer memory held, all peers (arrayBuffers)',
    value: summarize(held.map((bytes) => bytes / 1024)),
    unit: 'KiB',
  });
  rows.push({
    group: `stalled peers (${peerCount}, 5 MiB declared, ${received} B sent)`,
    measure: 'buffer memory held per peer',
    value: summarize(perPeer),
    unit: 'B',
    goal: 'proportional to bytes received: < 4 KiB/peer',
    goalMet: summarize(perPeer).median < 4096,
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`nsqd-lookup bench: ${ROUNDS} rounds; targets: ${BENCH_TARGETS.map((t) => t.name).join(', ')}`);
  const wanted = (name: string) => (ONLY ? ONLY.includes(name) : !OPT_IN.has(name));
  if (wanted('codec')) benchCodec();
  if (wanted('stalled')) {
    log('- stalled peers');
    await benchStalledPeers();
  }
  for (const target of BENCH_TARGETS) {
    const groups: Array<[string, () => Promise<void>]> = [
      ['re-register', () => benchReregister(target)],
      ['recovery', () => benchRecovery(target)],
      ['outage', () => benchOutage(target)],
      ['storm', () => benchStorm(target)],
      ['isolation', () => benchIsolation(target)],
      ['fleet', () => benchFleet(target, 1000, QUICK ? 1 : 3)],
      ['fleet', () => benchFleet(target, 10_000, QUICK ? 1 : 2)],
      ['fleet-serving', async () => void rows.push(...(await benchFleetServing(target, QUICK ? 1 : 3)))],
      ['fleet-command', async () => void rows.push(...(await benchFleetCommand(target, QUICK ? 1 : 2)))],
    ];
    for (const [name, run] of groups) {
      if (!wanted(name)) continue;
      log(`- ${target.name}: ${name}`);
      await run();
    }
  }
  if (wanted('lookupd')) {
    log('- lookupd throughput');
    rows.push(...(await benchLookupd({ rounds: ROUNDS, quick: QUICK })));
  }
  if (wanted('lookupd-debug')) {
    log('- lookupd: PING round trips during GET /debug');
    rows.push(...(await benchDebugPing({ rounds: ROUNDS, quick: QUICK })));
  }
  if (wanted('broker-throughput')) {
    log('- broker: PUB-to-consumer throughput');
    rows.push(...(await benchBrokerThroughput({ rounds: ROUNDS, quick: QUICK })));
  }
  for (const transport of ['tls', 'snappy'] as const) {
    if (!wanted(`broker-throughput-${transport}`)) continue;
    log(`- broker: PUB-to-consumer throughput over ${transport}`);
    rows.push(...(await benchBrokerThroughput({ rounds: ROUNDS, quick: QUICK, transport })));
  }
  if (wanted('broker-stats')) {
    log('- broker: GET /stats latency');
    rows.push(...(await benchBrokerStats({ rounds: ROUNDS, quick: QUICK })));
  }
  printRows(rows, { json: args.has('--json'), started });
}

await main();
