import { strict as assert } from 'node:assert';
import { hostname as osHostname } from 'node:os';
import { NSQLOOKUPD_BIN, startRealLookupd } from '../../harness/oracle.js';
import {
  DEFAULT_MAX_IDENTIFY_BODY_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  startLookupd,
} from '../../lib/lookupd/index.js';
import { type ExactJson, ExactObject, parseExactJson, showExact } from './exact-json.js';
import type {
  FixtureFrame,
  FixtureScenario,
  FixtureStep,
  HttpExpect,
  Segment,
  TcpExpect,
} from './fixtures.js';
import { type HttpResult, httpRequest, RECORDED_HEADERS, STEP_TIMEOUT_MS } from './scenario-io.js';
import { V1Client } from './v1-client.js';

/**
 * Replays the nsqlookupd v1.3.0 recordings (spec/fixtures/lookupd-v1.3.0, format in its README)
 * against a lookupd, the embedded one or the real binary, and compares every byte.
 *
 * Timing: nothing here sleeps except the documented end-of-scenario grace. Each received frame is
 * tagged with the step that was running when it arrived, so a frame that comes too early (say, an
 * answer to an IDENTIFY whose body is incomplete) shows up as a stale frame at the connection's next
 * step, instead of being waited for. HTTP reads that follow a client-side close are retried until
 * they match (for a bounded time), because the server learns of the close asynchronously.
 */

// ----- targets ---------------------------------------------------------------------------------------

export interface ReplayServer {
  tcpAddress: string;
  httpAddress: string;
  hostname: string;
  broadcastAddress: string;
  version: string;
  /** Resolves with the exit code if the server process dies; undefined for an in-process server. */
  exited?: Promise<number | null>;
  close(): Promise<void>;
}

export interface ReplayTarget {
  name: string;
  /** The embedded server answers what nsqlookupd would wait on or die of; see deliberateDifference. */
  embedded: boolean;
  /** Producers carry topology_zone/topology_region (the recording server did, the v1.3.0 tag does not). */
  topology: boolean;
  start(): Promise<ReplayServer>;
}

export const EMBEDDED_TARGET: ReplayTarget = {
  name: 'embedded lookupd',
  embedded: true,
  topology: true,
  async start() {
    // Values unlike the defaults, so the placeholders prove the server reports its own configuration.
    const hostname = 'replay-host.example';
    const broadcastAddress = 'replay-broadcast.example';
    const server = await startLookupd({
      tcpAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      hostname,
      broadcastAddress,
    });
    return {
      tcpAddress: server.tcpAddress,
      httpAddress: server.httpAddress,
      hostname,
      broadcastAddress,
      version: server.version,
      close: () => server.close(),
    };
  },
};

/** The real nsqlookupd, built from the v1.3.0 tag: no topology fields (see the fixtures README). */
export const REAL_TARGET: ReplayTarget = {
  name: 'real nsqlookupd',
  embedded: false,
  topology: false,
  async start() {
    const real = await startRealLookupd();
    const exited = new Promise<number | null>((resolve) =>
      real.process.once('exit', (code) => resolve(code)),
    );
    return {
      tcpAddress: real.tcpAddress,
      httpAddress: real.httpAddress,
      // nsqlookupd reports os.Hostname(), which is also its default --broadcast-address.
      hostname: osHostname(),
      broadcastAddress: osHostname(),
      version: '1.3.0',
      exited,
      close: () => real.close(),
    };
  },
};

export const REPLAY_TARGETS: ReplayTarget[] = NSQLOOKUPD_BIN
  ? [EMBEDDED_TARGET, REAL_TARGET]
  : [EMBEDDED_TARGET];

/** How long HTTP reads after a client-side close are retried until they match. */
const SETTLE_TIMEOUT_MS = 3000;
/** The quiet period, at the end of a scenario, in which open connections must receive nothing. */
export const FINAL_GRACE_MS = 50;

// ----- Go JSON, test-side (shares no code with the server) ---------------------------------------------

function goJson(value: string | number): string {
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const GO_ZERO_TIME_UNIX_NANO = -6795364578871345152n;
const TOPOLOGY_KEYS = new Set(['topology_zone', 'topology_region']);

/** Removes the topology fields from a raw body, for a server built without them. */
function dropTopologyFromRaw(body: string): string {
  return body.replace(/,"topology_(?:zone|region)":"(?:[^"\\]|\\.)*"/g, '');
}

// ----- the deliberate differences ------------------------------------------------------------------

/**
 * Where the embedded server answers what nsqlookupd waits on forever or dies of. It tracks, per
 * connection, only the framing of what the client wrote (magic, lines, IDENTIFY size and body),
 * consuming one recorded answer per completed command, and reports the first point where the
 * embedded server refuses:
 *   - an IDENTIFY size that is negative or above maxIdentifyBodyBytes (nsqlookupd panics on a
 *     negative one and allocates the rest): `E_BAD_BODY IDENTIFY failed to read body size`;
 *   - a line longer than maxLineBytes (nsqlookupd buffers without bound): `E_INVALID line longer
 *     than ... bytes`.
 */
export class FramingModel {
  #phase: 'magic' | 'line' | 'size' | 'body' | 'closed' = 'magic';
  #magic: number[] = [];
  #lineLength = 0;
  #lineHead: number[] = [];
  #size: number[] = [];
  #bodyLeft = 0;
  #identified = false;

  constructor(
    readonly maxLineBytes: number,
    readonly maxIdentifyBodyBytes: number,
  ) {}

  /**
   * Feeds one write. `answers` are the frames nsqlookupd sent during that step, consumed as commands
   * complete. Returns the refusal, if any, with how many answers came before it.
   */
  feed(bytes: Buffer, answers: Buffer[]): Refusal | undefined {
    let used = 0;
    const answer = () => {
      const body = answers[used++];
      if (body === undefined) return;
      if (body.toString('latin1').startsWith('E_')) this.#phase = 'closed';
      return body;
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      switch (this.#phase) {
        case 'closed':
          return undefined;
        case 'magic':
          this.#magic.push(b);
          if (this.#magic.length === 4) {
            this.#phase = Buffer.from(this.#magic).toString('latin1') === '  V1' ? 'line' : 'closed';
          }
          break;
        case 'line':
          if (b !== 0x0a) {
            this.#lineLength++;
            if (this.#lineHead.length < 64) this.#lineHead.push(b);
            if (this.#lineLength > this.maxLineBytes) {
              return {
                answersBefore: used,
                error: `E_INVALID line longer than ${this.maxLineBytes} bytes`,
                reason: 'line',
              };
            }
            break;
          }
          {
            const command = goTrimAscii(Buffer.from(this.#lineHead).toString('latin1')).split(' ')[0];
            this.#lineLength = 0;
            this.#lineHead = [];
            if (command === 'IDENTIFY' && !this.#identified) this.#phase = 'size';
            else answer();
          }
          break;
        case 'size':
          this.#size.push(b);
          if (this.#size.length === 4) {
            const size = Buffer.from(this.#size).readInt32BE(0);
            this.#size = [];
            if (size < 0 || size > this.maxIdentifyBodyBytes) {
              return {
                answersBefore: used,
                error: 'E_BAD_BODY IDENTIFY failed to read body size',
                reason: 'size',
                size,
              };
            }
            this.#bodyLeft = size;
            this.#phase = 'body';
            if (size === 0) this.#endBody(answer());
          }
          break;
        case 'body':
          this.#bodyLeft--;
          if (this.#bodyLeft === 0) this.#endBody(answer());
          break;
      }
    }
    return undefined;
  }

  #endBody(body: Buffer | undefined): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'line';
    if (body !== undefined) this.#identified = true;
  }
}

/** Where and why the embedded server refuses a stream nsqlookupd would wait on or die of. */
export interface Refusal {
  /** Answers nsqlookupd gave, in the same write, before that point. */
  answersBefore: number;
  /** The embedded server's error answer. */
  error: string;
  reason: 'line' | 'size';
  /** The refused IDENTIFY size (negative ones crash nsqlookupd). */
  size?: number;
}

/** Go's TrimSpace, enough to find a command word (ASCII spaces, NEL and NBSP). */
function goTrimAscii(line: string): string {
  return line.replace(/^(?:[\t\n\v\f\r ]|\xc2[\x85\xa0])+|(?:[\t\n\v\f\r ]|\xc2[\x85\xa0])+$/g, '');
}

// ----- the replay ----------------------------------------------------------------------------------------

export interface ReplayReport {
  /** Steps where the embedded server's deliberate behaviour replaced the recording, described. */
  differences: string[];
  /** Whether the scenario stopped at a recorded server crash. */
  stoppedAtServerExit: boolean;
}

function segmentBytes(data: Segment[]): Buffer {
  return Buffer.concat(
    data.map((segment) => {
      if ('text' in segment) return Buffer.from(segment.text, 'utf8');
      if ('hex' in segment) return Buffer.from(segment.hex, 'hex');
      const b = Buffer.alloc(4);
      b.writeInt32BE(segment.int32be, 0);
      return b;
    }),
  );
}

function expandFrames(frames: FixtureFrame[] = []): FixtureFrame[] {
  return frames.flatMap((f) => Array.from({ length: f.repeat ?? 1 }, () => f));
}

class ScenarioRun {
  readonly conns = new Map<string, V1Client>();
  readonly models = new Map<string, FramingModel>();
  /** Connections the embedded server closed where nsqlookupd would not have. */
  readonly refused = new Set<string>();
  readonly report: ReplayReport = { differences: [], stoppedAtServerExit: false };
  readonly started = Date.now();
  step = -1;
  /** A client-side close happened and no TCP step since: the server may not have noticed yet. */
  settling = false;

  constructor(
    readonly scenario: FixtureScenario,
    readonly target: ReplayTarget,
    readonly server: ReplayServer,
  ) {}

  where(): string {
    const step = this.scenario.steps[this.step];
    return `${this.scenario.name} step ${this.step} (${step?.op}${step && 'conn' in step ? ` ${step.conn}` : ''}${
      step && step.op === 'http' ? ` ${step.method} ${step.path}` : ''
    })`;
  }

  conn(name: string): V1Client {
    const client = this.conns.get(name);
    if (!client) throw new Error(`${this.where()}: connection ${name} was never opened`);
    return client;
  }

  async run(): Promise<ReplayReport> {
    try {
      for (const [index, step] of this.scenario.steps.entries()) {
        this.step = index;
        await this.#runStep(step);
        if (step.expect?.serverExit) {
          await this.#serverExit(step.expect.serverExit);
          this.report.stoppedAtServerExit = true;
          return this.report;
        }
      }
      await this.#finalQuiet();
      return this.report;
    } finally {
      for (const client of this.conns.values()) client.destroy();
    }
  }

  async #runStep(step: FixtureStep): Promise<void> {
    switch (step.op) {
      case 'connect': {
        this.settling = false;
        const client = await V1Client.open(this.server.tcpAddress, { step: () => this.step });
        this.conns.set(step.conn, client);
        this.models.set(step.conn, new FramingModel(DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_IDENTIFY_BODY_BYTES));
        await this.#checkTcp(step.conn, step.expect);
        return;
      }
      case 'write': {
        this.settling = false;
        const bytes = segmentBytes(step.data);
        let expect = step.expect;
        if (this.target.embedded && !this.refused.has(step.conn)) {
          const answers = expandFrames(step.expect?.frames).map((f) => this.#expectedBody(f));
          const refusal = this.models.get(step.conn)!.feed(bytes, answers);
          if (refusal) {
            const kept = expandFrames(step.expect?.frames).slice(0, refusal.answersBefore);
            expect = {
              frames: [...kept, { size: Buffer.byteLength(refusal.error), body: refusal.error }],
              closed: true,
            };
            this.report.differences.push(
              `step ${this.step}: embedded answers ${JSON.stringify(refusal.error)} and closes; nsqlookupd ${
                step.expect?.serverExit ? 'crashed' : 'waited'
              }`,
            );
            void this.conn(step.conn).write(bytes);
            await this.#checkTcp(step.conn, expect);
            this.refused.add(step.conn);
            return;
          }
        }
        void this.conn(step.conn).write(bytes);
        await this.#checkTcp(step.conn, expect);
        return;
      }
      case 'end':
        this.settling = false;
        this.conn(step.conn).end();
        await this.#checkTcp(step.conn, step.expect);
        return;
      case 'close':
        this.conn(step.conn).destroy();
        this.settling = true;
        return;
      case 'http':
        await this.#checkHttp(step);
        return;
    }
  }

  #expectedBody(frame: FixtureFrame): Buffer {
    if (frame.hex !== undefined) return Buffer.from(frame.hex, 'hex');
    if (!frame.normalized) return Buffer.from(frame.body, 'utf8');
    const { server } = this;
    const values: Record<string, string | number> = {
      lookupd_broadcast_address: server.broadcastAddress,
      lookupd_hostname: server.hostname,
      lookupd_tcp_port: portOf(server.tcpAddress),
      lookupd_http_port: portOf(server.httpAddress),
      lookupd_version: server.version,
    };
    const text = frame.body.replace(/"<([a-z_]+)>"/g, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`${this.where()}: unknown placeholder ${whole} in a frame`);
      return goJson(value);
    });
    return Buffer.from(text, 'utf8');
  }

  async #checkTcp(name: string, given: TcpExpect | undefined): Promise<void> {
    // A connection the embedded server already refused stays closed and silent.
    const expect: TcpExpect = this.refused.has(name)
      ? { frames: [], closed: true }
      : (given ?? { frames: [], closed: false });
    const client = this.conn(name);
    const where = this.where();
    const expected = expandFrames(expect.frames);
    await client.until(
      () => client.frames.length >= expected.length || client.closed,
      `${expected.length} frame(s) on ${name} at ${where}`,
    );
    const stale = client.frames.find((f) => f.step < this.step);
    assert.equal(
      stale,
      undefined,
      `${where}: connection ${name} got a frame during an earlier step: ${stale?.body.toString('latin1')}`,
    );
    assert.equal(
      client.garbage,
      undefined,
      `${where}: connection ${name} got unframed bytes (${client.garbage})`,
    );
    const got = client.frames.splice(0, expected.length);
    assert.equal(
      got.length,
      expected.length,
      `${where}: expected ${expected.length} frame(s) on ${name}, got ${got.length} before the connection closed`,
    );
    for (const [i, frame] of expected.entries()) {
      const body = this.#expectedBody(frame);
      const actual = got[i]!;
      assert.equal(
        actual.body.toString('latin1'),
        body.toString('latin1'),
        `${where}: frame ${i} on ${name}: body ${JSON.stringify(actual.body.toString('utf8'))}, recorded ${JSON.stringify(body.toString('utf8'))}`,
      );
      const size = frame.normalized ? body.length : (frame.size ?? body.length);
      assert.equal(
        actual.size,
        size,
        `${where}: frame ${i} on ${name}: size ${actual.size}, recorded ${size}`,
      );
    }
    if (expect.closed) {
      await client.until(() => client.closed, `the server to close ${name} at ${where}`);
      assert.equal(client.frames.length, 0, `${where}: extra frame on ${name} before its close`);
      if (expect.reset !== undefined) {
        assert.equal(
          client.reset,
          expect.reset,
          `${where}: ${name} closed ${client.reset ? 'by RST' : 'by FIN'}`,
        );
      }
    } else {
      assert.equal(client.closed, false, `${where}: the server closed ${name}`);
      assert.equal(
        client.frames.length,
        0,
        `${where}: extra frame on ${name}: ${client.frames[0]?.body.toString('latin1')}`,
      );
    }
    this.#checkOthers(name, expect.otherConnections);
  }

  #checkOthers(current: string, others: unknown): void {
    const where = this.where();
    const expected = new Map<string, TcpExpect>();
    if (Array.isArray(others)) {
      for (const o of others as ({ conn: string } & TcpExpect)[]) expected.set(o.conn, o);
    } else if (others && typeof others === 'object') {
      for (const [conn, o] of Object.entries(others as Record<string, TcpExpect>)) expected.set(conn, o);
    }
    for (const [name, client] of this.conns) {
      if (name === current || client.destroyedByUs) continue;
      const want = expected.get(name);
      if (want === undefined) {
        const early = client.frames.find((f) => f.step === this.step);
        assert.equal(early, undefined, `${where}: unexpected frame on other connection ${name}`);
        assert.notEqual(client.closedAtStep, this.step, `${where}: other connection ${name} was closed`);
        continue;
      }
      const frames = expandFrames(want.frames);
      const got = client.frames.splice(0, frames.length);
      assert.deepEqual(
        got.map((f) => f.body.toString('latin1')),
        frames.map((f) => this.#expectedBody(f).toString('latin1')),
        `${where}: frames on other connection ${name}`,
      );
      if (want.closed !== undefined)
        assert.equal(client.closed, want.closed, `${where}: other connection ${name} closed`);
    }
  }

  async #checkHttp(step: Extract<FixtureStep, { op: 'http' }>): Promise<void> {
    const where = this.where();
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const result = await httpRequest(
        this.server.httpAddress,
        step.method,
        step.path,
        step.headers,
        step.body,
      );
      const problems = this.#compareHttp(step.expect, result);
      if (problems.length === 0) return;
      if (!this.settling || Date.now() > deadline) {
        assert.fail(
          `${where}:\n  ${problems.join('\n  ')}\n  body: ${result.body.toString('utf8').slice(0, 2000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #compareHttp(expect: HttpExpect, result: HttpResult): string[] {
    const problems: string[] = [];
    if (result.status !== expect.status) problems.push(`status ${result.status}, recorded ${expect.status}`);
    for (const name of RECORDED_HEADERS) {
      const want = expect.headers?.[name];
      if (result.headers[name] !== want) {
        problems.push(
          `header ${name}: ${JSON.stringify(result.headers[name])}, recorded ${JSON.stringify(want)}`,
        );
      }
    }
    const text = result.body.toString('utf8');
    if (expect.body !== undefined) {
      const want = this.target.topology ? expect.body : dropTopologyFromRaw(expect.body);
      if (text !== want) problems.push(`body ${JSON.stringify(text)}, recorded ${JSON.stringify(want)}`);
    } else if (expect.json !== undefined) {
      let actual: ExactJson;
      try {
        actual = parseExactJson(text);
      } catch (error) {
        problems.push(`body is not JSON: ${(error as Error).message}`);
        return problems;
      }
      const rules = unorderedRules(expect.unordered ?? []);
      problems.push(...this.#matchJson(expect.json, actual, [], rules));
    }
    return problems;
  }

  /** Mismatches between a recorded JSON value (with placeholders) and the server's. */
  #matchJson(expected: unknown, actual: ExactJson, path: JsonPath, rules: UnorderedRules): string[] {
    const at = showPath(path);
    if (typeof expected === 'string') return this.#matchString(expected, actual, at);
    if (expected === null || typeof expected !== 'object') {
      return expected === actual ? [] : [`${at}: ${showExact(actual)}, recorded ${JSON.stringify(expected)}`];
    }
    if (Array.isArray(expected)) {
      if (!Array.isArray(actual)) return [`${at}: ${showExact(actual)}, recorded an array`];
      if (actual.length !== expected.length) {
        return [
          `${at}: ${actual.length} element(s) ${showExact(actual)}, recorded ${expected.length} ${JSON.stringify(expected)}`,
        ];
      }
      if (!rules.isUnordered(path)) {
        return expected.flatMap((e, i) => this.#matchJson(e, actual[i]!, [...path, { index: i }], rules));
      }
      return this.#matchUnordered(expected, actual, [...path, 'each'], rules, at);
    }
    if (!(actual instanceof ExactObject)) return [`${at}: ${showExact(actual)}, recorded an object`];
    const recorded = Object.entries(expected as Record<string, unknown>).filter(
      ([key]) => this.target.topology || !TOPOLOGY_KEYS.has(key),
    );
    const keys = actual.keys();
    const wantKeys = recorded.map(([k]) => k);
    if (keys.join(',') !== wantKeys.join(','))
      return [`${at}: keys ${keys.join(',')}, recorded ${wantKeys.join(',')}`];
    const paired = rules.pairAt(path);
    const problems: string[] = [];
    for (const [key, value] of recorded) {
      const child: JsonPath = [...path, { key }];
      if (paired && key === paired.companion) continue;
      if (paired && key === paired.key) {
        problems.push(
          ...this.#matchPaired(expected as Record<string, unknown>, actual, paired, showPath(child)),
        );
        continue;
      }
      problems.push(...this.#matchJson(value, actual.get(key)!, child, rules));
    }
    return problems;
  }

  #matchUnordered(
    expected: unknown[],
    actual: ExactJson[],
    elementPath: JsonPath,
    rules: UnorderedRules,
    at: string,
  ): string[] {
    const used = new Set<number>();
    for (const item of expected) {
      const match = actual.findIndex(
        (a, i) => !used.has(i) && this.#matchJson(item, a, elementPath, rules).length === 0,
      );
      if (match === -1)
        return [`${at}: no element matches ${JSON.stringify(item)} among ${showExact(actual)}`];
      used.add(match);
    }
    return [];
  }

  /** `topics` with `tombstones` permuted alike: compared as a set of (topic, tombstone) pairs. */
  #matchPaired(
    expected: Record<string, unknown>,
    actual: ExactObject,
    pair: { key: string; companion: string },
    at: string,
  ): string[] {
    const wantKeys = expected[pair.key] as unknown[];
    const wantCompanions = expected[pair.companion] as unknown[];
    const gotKeys = actual.get(pair.key);
    const gotCompanions = actual.get(pair.companion);
    if (!Array.isArray(gotKeys) || !Array.isArray(gotCompanions) || gotKeys.length !== gotCompanions.length) {
      return [`${at}: ${showExact(gotKeys)} / ${showExact(gotCompanions)} are not arrays of one length`];
    }
    const want = wantKeys.map((k, i) => JSON.stringify([k, wantCompanions[i]])).sort();
    const got = gotKeys.map((k, i) => JSON.stringify([k, gotCompanions[i]])).sort();
    return want.join() === got.join() ? [] : [`${at}: pairs ${got.join(' ')}, recorded ${want.join(' ')}`];
  }

  #matchString(expected: string, actual: ExactJson, at: string): string[] {
    const { server } = this;
    const bad = (why: string) => [`${at}: ${showExact(actual)} ${why}`];
    switch (expected) {
      case '<lookupd_hostname>':
        return actual === server.hostname ? [] : bad(`is not the server's hostname ${server.hostname}`);
      case '<lookupd_broadcast_address>':
        return actual === server.broadcastAddress
          ? []
          : bad(`is not the broadcast address ${server.broadcastAddress}`);
      case '<lookupd_version>':
        return actual === server.version ? [] : bad(`is not the version ${server.version}`);
      case '<lookupd_tcp_port>':
        return actual === portOf(server.tcpAddress) ? [] : bad('is not the TCP port (an integer)');
      case '<lookupd_http_port>':
        return actual === portOf(server.httpAddress) ? [] : bad('is not the HTTP port (an integer)');
      case '<go_zero_time_unixnano>':
        return actual === GO_ZERO_TIME_UNIX_NANO ? [] : bad('is not Go zero time in ns');
      case '<unixnano>': {
        if (typeof actual !== 'bigint' && typeof actual !== 'number') return bad('is not an integer');
        if (typeof actual === 'number' && !Number.isInteger(actual)) return bad('is not an integer');
        const ns = BigInt(actual);
        const from = BigInt(this.started - 60_000) * 1_000_000n;
        const to = BigInt(Date.now() + 60_000) * 1_000_000n;
        return ns >= from && ns <= to ? [] : bad('is not a time of this scenario in ns');
      }
    }
    const resolved = expected.replace(/<port:([a-z0-9]+)>/g, (_, name: string) =>
      String(this.conn(name).localPort),
    );
    return actual === resolved ? [] : [`${at}: ${showExact(actual)}, recorded ${JSON.stringify(resolved)}`];
  }

  async #serverExit(exit: { code?: number | null; panic?: string }): Promise<void> {
    const where = this.where();
    if (this.target.embedded) {
      // The recording shows nsqlookupd dying; the embedded server must have refused and kept serving.
      assert.ok(
        this.refused.size > 0,
        `${where}: nsqlookupd crashed here (${exit.panic ?? 'no panic line'}) and no deliberate difference explains it`,
      );
      await assertHealthy(this.server);
      return;
    }
    assert.ok(this.server.exited, `${where}: cannot observe the real server's exit`);
    const code = await Promise.race([
      this.server.exited,
      new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), STEP_TIMEOUT_MS).unref()),
    ]);
    assert.notEqual(code, 'alive', `${where}: the recording shows nsqlookupd exiting, it is still running`);
    if (exit.code !== undefined) assert.equal(code, exit.code, `${where}: exit code`);
  }

  /** After the last step: connections left open must stay silent and open for a short grace. */
  async #finalQuiet(): Promise<void> {
    const open = [...this.conns].filter(([, c]) => !c.destroyedByUs && !c.closed);
    const where = `${this.scenario.name} after the last step`;
    for (const [name, client] of this.conns) {
      if (client.destroyedByUs) continue;
      assert.equal(client.frames.length, 0, `${where}: unconsumed frame on ${name}`);
    }
    if (open.length === 0) return;
    this.step = this.scenario.steps.length;
    await new Promise((resolve) => setTimeout(resolve, FINAL_GRACE_MS));
    for (const [name, client] of open) {
      assert.equal(
        client.frames.length,
        0,
        `${where}: frame on ${name}: ${client.frames[0]?.body.toString('latin1')}`,
      );
      assert.equal(client.closed, false, `${where}: the server closed ${name}`);
    }
  }
}

/** Where a value sits in a JSON document: object keys, array indexes, or `each` element of an unordered array. */
type JsonPath = ({ key: string } | { index: number } | 'each')[];

function showPath(path: JsonPath): string {
  if (path.length === 0) return 'body';
  return path
    .map((segment, i) => {
      if (segment === 'each') return '[]';
      if ('index' in segment) return `[${segment.index}]`;
      return i === 0 ? segment.key : `.${segment.key}`;
    })
    .join('');
}

/** A note's path: `key`, `*` (any key), `each` (the elements of an array). */
type PathPattern = ({ key: string } | '*' | 'each')[];

function parsePathPattern(text: string): PathPattern {
  return (text.match(/\[\]|[^.[\]]+/g) ?? []).map((token) =>
    token === '[]' ? 'each' : token === '*' ? '*' : { key: token },
  );
}

function pathMatches(pattern: PathPattern, path: JsonPath): boolean {
  return (
    pattern.length === path.length &&
    pattern.every((token, i) => {
      const segment = path[i]!;
      if (token === 'each') return segment === 'each';
      if (segment === 'each' || 'index' in segment) return false;
      return token === '*' || token.key === segment.key;
    })
  );
}

interface UnorderedRules {
  isUnordered(path: JsonPath): boolean;
  pairAt(objectPath: JsonPath): { key: string; companion: string } | undefined;
}

/**
 * The fixture's `unordered` notes as rules: `channels`, `producers[].topics (tombstones[] reordered
 * alike)`, `*[] (each registration's producer list)`. A note names an array by its path: object keys
 * joined by `.`, `[]` for the elements of an array, `*` for any key (`*[]`: the array under any
 * top-level key). Paths are compared segment by segment, so keys holding dots (topic names in /debug)
 * are still one key.
 */
function unorderedRules(notes: string[]): UnorderedRules {
  const patterns: PathPattern[] = [];
  const pairs: { object: PathPattern; key: string; companion: string }[] = [];
  for (const note of notes) {
    const [spec = '', comment = ''] = /^([^ (]+)\s*(?:\((.*)\))?/.exec(note)?.slice(1) ?? [];
    // `*[]` names the arrays themselves (under any key), not elements of arrays.
    const pattern = parsePathPattern(spec.startsWith('*') && spec.endsWith('[]') ? spec.slice(0, -2) : spec);
    patterns.push(pattern);
    const companion = /^(\w+)\[\] reordered alike/.exec(comment)?.[1];
    const last = pattern[pattern.length - 1];
    if (companion && last && last !== '*' && last !== 'each') {
      pairs.push({ object: pattern.slice(0, -1), key: last.key, companion });
    }
  }
  return {
    isUnordered: (path) => patterns.some((p) => pathMatches(p, path)),
    pairAt: (objectPath) => {
      const pair = pairs.find((p) => pathMatches(p.object, objectPath));
      return pair ? { key: pair.key, companion: pair.companion } : undefined;
    },
  };
}

export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** The server still answers a fresh PING and GET /ping. */
export async function assertHealthy(server: { tcpAddress: string; httpAddress: string }): Promise<void> {
  const client = await V1Client.open(server.tcpAddress);
  try {
    void client.write(Buffer.from('  V1PING\n'));
    await client.until(() => client.frames.length >= 1 || client.closed, 'a PING answer');
    assert.equal(client.frames[0]?.body.toString(), 'OK', 'PING on a fresh connection');
  } finally {
    client.destroy();
  }
  const ping = await httpRequest(server.httpAddress, 'GET', '/ping');
  assert.equal(ping.status, 200);
  assert.equal(ping.body.toString(), 'OK');
}

/** Replays one scenario on a server started for it alone. */
export async function replayScenario(scenario: FixtureScenario, target: ReplayTarget): Promise<ReplayReport> {
  const server = await target.start();
  try {
    const run = new ScenarioRun(scenario, target, server);
    return await run.run();
  } finally {
    await server.close();
  }
}
