/**
 * Fleets past one process (worker processes, one status) and past one machine (`--shard K/N`, here
 * two shards side by side on 127.0.0.1): identities never collide, and no worker outlives its parent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itSlow } from '../../harness/suite.js';
import { parseShard } from '../../lib/cli/fake-producers.js';
import { UsageError } from '../../lib/cli/usage.js';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import { openFilesLimit, producersPerProcess, sliceFleet } from '../../lib/tools/fleet-workers.js';
import { LookupdHttpClient } from '../../lib/tools/index.js';
import { spawnCli } from '../support/cli.js';
import { useCleanup } from '../support/harness.js';
import { eventually } from '../support/wait.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('fake-producer fleets past one process and one machine', () => {
  const cleanup = useCleanup();
  let lookupd: Lookupd;
  let http: LookupdHttpClient;
  beforeEach(async () => {
    lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanup(() => lookupd.close());
    http = new LookupdHttpClient(lookupd.httpAddress);
  });

  const run = (args: string[]) => {
    const running = spawnCli([
      'fake-producers',
      '-lookupd-tcp-address',
      lookupd.tcpAddress,
      '--json',
      ...args,
    ]);
    cleanup(() => running.stop());
    return running;
  };
  const events = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  itSlow(
    'a fleet larger than one worker’s share: one status for all, every worker gone after SIGTERM',
    async () => {
      const fleet = run(['--producers', '7', '--producers-per-process', '3', '--status-interval', '1h']);
      const [workersLine] = await fleet.lines(1, (line) => line.includes('"event":"workers"'));
      const { pids } = JSON.parse(workersLine!) as { pids: number[] };
      assert.equal(pids.length, 3, '7 producers, 3 per process');
      const [registered] = await fleet.lines(1, (line) => line.includes('"event":"registered"'));
      const status = JSON.parse(registered!) as Record<string, number>;
      assert.deepEqual(
        [status.producers, status.started, status.serving, status.connected, status.registrations_acked],
        [7, 7, 7, 7, 7],
      );
      const nodes = await http.nodes();
      assert.deepEqual(
        nodes.map((n) => n.hostname).sort(),
        Array.from({ length: 7 }, (_, i) => `fake-nsqd-${i}`).sort(),
      );
      for (const pid of pids) assert.ok(alive(pid), `worker ${pid} runs`);
      fleet.child.kill('SIGTERM');
      const { code, stdout } = await fleet.done;
      assert.equal(code, 0, stdout);
      const last = events(stdout).at(-1)!;
      assert.deepEqual([last.event, last.in_sync, last.producers], ['stopped', true, 7]);
      // The parent's output closes only once every worker (which shares it) has exited.
      for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
      await eventually(async () => (await http.nodes()).length === 0, 'lookupd drops every fake');
    },
  );

  itSlow('workers whose parent dies (SIGKILL) close their fakes and exit: no orphans', async () => {
    const fleet = run(['--producers', '4', '--producers-per-process', '2', '--status-interval', '1h']);
    const [workersLine] = await fleet.lines(1, (line) => line.includes('"event":"workers"'));
    const { pids } = JSON.parse(workersLine!) as { pids: number[] };
    await fleet.lines(1, (line) => line.includes('"event":"registered"'));
    fleet.child.kill('SIGKILL');
    await fleet.done;
    await eventually(() => pids.every((pid) => !alive(pid)), 'every worker exits');
    await eventually(async () => (await http.nodes()).length === 0, 'lookupd drops every fake');
  });

  for (const mode of ['--registration-only', '--listen-address=127.0.0.1'] as const) {
    (mode === '--registration-only' ? it : itSlow)(
      `two shards of one fleet (${mode}) never collide in identity`,
      async () => {
        const shards = [0, 1].map((k) =>
          run(['--producers', '5', `--shard=${k}/2`, '--broadcast-address=127.0.0.1', mode]),
        );
        await Promise.all(shards.map((s) => s.lines(1, (line) => line.includes('"event":"registered"'))));
        const nodes = await http.nodes();
        assert.equal(nodes.length, 5);
        assert.deepEqual(nodes.map((n) => n.hostname).sort(), [
          'fake-nsqd-0',
          'fake-nsqd-1',
          'fake-nsqd-2',
          'fake-nsqd-3',
          'fake-nsqd-4',
        ]);
        const identities = new Set(nodes.map((n) => `${n.broadcast_address}:${n.tcp_port}:${n.http_port}`));
        assert.equal(identities.size, 5, [...identities].join(' '));
        const ports = new Set(nodes.flatMap((n) => [n.tcp_port, n.http_port]));
        assert.equal(ports.size, 10, 'no port is advertised twice');
      },
    );
  }
});

describe('fleet slicing', () => {
  it('reads the soft open-files limit from /proc/self/limits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-limits-'));
    try {
      const file = join(dir, 'limits');
      await writeFile(
        file,
        'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                40000                files\n',
      );
      assert.equal(openFilesLimit(file), 20000);
      assert.equal(openFilesLimit(join(dir, 'missing')), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.ok((openFilesLimit() ?? 0) > 0, 'this machine has a limit');
  });

  it('counts two listeners per serving fake and one connection per lookupd, leaving a quarter free', () => {
    assert.equal(producersPerProcess({ lookupds: 1, registrationOnly: false, limit: 20_000 }), 5000);
    assert.equal(producersPerProcess({ lookupds: 2, registrationOnly: false, limit: 20_000 }), 3750);
    assert.equal(producersPerProcess({ lookupds: 1, registrationOnly: true, limit: 20_000 }), 15_000);
  });

  it('slices a fleet into disjoint, even ranges that keep the whole fleet’s size', () => {
    const slices = sliceFleet(
      { addresses: ['x:1'], producers: 10, firstIndex: 5, churnPerSecond: 9, seed: 1 },
      4,
    );
    assert.deepEqual(
      slices.map((s) => [s.firstIndex, s.producers, s.totalProducers, s.churnPerSecond, s.seed]),
      [
        [5, 3, 15, 3, 1],
        [8, 3, 15, 3, 2],
        [11, 4, 15, 3, 3],
      ],
    );
  });

  it('--shard must be K/N with K below N', () => {
    assert.deepEqual(parseShard('1/4'), { index: 1, count: 4 });
    for (const bad of ['4/4', '1', '-1/2', '1/0', 'a/b'])
      assert.throws(() => parseShard(bad), UsageError, bad);
  });
});
