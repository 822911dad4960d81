import { strict as assert } from 'node:assert';
import { portOf } from '../../harness/targets.js';
import { DEFAULT_MAX_IDENTIFY_BODY_BYTES, DEFAULT_MAX_LINE_BYTES } from '../../lib/lookupd/index.js';
import { FramingModel } from './deliberate-differences.js';
import { type ExactJson, parseExactJson } from './exact-json.js';
import type { FixtureFrame, FixtureScenario, FixtureStep, HttpExpect, TcpExpect } from './fixtures.js';
import { type HttpResult, httpRequest } from './http.js';
import { dropTopologyFromRaw, goJson, matchRecordedJson, type PlaceholderValues } from './recorded-json.js';
import type { ReplayServer, ReplayTarget } from './replay-targets.js';
import { RECORDED_HEADERS, STEP_TIMEOUT_MS, segmentBytes } from './scenario-io.js';
import { V1Client } from './v1-client.js';
import { eventually } from './wait.js';

/**
 * Replays one nsqlookupd v1.3.0 recording (spec/fixtures/lookupd-v1.3.0, format in its README)
 * against a lookupd, the embedded one or the real binary, and compares every byte.
 *
 * Timing: nothing here sleeps except the documented end-of-scenario grace. Each received frame is
 * tagged with the step that was running when it arrived, so a frame that comes too early (say, an
 * answer to an IDENTIFY whose body is incomplete) shows up as a stale frame at the connection's next
 * step, instead of being waited for. HTTP reads that follow a client-side close are retried until
 * they match (for a bounded time), because the server learns of the close asynchronously.
 */

/** How long HTTP reads after a client-side close are retried until they match. */
const SETTLE_TIMEOUT_MS = 3000;
/** The quiet period, at the end of a scenario, in which open connections must receive nothing. */
export const FINAL_GRACE_MS = 50;

export interface ReplayReport {
  /** Steps where the embedded server's deliberate behaviour replaced the recording, described. */
  differences: string[];
  /** Whether the scenario stopped at a recorded server crash. */
  stoppedAtServerExit: boolean;
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

  /** What the recordings' placeholders stand for on this server, in this run. */
  #placeholders(): PlaceholderValues {
    const { server } = this;
    return {
      hostname: server.hostname,
      broadcastAddress: server.broadcastAddress,
      version: server.version,
      tcpPort: portOf(server.tcpAddress),
      httpPort: portOf(server.httpAddress),
      startedAt: this.started,
      connectionPort: (name) => this.conn(name).localPort,
    };
  }

  #expectedBody(frame: FixtureFrame): Buffer {
    if (frame.hex !== undefined) return Buffer.from(frame.hex, 'hex');
    if (!frame.normalized) return Buffer.from(frame.body, 'utf8');
    const p = this.#placeholders();
    const values: Record<string, string | number> = {
      lookupd_broadcast_address: p.broadcastAddress,
      lookupd_hostname: p.hostname,
      lookupd_tcp_port: p.tcpPort,
      lookupd_http_port: p.httpPort,
      lookupd_version: p.version,
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
    let problems: string[] = [];
    let result: HttpResult | undefined;
    const matches = async () => {
      result = await httpRequest(this.server.httpAddress, step.method, step.path, step.headers, step.body);
      problems = this.#compareHttp(step.expect, result);
      // Retried only while the server may not have seen a client-side close yet.
      return problems.length === 0 || !this.settling;
    };
    await eventually(matches, `${where} to match`, { timeoutMs: SETTLE_TIMEOUT_MS, pollMs: 5 }).catch(
      () => {},
    );
    if (problems.length > 0) {
      assert.fail(
        `${where}:\n  ${problems.join('\n  ')}\n  body: ${result?.body.toString('utf8').slice(0, 2000)}`,
      );
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
      problems.push(
        ...matchRecordedJson(expect.json, actual, this.#placeholders(), {
          unordered: expect.unordered,
          topology: this.target.topology,
        }),
      );
    }
    return problems;
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
