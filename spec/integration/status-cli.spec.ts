import assert from 'node:assert/strict';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import type { LookupdReport } from '../../lib/tools/lookupd-report.js';
import { spawnCli } from '../support/cli.js';
import { useCleanup } from '../support/harness.js';
import { nextLoopEvent } from '../support/wait.js';
import { camelKeysIn } from './json-keys.js';

/** The report's own field names back, to read it with its TypeScript type. */
function camelCased(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCased);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      camelCased(v),
    ]),
  );
}

for (const target of LOOKUPD_TARGETS) {
  describe(`nsqd-lookup status (${target.name})`, () => {
    const cleanup = useCleanup();

    async function lookupd(): Promise<RunningLookupd> {
      const server = await target.start();
      cleanup(() => server.close());
      return server;
    }

    async function broker(
      addresses: string[],
      broadcastAddress: string,
      tcpPort: number,
      registry: Registry,
    ) {
      const loop = new LookupLoop({
        addresses,
        identity: {
          broadcastAddress,
          tcpPort,
          httpPort: tcpPort + 1,
          version: '1.3.0',
          hostname: `host-${tcpPort}`,
        },
        registry,
        checkBroadcastAddress: false,
      });
      cleanup(() => loop.close());
      const ready = addresses.map((address) => nextLoopEvent(loop.events({ address }), 'connected'));
      loop.start();
      await Promise.all(ready);
      await loop.settled();
      return loop;
    }

    it('finds ghost topics, tombstoned producers, bad broadcast addresses and lookupds that disagree', async () => {
      const [a, b] = [await lookupd(), await lookupd()];
      const shared = new Registry([
        { topic: 'orders', channel: 'billing' },
        { topic: 'old', channel: 'gone' },
      ]);
      await broker([a.tcpAddress, b.tcpAddress], '127.0.0.1', 5150, shared);
      shared.removeTopic('old');
      await broker([a.tcpAddress], '0.0.0.0', 6150, new Registry([{ topic: 'only-on-a' }]));
      const tombstone = await fetch(
        `http://${a.httpAddress}/topic/tombstone?topic=orders&node=127.0.0.1:5151`,
        {
          method: 'POST',
        },
      );
      assert.equal(tombstone.status, 200);

      const run = spawnCli([
        'status',
        '--lookupd-http-address',
        a.httpAddress,
        '--lookupd-http-address',
        b.httpAddress,
        '--json',
      ]);
      cleanup(() => run.stop());
      const { code, stdout, stderr } = await run.done;
      assert.equal(code, 2, stderr);
      const document = JSON.parse(stdout) as unknown;
      assert.deepEqual(camelKeysIn(document), [], 'every key is snake_case');
      const report = camelCased(document) as LookupdReport;
      assert.deepEqual(
        report.lookupds.map((l) => [l.reachable, l.producers]),
        [
          [true, 2],
          [true, 1],
        ],
      );
      assert.ok(report.ghostTopics.some((g) => g.topic === 'old' && g.lookupd === a.httpAddress));
      assert.ok(report.ghostTopics.some((g) => g.topic === 'old' && g.lookupd === b.httpAddress));
      assert.ok(report.ghostChannels.some((g) => g.topic === 'old' && g.channel === 'gone'));
      assert.equal(
        report.ghostTopics.some((g) => g.topic === 'orders'),
        false,
      );
      assert.deepEqual(
        report.tombstones.map((t) => [t.lookupd, t.producer, t.topic]),
        [[a.httpAddress, '127.0.0.1:5150', 'orders']],
      );
      assert.ok(report.tombstones[0]!.remainingMs > 0 && report.tombstones[0]!.remainingMs <= 45_000);
      assert.deepEqual(
        report.disagreements.filter((d) => d.kind === 'producer'),
        [
          {
            kind: 'producer',
            severity: 'critical',
            name: '0.0.0.0:6150',
            presentOn: [a.httpAddress],
            missingFrom: [b.httpAddress],
          },
        ],
      );
      assert.ok(report.disagreements.some((d) => d.kind === 'topic' && d.name === 'only-on-a'));
      const bad = report.producers.find((p) => p.key === '0.0.0.0:6150');
      assert.deepEqual(
        bad?.broadcastWarnings.map((w) => w.code),
        ['BROADCAST_UNSPECIFIED'],
      );
      const good = report.producers.find((p) => p.key === '127.0.0.1:5150');
      assert.deepEqual(good?.seenBy.sort(), [a.httpAddress, b.httpAddress].sort());
      assert.ok((good?.lastHeartbeatAgeMs ?? Number.POSITIVE_INFINITY) < 60_000);
    });

    it('reports a healthy lookupd as a readable table and exits 0; an unreachable one exits 2', async () => {
      const a = await lookupd();
      await broker([a.tcpAddress], '127.0.0.1', 7150, new Registry([{ topic: 'fine', channel: 'c' }]));
      const healthy = await spawnCli(['status', '--lookupd-http-address', a.httpAddress]).done;
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.match(healthy.stdout, /lookupd status: healthy/);
      assert.match(healthy.stdout, /127\.0\.0\.1:7150\s+host-7150\s+1\.3\.0/);

      const gone = await lookupd();
      await gone.close();
      const down = await spawnCli(['status', '--lookupd-http-address', gone.httpAddress, '--timeout', '1s'])
        .done;
      assert.equal(down.code, 2);
      assert.match(down.stdout, /DOWN/);
      const typo = await spawnCli(['status', '--lookupd-http-address', 'nope']).done;
      assert.equal(typo.code, 3);
    });
  });
}
