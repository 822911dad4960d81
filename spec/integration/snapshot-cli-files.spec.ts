import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr, pack } from 'msgpackr';
import { spawnCli } from '../support/cli.js';
import { useCleanup } from '../support/harness.js';

const producer = {
  hostname: 'host-a',
  broadcastAddress: 'a.test',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
  topologyZone: '',
  topologyRegion: '',
  topics: [{ name: 'orders', channels: ['billing'] }],
};
const header = {
  format: 'nsqd-lookup/topology',
  version: 1,
  savedAt: '2024-01-01T00:00:00.000Z',
  source: '127.0.0.1:4161',
};

describe('nsqd-lookup snapshot with crafted files', () => {
  const cleanup = useCleanup();
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-snapshot-cli-'));
    cleanup(() => rm(dir, { recursive: true, force: true }));
  });

  function cli(args: string[]) {
    const run = spawnCli(args);
    cleanup(() => run.stop());
    return run.done;
  }

  it('prints a clear snapshot error, not a raw TypeError, for 64-bit integers and cycles', async () => {
    const cyclicTopic: Record<string, unknown> = { name: 'a b', channels: [] };
    cyclicTopic.self = cyclicTopic;
    const files: Array<[string, Buffer, RegExp]> = [
      [
        'int64.msgpack',
        pack({ ...header, producers: [{ ...producer, topics: [{ name: 1n << 40n, channels: [] }] }] }),
        /invalid topic .*1099511627776n/,
      ],
      [
        'cycle.msgpack',
        new Packr({ structuredClone: true }).pack({
          ...header,
          producers: [{ ...producer, topics: [cyclicTopic] }],
        }),
        /invalid topic .*Circular/,
      ],
    ];
    for (const [name, bytes, message] of files) {
      const file = join(dir, name);
      await writeFile(file, bytes);
      for (const args of [
        ['snapshot', 'show', file],
        ['snapshot', 'show', '--json', file],
        ['snapshot', 'load', '--lookupd-tcp-address', '127.0.0.1:1', file],
      ]) {
        const shown = await cli(args);
        const what = `${args.join(' ')}: ${shown.stderr}`;
        assert.equal(shown.code, 1, what);
        assert.equal(shown.stdout, '', what);
        assert.match(
          shown.stderr,
          /^nsqd-lookup snapshot: snapshot \S+\.msgpack: producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): /,
          what,
        );
        assert.match(shown.stderr, message, what);
        assert.doesNotMatch(shown.stderr, /TypeError|serialize a BigInt|circular structure/i, what);
      }
    }
  });

  it('show --json prints a valid file whose unknown fields hold 64-bit integers and cycles', async () => {
    const raw: Record<string, unknown> = { ...header, extra: 2n ** 62n };
    raw.producers = [{ ...producer, extra: raw }];
    const file = join(dir, 'extra.msgpack');
    await writeFile(file, new Packr({ structuredClone: true }).pack(raw));
    const shown = await cli(['snapshot', 'show', '--json', file]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), {
      format: 'nsqd-lookup/topology',
      version: 1,
      saved_at: '2024-01-01T00:00:00.000Z',
      source: '127.0.0.1:4161',
      producers: [
        {
          hostname: 'host-a',
          broadcast_address: 'a.test',
          tcp_port: 4150,
          http_port: 4151,
          version: '1.3.0',
          topology_zone: '',
          topology_region: '',
          topics: [{ name: 'orders', channels: ['billing'] }],
        },
      ],
      unowned_topics: [],
    });
  });
});
