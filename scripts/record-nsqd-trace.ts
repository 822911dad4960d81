/**
 * `npx tsx scripts/record-nsqd-trace.ts [--out FILE]`: records afresh what a real nsqd writes to a real
 * nsqlookupd (NSQD_BIN, NSQLOOKUPD_BIN; scripts/build-oracle.sh builds both), in the format and with
 * the steps of spec/fixtures/nsqd-v1.3.0/trace.json (its README describes both), writes it to FILE
 * (default .scratch/nsqd-trace.json), then lists how it differs from the committed trace beyond what
 * may differ (MAY_DIFFER in spec/support/nsqd-trace-compare.ts). Exit status 1 if anything does.
 *
 * It takes over two minutes (nsqd's lookup ticker is a fixed 15 s, and three lookupd restarts are
 * spread over it), so it stays outside the suite. To refresh the fixture after an nsq release, review
 * the differences, then run it again with `--out spec/fixtures/nsqd-v1.3.0/trace.json` (or a new
 * folder named for the new version) and update the README.
 *
 * Layout: nsqlookupd on ports of its choosing; a recording TCP proxy in front of its TCP port that
 * forwards every byte as it comes and parses a copy into frames; nsqd with
 * --lookupd-tcp-address=<proxy>. Each step performs one action, then waits for QUIET_MS of silence
 * (no byte on the wire, no connection opened or closed, no log line kept) and files everything seen
 * meanwhile under that step.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { hostname as osHostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  compareNsqdTraces,
  describeDifference,
  MAY_DIFFER,
  type NsqdTraceFile,
  type RestartTiming,
  type TraceFrame,
  type TraceStep,
} from '../spec/support/nsqd-trace-compare.js';

const COMMITTED = fileURLToPath(new URL('../spec/fixtures/nsqd-v1.3.0/trace.json', import.meta.url));
/** The silence that ends a step, as the committed trace was recorded. */
const QUIET_MS = 500;
/** nsqd's lookup ticker (a constant in nsqd/lookup.go). */
const TICK_MS = 15_000;
/** When each lookupd kill lands after the last tick: early, middle and late in the 15 s period. */
const KILL_AFTER_TICK_MS = [2_500, 7_500, 12_500];
/** Bound on a length read off the wire (nsqd's own --max-body-size default is 5 MiB). */
const MAX_FRAME_BYTES = 5 * 1024 * 1024;

const usage = (message: string): never => {
  process.stderr.write(`${message}\nusage: npx tsx scripts/record-nsqd-trace.ts [--out FILE]\n`);
  process.exit(2);
};
const binaryFrom = (variable: string): string => {
  const path = process.env[variable];
  if (!path) return usage(`${variable} is not set: eval "$(scripts/build-oracle.sh)" first`);
  if (!existsSync(path)) return usage(`${variable}=${path} does not exist`);
  return path;
};
const NSQLOOKUPD = binaryFrom('NSQLOOKUPD_BIN');
const NSQD = binaryFrom('NSQD_BIN');
const outIndex = process.argv.indexOf('--out');
if (outIndex > 0 && !process.argv[outIndex + 1]) usage('--out needs a file name');
const OUT = outIndex > 0 ? process.argv[outIndex + 1]! : join('.scratch', 'nsqd-trace.json');

// --- what is seen: frames, events and log lines, filed under the current step -----------------------

type RawFrame = Omit<TraceFrame, 'at_ms' | 'body'>;

interface Seen {
  /** ms since nsqd was spawned, unrounded. */
  at: number;
  frame: RawFrame;
  /** The body's bytes as they went over the wire (IDENTIFY's, or a response's). */
  body?: Buffer;
}

interface LogLine {
  at: number;
  source: 'nsqd' | 'nsqlookupd';
  text: string;
}

/** One step as it is recorded; masked and laid out as the trace writes it once the run is over. */
interface StepRecord {
  name: string;
  action: string;
  httpStatus?: number;
  seen: Seen[];
  lines: LogLine[];
  extra: Pick<TraceStep, 'ping_interval_ms' | 'first_ping_after_nsqd_start_ms' | 'timing'>;
}

/** The log lines a trace keeps: nsqd's about its lookup peers, lookupd's HTTP requests. */
function kept(line: LogLine): boolean {
  if (line.source === 'nsqd') return /LOOKUP|CI: querying nsqlookupd/.test(line.text);
  return /^\[nsqlookupd\] \S+ \S+ INFO: \d{3} [A-Z]+ \//.test(line.text);
}

/** Everything observed, the step it is filed under, and the waits on it. */
class Observer {
  #t0 = performance.now();
  readonly seen: Seen[] = [];
  readonly logs: LogLine[] = [];
  readonly steps: StepRecord[] = [];
  #step: StepRecord | undefined;
  #checks = new Set<() => void>();
  #quietTimer: NodeJS.Timeout | undefined;
  #quietDone: (() => void) | undefined;

  /** Restarts the clock: at_ms counts from nsqd's spawn. */
  startClock(): void {
    this.#t0 = performance.now();
  }

  now(): number {
    return performance.now() - this.#t0;
  }

  /** Starts filing what is seen under a new step. */
  step(name: string, action: string): StepRecord {
    this.#step = { name, action, seen: [], lines: [], extra: {} };
    this.steps.push(this.#step);
    return this.#step;
  }

  endSteps(): void {
    this.#step = undefined;
  }

  frame(frame: RawFrame, body?: Buffer): void {
    const seen: Seen = { at: this.now(), frame, ...(body ? { body } : {}) };
    this.seen.push(seen);
    this.#step?.seen.push(seen);
    this.#activity();
  }

  log(source: LogLine['source'], text: string): void {
    const line = { at: this.now(), source, text };
    this.logs.push(line);
    if (!kept(line)) return;
    this.#step?.lines.push(line);
    this.#activity();
  }

  /** Resolves once QUIET_MS pass with nothing seen. */
  quiet(): Promise<void> {
    return new Promise((resolve) => {
      this.#quietDone = resolve;
      this.#armQuiet();
    });
  }

  #armQuiet(): void {
    clearTimeout(this.#quietTimer);
    if (!this.#quietDone) return;
    this.#quietTimer = setTimeout(() => {
      const done = this.#quietDone;
      this.#quietDone = undefined;
      done?.();
    }, QUIET_MS);
  }

  /** Resolves once `condition` holds (checked on everything seen), or fails after `timeoutMs`. */
  until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#checks.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#checks.delete(check);
        resolve();
      };
      this.#checks.add(check);
    });
  }

  #activity(): void {
    this.#armQuiet();
    for (const check of [...this.#checks]) check();
  }

  stop(): void {
    clearTimeout(this.#quietTimer);
    this.#quietDone = undefined;
  }
}

// --- masking: volatile values become the trace's placeholders ------------------------------------

interface Ports {
  proxy: number;
  lookupdTcp: number;
  lookupdHttp: number;
  nsqdTcp: number;
  nsqdHttp: number;
}

type Expected = Record<string, { placeholder: string; value: string | number }>;

/**
 * Replaces what changes from run to run with the committed trace's placeholders. A value is replaced
 * only where it is the one expected (the port nsqd listens on, lookupd's host name, ...): anything
 * else stays literal, so the comparison shows it.
 */
class Masker {
  readonly warnings: string[] = [];

  constructor(
    readonly ports: Ports,
    readonly hostname: string,
    readonly dataPath: string,
    readonly versions: { nsqd: string; lookupd: string },
  ) {}

  logLine(text: string): string {
    const { ports } = this;
    const host = escapeRegExp(this.hostname);
    return text
      .replace(/^\[(nsqd|nsqlookupd)\] \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d+ /, `[$1] ${ph('time')} `)
      .replace(
        /\{TCPPort:(\d+) HTTPPort:(\d+) Version:([^ }]*) BroadcastAddress:([^ }]*)\}/,
        (_whole, tcp: string, http: string, version: string, broadcast: string) =>
          `{TCPPort:${Number(tcp) === ports.lookupdTcp ? ph('lookupd_tcp_port') : tcp}` +
          ` HTTPPort:${Number(http) === ports.lookupdHttp ? ph('lookupd_http_port') : http}` +
          ` Version:${version === this.versions.lookupd ? ph('version') : version}` +
          ` BroadcastAddress:${broadcast === this.hostname ? ph('lookupd_broadcast_address') : broadcast}}`,
      )
      .replace(
        new RegExp(`\\b(127\\.0\\.0\\.1|localhost|${host}):(\\d+)\\b`, 'g'),
        (whole, h: string, p: string) => {
          const port = Number(p);
          if (port === ports.proxy && h === '127.0.0.1') return ph('lookupd_addr');
          if (port === ports.lookupdHttp) return ph('lookupd_http_addr');
          // Any other listening port stays literal (the trace has no placeholder for it); the rest are
          // the client ends of connections.
          if ([ports.lookupdTcp, ports.nsqdTcp, ports.nsqdHttp].includes(port)) return whole;
          return ph('ephemeral_addr');
        },
      )
      .replace(/ (\d+(\.\d+)?(ns|µs|μs|us|ms|s|m|h))+$/, ` ${ph('duration')}`)
      .replace(
        /\b(nsqd|nsqlookupd) v(\S+) \(built w\/([^)]+)\)/,
        `$1 v${ph('version')} (built w/${ph('go_version')})`,
      )
      .split(this.dataPath)
      .join(ph('data_path'));
  }

  /** An IDENTIFY body (or its answer) as a template, given what each field should hold. */
  jsonBody(raw: string, expected: Expected): string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return raw;
    }
    if (parsed === null || typeof parsed !== 'object' || JSON.stringify(parsed) !== raw) {
      this.warnings.push(`a JSON body is not in Go's compact form, kept as sent: ${raw}`);
      return raw;
    }
    const parts = Object.entries(parsed).map(([key, value]) => {
      const want = expected[key];
      if (want && value === want.value) {
        const placeholder = ph(want.placeholder);
        return `${JSON.stringify(key)}:${typeof value === 'string' ? `"${placeholder}"` : placeholder}`;
      }
      if (want)
        this.warnings.push(`${key} is ${JSON.stringify(value)}, expected ${JSON.stringify(want.value)}`);
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    return `{${parts.join(',')}}`;
  }

  identifyExpected(): Expected {
    return {
      broadcast_address: { placeholder: 'nsqd_broadcast_address', value: '127.0.0.1' },
      hostname: { placeholder: 'nsqd_hostname', value: this.hostname },
      http_port: { placeholder: 'nsqd_http_port', value: this.ports.nsqdHttp },
      tcp_port: { placeholder: 'nsqd_tcp_port', value: this.ports.nsqdTcp },
      version: { placeholder: 'nsqd_version', value: this.versions.nsqd },
    };
  }

  answerExpected(): Expected {
    return {
      broadcast_address: { placeholder: 'lookupd_broadcast_address', value: this.hostname },
      hostname: { placeholder: 'lookupd_hostname', value: this.hostname },
      http_port: { placeholder: 'lookupd_http_port', value: this.ports.lookupdHttp },
      tcp_port: { placeholder: 'lookupd_tcp_port', value: this.ports.lookupdTcp },
      version: { placeholder: 'lookupd_version', value: this.versions.lookupd },
    };
  }
}

/** A placeholder as the trace writes it: `${name}`. */
function ph(name: string): string {
  return `\${${name}}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// --- the recording proxy -------------------------------------------------------------------------

/** Splits one direction of a connection into frames; a copy of the bytes, the originals go on as they came. */
class FrameReader {
  #buffer = Buffer.alloc(0);
  #magicSeen = false;
  failed = false;

  constructor(
    readonly direction: 'nsqd->lookupd' | 'lookupd->nsqd',
    readonly emit: (frame: {
      kind: 'magic' | 'command' | 'response';
      text?: string;
      line?: string;
      body?: Buffer;
    }) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (!this.failed && this.#next()) {}
  }

  /** Takes one whole frame off the buffer if there is one. */
  #next(): boolean {
    const b = this.#buffer;
    if (this.direction === 'lookupd->nsqd') {
      if (b.length < 4) return false;
      const size = b.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME_BYTES) return this.#fail(`response size ${size}`);
      if (b.length < 4 + size) return false;
      this.emit({ kind: 'response', body: b.subarray(4, 4 + size) });
      this.#buffer = b.subarray(4 + size);
      return true;
    }
    if (!this.#magicSeen) {
      if (b.length < 4) return false;
      this.#magicSeen = true;
      this.emit({ kind: 'magic', text: b.subarray(0, 4).toString('latin1') });
      this.#buffer = b.subarray(4);
      return true;
    }
    const newline = b.indexOf(0x0a);
    if (newline < 0) return b.length > MAX_FRAME_BYTES ? this.#fail('a line with no end') : false;
    const line = b.subarray(0, newline).toString('utf8');
    if (line !== 'IDENTIFY') {
      this.emit({ kind: 'command', line });
      this.#buffer = b.subarray(newline + 1);
      return true;
    }
    if (b.length < newline + 5) return false;
    const size = b.readInt32BE(newline + 1);
    if (size < 0 || size > MAX_FRAME_BYTES) return this.#fail(`IDENTIFY body size ${size}`);
    if (b.length < newline + 5 + size) return false;
    this.emit({ kind: 'command', line, body: b.subarray(newline + 5, newline + 5 + size) });
    this.#buffer = b.subarray(newline + 5 + size);
    return true;
  }

  #fail(why: string): boolean {
    this.failed = true;
    process.stderr.write(`recorder: stopped parsing ${this.direction}: ${why}\n`);
    return false;
  }
}

/** A TCP proxy in front of lookupd's TCP port that forwards bytes untouched and records frames. */
class RecordingProxy {
  readonly server: Server;
  readonly sockets = new Set<Socket>();
  connections = 0;

  constructor(
    readonly observer: Observer,
    readonly lookupdTcpPort: () => number,
  ) {
    this.server = createServer((nsqd) => this.#accept(nsqd));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
    return address.port;
  }

  #accept(nsqd: Socket): void {
    const conn = ++this.connections;
    const { observer } = this;
    observer.frame({ conn, event: 'tcp-open' });
    const lookupd = tcpConnect(this.lookupdTcpPort(), '127.0.0.1');
    for (const socket of [nsqd, lookupd]) {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    }
    // Commands not answered yet, oldest first: nsqd waits for each answer, lookupd answers in order.
    const pending: string[] = [];
    const up = new FrameReader('nsqd->lookupd', (f) => {
      if (f.kind === 'magic')
        return observer.frame({ conn, dir: 'nsqd->lookupd', kind: 'magic', text: f.text! });
      pending.push(f.line!);
      observer.frame({ conn, dir: 'nsqd->lookupd', kind: 'command', line: f.line! }, f.body);
    });
    const down = new FrameReader('lookupd->nsqd', (f) => {
      const inReplyTo = pending.shift();
      const frame: RawFrame = { conn, dir: 'lookupd->nsqd', kind: 'response' };
      if (inReplyTo !== undefined) frame.in_reply_to = inReplyTo;
      observer.frame(frame, f.body);
    });
    nsqd.on('data', (chunk: Buffer) => {
      lookupd.write(chunk);
      up.push(chunk);
    });
    lookupd.on('data', (chunk: Buffer) => {
      nsqd.write(chunk);
      down.push(chunk);
    });
    // Whichever side goes first, the other is destroyed: nsqd, which does not read between commands,
    // finds out on its next write, as it would talking to lookupd directly.
    let closed = false;
    const close = (by: 'nsqd' | 'lookupd') => {
      if (closed) return;
      closed = true;
      observer.frame({ conn, event: 'tcp-close', closed_by: by });
      nsqd.destroy();
      lookupd.destroy();
    };
    for (const event of ['end', 'close', 'error']) {
      nsqd.on(event, () => close('nsqd'));
      lookupd.on(event, () => close('lookupd'));
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// --- the two daemons -----------------------------------------------------------------------------

interface Daemon {
  child: ChildProcess;
  tcpPort: number;
  httpPort: number;
  banner: { version: string; go: string };
  exited: Promise<void>;
}

/** Spawns an NSQ daemon, hands every log line to the observer, resolves once both listeners are up. */
async function startDaemon(
  source: LogLine['source'],
  binary: string,
  args: string[],
  observer: Observer,
  timeoutMs = 10_000,
): Promise<Daemon> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let tcp: number | undefined;
  let http: number | undefined;
  let banner: Daemon['banner'] | undefined;
  let ready: (() => void) | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const text of lines) {
        tcp ??= portOf(/TCP: listening on (\S+)/.exec(text)?.[1]);
        http ??= portOf(/HTTP: listening on (\S+)/.exec(text)?.[1]);
        const b = /\b(?:nsqd|nsqlookupd) v(\S+) \(built w\/([^)]+)\)/.exec(text);
        if (b) banner ??= { version: b[1]!, go: b[2]! };
        observer.log(source, text);
        if (tcp !== undefined && http !== undefined && banner) ready?.();
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${binary} did not listen within ${timeoutMs} ms`)),
      timeoutMs,
    );
    ready = () => {
      clearTimeout(timer);
      resolve();
    };
    child.once('error', reject);
    void exited.then(() => reject(new Error(`${binary} ${args.join(' ')} exited before listening`)));
  });
  return { child, tcpPort: tcp!, httpPort: http!, banner: banner!, exited };
}

function portOf(address: string | undefined): number | undefined {
  return address === undefined ? undefined : Number(address.slice(address.lastIndexOf(':') + 1));
}

async function stopDaemon(daemon: Daemon | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!daemon || daemon.child.exitCode !== null || daemon.child.signalCode !== null) return;
  daemon.child.kill(signal);
  await daemon.exited;
}

/** POST to nsqd's HTTP API; resolves with the status. */
function post(port: number, path: string, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

// --- the steps -----------------------------------------------------------------------------------

const HTTP_STEPS: [name: string, path: string, body?: string][] = [
  ['create topic', '/topic/create?topic=t_plain'],
  ['create channel', '/channel/create?topic=t_plain&channel=c1'],
  ['create ephemeral channel', '/channel/create?topic=t_plain&channel=c_eph%23ephemeral'],
  ['create ephemeral topic', '/topic/create?topic=t_eph%23ephemeral'],
  ['pub to new topic', '/pub?topic=t_pub', 'hello'],
  ['pub to existing topic', '/pub?topic=t_pub', 'hello'],
  ['create existing topic again', '/topic/create?topic=t_plain'],
  ['create existing channel again', '/channel/create?topic=t_plain&channel=c1'],
  ['create topic', '/topic/create?topic=t_multi'],
  ['create channel', '/channel/create?topic=t_multi&channel=c1'],
  ['create channel', '/channel/create?topic=t_multi&channel=c2'],
  ['delete channel', '/channel/delete?topic=t_plain&channel=c1'],
  ['delete ephemeral channel', '/channel/delete?topic=t_plain&channel=c_eph%23ephemeral'],
  ['delete topic with 2 channels', '/topic/delete?topic=t_multi'],
  ['recreate topic lookupd knows channels of', '/topic/create?topic=t_multi'],
  ['delete ephemeral topic', '/topic/delete?topic=t_eph%23ephemeral'],
  ['create ephemeral channel (kept)', '/channel/create?topic=t_pub&channel=tail%23ephemeral'],
];

const isPing = (s: Seen) => s.frame.kind === 'command' && s.frame.line === 'PING';
const answersPing = (s: Seen) => s.frame.kind === 'response' && s.frame.in_reply_to === 'PING';
const round2 = (ms: number) => Math.round(ms * 100) / 100;

async function record(): Promise<NsqdTraceFile> {
  const observer = new Observer();
  const dataPath = await mkdtemp(join(tmpdir(), 'nsqd-trace-'));
  let lookupd: Daemon | undefined;
  let nsqd: Daemon | undefined;
  const proxy = new RecordingProxy(observer, () => lookupd!.tcpPort);
  try {
    const lookupdArgs = (tcp: number, http: number) => [
      `--tcp-address=127.0.0.1:${tcp}`,
      `--http-address=127.0.0.1:${http}`,
    ];
    lookupd = await startDaemon('nsqlookupd', NSQLOOKUPD, lookupdArgs(0, 0), observer);
    const lookupdPorts = { tcp: lookupd.tcpPort, http: lookupd.httpPort };
    const proxyPort = await proxy.listen();

    progress('startup');
    observer.step('startup', `start nsqd with --lookupd-tcp-address=${ph('lookupd_addr')}, no topics`);
    observer.startClock();
    nsqd = await startDaemon(
      'nsqd',
      NSQD,
      [
        '--tcp-address=127.0.0.1:0',
        '--http-address=127.0.0.1:0',
        '--broadcast-address=127.0.0.1',
        `--data-path=${dataPath}`,
        `--lookupd-tcp-address=127.0.0.1:${proxyPort}`,
        '--log-level=debug',
      ],
      observer,
    );
    await observer.until(
      () => observer.seen.some((s) => s.frame.in_reply_to === 'IDENTIFY'),
      'the first IDENTIFY answer',
      10_000,
    );
    await observer.quiet();

    for (const [name, path, body] of HTTP_STEPS) {
      progress(`${name} (${path})`);
      const step = observer.step(name, `POST ${path}`);
      step.httpStatus = await post(nsqd.httpPort, path, body);
      await observer.quiet();
    }

    progress('idle (heartbeats), until two ticks of 15 s have passed');
    const idle = observer.step('idle (heartbeats)', 'wait for two PINGs');
    await observer.until(
      () => idle.seen.filter(answersPing).length >= 2,
      'two PINGs answered',
      2 * TICK_MS + 5_000,
    );
    await observer.quiet();
    const idlePings = idle.seen.filter(isPing);
    idle.extra.ping_interval_ms = idlePings.slice(1).map((s, i) => Math.round(s.at - idlePings[i]!.at));
    idle.extra.first_ping_after_nsqd_start_ms = Math.round(idlePings[0]!.at);

    const runs: RestartTiming[] = [];
    for (const [i, offset] of KILL_AFTER_TICK_MS.entries()) {
      progress(`lookupd restart #${i + 1}: kill ${offset} ms after a tick, nsqd reconnects two ticks later`);
      const step = observer.step(
        `lookupd restart #${i + 1}`,
        'kill -9 nsqlookupd; start it again on the same ports',
      );
      const lastTick = observer.seen.filter(isPing).at(-1)!.at;
      await sleep(Math.max(0, lastTick + offset - observer.now()));
      const connBefore = proxy.connections;
      const killAt = observer.now();
      await stopDaemon(lookupd, 'SIGKILL');
      lookupd = await startDaemon(
        'nsqlookupd',
        NSQLOOKUPD,
        lookupdArgs(lookupdPorts.tcp, lookupdPorts.http),
        observer,
      );
      const restartAt = observer.now();
      const reconnected = () => step.seen.filter((s) => s.frame.conn > connBefore);
      await observer.until(() => reconnected().some(answersPing), 'nsqd to reconnect and PING', 3 * TICK_MS);
      await observer.quiet();
      const fresh = reconnected();
      const open = fresh.find((s) => s.frame.event === 'tcp-open');
      const registered = fresh.filter(
        (s) => s.frame.kind === 'response' && s.frame.in_reply_to?.startsWith('REGISTER '),
      );
      const pong = fresh.find(answersPing);
      const notice = observer.logs.find(
        (l) => l.source === 'nsqd' && l.at > killAt && /ERROR: .*PING/.test(l.text),
      );
      const since = (from: number, to: { at: number } | undefined, round = Math.round) =>
        to === undefined ? null : round(to.at - from);
      step.extra.timing = {
        kill_after_tick_ms: Math.round(killAt - lastTick),
        lookupd_down_ms: Math.round(restartAt - killAt),
        kill_to_nsqd_notices_ms: since(killAt, notice),
        restart_to_reconnect_ms: since(restartAt, open),
        kill_to_reconnect_ms: since(killAt, open),
        reconnect_to_last_register_response_ms: open ? since(open.at, registered.at(-1), round2) : null,
        reconnect_to_ping_response_ms: open ? since(open.at, pong, round2) : null,
      };
      runs.push(step.extra.timing);
    }

    progress('nsqd shutdown');
    const shutdown = observer.step('nsqd shutdown', 'SIGTERM nsqd');
    await stopDaemon(nsqd, 'SIGTERM');
    await observer.until(
      () => shutdown.seen.some((s) => s.frame.event === 'tcp-close'),
      'the connection to close',
      10_000,
    );
    await observer.quiet();
    observer.endSteps();

    const masker = new Masker(
      {
        proxy: proxyPort,
        lookupdTcp: lookupdPorts.tcp,
        lookupdHttp: lookupdPorts.http,
        nsqdTcp: nsqd.tcpPort,
        nsqdHttp: nsqd.httpPort,
      },
      osHostname(),
      dataPath,
      { nsqd: nsqd.banner.version, lookupd: lookupd.banner.version },
    );
    const trace = assemble(observer, masker, runs, nsqd.banner.version, lookupd.banner.version);
    for (const warning of masker.warnings) process.stderr.write(`recorder: ${warning}\n`);
    return trace;
  } finally {
    observer.stop();
    await stopDaemon(nsqd, 'SIGKILL');
    await stopDaemon(lookupd, 'SIGKILL');
    await proxy.close();
    await rm(dataPath, { recursive: true, force: true });
  }
}

function progress(what: string): void {
  process.stdout.write(`recording: ${what}\n`);
}

/** A frame as the trace writes it: at_ms rounded, bodies as text, IDENTIFY's as a template. */
function traceFrame(seen: Seen, masker: Masker): TraceFrame {
  const frame = { at_ms: Math.round(seen.at), ...seen.frame } as TraceFrame;
  if (seen.body === undefined) return frame;
  const text = seen.body.toString('utf8');
  if (frame.line === 'IDENTIFY') frame.body = masker.jsonBody(text, masker.identifyExpected());
  else if (frame.in_reply_to === 'IDENTIFY') frame.body = masker.jsonBody(text, masker.answerExpected());
  else frame.body = text;
  // Key order as the committed trace has it: in_reply_to after body.
  if (frame.in_reply_to !== undefined) {
    const { in_reply_to, ...rest } = frame;
    return { ...rest, in_reply_to };
  }
  return frame;
}

function traceStep(record: StepRecord, masker: Masker): TraceStep {
  const mask = (source: LogLine['source']) =>
    record.lines.filter((l) => l.source === source).map((l) => masker.logLine(l.text));
  return {
    name: record.name,
    action: record.action,
    ...(record.httpStatus === undefined ? {} : { http_status: record.httpStatus }),
    frames: record.seen.map((s) => traceFrame(s, masker)),
    nsqd_log: mask('nsqd'),
    lookupd_http_log: mask('nsqlookupd'),
    ...record.extra,
  };
}

function fieldTypes(raw: Buffer | undefined): { name: string; type: 'string' | 'number' }[] {
  if (raw === undefined) return [];
  const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  return Object.entries(parsed).map(([name, value]) => ({
    name,
    type: typeof value === 'number' ? 'number' : 'string',
  }));
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)]!,
    min: sorted[0]!,
    max: sorted.at(-1)!,
    runs: values,
  };
};

function assemble(
  observer: Observer,
  masker: Masker,
  runs: RestartTiming[],
  nsqdBanner: string,
  lookupdBanner: string,
): NsqdTraceFile {
  const identify = observer.seen.find((s) => s.frame.line === 'IDENTIFY')!;
  const answer = observer.seen.find((s) => s.frame.in_reply_to === 'IDENTIFY')!;
  const versionOf = (seen: Seen) =>
    String((JSON.parse(seen.body!.toString('utf8')) as { version: unknown }).version);
  const nsqdVersion = versionOf(identify);
  const lookupdVersion = versionOf(answer);
  const heartbeat: number[] = [];
  const lastPing = new Map<number, number>();
  for (const seen of observer.seen.filter(isPing)) {
    const previous = lastPing.get(seen.frame.conn);
    if (previous !== undefined) heartbeat.push(Math.round(seen.at - previous));
    lastPing.set(seen.frame.conn, seen.at);
  }
  const numbers = (key: keyof RestartTiming) =>
    runs.map((r) => r[key]).filter((v): v is number => v !== null);
  return {
    format: 'nsqd-lookup-trace/1',
    recorded_from: `nsqd v${nsqdVersion} talking to nsqlookupd v${lookupdVersion} through a recording TCP proxy`,
    wire: {
      magic: 'the 4 bytes "  V1", sent once right after connect',
      command:
        'text line terminated by \\n; IDENTIFY is followed by a 4-byte big-endian body length and the body',
      response: '4-byte big-endian size, then that many bytes (OK, a JSON object, or an E_* error)',
    },
    placeholders: PLACEHOLDERS,
    recorded_values: {
      nsqd_version: nsqdVersion,
      lookupd_version: lookupdVersion,
      nsqd_banner_version: nsqdBanner,
      lookupd_banner_version: lookupdBanner,
    },
    identify: {
      command_line: 'IDENTIFY',
      body_template: traceFrame(identify, masker).body!,
      fields_in_order: fieldTypes(identify.body),
      note: 'Go json.Marshal of a map: keys sorted, compact, no trailing newline',
      response_template: traceFrame(answer, masker).body!,
      response_fields_in_order: fieldTypes(answer.body),
    },
    heartbeat,
    reconnect_after_lookupd_restart: {
      runs,
      summary_ms: {
        restart_to_reconnect: summary(numbers('restart_to_reconnect_ms')),
        kill_to_reconnect: summary(numbers('kill_to_reconnect_ms')),
      },
    },
    steps: observer.steps.map((step) => traceStep(step, masker)),
  };
}

const placeholder = (type: 'string' | 'number', meaning: string) => ({ type, meaning });
const PLACEHOLDERS: NsqdTraceFile['placeholders'] = {
  nsqd_version: placeholder('string', 'nsqd version.Binary, e.g. "1.3.0"'),
  nsqd_hostname: placeholder('string', 'os.Hostname() of the nsqd host'),
  nsqd_broadcast_address: placeholder(
    'string',
    'nsqd --broadcast-address (defaults to the hostname); 127.0.0.1 when recorded',
  ),
  nsqd_tcp_port: placeholder('number', 'nsqd --broadcast-tcp-port (defaults to its TCP listen port)'),
  nsqd_http_port: placeholder('number', 'nsqd --broadcast-http-port (defaults to its HTTP listen port)'),
  lookupd_version: placeholder('string', 'nsqlookupd version.Binary'),
  lookupd_hostname: placeholder('string', 'os.Hostname() of the lookupd host'),
  lookupd_broadcast_address: placeholder(
    'string',
    'nsqlookupd --broadcast-address (defaults to the hostname)',
  ),
  lookupd_tcp_port: placeholder('number', "lookupd's real TCP listen port (not the proxy's)"),
  lookupd_http_port: placeholder('number', "lookupd's real HTTP listen port"),
  lookupd_addr: placeholder('string', 'the address nsqd was given (the proxy), in log lines'),
  time: placeholder('string', 'log timestamp'),
  duration: placeholder('string', 'elapsed time in a log line'),
  data_path: placeholder('string', 'nsqd --data-path'),
  ephemeral_addr: placeholder('string', 'an ephemeral client address'),
  hostname: placeholder('string', 'host name inside a log line'),
  version: placeholder('string', 'version inside a log line'),
  go_version: placeholder('string', 'Go toolchain version inside a log line'),
};

/**
 * JSON as the committed trace is laid out: two-space indent, objects and arrays of objects one
 * member per line, an array of plain values on one line when it fits in 110 columns.
 */
function formatTrace(value: unknown, width = 110): string {
  const out = (v: unknown, indent: string, prefix: string): string => {
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      if (v.every((x) => x === null || typeof x !== 'object')) {
        const inline = `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
        if (indent.length + prefix.length + inline.length + 1 <= width) return inline;
      }
      const inner = `${indent}  `;
      return `[\n${v.map((x) => inner + out(x, inner, '')).join(',\n')}\n${indent}]`;
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0) return '{}';
      const inner = `${indent}  `;
      const members = entries.map(([k, x]) => {
        const key = `${JSON.stringify(k)}: `;
        return inner + key + out(x, inner, key);
      });
      return `{\n${members.join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v);
  };
  return `${out(value, '', '')}\n`;
}

// --- main ----------------------------------------------------------------------------------------

// Read before recording: --out may name the committed file itself.
const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as NsqdTraceFile;
const started = Date.now();
const fresh = await record();
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, formatTrace(fresh));
process.stdout.write(
  `\nwrote ${OUT} (${fresh.recorded_from}) in ${Math.round((Date.now() - started) / 1000)} s\n`,
);

const figures = (trace: NsqdTraceFile) => {
  const s = trace.reconnect_after_lookupd_restart.summary_ms;
  return (
    `heartbeat ${JSON.stringify(trace.heartbeat)} ms; restart → reconnect ${JSON.stringify(s.restart_to_reconnect?.runs)} ms;` +
    ` kill → nsqd notices ${JSON.stringify(trace.reconnect_after_lookupd_restart.runs.map((r) => r.kill_to_nsqd_notices_ms))} ms`
  );
};
process.stdout.write(`timing (informative): fresh ${figures(fresh)}\n`);
process.stdout.write(`                  committed ${figures(committed)}\n`);

const differences = compareNsqdTraces(committed, fresh);
process.stdout.write(
  `\ncompared with ${COMMITTED}, allowing for:\n${MAY_DIFFER.map((m) => `  - ${m}\n`).join('')}`,
);
if (differences.length === 0) {
  process.stdout.write('\nno differences beyond those\n');
} else {
  process.stdout.write(`\n${differences.length} difference(s) beyond those:\n`);
  for (const difference of differences) process.stdout.write(`  ${describeDifference(difference)}\n`);
  process.exitCode = 1;
}
