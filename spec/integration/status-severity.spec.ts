import assert from 'node:assert/strict';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import type { Registration } from '../../lib/registry/registry.js';
import { type FakeProducerFleet, startFakeProducers } from '../../lib/tools/fake-producers.js';
import { buildLookupdReport } from '../../lib/tools/lookupd-report.js';
import { spawnCli } from '../support/cli.js';

const IDENTITY = {
  broadcastAddress: '127.0.0.1',
  hostname: 'host-a',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
};
const KEY = '127.0.0.1:4150';

describe('status severity: what lookupds differ in', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function lookupds(): Promise<[Lookupd, Lookupd]> {
    const started = await Promise.all(
      [0, 1].map(() => startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' })),
    );
    for (const lookupd of started) cleanups.push(() => lookupd.close());
    return started as [Lookupd, Lookupd];
  }

  async function producer(address: string, registrations: Registration[]): Promise<FakeProducerFleet> {
    const fleet = await startFakeProducers({
      addresses: [address],
      specs: [{ identity: IDENTITY, registrations }],
      registrationOnly: true,
      pingIntervalMs: 60_000,
    });
    cleanups.push(() => fleet.close());
    await fleet.settled();
    return fleet;
  }

  const post = async (http: string, path: string) =>
    assert.equal((await fetch(`http://${http}${path}`, { method: 'POST' })).status, 200);

  const report = (a: Lookupd, b: Lookupd) =>
    buildLookupdReport({ httpAddresses: [a.httpAddress, b.httpAddress], now: () => Date.now() });

  it('names without producers on one lookupd only are listed as warnings, sorted: exit 1 from the bin', async () => {
    const [a, b] = await lookupds();
    await producer(a.tcpAddress, [{ topic: 'orders', channel: 'billing' }]);
    await producer(b.tcpAddress, [{ topic: 'orders', channel: 'billing' }]);
    // Created out of order, on a only, with no producer: what a lookupd restart leaves behind.
    await post(a.httpAddress, '/topic/create?topic=ghost-z');
    await post(a.httpAddress, '/topic/create?topic=ghost-a');
    await post(a.httpAddress, '/channel/create?topic=orders&channel=gone');
    const first = await report(a, b);
    assert.deepEqual(
      first.disagreements.map((d) => [d.severity, d.kind, d.name, d.presentOn, d.missingFrom]),
      [
        ['warning', 'topic', 'ghost-a', [a.httpAddress], [b.httpAddress]],
        ['warning', 'topic', 'ghost-z', [a.httpAddress], [b.httpAddress]],
        ['warning', 'channel', 'orders/gone', [a.httpAddress], [b.httpAddress]],
      ],
    );
    assert.deepEqual(
      first.ghostTopics.map((g) => g.topic),
      ['ghost-a', 'ghost-z'],
    );
    assert.equal(first.exitCode, 1);
    const again = await report(a, b);
    assert.deepEqual(
      [again.disagreements, again.ghostTopics, again.ghostChannels],
      [first.disagreements, first.ghostTopics, first.ghostChannels],
    );

    const cli = await spawnCli([
      'status',
      '-lookupd-http-address',
      a.httpAddress,
      '-lookupd-http-address',
      b.httpAddress,
    ]).done;
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(
      cli.stdout,
      /names without producers that only some lookupds list \(warning\)\n {2}topic ghost-a/,
    );
    assert.doesNotMatch(cli.stdout, /\(critical\)/);
  });

  it('a registration one lookupd lacks is critical, as is a producer it lacks (listed once, not per registration)', async () => {
    const [a, b] = await lookupds();
    await producer(a.tcpAddress, [{ topic: 'orders', channel: 'billing' }, { topic: 'extra' }]);
    await producer(b.tcpAddress, [{ topic: 'orders', channel: 'billing' }]);
    const differing = await report(a, b);
    assert.equal(differing.exitCode, 2);
    assert.deepEqual(
      differing.disagreements.map((d) => [d.severity, d.kind, d.name]),
      [
        ['critical', 'registration', `${KEY} extra`],
        ['critical', 'topic', 'extra'],
      ],
    );

    const [c, d] = await lookupds();
    await producer(c.tcpAddress, [{ topic: 'orders', channel: 'billing' }]);
    const missing = await report(c, d);
    assert.equal(missing.exitCode, 2);
    assert.deepEqual(
      missing.disagreements.filter((x) => x.severity === 'critical').map((x) => [x.kind, x.name]),
      [
        ['producer', KEY],
        ['topic', 'orders'],
        ['channel', 'orders/billing'],
      ],
    );
  });
});
