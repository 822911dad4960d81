import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { NsqLookupError } from '../../lib/errors.js';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import { useCleanup } from '../support/harness.js';
import { getJson, httpCall } from '../support/http.js';
import { V1Client } from '../support/v1-client.js';
import { eventually } from '../support/wait.js';
import { identifyCommand, nsqdIdentity } from '../support/wire-builder.js';

/** The embedded lookupd as a server: lifecycle, restarts, and its clock-driven rules with a fake clock. */

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;

interface LookupReply {
  channels: string[];
  producers: { broadcast_address: string }[];
}
interface NodesReply {
  producers: { broadcast_address: string; topics: string[]; tombstones: boolean[] }[];
}

describe('embedded lookupd server', function () {
  this.timeout(15_000);
  const cleanup = useCleanup();

  async function start(options: Parameters<typeof startLookupd>[0] = {}): Promise<Lookupd> {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', ...options });
    cleanup(() => lookupd.close());
    return lookupd;
  }

  async function producer(lookupd: Lookupd, broadcast: string, lines: string): Promise<V1Client> {
    const client = await V1Client.open(lookupd.tcpAddress);
    cleanup(() => client.destroy());
    const commands = lines.split('\n').filter(Boolean).length;
    await client.write(
      Buffer.concat([Buffer.from('  V1'), identifyCommand(nsqdIdentity(broadcast)), Buffer.from(lines)]),
    );
    const frames = await client.texts(1 + commands);
    assert.equal(frames.length, 1 + commands, `answers to ${lines}`);
    for (const frame of frames.slice(1)) assert.equal(frame, 'OK');
    return client;
  }

  describe('lifecycle', () => {
    it('listens on the given host with real ports and closes without leaving a handle', async () => {
      const before = tcpHandles();
      const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
      assert.match(lookupd.tcpAddress, /^127\.0\.0\.1:[1-9]\d*$/);
      assert.match(lookupd.httpAddress, /^127\.0\.0\.1:[1-9]\d*$/);
      assert.notEqual(lookupd.tcpAddress, lookupd.httpAddress);
      const client = await V1Client.open(lookupd.tcpAddress);
      await client.write('  V1PING\n');
      assert.deepEqual(await client.texts(1), ['OK']);
      const keepAlive = await httpCall(lookupd.httpAddress, 'GET', '/ping');
      assert.equal(keepAlive.body, 'OK');
      await lookupd.close();
      await client.untilClosed();
      assert.equal(lookupd.state, 'closed');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(tcpHandles(), before, 'no listener or socket left');
      await lookupd.close(); // idempotent
    });

    it('close() ends every client and takes its producer out of the registry', async () => {
      const lookupd = await start();
      const client = await producer(lookupd, 'a.example', 'REGISTER t1 c1\n');
      assert.equal(lookupd.clientCount, 1);
      await lookupd.close();
      await client.untilClosed();
      assert.equal(lookupd.clientCount, 0);
      assert.equal(lookupd.db.get('topic', 't1', '')!.producers.size, 0);
    });

    it('restarts on the same ports right after a close, with clients connected', async () => {
      const first = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
      const client = await V1Client.open(first.tcpAddress);
      cleanup(() => client.destroy());
      await client.write('  V1PING\n');
      await client.texts(1);
      await first.close();
      const second = await start({ tcpAddress: first.tcpAddress, httpAddress: first.httpAddress });
      assert.equal(second.tcpAddress, first.tcpAddress);
      assert.equal(second.httpAddress, first.httpAddress);
      const again = await V1Client.open(second.tcpAddress);
      cleanup(() => again.destroy());
      await again.write('  V1PING\n');
      assert.deepEqual(await again.texts(1), ['OK']);
    });

    it('a port in use fails with NSQ_ERR_LISTEN and leaves nothing listening', async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      cleanup(() => new Promise((resolve) => blocker.close(resolve)));
      const port = (blocker.address() as { port: number }).port;
      const before = tcpHandles();
      await assert.rejects(
        startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: `127.0.0.1:${port}` }),
        (error: unknown) => {
          assert.ok(error instanceof NsqLookupError);
          assert.equal(error.code, 'NSQ_ERR_LISTEN');
          assert.match(error.message, new RegExp(`listen \\(127\\.0\\.0\\.1:${port}\\) failed`));
          return true;
        },
      );
      // libuv releases a closed handle on its next loop iteration.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(tcpHandles(), before, 'the TCP listener opened first was closed again');
    });

    it('refuses options it cannot honour', async () => {
      await assert.rejects(startLookupd({ tcpAddress: 'nope' }), /not host:port/);
      await assert.rejects(startLookupd({ maxLineBytes: -1 }), /maxLineBytes/);
    });
  });

  describe('with an injected clock', () => {
    let now = 1_700_000_000_000;
    const clock = () => now;

    it('a tombstone hides the producer from /lookup for --tombstone-lifetime, /nodes keeps showing it', async () => {
      const lookupd = await start({ now: clock, tombstoneLifetimeMs: 45_000 });
      await producer(lookupd, 'a.example', 'REGISTER t1\nREGISTER t2\n');
      await producer(lookupd, 'b.example', 'REGISTER t1\n');
      const tombstone = await httpCall(
        lookupd.httpAddress,
        'POST',
        '/topic/tombstone?topic=t1&node=a.example:4151',
      );
      assert.equal(tombstone.status, 200);
      const hidden = await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1');
      assert.deepEqual(
        hidden.producers.map((p) => p.broadcast_address),
        ['b.example'],
      );
      const other = await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t2');
      assert.deepEqual(
        other.producers.map((p) => p.broadcast_address),
        ['a.example'],
        'only that topic',
      );
      const nodes = await getJson<NodesReply>(lookupd.httpAddress, '/nodes');
      const a = nodes.producers.find((p) => p.broadcast_address === 'a.example')!;
      assert.deepEqual(a.topics, ['t1', 't2']);
      assert.deepEqual(a.tombstones, [true, false]);

      now += 44_999;
      assert.equal((await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1')).producers.length, 1);
      now += 1;
      const back = await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1');
      assert.deepEqual(back.producers.map((p) => p.broadcast_address).sort(), ['a.example', 'b.example']);
      const later = await getJson<NodesReply>(lookupd.httpAddress, '/nodes');
      assert.deepEqual(later.producers.find((p) => p.broadcast_address === 'a.example')!.tombstones, [
        false,
        false,
      ]);
    });

    it('a producer silent for longer than --inactive-producer-timeout leaves /lookup and /nodes until its next PING', async () => {
      const lookupd = await start({ now: clock, inactiveProducerTimeoutMs: 300_000 });
      const client = await producer(lookupd, 'a.example', 'REGISTER t1\n');
      now += 300_000;
      assert.equal((await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1')).producers.length, 1);
      now += 1;
      assert.deepEqual((await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1')).producers, []);
      assert.deepEqual((await getJson<NodesReply>(lookupd.httpAddress, '/nodes')).producers, []);
      assert.deepEqual((await getJson<{ topics: string[] }>(lookupd.httpAddress, '/topics')).topics, ['t1']);
      await client.write('PING\n');
      await client.texts(3);
      assert.equal((await getJson<LookupReply>(lookupd.httpAddress, '/lookup?topic=t1')).producers.length, 1);
      assert.equal((await getJson<NodesReply>(lookupd.httpAddress, '/nodes')).producers.length, 1);
    });

    it('/debug reports last_update and tombstoned_at from the clock, in ns', async () => {
      now = 1_700_000_000_123.456;
      const lookupd = await start({ now: clock });
      await producer(lookupd, 'a.example', 'REGISTER t1\n');
      now += 1000;
      await httpCall(lookupd.httpAddress, 'POST', '/topic/tombstone?topic=t1&node=a.example:4151');
      const debug = await httpCall(lookupd.httpAddress, 'GET', '/debug');
      assert.match(
        debug.body,
        /"client::":\[\{[^}]*"last_update":1700000000123456000,[^}]*"tombstoned_at":-6795364578871345152,/,
      );
      assert.match(debug.body, /"topic:t1:":\[\{[^}]*"tombstoned":true,"tombstoned_at":1700000001123456000,/);
    });
  });

  describe('ephemeral names', () => {
    it('UNREGISTER of the last producer removes an ephemeral topic (its channels stay); a disconnect does not', async () => {
      const lookupd = await start();
      const a = await producer(lookupd, 'a.example', 'REGISTER t#ephemeral c1\nREGISTER e#ephemeral\n');
      const b = await producer(lookupd, 'b.example', 'REGISTER t#ephemeral\n');
      await a.write('UNREGISTER t#ephemeral\n');
      await a.texts(4);
      let topics = await getJson<{ topics: string[] }>(lookupd.httpAddress, '/topics');
      assert.deepEqual(topics.topics.sort(), ['e#ephemeral', 't#ephemeral'], 'b still has it');
      await b.write('UNREGISTER t#ephemeral\n');
      await b.texts(3);
      topics = await getJson<{ topics: string[] }>(lookupd.httpAddress, '/topics');
      assert.deepEqual(topics.topics, ['e#ephemeral']);
      const channels = await getJson<{ channels: string[] }>(
        lookupd.httpAddress,
        '/channels?topic=t%23ephemeral',
      );
      assert.deepEqual(channels.channels, ['c1']);
      a.destroy();
      await eventually(() => lookupd.clientCount === 1, 'lookupd to drop the closed client', {
        timeoutMs: 3000,
      });
      topics = await getJson<{ topics: string[] }>(lookupd.httpAddress, '/topics');
      assert.deepEqual(topics.topics, ['e#ephemeral'], 'nsqlookupd keeps names on disconnect');
    });
  });
});
