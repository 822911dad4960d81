/**
 * 5,000 serving fakes from one command, as a user starts them: `nsqd-lookup fake-producers
 * --producers 5000 --json` in a process of its own against one lookupd. Measured: the time until
 * lookupd's /nodes lists all 5,000 and every one answers GET /ping on the HTTP port it advertises,
 * the total RSS of the command and its workers once registered (read from /proc), and the worker
 * processes it used (as many as the open-files limit asks for; `--producers-per-process` forces a
 * split, which the second row measures at 2,000 a process).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import type { LookupdTarget } from '../harness/targets.js';
import { type Row, summarize } from './stats.js';

const BIN = new URL('../lib/cli/bin.ts', import.meta.url).pathname;
const FAKES = 5000;
const PING_CONCURRENCY = 64;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/ping', agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
    });
    request.on('error', () => resolve(false));
  });
}

async function nodePorts(httpAddress: string): Promise<number[]> {
  const body = (await (await fetch(`http://${httpAddress}/nodes`)).json()) as {
    producers: Array<{ http_port: number }>;
  };
  return body.producers.map((p) => p.http_port);
}

async function oneRound(
  target: LookupdTarget,
  extraArgs: string[],
): Promise<{ ms: number; rss: number; workers: number }> {
  const lookupd = await target.start();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      BIN,
      'fake-producers',
      `--lookupd-tcp-address=${lookupd.tcpAddress}`,
      `--producers=${FAKES}`,
      '--read-timeout=30s',
      '--status-interval=1h',
      '--json',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const started = performance.now();
    let pids = [child.pid!];
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const event = JSON.parse(line) as { event: string; pids?: number[] };
      if (event.event === 'workers') pids = [child.pid!, ...event.pids!];
      if (event.event === 'registered') break;
      if (event.event === 'stopped') throw new Error(`fleet stopped: ${line}`);
    }
    let ports = await nodePorts(lookupd.httpAddress);
    while (new Set(ports).size < FAKES) ports = await nodePorts(lookupd.httpAddress);
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: PING_CONCURRENCY }, async () => {
        while (next < ports.length) if (!(await ping(ports[next++]!))) failed++;
      }),
    );
    if (failed > 0) throw new Error(`${failed} fakes did not answer /ping`);
    const ms = performance.now() - started;
    const rss = pids.reduce((sum, pid) => sum + rssOf(pid), 0);
    return { ms, rss, workers: pids.length - 1 };
  } finally {
    const closed = once(child, 'close');
    child.kill('SIGTERM');
    await closed;
    await lookupd.close();
  }
}

export async function benchFleetCommand(target: LookupdTarget, rounds: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, extra] of [
    ['one command', []],
    ['one command, --producers-per-process 2000', ['--producers-per-process=2000']],
  ] as const) {
    const ms: number[] = [];
    const rss: number[] = [];
    let workers = 0;
    for (let round = 0; round < rounds; round++) {
      const result = await oneRound(target, [...extra]);
      ms.push(result.ms);
      rss.push(result.rss / 1024 / 1024);
      workers = result.workers;
    }
    const group = `${FAKES} serving fakes, ${label} (${target.name}; ${workers === 0 ? 'no worker processes' : `${workers} worker processes`})`;
    rows.push({
      group,
      measure: 'time until all listed by lookupd and answering /ping',
      value: summarize(ms),
      unit: 'ms',
    });
    rows.push({
      group,
      measure: 'total RSS of the command and its workers',
      value: summarize(rss),
      unit: 'MiB',
    });
  }
  return rows;
}
