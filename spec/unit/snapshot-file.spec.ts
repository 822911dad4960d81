import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr, pack } from 'msgpackr';
import { SnapshotFileError } from '../../lib/errors.js';
import { decodeSnapshot, loadSnapshot, type TopologySnapshot } from '../../lib/tools/snapshot.js';
import { useCleanup } from '../support/harness.js';

function snapshot(): TopologySnapshot {
  return {
    format: 'nsqd-lookup/topology',
    version: 1,
    savedAt: '2024-01-01T00:00:00.000Z',
    source: '127.0.0.1:4161',
    producers: [
      {
        hostname: 'host-a',
        broadcastAddress: 'a.test',
        tcpPort: 4150,
        httpPort: 4151,
        version: '1.3.0',
        topologyZone: '',
        topologyRegion: '',
        topics: [{ name: 'orders', channels: ['billing'] }],
      },
    ],
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a crafted file is whatever its author made it
type Raw = Record<string, any>;

/** A snapshot with `change` applied to a plain copy, as a crafted file would hold it. */
function crafted(change: (raw: Raw) => void): Raw {
  const raw = structuredClone(snapshot()) as Raw;
  change(raw);
  return raw;
}

describe('snapshot files', () => {
  // msgpackr's own encoders: BigInt values become (u)int64, which decode as BigInt; structuredClone
  // writes shared and cyclic references.
  const cycles = new Packr({ structuredClone: true });
  const records = new Packr({ useRecords: true });

  it('refuses 64-bit integers and reference cycles with a SnapshotFileError that shows them', () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        'int64 version',
        pack(crafted((s) => (s.version = 1n))),
        /unsupported version 1n \(this build reads 1\)/,
      ],
      [
        'int64 port',
        pack(crafted((s) => (s.producers[0].tcpPort = 4150n))),
        /producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): tcpPort must be an integer port from 1 to 65535, got 4150n/,
      ],
      [
        'uint64 topic name',
        pack(crafted((s) => (s.producers[0].topics[0].name = 2n ** 64n - 1n))),
        /producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): invalid topic .*18446744073709551615n/,
      ],
      [
        'int64 channel',
        pack(crafted((s) => s.producers[0].topics[0].channels.push(-(2n ** 63n)))),
        /producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): topic orders: invalid channel -9223372036854775808n/,
      ],
      [
        'cyclic topic',
        cycles.pack(
          crafted((s) => {
            const topic = s.producers[0].topics[0];
            topic.name = 'a b';
            topic.self = topic;
          }),
        ),
        /producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): invalid topic .*Circular/,
      ],
      [
        'cyclic channels',
        cycles.pack(
          crafted((s) => {
            const channels = s.producers[0].topics[0].channels;
            channels.push(channels);
          }),
        ),
        /producers\[0\] \(hostname 'host-a', broadcast address 'a\.test'\): topic orders: invalid channel .*Circular/,
      ],
      [
        'cyclic producers',
        cycles.pack(crafted((s) => s.producers.push(s))),
        /producers\[1\]: hostname is not a string/,
      ],
      [
        'records',
        records.pack(crafted((s) => (s.producers[0].httpPort = 1n << 40n))),
        /httpPort must be an integer port from 1 to 65535, got 1099511627776n/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      assert.throws(
        () => decodeSnapshot(bytes, 'crafted.msgpack'),
        (error: unknown) => {
          assert.ok(error instanceof SnapshotFileError, `${name}: ${String(error)}`);
          assert.equal(error.code, 'NSQ_ERR_SNAPSHOT_FILE');
          assert.match(error.message, /^snapshot crafted\.msgpack: /, name);
          assert.match(error.message, message, name);
          return true;
        },
      );
    }
  });

  it('keeps only the fields it knows, so extra 64-bit integers or cycles cannot reach a caller', () => {
    const raw = crafted((s) => {
      s.extra = 2n ** 62n;
      s.producers[0].extra = s;
      s.producers[0].topics[0].extra = 1n;
    });
    for (const bytes of [
      cycles.pack(raw),
      records.pack({ ...raw, producers: [{ ...raw.producers[0], extra: 1n }] }),
    ]) {
      const decoded = decodeSnapshot(bytes);
      // A file from before unownedTopics was recorded reads as having none.
      const expected = { ...snapshot(), unownedTopics: [] };
      assert.deepEqual(decoded, expected);
      assert.deepEqual(JSON.parse(JSON.stringify(decoded)), expected);
    }
  });

  describe('a producer IDENTIFY could not announce', () => {
    const cleanup = useCleanup();
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-snapshot-'));
      cleanup(() => rm(dir, { recursive: true, force: true }));
    });

    /** A good producer, then one with `field` set to `value`: the file is refused whole. */
    function withBadSecond(field: string, value: unknown): Raw {
      return crafted((s) => {
        s.producers.push({
          ...s.producers[0],
          hostname: 'host-b',
          broadcastAddress: 'b.test',
          [field]: value,
        });
      });
    }

    const cases: Array<[string, string, unknown, RegExp]> = [
      ['port 0', 'tcpPort', 0, /tcpPort must be an integer port from 1 to 65535, got 0$/],
      ['port 70000', 'httpPort', 70000, /httpPort must be an integer port from 1 to 65535, got 70000$/],
      ['empty version', 'version', '', /version must be a non-empty string, got ""$/],
    ];
    for (const [name, field, value, message] of cases) {
      it(`refuses the whole file for ${name}, naming the producer and the field`, async () => {
        const file = join(dir, 'bad.msgpack');
        await writeFile(file, pack(withBadSecond(field, value)));
        for (const load of [
          async () => decodeSnapshot(pack(withBadSecond(field, value)), file),
          () => loadSnapshot(file),
        ]) {
          await assert.rejects(load, (error: unknown) => {
            assert.ok(error instanceof SnapshotFileError, `${name}: ${String(error)}`);
            assert.equal(error.code, 'NSQ_ERR_SNAPSHOT_FILE');
            assert.ok(error.message.startsWith(`snapshot ${file}: `), error.message);
            assert.match(
              error.message,
              /: producers\[1\] \(hostname 'host-b', broadcast address 'b\.test'\): /,
              error.message,
            );
            assert.match(error.message, message);
            return true;
          });
        }
      });
    }

    it('refuses the whole file for an empty broadcast address, naming the producer by hostname', async () => {
      const file = join(dir, 'bad.msgpack');
      await writeFile(file, pack(withBadSecond('broadcastAddress', '')));
      await assert.rejects(loadSnapshot(file), (error: unknown) => {
        assert.ok(error instanceof SnapshotFileError, String(error));
        assert.match(
          error.message,
          /: producers\[1\] \(hostname 'host-b', broadcast address ''\): broadcastAddress must be a non-empty string, got ""$/,
        );
        return true;
      });
    });
  });
});
