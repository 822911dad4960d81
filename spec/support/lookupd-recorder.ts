import { execFile } from 'node:child_process';
import { hostname as osHostname } from 'node:os';
import { promisify } from 'node:util';
import { startRealLookupd } from '../../harness/oracle.js';
import { portOf } from '../../harness/targets.js';
import { type ExactJson, ExactObject, parseExactJson } from './exact-json.js';
import type {
  FixtureFile,
  FixtureFrame,
  FixtureScenario,
  FixtureStep,
  HttpExpect,
  ServerExit,
  TcpExpect,
} from './fixtures.js';
import { type HttpResult, httpRequest } from './http.js';
import { dropTopologyFromRaw, GO_ZERO_TIME_UNIX_NANO, TOPOLOGY_KEYS } from './recorded-json.js';
import { RECORDED_HEADERS, segmentBytes } from './scenario-io.js';
import { V1Client } from './v1-client.js';

/**
 * Records the lookupd scenarios from a real nsqlookupd, in the format of
 * spec/fixtures/lookupd-v1.3.0/README.md. A scenario's actions (connect, write, end, close, http) are
 * the input; what the server did is recorded afresh: frames until 150 ms of silence, closes and
 * resets, HTTP status, headers and bodies, with the volatile values replaced by placeholders and the
 * arrays that nsqlookupd emits in Go map order sorted.
 *
 * Used by `npm run fixtures:record` (scripts/record-lookupd-fixtures.ts) and by the spec that checks
 * the committed recordings against a fresh one.
 */

/** The silence that ends a step's frames, as the recordings define it. */
export const QUIET_MS = 150;

/** Arrays nsqlookupd emits in Go map order, per path of a 200 answer (the `unordered` notes). */
const UNORDERED: Record<string, string[]> = {
  '/lookup': ['channels', 'producers'],
  '/nodes': ['producers', 'producers[].topics (tombstones[] reordered alike)'],
  '/topics': ['topics'],
  '/channels': ['channels'],
  '/debug': ["*[] (each registration's producer list)"],
};

export interface RecordedServer {
  tcpAddress: string;
  httpAddress: string;
  hostname: string;
  broadcastAddress: string;
  version: string;
  /** Resolves once the server process has exited, with its exit code and what it wrote to stderr. */
  exited: Promise<{ code: number | null; stderr: string }>;
  close(): Promise<void>;
}

/** The oracle's version line, e.g. `nsqlookupd v1.3.0 (built w/go1.26.8)`. */
export async function lookupdVersionLine(binary: string): Promise<string> {
  const { stdout } = await promisify(execFile)(binary, ['--version']);
  return stdout.trim();
}

/** Starts the real nsqlookupd (NSQLOOKUPD_BIN) for one scenario, on ports of the OS's choosing. */
export async function startRecordedServer(version: string): Promise<RecordedServer> {
  const real = await startRealLookupd();
  let stderr = '';
  real.process.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    real.process.once('exit', (code) => resolve({ code, stderr })),
  );
  return {
    tcpAddress: real.tcpAddress,
    httpAddress: real.httpAddress,
    hostname: osHostname(),
    broadcastAddress: osHostname(),
    version,
    exited,
    close: () => real.close(),
  };
}

class Recording {
  readonly conns = new Map<string, V1Client>();
  /** Frames and closes already attributed to an earlier step, per connection. */
  readonly seen = new Map<string, { frames: number; closed: boolean }>();
  #quiet: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  exit: { code: number | null; stderr: string } | undefined;

  constructor(readonly server: RecordedServer) {
    void server.exited.then((exit) => {
      this.exit = exit;
    });
  }

  /** Resolves once nothing has arrived on any connection for QUIET_MS. */
  quiet(): Promise<void> {
    return new Promise((resolve) => {
      this.#quiet = resolve;
      this.#arm();
    });
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (!this.#quiet) return;
    this.#timer = setTimeout(() => {
      const done = this.#quiet;
      this.#quiet = undefined;
      done?.();
    }, QUIET_MS);
  }

  async connect(name: string): Promise<void> {
    const client = await V1Client.open(this.server.tcpAddress);
    client.onActivity = () => this.#arm();
    this.conns.set(name, client);
    this.seen.set(name, { frames: 0, closed: false });
  }

  conn(name: string): V1Client {
    const client = this.conns.get(name);
    if (!client) throw new Error(`connection ${name} was never opened`);
    return client;
  }

  /** What happened on `name` since the last step, and on every other connection. */
  tcpExpect(name: string): TcpExpect {
    const expect: TcpExpect = this.#take(name);
    const others: ({ conn: string } & TcpExpect)[] = [];
    for (const other of this.conns.keys()) {
      if (other === name || this.conns.get(other)!.destroyedByUs) continue;
      const happened = this.#take(other);
      if ((happened.frames?.length ?? 0) > 0 || happened.closed) others.push({ conn: other, ...happened });
    }
    if (others.length > 0) expect.otherConnections = others;
    return expect;
  }

  #take(name: string): TcpExpect {
    const client = this.conn(name);
    const seen = this.seen.get(name)!;
    const frames = client.frames.slice(seen.frames).map((f) => this.frame(f.body));
    seen.frames = client.frames.length;
    const closed = client.closed && !seen.closed;
    seen.closed = client.closed;
    const expect: TcpExpect = { frames: compress(frames), closed };
    if (closed) expect.reset = client.reset;
    return expect;
  }

  /** A frame as recorded: the IDENTIFY answer with placeholders, any other body as text (and hex). */
  frame(body: Buffer): FixtureFrame {
    const text = body.toString('utf8');
    if (text.startsWith('{')) {
      const normalized = this.#normalizeIdentifyAnswer(text);
      if (normalized !== undefined) return { normalized: true, body: normalized };
    }
    const frame: FixtureFrame = { size: body.length, body: text };
    if (!Buffer.from(text, 'utf8').equals(body)) frame.hex = body.toString('hex');
    return frame;
  }

  #normalizeIdentifyAnswer(text: string): string | undefined {
    const { server } = this;
    const own: Record<string, string | number> = {
      broadcast_address: server.broadcastAddress,
      hostname: server.hostname,
      http_port: portOf(server.httpAddress),
      tcp_port: portOf(server.tcpAddress),
      version: server.version,
    };
    let parsed: ExactJson;
    try {
      parsed = parseExactJson(text);
    } catch {
      return undefined;
    }
    if (!(parsed instanceof ExactObject)) return undefined;
    const parts: string[] = [];
    for (const key of parsed.keys()) {
      const value = parsed.get(key);
      const mine = own[key];
      const same = typeof value === 'bigint' ? Number(value) === mine : value === mine;
      if (!same) return undefined;
      parts.push(`${JSON.stringify(key)}:"<lookupd_${key}>"`);
    }
    return `{${parts.join(',')}}`;
  }

  /** An HTTP answer as recorded. */
  http(path: string, result: HttpResult): HttpExpect {
    const headers: Record<string, string> = {};
    for (const name of RECORDED_HEADERS) {
      const value = result.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const text = result.body.toString('utf8');
    const expect: HttpExpect = { status: result.status, headers };
    if (!/^application\/json/.test(headers['content-type'] ?? '')) {
      expect.body = text;
      return expect;
    }
    const route = path.split('?')[0]!;
    const unordered = result.status === 200 ? UNORDERED[route] : undefined;
    const normalizer = new HttpNormalizer(this, route);
    const json = normalizer.value(parseExactJson(text), []);
    const reorderable = unordered !== undefined && sortUnordered(route, json);
    if (!normalizer.changed && !reorderable) expect.body = text;
    expect.json = json;
    if (unordered) expect.unordered = unordered;
    return expect;
  }

  serverExit(): ServerExit | undefined {
    if (!this.exit) return undefined;
    const panic = this.exit.stderr.split('\n').find((line) => line.startsWith('panic:'));
    return panic === undefined ? { code: this.exit.code } : { code: this.exit.code, panic };
  }

  destroyAll(): void {
    clearTimeout(this.#timer);
    this.#quiet = undefined;
    for (const client of this.conns.values()) client.destroy();
  }
}

/** Consecutive identical frames as one frame with `repeat`. */
function compress(frames: FixtureFrame[]): FixtureFrame[] {
  const out: FixtureFrame[] = [];
  for (const frame of frames) {
    const last = out[out.length - 1];
    if (last && !last.normalized && !frame.normalized && last.body === frame.body && last.hex === frame.hex) {
      last.repeat = (last.repeat ?? 1) + 1;
    } else {
      out.push({ ...frame });
    }
  }
  return out;
}

/** Plain JSON values with the recordings' placeholders; `changed` says whether any was put in. */
class HttpNormalizer {
  changed = false;
  readonly #ports: Map<number, string>;

  constructor(
    recording: Recording,
    readonly route: string,
  ) {
    this.#ports = new Map([...recording.conns].map(([name, client]) => [client.localPort, name]));
  }

  value(value: ExactJson, path: string[]): unknown {
    if (value instanceof ExactObject) {
      const out: Record<string, unknown> = {};
      for (const key of value.keys()) out[key] = this.value(value.get(key)!, [...path, key]);
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => this.value(v, path));
    const key = path[path.length - 1];
    if (typeof value === 'bigint' || typeof value === 'number') {
      if (key === 'last_update' || key === 'tombstoned_at') {
        this.changed = true;
        return BigInt(value) === GO_ZERO_TIME_UNIX_NANO ? '<go_zero_time_unixnano>' : '<unixnano>';
      }
      return typeof value === 'bigint' ? Number(value) : value;
    }
    if (typeof value === 'string') {
      if (this.route === '/info' && key === 'version') {
        this.changed = true;
        return '<lookupd_version>';
      }
      const remote = /^127\.0\.0\.1:(\d+)$/.exec(value);
      const conn = remote ? this.#ports.get(Number(remote[1])) : undefined;
      if (conn !== undefined && (key === 'remote_address' || key === 'id')) {
        this.changed = true;
        return `127.0.0.1:<port:${conn}>`;
      }
    }
    return value;
  }
}

const byJson = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Sorts the arrays of `route`'s answer that nsqlookupd emits in map order; true if any of them has
 * more than one element (so the raw body's order is not reproducible and is left out).
 */
function sortUnordered(route: string, json: unknown): boolean {
  let reorderable = false;
  const sort = (array: unknown) => {
    if (!Array.isArray(array)) return;
    if (array.length > 1) reorderable = true;
    array.sort(byJson);
  };
  const body = json as Record<string, unknown>;
  switch (route) {
    case '/lookup':
      sort(body.channels);
      sort(body.producers);
      break;
    case '/topics':
      sort(body.topics);
      break;
    case '/channels':
      sort(body.channels);
      break;
    case '/debug':
      for (const list of Object.values(body)) sort(list);
      break;
    case '/nodes':
      for (const producer of (body.producers ?? []) as Record<string, unknown>[]) {
        const topics = producer.topics as string[];
        const tombstones = producer.tombstones as boolean[];
        if (topics.length > 1) reorderable = true;
        const pairs = topics.map((t, i) => [t, tombstones[i]] as const).sort(byJson);
        producer.topics = pairs.map(([t]) => t);
        producer.tombstones = pairs.map(([, s]) => s);
      }
      sort(body.producers);
      break;
  }
  return reorderable;
}

/** Records one scenario on a fresh real nsqlookupd: the actions of `scenario`, the answers of now. */
export async function recordScenario(scenario: FixtureScenario, version: string): Promise<FixtureScenario> {
  const server = await startRecordedServer(version);
  const recording = new Recording(server);
  const steps: FixtureStep[] = [];
  try {
    for (const step of scenario.steps) {
      const recorded = await recordStep(recording, step);
      steps.push(recorded);
      const exit = recording.serverExit();
      if (exit) {
        recorded.expect = { ...(recorded.expect ?? { frames: [], closed: false }), serverExit: exit };
        break;
      }
    }
  } finally {
    recording.destroyAll();
    await server.close();
  }
  return { name: scenario.name, description: scenario.description, steps };
}

async function recordStep(recording: Recording, step: FixtureStep): Promise<FixtureStep> {
  switch (step.op) {
    case 'connect':
      await recording.connect(step.conn);
      await recording.quiet();
      return { op: 'connect', conn: step.conn, expect: recording.tcpExpect(step.conn) };
    case 'write':
      void recording.conn(step.conn).write(segmentBytes(step.data));
      await recording.quiet();
      return { op: 'write', conn: step.conn, data: step.data, expect: recording.tcpExpect(step.conn) };
    case 'end':
      recording.conn(step.conn).end();
      await recording.quiet();
      return { op: 'end', conn: step.conn, expect: recording.tcpExpect(step.conn) };
    case 'close':
      recording.conn(step.conn).destroy();
      return { op: 'close', conn: step.conn };
    case 'http': {
      // After a client-side close the server learns of it asynchronously: give it the same quiet.
      await recording.quiet();
      const result = await httpRequest(
        recording.server.httpAddress,
        step.method,
        step.path,
        step.headers,
        step.body,
      );
      const { op, method, path, headers, body } = step;
      return {
        op,
        method,
        path,
        ...(headers ? { headers } : {}),
        ...(body !== undefined ? { body } : {}),
        expect: recording.http(path, result),
      };
    }
  }
}

/** Records every scenario of a file, `parallel` servers at a time, and returns the new file. */
export async function recordFile(
  committed: FixtureFile,
  options: { binary: string; parallel?: number; recordedAt?: string },
): Promise<FixtureFile> {
  const versionLine = await lookupdVersionLine(options.binary);
  const version = /v(\d+\.\d+\.\d+\S*)/.exec(versionLine)?.[1] ?? 'unknown';
  const scenarios: FixtureScenario[] = new Array(committed.scenarios.length);
  let next = 0;
  const worker = async () => {
    while (next < committed.scenarios.length) {
      const index = next++;
      scenarios[index] = await recordScenario(committed.scenarios[index]!, version);
    }
  };
  await Promise.all(Array.from({ length: options.parallel ?? 4 }, worker));
  return {
    source: `nsqlookupd v${version}`,
    format: committed.format,
    recorded: {
      ...committed.recorded,
      command: 'NSQLOOKUPD_BIN=path/to/nsqlookupd npm run fixtures:record',
      versionLine: versionLine.replace(/\(built w\/[^)]*\)/, '(built w/<go>)'),
      ...(options.recordedAt ? { at: options.recordedAt } : {}),
    },
    scenarios,
  };
}

/**
 * A scenario reduced to what a re-recording must reproduce. What may differ between the committed
 * recordings and a fresh one (spec/fixtures/lookupd-v1.3.0/README.md lists it):
 *   - ports, remote addresses and times: already placeholders on both sides;
 *   - the topology fields, when the oracle predates them (`topology: false`): dropped from both;
 *   - the order of arrays nsqlookupd emits in Go map order: sorted on both sides;
 *   - how runs of identical frames are written (`repeat`): expanded on both sides;
 *   - whether a close was by RST (`reset`): kept only where both say it.
 */
export function comparableScenario(scenario: FixtureScenario, options: { topology: boolean }): unknown {
  const dropTopology = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(dropTopology);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([key]) => options.topology || !TOPOLOGY_KEYS.has(key))
          .map(([key, v]) => [key, dropTopology(v)]),
      );
    }
    return value;
  };
  const frames = (list: FixtureFrame[] = []) =>
    list.flatMap((frame) => {
      const { repeat = 1, ...one } = frame;
      return Array.from({ length: repeat }, () => one);
    });
  const tcp = (expect: TcpExpect | undefined) =>
    expect && {
      frames: frames(expect.frames),
      closed: expect.closed ?? false,
      serverExit: expect.serverExit,
      otherConnections: expect.otherConnections,
    };
  return {
    name: scenario.name,
    steps: scenario.steps.map((step) => {
      if (step.op !== 'http') return { op: step.op, conn: step.conn, expect: tcp(step.expect) };
      const { status, headers, body, json, unordered } = step.expect;
      const route = step.path.split('?')[0]!;
      const comparableJson = json === undefined ? undefined : dropTopology(structuredClone(json));
      if (comparableJson !== undefined && unordered) sortUnordered(route, comparableJson);
      return {
        op: 'http',
        method: step.method,
        path: step.path,
        status,
        headers,
        body: body === undefined || options.topology ? body : dropTopologyFromRaw(body),
        json: comparableJson,
        unordered,
      };
    }),
  };
}
