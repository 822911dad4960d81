import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr, pack } from 'msgpackr';
import { InvalidNameError, RegistryFileError } from '../../lib/errors.js';
import { Registry, type RegistryChange } from '../../lib/registry/registry.js';
import { useCleanup } from '../support/harness.js';

describe('Registry', () => {
  const cleanup = useCleanup();
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-registry-'));
    cleanup(() => rm(dir, { recursive: true, force: true }));
  });

  function recorder(registry: Registry): RegistryChange[] {
    const changes: RegistryChange[] = [];
    registry.on('change', (change) => changes.push(change));
    return changes;
  }

  it('announces each change once, in order; a channel creates its topic first', () => {
    const registry = new Registry();
    const changes = recorder(registry);
    assert.equal(registry.addChannel('t', 'c'), true);
    assert.equal(registry.addChannel('t', 'c'), false);
    assert.equal(registry.addTopic('t'), false);
    assert.equal(registry.addChannel('t', 'd'), true);
    assert.equal(registry.removeChannel('t', 'c'), true);
    assert.equal(registry.removeChannel('t', 'c'), false);
    assert.equal(registry.removeTopic('t'), true);
    assert.equal(registry.removeTopic('t'), false);
    assert.deepEqual(changes, [
      { type: 'topic-added', topic: 't' },
      { type: 'channel-added', topic: 't', channel: 'c' },
      { type: 'channel-added', topic: 't', channel: 'd' },
      { type: 'channel-removed', topic: 't', channel: 'c' },
      { type: 'topic-removed', topic: 't', channels: ['d'] },
    ]);
  });

  it('lists registrations as nsqd re-registers: channels, or the topic alone when it has none', () => {
    const registry = new Registry();
    registry.addChannel('a', 'x');
    registry.addChannel('a', 'y');
    registry.addTopic('b');
    assert.deepEqual(
      [...registry.registrations()],
      [{ topic: 'a', channel: 'x' }, { topic: 'a', channel: 'y' }, { topic: 'b' }],
    );
    assert.equal(registry.size, 3);
    assert.equal(registry.topicCount, 2);
  });

  it('validates names as nsq does and changes nothing on a bad one', () => {
    const registry = new Registry();
    const changes = recorder(registry);
    for (const bad of ['', 'a b', 'a\nUNREGISTER b', 'x'.repeat(65), 'é', 'a/b', 'a#ephemeralx']) {
      assert.throws(() => registry.addTopic(bad), InvalidNameError);
      assert.throws(() => registry.addChannel('ok', bad), InvalidNameError);
    }
    assert.equal(registry.hasTopic('ok'), false, 'a bad channel does not create its topic');
    assert.deepEqual(changes, []);
    assert.equal(registry.addTopic('t#ephemeral'), true);
    assert.equal(
      registry.addChannel('t', `${'c'.repeat(54)}#ephemeral`),
      true,
      '64 characters with the suffix',
    );
  });

  it('saves atomically and loads the same topics and channels, leaving ephemeral ones out as nsqd does', async () => {
    const registry = new Registry();
    registry.addChannel('orders', 'billing');
    registry.addChannel('orders', 'audit');
    registry.addChannel('orders', 'tail#ephemeral');
    registry.addTopic('empty');
    registry.addChannel('scratch#ephemeral', 'c');
    const path = join(dir, 'nested', 'registry.msgpack');
    await registry.save(path);
    assert.deepEqual(await readdir(join(dir, 'nested')), ['registry.msgpack'], 'no temporary file left');
    const loaded = await Registry.load(path);
    assert.deepEqual(loaded.topics().sort(), ['empty', 'orders']);
    assert.deepEqual(loaded.channels('orders').sort(), ['audit', 'billing']);
    assert.deepEqual(loaded.channels('empty'), []);
  });

  it('overwrites an existing file in one step', async () => {
    const path = join(dir, 'registry.msgpack');
    await new Registry([{ topic: 'old' }]).save(path);
    await new Registry([{ topic: 'new', channel: 'c' }]).save(path);
    assert.deepEqual((await Registry.load(path)).topics(), ['new']);
  });

  it('serialises concurrent saves: when they settle, the state of the last call is on disk', async () => {
    const path = join(dir, 'registry.msgpack');
    for (let round = 0; round < 5; round++) {
      // The older states are the large ones, so an unserialised save's last rename is an older state's.
      const registry = new Registry();
      for (let t = 0; t < 200; t++) for (let c = 0; c < 100; c++) registry.addChannel(`t${t}`, `c${c}`);
      const saves = [registry.save(path)];
      for (let t = 100; t < 200; t++) registry.removeTopic(`t${t}`);
      saves.push(registry.save(path));
      for (let t = 0; t < 100; t++) registry.removeTopic(`t${t}`);
      registry.addChannel(`last-${round}`, 'c');
      saves.push(registry.save(path));
      await Promise.all(saves);
      const loaded = await Registry.load(path);
      assert.deepEqual(loaded.topics(), [`last-${round}`], `round ${round}`);
    }
    assert.deepEqual(await readdir(dir), ['registry.msgpack'], 'no temporary file left');
  });

  it("removes its own stale temporary files on the next save, never a live writer's", async () => {
    const path = join(dir, 'registry.msgpack');
    const dead = await deadPid();
    const live = spawn(process.execPath, ['-e', 'process.stdin.resume()'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    try {
      await once(live, 'spawn');
      const crashed = [
        `registry.msgpack.${dead}.0123456789ab.tmp`,
        `registry.msgpack.${dead}.ba9876543210.tmp`,
        // This process's pid, but no save of it is running: left by an earlier failed write.
        `registry.msgpack.${process.pid}.00000000beef.tmp`,
      ];
      const kept = [
        `registry.msgpack.${live.pid}.0123456789ab.tmp`, // another process's save in progress
        `other.msgpack.${dead}.0123456789ab.tmp`, // another file's
        `registry.msgpack.${dead}.notes`, // not a temporary file
        'registry.msgpack.0123456789ab.tmp', // no pid: cannot be told from a save in progress
      ];
      for (const name of [...crashed, ...kept]) await writeFile(join(dir, name), 'partial');
      await new Registry([{ topic: 't' }]).save(path);
      assert.deepEqual((await readdir(dir)).sort(), ['registry.msgpack', ...kept].sort());
      assert.deepEqual((await Registry.load(path)).topics(), ['t']);
    } finally {
      live.kill();
      await once(live, 'exit');
    }
  });

  it('refuses corrupt, truncated, foreign and invalid files with a clear error', async () => {
    const path = join(dir, 'registry.msgpack');
    const registry = new Registry();
    for (let i = 0; i < 50; i++) registry.addChannel(`t${i}`, `c${i}`);
    await registry.save(path);
    const good = await readFile(path);

    const cases: Array<[string, Buffer, RegExp]> = [
      ['truncated', good.subarray(0, good.length - 7), /registry file .*: /],
      ['empty', Buffer.alloc(0), /registry file .*: /],
      ['garbage', Buffer.from('not msgpack at all \u0000\u00c1', 'latin1'), /registry file .*: /],
      ['foreign', pack({ hello: 'world' }), /not a registry snapshot/],
      [
        'future version',
        pack({ format: 'nsqd-lookup/registry', version: 99, topics: [] }),
        /unsupported version 99/,
      ],
      [
        'invalid name',
        pack({
          format: 'nsqd-lookup/registry',
          version: 1,
          topics: [
            { name: 'ok', channels: [] },
            { name: 'a b', channels: [] },
          ],
        }),
        /invalid topic entry/,
      ],
      [
        'invalid channel',
        pack({
          format: 'nsqd-lookup/registry',
          version: 1,
          topics: [{ name: 'ok', channels: ['fine', 'no\n'] }],
        }),
        /invalid channel/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      await writeFile(path, bytes);
      await assert.rejects(Registry.load(path), (error: unknown) => {
        assert.ok(error instanceof RegistryFileError, `${name}: ${String(error)}`);
        assert.equal(error.code, 'NSQ_ERR_REGISTRY_FILE');
        assert.match(error.message, message, name);
        return true;
      });
    }
    await assert.rejects(Registry.load(join(dir, 'missing.msgpack')), /cannot read/);
  });

  it('refuses 64-bit integers and reference cycles with a RegistryFileError that shows them', async () => {
    const path = join(dir, 'registry.msgpack');
    const header = { format: 'nsqd-lookup/registry', version: 1 };
    // msgpackr's own encoders: BigInt values become (u)int64, which decode as BigInt; structuredClone
    // writes shared and cyclic references; useRecords writes record structures.
    const cyclicEntry: Record<string, unknown> = { name: 'a b', channels: [] };
    cyclicEntry.self = cyclicEntry;
    const cyclicChannels: unknown[] = ['fine'];
    cyclicChannels.push(cyclicChannels);
    const root: Record<string, unknown> = { ...header };
    root.topics = [root];
    const cycles = new Packr({ structuredClone: true });
    const records = new Packr({ useRecords: true });
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        'int64 version',
        pack({ ...header, version: 1n, topics: [] }),
        /unsupported version 1n \(this build reads 1\)/,
      ],
      [
        'int64 topic name',
        pack({ ...header, topics: [{ name: 1n << 40n, channels: [] }] }),
        /invalid topic entry .*1099511627776n/,
      ],
      [
        'uint64 channel',
        pack({ ...header, topics: [{ name: 'ok', channels: ['fine', 2n ** 64n - 1n] }] }),
        /topic ok: invalid channel 18446744073709551615n/,
      ],
      [
        'int64 topics',
        pack({ ...header, topics: -(2n ** 63n) }),
        /topics is not a list: -9223372036854775808n/,
      ],
      ['cyclic entry', cycles.pack({ ...header, topics: [cyclicEntry] }), /invalid topic entry .*Circular/],
      [
        'cyclic channels',
        cycles.pack({ ...header, topics: [{ name: 'ok', channels: cyclicChannels }] }),
        /topic ok: invalid channel .*Circular/,
      ],
      ['cyclic root', cycles.pack(root), /invalid topic entry .*Circular/],
      [
        'records',
        records.pack({
          ...header,
          topics: [
            { name: 'ok', channels: [] },
            { name: 5n, channels: [] },
          ],
        }),
        /invalid topic entry .*5n/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      await writeFile(path, bytes);
      await assert.rejects(Registry.load(path), (error: unknown) => {
        assert.ok(error instanceof RegistryFileError, `${name}: ${String(error)}`);
        assert.match(error.message, message, name);
        return true;
      });
    }
    await writeFile(
      path,
      records.pack({
        ...header,
        topics: [
          { name: 'ok', channels: ['c'] },
          { name: 'bare', channels: [] },
        ],
      }),
    );
    assert.deepEqual(
      [...(await Registry.load(path)).registrations()],
      [{ topic: 'ok', channel: 'c' }, { topic: 'bare' }],
    );
  });
});

/** The pid of a process that has exited, as a crashed writer's would be. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  return child.pid!;
}
