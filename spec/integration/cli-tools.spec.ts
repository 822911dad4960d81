import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FULL_SUITE } from '../../harness/suite.js';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import { LookupdHttpClient } from '../../lib/http/lookupd-http-client.js';
import { startFakeProducers } from '../../lib/tools/fake-producers.js';
import { loadSnapshot, type SnapshotProducer } from '../../lib/tools/snapshot.js';
import { spawnCli } from '../support/cli.js';
import { useCleanup } from '../support/harness.js';
import { eventually } from '../support/wait.js';
import { camelKeysIn } from './json-keys.js';

const byAddress = (a: SnapshotProducer, b: SnapshotProducer) =>
  `${a.broadcastAddress}:${a.tcpPort}`.localeCompare(`${b.broadcastAddress}:${b.tcpPort}`);

for (const target of LOOKUPD_TARGETS) {
  describe(`CLI tools against the ${target.name}`, () => {
    const cleanup = useCleanup();
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-cli-'));
      cleanup(() => rm(dir, { recursive: true, force: true }));
    });

    async function lookupd(): Promise<RunningLookupd> {
      const server = await target.start();
      cleanup(() => server.close());
      return server;
    }

    function cli(args: string[]) {
      const running = spawnCli(args);
      cleanup(() => running.stop());
      return running;
    }

    it('fake-producers --registration-only registers every producer with its topics and channels, and leaves on SIGINT', async () => {
      const server = await lookupd();
      const run = cli([
        'fake-producers',
        '--registration-only',
        '-lookupd-tcp-address',
        server.tcpAddress,
        '-nsqd-version=1.2.1',
        '-ping-interval',
        '1h',
        '--producers',
        '25',
        '--topics',
        '3',
        '--channels',
        '2',
        '--broadcast-address',
        'sim-%d.test',
        '--json',
        '--status-interval',
        '1h',
      ]);
      const [registered] = await run.lines(1, (line) => line.includes('"event":"registered"'));
      const status = JSON.parse(registered!) as Record<string, number>;
      assert.equal(status.producers, 25);
      assert.equal(status.connected, 25);
      assert.equal(status.registrations_acked, 25 * 6);
      assert.equal(status.registrations_expected, 25 * 6);
      assert.equal(status.registrationsAcked, undefined);
      const http = new LookupdHttpClient(server.httpAddress);
      const nodes = await http.nodes();
      assert.equal(nodes.length, 25);
      assert.deepEqual(
        nodes.map((n) => n.broadcast_address).sort(),
        Array.from({ length: 25 }, (_, i) => `sim-${i}.test`).sort(),
      );
      for (const node of nodes) {
        assert.deepEqual([...node.topics].sort(), ['topic-0', 'topic-1', 'topic-2']);
        // Below the ephemeral range by default: TCP 10000+i, HTTP 20000+i.
        assert.ok(node.tcp_port >= 10000 && node.tcp_port < 10025, String(node.tcp_port));
        assert.equal(node.http_port - node.tcp_port, 10000);
        assert.equal(node.version, '1.2.1');
      }
      assert.deepEqual((await http.channels('topic-1')).sort(), ['channel-0', 'channel-1']);
      run.child.kill('SIGINT');
      const { code, stdout } = await run.done;
      assert.equal(code, 0, stdout);
      const stopped = JSON.parse(stdout.trim().split('\n').pop()!) as { event: string; in_sync: boolean };
      assert.deepEqual([stopped.event, stopped.in_sync], ['stopped', true]);
      for (const line of stdout.trim().split('\n')) assert.deepEqual(camelKeysIn(JSON.parse(line)), [], line);
      await eventually(async () => (await http.nodes()).length === 0, 'lookupd drops the producers');
    });

    it('fake-producers refuses bad flags with exit code 2', async () => {
      const missing = await cli(['fake-producers', '--producers', '2']).done;
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--lookupd-tcp-address is required/);
      const bad = await cli(['fake-producers', '--lookupd-tcp-address', 'nowhere', '--producers', 'x']).done;
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /not host:port|whole number/);
    });

    it('snapshot save / load / save clones a topology: verbatim with --registration-only, serving by default, names without producers included', async () => {
      const source = await lookupd();
      const fleet = await startFakeProducers({
        addresses: [source.tcpAddress],
        registrationOnly: true,
        specs: [
          {
            identity: {
              broadcastAddress: 'a.test',
              hostname: 'host-a',
              tcpPort: 4150,
              httpPort: 4151,
              version: '1.2.1',
            },
            registrations: [
              { topic: 'orders', channel: 'billing' },
              { topic: 'orders', channel: 'audit' },
              { topic: 'bare' },
            ],
          },
          {
            identity: {
              broadcastAddress: 'b.test',
              hostname: 'host-b',
              tcpPort: 5150,
              httpPort: 5151,
              version: '1.3.0',
            },
            registrations: [{ topic: 'clicks', channel: 'stream#ephemeral' }],
          },
        ],
      });
      cleanup(() => fleet.close());
      await fleet.settled();

      const first = join(dir, 'first.msgpack');
      // Names lookupd keeps with no producer: the clone must list them too.
      for (const path of ['/topic/create?topic=ghost', '/channel/create?topic=ghost&channel=kept']) {
        assert.equal((await fetch(`http://${source.httpAddress}${path}`, { method: 'POST' })).status, 200);
      }
      const saved = await cli(['snapshot', 'save', '--lookupd-http-address', source.httpAddress, '-o', first])
        .done;
      assert.equal(saved.code, 0, saved.stderr);
      assert.match(saved.stdout, /saved 2 producers, 3 topics, 4 registrations/);
      const a = await loadSnapshot(first);
      assert.equal(a.producers.length, 2);
      assert.deepEqual(a.producers.find((p) => p.broadcastAddress === 'a.test')?.topics, [
        { name: 'bare', channels: [] },
        { name: 'orders', channels: ['audit', 'billing'] },
      ]);
      assert.deepEqual(a.unownedTopics, [{ name: 'ghost', channels: ['kept'] }]);
      const sourceHttp = new LookupdHttpClient(source.httpAddress);

      /** Loads `first` into a new lookupd with `flags`, saves the clone, and stops the load. */
      const cloneWith = async (flags: string[], name: string) => {
        const mirror = await lookupd();
        const load = cli([
          'snapshot',
          'load',
          first,
          '--lookupd-tcp-address',
          mirror.tcpAddress,
          '--json',
          ...flags,
        ]);
        await load.lines(1, (line) => line.includes('"event":"registered"'));
        const file = join(dir, name);
        const resaved = await cli([
          'snapshot',
          'save',
          '--lookupd-http-address',
          mirror.httpAddress,
          '-o',
          file,
        ]).done;
        assert.equal(resaved.code, 0, resaved.stderr);
        const mirrorHttp = new LookupdHttpClient(mirror.httpAddress);
        assert.deepEqual((await mirrorHttp.topics()).sort(), (await sourceHttp.topics()).sort());
        for (const topic of await sourceHttp.topics())
          assert.deepEqual(
            (await mirrorHttp.channels(topic)).sort(),
            (await sourceHttp.channels(topic)).sort(),
            topic,
          );
        return {
          clone: await loadSnapshot(file),
          stop: async () => {
            load.child.kill('SIGINT');
            assert.equal((await load.done).code, 0);
          },
        };
      };

      // The verbatim clone runs in the whole suite (NSQD_LOOKUP_FULL=1); the serving one below always.
      if (FULL_SUITE) {
        const verbatim = await cloneWith(['--registration-only'], 'verbatim.msgpack');
        assert.deepEqual(verbatim.clone.producers.sort(byAddress), a.producers.sort(byAddress));
        assert.deepEqual(verbatim.clone.unownedTopics, a.unownedTopics);
        await verbatim.stop();
      }

      const serving = await cloneWith([], 'serving.msgpack');
      const local = ({ broadcastAddress, tcpPort, httpPort, ...rest }: SnapshotProducer) => rest;
      const byHost = (x: SnapshotProducer, y: SnapshotProducer) => x.hostname.localeCompare(y.hostname);
      assert.deepEqual(serving.clone.producers.sort(byHost).map(local), a.producers.sort(byHost).map(local));
      assert.deepEqual(serving.clone.unownedTopics, a.unownedTopics);
      for (const producer of serving.clone.producers) {
        assert.equal(producer.broadcastAddress, '127.0.0.1');
        // It advertises what it listens on: its /info names the same ports.
        const info = (await (await fetch(`http://127.0.0.1:${producer.httpPort}/info`)).json()) as Record<
          string,
          unknown
        >;
        assert.deepEqual(
          [info.hostname, info.tcp_port, info.version],
          [producer.hostname, producer.tcpPort, producer.version],
        );
      }
      await serving.stop();

      const shown = await cli(['snapshot', 'show', first]).done;
      assert.equal(shown.code, 0);
      assert.match(shown.stdout, /a\.test:4150 \(http 4151, host-a, v1\.2\.1\)/);
      assert.match(shown.stdout, /orders: audit, billing/);
    });

    it('snapshot refuses a corrupt or foreign file with a clear message and exit code 1', async () => {
      const corrupt = join(dir, 'corrupt.msgpack');
      await writeFile(corrupt, Buffer.from([0xde, 0xad, 0xbe]));
      const shown = await cli(['snapshot', 'show', corrupt]).done;
      assert.equal(shown.code, 1);
      assert.match(shown.stderr, /snapshot .*corrupt\.msgpack: /);
      const usage = await cli(['snapshot', 'frobnicate']).done;
      assert.equal(usage.code, 2);
    });
  });
}

describe('nsqd-lookup demo', () => {
  it('runs every step against an embedded lookupd and finishes by itself', async function () {
    this.timeout(60_000);
    const run = spawnCli(['demo', '--ping-interval', '200ms']);
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    for (const step of [
      '1. Started an embedded nsqlookupd',
      '3. What a consumer sees',
      '6. lookupd restarts',
      'Done.',
    ]) {
      assert.ok(stdout.includes(step), `missing "${step}" in:\n${stdout}`);
    }
    assert.match(stdout, /re-registered 4 registrations/);
    assert.match(stdout, /channels: {2}billing, fraud-check, shipping/);
  });
});

describe('CLI exit codes for a command-line mistake', () => {
  it('is 2 for every command, and 3 (UNKNOWN) for the monitoring commands heartbeat and status', async () => {
    const expected: Record<string, number> = {
      demo: 2,
      'fake-producers': 2,
      snapshot: 2,
      lookupd: 2,
      heartbeat: 3,
      status: 3,
    };
    const runs = Object.keys(expected).map(async (command) => {
      const { code, stderr } = await spawnCli([command, '--no-such-flag']).done;
      return [command, { code, hint: stderr.includes(`nsqd-lookup ${command} --help`) }] as const;
    });
    const results = Object.fromEntries(await Promise.all(runs));
    assert.deepEqual(
      results,
      Object.fromEntries(Object.entries(expected).map(([command, code]) => [command, { code, hint: true }])),
    );
    assert.equal((await spawnCli(['no-such-command']).done).code, 2);
  });
});
