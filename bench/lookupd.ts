/**
 * Throughput of the embedded lookupd next to the real nsqlookupd (when NSQLOOKUPD_BIN is set), each
 * in its own process, driven from this one:
 *   - GET /lookup: a keep-alive agent with 16 requests in flight for a while, on a topic with 100
 *     producers and 10 channels, in a registry of about a thousand registrations;
 *   - pipelined REGISTER: one connection, IDENTIFY, then N REGISTER lines (N distinct channels of
 *     1000 topics, the same names every round) in a single burst, timed until the last OK arrives;
 *   - GET /lookup again, now that the registry also holds those N registrations (nsqlookupd scans
 *     its whole registry for the channels of one topic);
 *   - (benchDebugPing) the worst PING round trip while GET /debug of 100,000 registrations is
 *     fetched: whether a large HTTP answer stalls the producers' connections.
 * Both servers run with --log-level=warn: at nsqlookupd's default (info) each REGISTER writes a log
 * line, which would measure stderr rather than the server. Rounds alternate between the servers, and
 * the ratio pairs the rounds taken side by side.
 *
 *   npx tsx bench/lookupd.ts [--quick] [--json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { printRows, type Row, ratioOf, summarize } from './stats.js';

export interface BenchLookupdOptions {
  /** Rounds per measure and server (default 5, or 3 with `quick`). */
  rounds?: number;
  /** Smaller bursts and shorter windows, for a smoke run. */
  quick?: boolean;
  /** Progress lines (default: stderr). */
  log?: (text: string) => void;
}

interface Server {
  name: string;
  tcpPort: number;
  httpPort: number;
  close(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../lib/cli/bin.ts', import.meta.url));
const LOOKUP_TOPIC = 'bench-lookup';
const LOOKUP_PRODUCERS = 100;
const LOOKUP_CONCURRENCY = 16;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a lookupd process on two free ports and resolves once /ping answers. */
async function startServer(name: string, command: string, args: string[]): Promise<Server> {
  const tcpPort = await freePort();
  const httpPort = await freePort();
  const child: ChildProcess = spawn(
    command,
    [
      ...args,
      `--tcp-address=127.0.0.1:${tcpPort}`,
      `--http-address=127.0.0.1:${httpPort}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr}`);
    const ok = await httpGet(httpPort, '/ping', undefined).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    name,
    tcpPort,
    httpPort,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function httpGet(
  port: number,
  path: string,
  agent: Agent | undefined,
): Promise<{ status: number; length: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function identify(broadcastAddress: string): Buffer {
  const body = Buffer.from(
    JSON.stringify({
      broadcast_address: broadcastAddress,
      hostname: 'bench',
      http_port: 4151,
      tcp_port: 4150,
      version: '1.3.0',
    }),
  );
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([Buffer.from('IDENTIFY\n'), size, body]);
}

/** Opens a connection and resolves once `frames` answers arrived (counted, not kept). */
function converse(port: number, bytes: Buffer, frames: number): Promise<{ socket: Socket; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let pending: Buffer = Buffer.alloc(0);
    let seen = 0;
    let started = 0;
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${seen} of ${frames} answers`)));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      while (pending.length - offset >= 4) {
        const size = pending.readInt32BE(offset);
        if (pending.length - offset < 4 + size) break;
        if (pending.toString('latin1', offset + 4, offset + 6) === 'E_') {
          reject(new Error(`lookupd answered ${pending.toString('latin1', offset + 4, offset + 4 + size)}`));
        }
        offset += 4 + size;
        seen++;
      }
      pending = pending.subarray(offset);
      if (seen >= frames) {
        socket.removeAllListeners('close');
        resolve({ socket, ms: performance.now() - started });
      }
    });
    socket.once('connect', () => {
      started = performance.now();
      socket.write(bytes);
    });
  });
}

/** REGISTER lines per second for one burst of `count` on a fresh connection. */
async function registerBurst(server: Server, count: number, round: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`REGISTER burst-${i % 1000} c${Math.floor(i / 1000)}\n`);
  const burst = Buffer.concat([
    Buffer.from('  V1'),
    identify(`burst-${round}.example`),
    Buffer.from(lines.join('')),
  ]);
  const { socket, ms } = await converse(server.tcpPort, burst, 1 + count);
  socket.destroy();
  return (count / ms) * 1000;
}

/** Registers the producers /lookup will list; the sockets stay open while the lookups run. */
async function lookupFixture(server: Server): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let p = 0; p < LOOKUP_PRODUCERS; p++) {
    const lines = Array.from({ length: 10 }, (_, c) => `REGISTER ${LOOKUP_TOPIC} c${c}\n`).join('');
    const bytes = Buffer.concat([Buffer.from('  V1'), identify(`producer-${p}.example`), Buffer.from(lines)]);
    sockets.push((await converse(server.tcpPort, bytes, 11)).socket);
  }
  return sockets;
}

/** GET /lookup answered per second, `LOOKUP_CONCURRENCY` in flight on keep-alive connections. */
async function lookupRate(server: Server, seconds: number): Promise<number> {
  await lookupWindow(server, 0.3); // warm-up: connections open, code paths hot
  return lookupWindow(server, seconds);
}

async function lookupWindow(server: Server, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: LOOKUP_CONCURRENCY });
  const path = `/lookup?topic=${LOOKUP_TOPIC}`;
  try {
    const warm = await httpGet(server.httpPort, path, agent);
    if (warm.status !== 200 || warm.length < LOOKUP_PRODUCERS * 100) {
      throw new Error(`${server.name}: /lookup answered ${warm.status} with ${warm.length} bytes`);
    }
    let done = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < end) {
        const reply = await httpGet(server.httpPort, path, agent);
        if (reply.status !== 200) throw new Error(`${server.name}: /lookup answered ${reply.status}`);
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: LOOKUP_CONCURRENCY }, worker));
    return (done / (performance.now() - started)) * 1000;
  } finally {
    agent.destroy();
  }
}

/** Runs both measures on the embedded lookupd and, when NSQLOOKUPD_BIN is set, on the real one. */
export async function benchLookupd(options: BenchLookupdOptions = {}): Promise<Row[]> {
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 3 : 5);
  const registers = quick ? 30_000 : 100_000;
  const seconds = quick ? 0.7 : 1.5;
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const registerRates = new Map<string, number[]>();
  const lookupRates = new Map<string, number[]>();
  const bigLookupRates = new Map<string, number[]>();
  try {
    await startBothServers(servers, log);
    for (const server of servers) {
      sockets.push(...(await lookupFixture(server)));
      registerRates.set(server.name, []);
      lookupRates.set(server.name, []);
      bigLookupRates.set(server.name, []);
    }
    const phase = async (
      title: string,
      rates: Map<string, number[]>,
      measure: (s: Server, round: number) => Promise<number>,
    ) => {
      for (let round = 0; round < rounds; round++) {
        for (const server of servers) {
          const rate = await measure(server, round);
          rates.get(server.name)!.push(rate);
          log(`  ${title} round ${round + 1}/${rounds}, ${server.name}: ${rate.toFixed(0)}/s`);
        }
      }
    };
    await phase('GET /lookup', lookupRates, (server) => lookupRate(server, seconds));
    await phase('REGISTER burst', registerRates, (server, round) => registerBurst(server, registers, round));
    await phase('GET /lookup, big registry', bigLookupRates, (server) => lookupRate(server, seconds));
  } finally {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => s.close()));
  }
  const rows: Row[] = [];
  const realName = 'real nsqlookupd';
  const measures = [
    {
      rates: registerRates,
      measure: `pipelined REGISTER, ${registers / 1000}k in one burst`,
      unit: 'REGISTER/s',
    },
    {
      rates: lookupRates,
      measure: `GET /lookup (${LOOKUP_PRODUCERS} producers), ${LOOKUP_CONCURRENCY} in flight`,
      unit: 'req/s',
    },
    {
      rates: bigLookupRates,
      measure: `GET /lookup (${LOOKUP_PRODUCERS} producers) among ${registers / 1000}k more registrations`,
      unit: 'req/s',
    },
  ];
  for (const { rates, measure, unit } of measures) {
    for (const [name, values] of rates) {
      const real = rates.get(realName);
      rows.push({
        group: `lookupd: ${name}`,
        measure,
        value: summarize(values),
        unit,
        ...(name !== realName && real ? { ratio: { value: ratioOf(values, real), of: realName } } : {}),
      });
    }
  }
  return rows;
}

const DEBUG_PRODUCERS = 100;
const DEBUG_TOPICS_EACH = 1000;

/** A V1 connection, identified, that sends one PING at a time and times its answer. */
class Pinger {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #waiting: ((error?: Error) => void) | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 4 && this.#pending.length >= 4 + this.#pending.readInt32BE(0)) {
        this.#pending = this.#pending.subarray(4 + this.#pending.readInt32BE(0));
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting?.();
      }
    });
    socket.on('close', () => this.#waiting?.(new Error('the PING connection closed')));
  }

  /** One PING's round trip, in ms. */
  ping(): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      this.#waiting = (error) => (error ? reject(error) : resolve(performance.now() - started));
      this.#socket.write('PING\n');
    });
  }
}

/**
 * The slowest PING round trip on one producer connection while GET /debug of the whole registry is
 * fetched, PINGs sent back to back for as long as the fetch lasts; and how long the fetch took.
 */
async function pingDuringDebug(server: Server): Promise<{ maxPingMs: number; fetchMs: number }> {
  const { socket } = await converse(
    server.tcpPort,
    Buffer.concat([Buffer.from('  V1'), identify('pinger.example')]),
    1,
  );
  socket.removeAllListeners('data');
  try {
    const pinger = new Pinger(socket);
    let fetching = true;
    const started = performance.now();
    const fetched = httpGet(server.httpPort, '/debug', undefined).finally(() => {
      fetching = false;
    });
    let maxPingMs = 0;
    while (fetching) maxPingMs = Math.max(maxPingMs, await pinger.ping());
    const { status, length } = await fetched;
    const fetchMs = performance.now() - started;
    if (status !== 200 || length < DEBUG_PRODUCERS * DEBUG_TOPICS_EACH * 200) {
      throw new Error(`${server.name}: /debug answered ${status} with ${length} bytes`);
    }
    return { maxPingMs, fetchMs };
  } finally {
    socket.destroy();
  }
}

/**
 * The embedded lookupd in a process of its own, and the real one too when NSQLOOKUPD_BIN is set; each
 * is pushed as soon as it runs, so the caller's cleanup stops whatever started.
 */
async function startBothServers(servers: Server[], log: (text: string) => void): Promise<void> {
  servers.push(await startServer('embedded lookupd', process.execPath, ['--import', 'tsx', BIN, 'lookupd']));
  const real = process.env.NSQLOOKUPD_BIN;
  if (real) servers.push(await startServer('real nsqlookupd', real, []));
  else log('  (NSQLOOKUPD_BIN is not set: the embedded lookupd only)');
}

/**
 * PING round trips while /debug of 100,000 registrations (100 producers x 1,000 topics, about 30 MB)
 * is fetched, on the embedded lookupd and, when NSQLOOKUPD_BIN is set, on the real one: the worst
 * round trip a producer sees, against nsqd's 1 s read timeout, and the fetch time beside it.
 */
export async function benchDebugPing(options: BenchLookupdOptions = {}): Promise<Row[]> {
  const rounds = options.rounds ?? (options.quick ? 3 : 5);
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const pings = new Map<string, number[]>();
  const fetches = new Map<string, number[]>();
  try {
    await startBothServers(servers, log);
    for (const server of servers) {
      for (let p = 0; p < DEBUG_PRODUCERS; p++) {
        const lines = Array.from({ length: DEBUG_TOPICS_EACH }, (_, t) => `REGISTER debug-${p}-${t}\n`).join(
          '',
        );
        const bytes = Buffer.concat([
          Buffer.from('  V1'),
          identify(`debug-${p}.example`),
          Buffer.from(lines),
        ]);
        sockets.push((await converse(server.tcpPort, bytes, 1 + DEBUG_TOPICS_EACH)).socket);
      }
      pings.set(server.name, []);
      fetches.set(server.name, []);
    }
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        const { maxPingMs, fetchMs } = await pingDuringDebug(server);
        pings.get(server.name)!.push(maxPingMs);
        fetches.get(server.name)!.push(fetchMs);
        log(
          `  PING during /debug round ${round + 1}/${rounds}, ${server.name}: worst ${maxPingMs.toFixed(1)} ms, /debug ${fetchMs.toFixed(0)} ms`,
        );
      }
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => s.close()));
  }
  const realName = 'real nsqlookupd';
  const registrations = `${(DEBUG_PRODUCERS * DEBUG_TOPICS_EACH) / 1000}k`;
  const rows: Row[] = [];
  for (const [name, values] of pings) {
    const real = pings.get(realName);
    const ratio = name !== realName && real ? ratioOf(values, real) : undefined;
    rows.push({
      group: `lookupd: ${name}`,
      measure: `worst PING round trip while GET /debug of ${registrations} registrations`,
      value: summarize(values),
      unit: 'ms',
      ...(ratio
        ? { ratio: { value: ratio, of: realName }, goal: '<= 1x real', goalMet: ratio.median <= 1 }
        : {}),
    });
    const fetched = fetches.get(name)!;
    const realFetches = fetches.get(realName);
    rows.push({
      group: `lookupd: ${name}`,
      measure: `GET /debug of ${registrations} registrations, beside the PINGs`,
      value: summarize(fetched),
      unit: 'ms',
      ...(name !== realName && realFetches
        ? { ratio: { value: ratioOf(fetched, realFetches), of: realName } }
        : {}),
    });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = new Set(process.argv.slice(2));
  const started = Date.now();
  const rows = await benchLookupd({ quick: args.has('--quick') });
  printRows(rows, { json: args.has('--json'), started });
}
