/**
 * The broker (`nsqd-lookup broker`) next to the real nsqd (when NSQD_BIN is set), each in a process
 * of its own, driven from this one:
 *   - broker-throughput: one producer connection publishing MPUB batches and one consumer connection
 *     (SUB, RDY 2500, a FIN for every message, written once per chunk read), on a raw V2 client that
 *     is the same for both servers. A round is timed from the first MPUB written until the consumer
 *     has received every message. The producer stays at most WINDOW messages ahead of the consumer,
 *     below the default --mem-queue-size, so neither server spills to disk or refuses a batch. The
 *     same driver against a trivial V2 sink (bench/v2-sink.ts, which relays nothing) is the driver's
 *     own ceiling; the CPU of the bench process and of the server during each round is the split.
 *     Both connections ask for output_buffer_timeout 25 ms (nsqd's smallest), so nsqd does not hold
 *     the last partial buffer of a round back for its default 250 ms.
 *   - broker-stats: GET /stats?format=json with 10 topics x 2 channels created on both over HTTP,
 *     sequential requests on one keep-alive connection; median and p99 per round.
 * Rounds alternate between the servers; ratios pair the rounds taken side by side.
 *
 *   npx tsx bench/broker.ts [--quick] [--json]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NSQD_BIN, type RealLookupd, startNsqProcess } from '../harness/oracle.js';
import { SnappyFramer, SnappyUnframer } from '../lib/broker/snappy-stream.js';
import { printRows, type Row, ratioOf, summarize } from './stats.js';

/** How the driver's connections talk: plain V2, or upgraded in IDENTIFY to TLS or to snappy. */
export type Transport = 'plain' | 'tls' | 'snappy';

/** The test certificate both servers present for the TLS rounds (the driver does not verify it). */
const CERTS = fileURLToPath(new URL('../spec/fixtures/tls/', import.meta.url));
const TLS_FLAGS = [`--tls-cert=${CERTS}server.pem`, `--tls-key=${CERTS}server.key`];

export interface BenchBrokerOptions {
  /** Rounds per measure and server (default 5, or 3 with `quick`). */
  rounds?: number;
  /** Fewer messages per round, for a smoke run. */
  quick?: boolean;
  /** Progress lines (default: stderr). */
  log?: (text: string) => void;
  /** broker-throughput over TLS or snappy instead of plain V2 (no sink then; goal 0.7x). */
  transport?: Transport;
}

interface Server extends V2Target {
  process: RealLookupd;
  close(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../lib/cli/bin.ts', import.meta.url));
const SINK = fileURLToPath(new URL('./v2-sink.ts', import.meta.url));
const BROKER = 'nsqd-lookup broker';
const REAL = 'real nsqd';
const SINK_NAME = 'trivial V2 sink';
const BODY_SIZE = 100;
const BATCH = 100;
/** MPUBs written and not yet answered. */
const MAX_UNANSWERED = 8;
/** Messages published and not yet received by the consumer: below --mem-queue-size (10,000). */
const WINDOW = 5000;
const RDY = 2500;
const FIN_LENGTH = 4 + 16 + 1;
const CLOCK_TICKS_PER_S = 100;
const NOP = Buffer.from('NOP\n');

function targetOf(name: string, child: RealLookupd): V2Target {
  return { name, tcpAddress: child.tcpAddress, httpAddress: child.httpAddress, pid: child.process.pid };
}

async function startBroker(): Promise<Server> {
  const child = await startNsqProcess(process.execPath, ['--import', 'tsx', BIN, 'broker'], {
    extraArgs: TLS_FLAGS,
  });
  return { ...targetOf(BROKER, child), process: child, close: () => child.close() };
}

async function startReal(bin: string): Promise<Server> {
  const dataPath = await mkdtemp(join(tmpdir(), 'nsqd-bench-'));
  const child = await startNsqProcess(bin, [], {
    extraArgs: [`--data-path=${dataPath}`, '--https-address=127.0.0.1:0', ...TLS_FLAGS],
  });
  return {
    ...targetOf(REAL, child),
    process: child,
    async close() {
      await child.close();
      await rm(dataPath, { recursive: true, force: true });
    },
  };
}

async function startSink(): Promise<Server> {
  const child = await startNsqProcess(process.execPath, ['--import', 'tsx', SINK], {
    extraArgs: [`--body-size=${BODY_SIZE}`],
  });
  return { ...targetOf(SINK_NAME, child), process: child, close: () => child.close() };
}

/** Starts each server, pushing it as soon as it runs so the caller's cleanup stops whatever started. */
async function startServers(
  servers: Server[],
  withSink: boolean,
  log: (text: string) => void,
): Promise<void> {
  if (withSink) servers.push(await startSink());
  servers.push(await startBroker());
  if (NSQD_BIN) servers.push(await startReal(NSQD_BIN));
  else log('  (NSQD_BIN is not set: the broker only)');
}

/** CPU seconds (user + system) the process has used so far, from /proc; undefined where there is none. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

function command(line: string, body?: Buffer): Buffer {
  if (!body) return Buffer.from(`${line}\n`, 'latin1');
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([Buffer.from(`${line}\n`, 'latin1'), size, body]);
}

type FrameHandler = (type: number, buffer: Buffer, start: number, end: number) => void;

/** A raw V2 connection: frames in, bytes out; a partial frame is kept for the next chunk. */
class V2Connection {
  socket: Socket;
  onFrame: FrameHandler = () => {};
  #framer: SnappyFramer | undefined;
  #unframer: SnappyUnframer | undefined;
  #corked: Buffer[] | undefined;
  /** Set until IDENTIFY is answered: the bytes after that answer may be TLS or snappy, kept here. */
  #afterIdentify: Buffer[] | undefined = [];
  readonly #onRaw = (chunk: Buffer) => this.#received(chunk);
  /** Called after every chunk's frames were handled. */
  onChunk: () => void = () => {};
  #rest: Buffer | undefined;
  #failed: ((error: Error) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', this.#onRaw);
    socket.on('error', (error) => this.#failed?.(error));
    socket.on('close', () => this.#failed?.(new Error('the server closed the connection')));
  }

  static async open(
    address: string,
    identify: Record<string, unknown>,
    transport: Transport = 'plain',
  ): Promise<V2Connection> {
    const colon = address.lastIndexOf(':');
    const socket = connect(Number(address.slice(colon + 1)), address.slice(0, colon));
    const connection = new V2Connection(socket);
    const fields =
      transport === 'plain'
        ? identify
        : {
            ...identify,
            feature_negotiation: true,
            tls_v1: transport === 'tls',
            snappy: transport === 'snappy',
          };
    socket.write(
      Buffer.concat([Buffer.from('  V2'), command('IDENTIFY', Buffer.from(JSON.stringify(fields)))]),
    );
    const answer = await connection.response();
    const after = Buffer.concat(connection.#afterIdentify ?? []);
    connection.#afterIdentify = undefined;
    if (transport === 'tls') {
      if (!answer.includes('"tls_v1":true')) throw new Error(`TLS not negotiated: ${answer}`);
      socket.off('data', connection.#onRaw);
      const secure = connectTls({ socket, rejectUnauthorized: false });
      secure.on('data', connection.#onRaw);
      secure.on('error', (error) => connection.#failed?.(error));
      connection.socket = secure;
      await connection.response();
    } else if (transport === 'snappy') {
      if (!answer.includes('"snappy":true')) throw new Error(`snappy not negotiated: ${answer}`);
      connection.#framer = new SnappyFramer();
      connection.#unframer = new SnappyUnframer();
      const ok = connection.response();
      connection.#received(after);
      await ok;
    } else if (after.length > 0) {
      connection.#onData(after);
    }
    return connection;
  }

  /** Writes bytes, snappy-framed when negotiated; between cork() and uncork(), framed as one. */
  write(bytes: Buffer): void {
    if (this.#corked) this.#corked.push(bytes);
    else this.socket.write(this.#framer ? this.#framer.frame(bytes) : bytes);
  }

  cork(): void {
    if (this.#framer) this.#corked ??= [];
    else this.socket.cork();
  }

  uncork(): void {
    if (!this.#framer) {
      this.socket.uncork();
      return;
    }
    const parts = this.#corked ?? [];
    this.#corked = undefined;
    if (parts.length > 0) this.write(Buffer.concat(parts));
  }

  /** The next frame, which must be a response (OK). */
  response(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.onFrame = (type, buffer, start, end) => {
        const text = buffer.toString('latin1', start, end);
        this.#failed = undefined;
        if (type === 0) resolve(text);
        else reject(new Error(`answered ${text}`));
      };
    });
  }

  /** Errors (and the server hanging up) reject `reject` from now on. */
  failWith(reject: ((error: Error) => void) | undefined): void {
    this.#failed = reject;
  }

  close(): void {
    this.#failed = undefined;
    this.socket.destroy();
  }

  #received(chunk: Buffer): void {
    if (this.#afterIdentify && this.#afterIdentify.length > 0) {
      this.#afterIdentify.push(chunk);
      return;
    }
    if (!this.#unframer) {
      this.#onData(chunk);
      return;
    }
    try {
      for (const part of this.#unframer.push(chunk)) this.#onData(part);
    } catch (error) {
      this.#failed?.(error as Error);
    }
  }

  #onData(chunk: Buffer): void {
    let buffer = chunk;
    if (this.#rest) {
      buffer = Buffer.concat([this.#rest, chunk]);
      this.#rest = undefined;
    }
    let offset = 0;
    while (buffer.length - offset >= 8) {
      const size = buffer.readInt32BE(offset);
      if (buffer.length - offset < 4 + size) break;
      this.onFrame(buffer.readInt32BE(offset + 4), buffer, offset + 8, offset + 4 + size);
      offset += 4 + size;
      if (this.#afterIdentify) {
        this.#afterIdentify.push(buffer.subarray(offset));
        return;
      }
    }
    if (offset < buffer.length) this.#rest = buffer.subarray(offset);
    this.onChunk();
  }
}

interface ThroughputRound {
  /** Messages per second, first MPUB written to last message received. */
  rate: number;
  /** CPU of the bench process (the driver) over the round, in % of one core. */
  driverCpu: number;
  /** CPU of the server process over the round, in % of one core (NaN without /proc). */
  serverCpu: number;
}

/** A V2 server to drive: its addresses, and its process for the CPU split. */
export interface V2Target {
  name: string;
  tcpAddress: string;
  httpAddress: string;
  pid: number | undefined;
}

/**
 * `messages` through `server`: one producer, one consumer, a fresh topic deleted afterwards. Exported
 * for profiling a server started by hand (e.g. the broker under `node --cpu-prof`).
 */
export async function throughputRound(
  server: V2Target,
  topic: string,
  messages: number,
  transport: Transport = 'plain',
): Promise<ThroughputRound> {
  const { tcpAddress, httpAddress, pid } = server;
  const identify = {
    client_id: 'bench',
    hostname: 'bench',
    feature_negotiation: false,
    // nsqd's smallest: the last partial buffer of a round reaches the consumer within 25 ms, not 250.
    output_buffer_timeout: 25,
  };
  const consumer = await V2Connection.open(tcpAddress, identify, transport);
  const producer = await V2Connection.open(tcpAddress, identify, transport);
  try {
    consumer.write(command(`SUB ${topic} bench`));
    await consumer.response();
    consumer.write(command(`RDY ${RDY}`));

    const body = Buffer.alloc(4 + BATCH * (4 + BODY_SIZE), 0x78);
    body.writeInt32BE(BATCH, 0);
    for (let i = 0; i < BATCH; i++) body.writeInt32BE(BODY_SIZE, 4 + i * (4 + BODY_SIZE));
    const mpub = command(`MPUB ${topic}`, body);

    let sent = 0;
    let unanswered = 0;
    let received = 0;
    const serverCpu0 = processCpuSeconds(pid);
    const driverCpu0 = process.cpuUsage();
    const started = performance.now();
    const done = new Promise<number>((resolve, reject) => {
      consumer.failWith(reject);
      producer.failWith(reject);
      const publish = () => {
        producer.cork();
        while (unanswered < MAX_UNANSWERED && sent < messages && sent - received + BATCH <= WINDOW) {
          producer.write(mpub);
          sent += BATCH;
          unanswered++;
        }
        producer.uncork();
      };
      producer.onFrame = (type, buffer, start, end) => {
        if (type !== 0)
          reject(new Error(`${server.name}: MPUB answered ${buffer.toString('latin1', start, end)}`));
        else if (end - start === 2)
          unanswered--; // OK
        else producer.write(NOP); // a heartbeat
      };
      producer.onChunk = publish;
      let fins: Buffer[] = [];
      consumer.onFrame = (type, buffer, start, end) => {
        if (type === 2) {
          const fin = Buffer.allocUnsafe(FIN_LENGTH);
          fin.write('FIN ', 0, 'latin1');
          buffer.copy(fin, 4, start + 10, start + 26);
          fin[FIN_LENGTH - 1] = 0x0a;
          fins.push(fin);
          received++;
        } else if (type === 0 && end - start !== 2) {
          consumer.write(NOP); // a heartbeat
        } else if (type === 1) {
          reject(new Error(`${server.name}: consumer got ${buffer.toString('latin1', start, start + 100)}`));
        }
      };
      consumer.onChunk = () => {
        if (fins.length > 0) {
          consumer.write(fins.length === 1 ? fins[0]! : Buffer.concat(fins));
          fins = [];
        }
        if (received >= messages) resolve(performance.now());
        else publish();
      };
      publish();
    });
    const ended = await done;
    const driverCpu = process.cpuUsage(driverCpu0);
    const serverCpu1 = processCpuSeconds(pid);
    const seconds = (ended - started) / 1000;
    return {
      rate: messages / seconds,
      driverCpu: ((driverCpu.user + driverCpu.system) / 1e6 / seconds) * 100,
      serverCpu:
        serverCpu0 === undefined || serverCpu1 === undefined
          ? Number.NaN
          : ((serverCpu1 - serverCpu0) / seconds) * 100,
    };
  } finally {
    consumer.close();
    producer.close();
    // Drops whatever a FIN still on its way leaves in flight, so no round leaves work behind.
    await httpCall(httpAddress, 'POST', `/topic/delete?topic=${topic}`, undefined);
  }
}

function httpCall(
  address: string,
  method: 'GET' | 'POST',
  path: string,
  agent: Agent | undefined,
): Promise<{ status: number; body: string }> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        method,
        path,
        agent: agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** PUB-to-consumer throughput of the broker, the real nsqd and the sink (the driver's ceiling). */
export async function benchBrokerThroughput(options: BenchBrokerOptions = {}): Promise<Row[]> {
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 3 : 5);
  const messages = quick ? 200_000 : 400_000;
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const transport = options.transport ?? 'plain';
  const servers: Server[] = [];
  const results = new Map<string, ThroughputRound[]>();
  try {
    await startServers(servers, transport === 'plain', log);
    for (const server of servers) {
      // Warm-up: the broker's code paths compiled, nsqd's buffers and goroutines up.
      await throughputRound(server, 'bench-warm-up', messages / 2, transport);
      results.set(server.name, []);
    }
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        const result = await throughputRound(server, `bench-throughput-${round}`, messages, transport);
        results.get(server.name)!.push(result);
        log(
          `  broker-throughput round ${round + 1}/${rounds}, ${server.name}: ${result.rate.toFixed(0)} msgs/s, driver CPU ${result.driverCpu.toFixed(0)}%, server CPU ${result.serverCpu.toFixed(0)}%`,
        );
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
  const rows: Row[] = [];
  const over = transport === 'plain' ? '' : `, over ${transport === 'tls' ? 'TLS' : 'snappy'}`;
  const measure = `PUB to consumer${over}, ${messages / 1000}k x ${BODY_SIZE} B (MPUB of ${BATCH}, RDY ${RDY}, FIN each)`;
  const goalRatio = transport === 'plain' ? 0.8 : 0.7;
  const real = results.get(REAL)?.map((r) => r.rate);
  for (const [name, values] of results) {
    const rates = values.map((r) => r.rate);
    const group = `broker: ${name}`;
    if (name === BROKER) {
      const ratio = real ? ratioOf(rates, real) : undefined;
      rows.push({
        group,
        measure,
        value: summarize(rates),
        unit: 'msgs/s',
        ...(ratio
          ? {
              ratio: { value: ratio, of: REAL },
              goal: `>= ${goalRatio}x real (worst round: spread min)`,
              goalMet: ratio.median >= goalRatio,
            }
          : { goal: 'vs real nsqd: not measured, NSQD_BIN is not set' }),
      });
    } else {
      rows.push({
        group,
        measure: name === SINK_NAME ? `${measure}: the driver's ceiling` : measure,
        value: summarize(rates),
        unit: 'msgs/s',
      });
    }
    rows.push({
      group,
      measure: 'CPU during the rounds: server process',
      value: summarize(values.map((r) => r.serverCpu)),
      unit: '% of a core',
    });
    rows.push({
      group,
      measure: 'CPU during the rounds: driver (bench process)',
      value: summarize(values.map((r) => r.driverCpu)),
      unit: '% of a core',
    });
  }
  return rows;
}

const STATS_TOPICS = 10;
const STATS_CHANNELS = 2;

/** GET /stats?format=json latencies (ms) of `count` sequential requests on one keep-alive connection. */
async function statsLatencies(server: Server, agent: Agent, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const { status, body } = await httpCall(server.httpAddress, 'GET', '/stats?format=json', agent);
    latencies.push(performance.now() - started);
    if (status !== 200) throw new Error(`${server.name}: /stats answered ${status}`);
    if (i === 0) {
      const topics = (JSON.parse(body) as { topics: Array<{ channels: unknown[] }> }).topics;
      const channels = topics.reduce((n, t) => n + t.channels.length, 0);
      if (topics.length !== STATS_TOPICS || channels !== STATS_TOPICS * STATS_CHANNELS) {
        throw new Error(`${server.name}: /stats lists ${topics.length} topics, ${channels} channels`);
      }
    }
  }
  return latencies;
}

/** /stats latency of the broker and the real nsqd, the same topics and channels on both. */
export async function benchBrokerStats(options: BenchBrokerOptions = {}): Promise<Row[]> {
  const rounds = options.rounds ?? (options.quick ? 3 : 5);
  const requests = options.quick ? 500 : 1000;
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const servers: Server[] = [];
  const agents = new Map<string, Agent>();
  const medians = new Map<string, number[]>();
  const p99s = new Map<string, number[]>();
  try {
    await startServers(servers, false, log);
    for (const server of servers) {
      const { httpAddress } = server;
      for (let t = 0; t < STATS_TOPICS; t++) {
        const created = await httpCall(httpAddress, 'POST', `/topic/create?topic=stats-${t}`, undefined);
        if (created.status !== 200)
          throw new Error(`${server.name}: /topic/create answered ${created.status}`);
        for (let c = 0; c < STATS_CHANNELS; c++) {
          const path = `/channel/create?topic=stats-${t}&channel=channel-${c}`;
          const channel = await httpCall(httpAddress, 'POST', path, undefined);
          if (channel.status !== 200)
            throw new Error(`${server.name}: /channel/create answered ${channel.status}`);
        }
      }
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.set(server.name, agent);
      await statsLatencies(server, agent, 20); // warm-up
      medians.set(server.name, []);
      p99s.set(server.name, []);
    }
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        const latencies = await statsLatencies(server, agents.get(server.name)!, requests);
        const median = summarize(latencies).median;
        const p99 = percentile(latencies, 99);
        medians.get(server.name)!.push(median);
        p99s.get(server.name)!.push(p99);
        log(
          `  broker-stats round ${round + 1}/${rounds}, ${server.name}: median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    for (const agent of agents.values()) agent.destroy();
    await Promise.all(servers.map((s) => s.close()));
  }
  const rows: Row[] = [];
  const what = `GET /stats?format=json, ${STATS_TOPICS} topics x ${STATS_CHANNELS} channels, ${requests} sequential (keep-alive)`;
  for (const [label, values] of [
    ['median', medians],
    ['p99', p99s],
  ] as const) {
    const real = values.get(REAL);
    for (const [name, latencies] of values) {
      const ratio = name === BROKER && real ? ratioOf(latencies, real) : undefined;
      rows.push({
        group: `broker: ${name}`,
        measure: `${what}: ${label} per round`,
        value: summarize(latencies),
        unit: 'ms',
        ...(ratio
          ? { ratio: { value: ratio, of: REAL }, goal: '<= 1x real', goalMet: ratio.median <= 1 }
          : name === BROKER
            ? { goal: 'vs real nsqd: not measured, NSQD_BIN is not set' }
            : {}),
      });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = new Set(process.argv.slice(2));
  const started = Date.now();
  const quick = args.has('--quick');
  const rows = [...(await benchBrokerThroughput({ quick })), ...(await benchBrokerStats({ quick }))];
  printRows(rows, { json: args.has('--json'), started });
}
