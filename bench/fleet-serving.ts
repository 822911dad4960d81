/**
 * Serving fake producers against one lookupd: each fake a small nsqd with its own TCP and HTTP
 * listeners, 1 topic and 1 channel, message rate 0, all in one child process
 * (bench/fleet-serving-child.ts) driven from here.
 *   - time from asking the child for 1,000 fakes until lookupd's /nodes lists every one with its
 *     topic and every one answers GET /ping on the HTTP port lookupd advertises (fetched from here,
 *     a fixed number at a time, each on a connection of its own), with the part spent after the
 *     fleet reported every fake connected and acknowledged, the failed connection attempts its loops
 *     retried on the way (a fake whose dial the busy process does not see complete within
 *     dialTimeoutMs tries again after a backoff) and the child's worst event-loop delay;
 *   - marginal RSS per fake: 100 fakes, then 900 more in the same process, (RSS at 1,000 - RSS at
 *     100) / 900, each RSS after gc and a settle period, as bench/fleet-child.ts measures.
 * The two are measured in separate child processes, each with a fresh lookupd: the time from a
 * process that starts all 1,000 at once, the memory from one that grows from 100.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import type { LookupdTarget } from '../harness/targets.js';
import { type Row, summarize } from './stats.js';

const CHILD = new URL('./fleet-serving-child.ts', import.meta.url).pathname;
const FAKES = 1000;
const FIRST = 100;
const TOPIC = 'topic-0';
const PING_CONCURRENCY = 64;
/** Goal from the issue: what one more serving fake may cost. */
const GOAL_KIB = 64;

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The child process and its answers, one JSON line each, in order. */
class Child {
  readonly #process: ChildProcess;
  readonly #answers: unknown[] = [];
  readonly #waiting: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  #failure: Error | undefined;
  readonly exited: Promise<void>;

  constructor(lookupdTcpAddress: string) {
    this.#process = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, lookupdTcpAddress], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.#process.stdout! }).on('line', (line) => {
      const waiter = this.#waiting.shift();
      const value: unknown = JSON.parse(line);
      if (waiter) waiter.resolve(value);
      else this.#answers.push(value);
    });
    this.exited = new Promise((resolve) => {
      this.#process.on('exit', (code, signal) => {
        this.#failure = new Error(`fleet-serving child exited (${signal ?? code})`);
        for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
        resolve();
      });
    });
  }

  next<T>(): Promise<T> {
    if (this.#answers.length > 0) return Promise.resolve(this.#answers.shift() as T);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve: resolve as never, reject }));
  }

  send(command: string): void {
    this.#process.stdin!.write(`${command}\n`);
  }

  async close(): Promise<void> {
    if (!this.#failure) this.send('close');
    await this.exited;
  }
}

/** Waits until lookupd's /nodes lists `count` producers with the topic; their HTTP ports. */
async function listedHttpPorts(httpAddress: string, count: number): Promise<number[]> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const response = await fetch(`http://${httpAddress}/nodes`);
    if (response.status !== 200) throw new Error(`GET /nodes on ${httpAddress}: ${response.status}`);
    const body = (await response.json()) as { producers: Array<{ http_port: number; topics: string[] }> };
    const listed = body.producers.filter((p) => p.topics.includes(TOPIC));
    if (listed.length >= count) return listed.map((p) => p.http_port);
    if (performance.now() > deadline)
      throw new Error(`lookupd lists ${listed.length} of ${count} serving fakes after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** GET /ping on one port, on a connection of its own (closed after the answer). */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path: '/ping', agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        if (response.statusCode === 200 && body === 'OK') resolve();
        else reject(new Error(`GET /ping on port ${port}: ${response.statusCode} ${body}`));
      });
    });
    request.on('error', reject);
  });
}

/** Pings every port, `PING_CONCURRENCY` at a time; rejects on the first that does not answer OK. */
async function pingAll(ports: number[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ports.length) await ping(ports[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PING_CONCURRENCY, ports.length) }, worker));
}

/**
 * Asks the child for `count` more fakes; resolves once lookupd lists `total` and all answer /ping,
 * with the ms spent listing and pinging after the child reported its fleet in sync, the failed
 * connection attempts the fleet retried on the way, and the child's worst event-loop delay.
 */
async function grow(
  child: Child,
  httpAddress: string,
  count: number,
  total: number,
  hostnames: string,
): Promise<{ checkMs: number; failures: number; delayMaxMs: number }> {
  child.send(`start ${count} ${hostnames}`);
  const started = await child.next<{
    started: number;
    failures: Record<string, number>;
    eventLoopDelayMaxMs: number;
  }>();
  const t0 = performance.now();
  const failures = Object.values(started.failures).reduce((sum, n) => sum + n, 0);
  if (failures > 0) process.stderr.write(`  retried: ${JSON.stringify(started.failures)}\n`);
  const ports = await listedHttpPorts(httpAddress, total);
  if (new Set(ports).size !== total)
    throw new Error(`lookupd lists ${new Set(ports).size} distinct HTTP ports`);
  await pingAll(ports);
  return { checkMs: performance.now() - t0, failures, delayMaxMs: started.eventLoopDelayMaxMs };
}

export async function benchFleetServing(target: LookupdTarget, rounds: number): Promise<Row[]> {
  const readyMs: number[] = [];
  const checkMs: number[] = [];
  const failedAttempts: number[] = [];
  const delayMaxMs: number[] = [];
  const marginalKiB: number[] = [];
  const heapKiB: number[] = [];
  const perFakeAt1000KiB: number[] = [];
  for (let round = 0; round < rounds; round++) {
    {
      const server = await target.start();
      const child = new Child(server.tcpAddress);
      try {
        await child.next();
        const t0 = performance.now();
        const ready = await grow(child, server.httpAddress, FAKES, FAKES, 'fake-nsqd-%d');
        readyMs.push(performance.now() - t0);
        checkMs.push(ready.checkMs);
        failedAttempts.push(ready.failures);
        delayMaxMs.push(ready.delayMaxMs);
      } finally {
        await child.close();
        await server.close();
      }
    }
    {
      const server = await target.start();
      const child = new Child(server.tcpAddress);
      try {
        await child.next();
        child.send('memory');
        const before = await child.next<Memory>();
        await grow(child, server.httpAddress, FIRST, FIRST, 'fake-nsqd-%d');
        child.send('memory');
        const at100 = await child.next<Memory>();
        await grow(child, server.httpAddress, FAKES - FIRST, FAKES, 'fake-nsqd-b%d');
        child.send('memory');
        const at1000 = await child.next<Memory>();
        const per = (a: number, b: number) => (a - b) / (FAKES - FIRST) / 1024;
        marginalKiB.push(per(at1000.rss, at100.rss));
        heapKiB.push(per(at1000.heapUsed, at100.heapUsed));
        perFakeAt1000KiB.push((at1000.rss - before.rss) / FAKES / 1024);
      } finally {
        await child.close();
        await server.close();
      }
    }
  }
  const group = `${FAKES} serving fakes x 1 topic, 1 channel, rate 0 (${target.name})`;
  const marginal = summarize(marginalKiB);
  return [
    {
      group,
      measure: `time until lookupd lists all and each answers /ping (${PING_CONCURRENCY} at a time)`,
      value: summarize(readyMs),
      unit: 'ms',
    },
    {
      group,
      measure: 'of which: /nodes and every /ping, after the fleet reported all in sync',
      value: summarize(checkMs),
      unit: 'ms',
    },
    {
      group,
      measure: 'failed lookupd connection attempts on the way (each retried by its loop)',
      value: summarize(failedAttempts),
      unit: 'attempts',
    },
    {
      group,
      measure: 'event-loop delay max (fleet process, until all in sync)',
      value: summarize(delayMaxMs),
      unit: 'ms',
    },
    {
      group,
      measure: `RSS per fake from ${FIRST} to ${FAKES}, marginal (after GC, 3 s settled)`,
      value: marginal,
      unit: 'KiB',
      goal: `<= ${GOAL_KIB} KiB`,
      goalMet: marginal.median <= GOAL_KIB,
    },
    {
      group,
      measure: `heap used per fake from ${FIRST} to ${FAKES}, marginal`,
      value: summarize(heapKiB),
      unit: 'KiB',
    },
    {
      group,
      measure: `RSS per fake at ${FAKES}, all growth of the fleet process`,
      value: summarize(perFakeAt1000KiB),
      unit: 'KiB',
    },
  ];
}
