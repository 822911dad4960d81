import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ClientSockets } from '../../harness/client-sockets.js';
import { LookupPeer } from '../../lib/peer/lookup-peer.js';
import { encodeRegistrations } from '../../lib/protocol/encoder.js';
import { type FakeClock, useFakeClock } from '../support/fake-clock.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import {
  assertConnectionError,
  type Outcome,
  settle,
  useCleanup,
  useLeakChecks,
} from '../support/harness.js';
import { UnacceptingListener } from '../support/unreachable.js';
import { frame, int32be } from '../support/wire-builder.js';

/** Whether a promise has settled, after letting pending I/O callbacks and microtasks run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('LookupPeer: timeouts (fake clock)', () => {
  const cleanup = useCleanup();
  useLeakChecks(cleanup);
  let clock: FakeClock;

  beforeEach(() => {
    clock = useFakeClock(cleanup);
  });

  /** A server whose PING answers wait until the test releases them, one at a time, in order. */
  async function gatedServer() {
    const gates: (() => void)[] = [];
    const s = await FakeLookupd.start({
      handlers: {
        PING: (_, c) =>
          new Promise<void>((resolve) => {
            gates.push(() => {
              c.reply('OK');
              resolve();
            });
          }),
      },
    });
    cleanup(() => s.stop());
    const release = async (n: number) => {
      await s.until(() => gates.length >= n, `answer ${n} to be held`);
      gates[n - 1]!();
    };
    return { s, release };
  }

  it('times a pipeline per answer, not in total: each answer restarts readTimeoutMs for the next', async () => {
    const { s, release } = await gatedServer();
    const p = new LookupPeer(s.address, { readTimeoutMs: 1000 });
    cleanup(() => p.close());
    const pings = Array.from({ length: 5 }, () => settle(p.ping()));
    for (let i = 0; i < pings.length; i++) {
      clock.tick(900);
      await release(i + 1);
      const outcome: Outcome<void> = await pings[i]!;
      assert.ok(outcome.ok, `ping ${i + 1} after ${clock.now} ms: ${String(!outcome.ok && outcome.error)}`);
    }
    assert.ok(clock.now > 1000 * 4);
    assert.equal(clock.countTimers(), 0, 'no read timer while nothing is owed');
    assert.equal(p.state, 'connected');

    const silent = settle(p.ping());
    await s.waitForCommands(6);
    clock.tick(999);
    assert.equal(await isSettled(silent), false, 'still waiting 1 ms before the timeout');
    clock.tick(1);
    const error = assertConnectionError(await silent, 'NSQ_ERR_READ_TIMEOUT', s.address);
    assert.match(error.message, /1000 ms \(readTimeoutMs\) with 1 command\(s\) owed/);
  });

  describe('the answer deadline: readTimeoutMs from becoming the next answer due', () => {
    let clients: ClientSockets;

    beforeEach(() => {
      clients = new ClientSockets();
      cleanup(() => clients.uninstall());
    });

    /** A server that answers nothing by itself: the test writes every byte. */
    async function mutedServer() {
      const s = await FakeLookupd.start({ handlers: { PING: () => {}, REGISTER: () => {} } });
      cleanup(() => s.stop());
      return s;
    }

    it('a trickled answer fails at its deadline: partial bytes do not extend it', async () => {
      const s = await mutedServer();
      const p = new LookupPeer(s.address, { readTimeoutMs: 1000 });
      cleanup(() => p.close());
      const ping = settle(p.ping());
      const behind = settle(p.register('behind'));
      await s.waitForCommands(2);
      const c = s.connections[0]!;
      // One byte of the answer every 400 ms: today's nsqd-style timer would be restarted by each.
      const answer = frame('OK');
      for (let i = 0; i < 3; i++) {
        c.write(answer.subarray(i, i + 1));
        await clients.received(c.socket, i + 1);
        clock.tick(i < 2 ? 400 : 199);
      }
      assert.equal(clock.now, 999);
      assert.equal(await isSettled(ping), false, 'still due 1 ms before the deadline');
      clock.tick(1);
      assert.equal(await isSettled(ping), true, 'failed at its deadline, 1000 ms after it was sent');
      const error = assertConnectionError(await ping, 'NSQ_ERR_READ_TIMEOUT', s.address);
      assert.match(error.message, /within 1000 ms \(readTimeoutMs\) with 2 command\(s\) owed; 3 byte/);
      assertConnectionError(await behind, 'NSQ_ERR_READ_TIMEOUT', s.address);
      assert.equal(p.state, 'disconnected');
      await c.closed;

      // The caller may retry: a new connection, and a new deadline for the new answer.
      s.handle('PING', (_, conn) => conn.reply('OK'));
      await p.ping();
      assert.equal(s.connections.length, 2);
      assert.equal(clock.countTimers(), 0, 'no deadline while nothing is owed');
    });

    it('a size prefix alone does not hold a command past its deadline', async () => {
      const s = await mutedServer();
      const p = new LookupPeer(s.address, { readTimeoutMs: 1000 });
      cleanup(() => p.close());
      const ping = settle(p.ping());
      await s.waitForCommands(1);
      const c = s.connections[0]!;
      // A 5 MiB body announced, then one byte per 400 ms.
      c.write(int32be(5 * 1024 * 1024));
      await clients.received(c.socket, 4);
      for (let i = 1; i <= 5 && !(await isSettled(ping)); i++) {
        clock.tick(400);
        c.write(Buffer.from('x'));
        await clients.received(c.socket, 4 + i).catch(() => {});
      }
      assert.equal(await isSettled(ping), true, 'settled within the trickle');
      assertConnectionError(await ping, 'NSQ_ERR_READ_TIMEOUT', s.address);
      assert.equal(clock.now, 1200, 'failed in the advance that crossed 1000 ms');
    });

    it('a pipelined batch succeeds when each answer arrives just within its own deadline', async () => {
      const s = await mutedServer();
      const p = new LookupPeer(s.address, { readTimeoutMs: 1000 });
      cleanup(() => p.close());
      const count = 5;
      const { bytes } = encodeRegistrations(Array.from({ length: count }, (_, i) => ({ topic: `t${i}` })));
      let answered = 0;
      const batch = settle(p.commandBatch(bytes, count, () => answered++));
      await s.waitForCommands(count);
      const c = s.connections[0]!;
      const answer = frame('OK');
      let sent = 0;
      for (let i = 0; i < count; i++) {
        // Half the answer early, the rest 1 ms before its deadline, which starts when the one before
        // it is complete.
        clock.tick(500);
        c.write(answer.subarray(0, 3));
        sent += 3;
        await clients.received(c.socket, sent);
        clock.tick(499);
        c.write(answer.subarray(3));
        sent += answer.length - 3;
        await clients.received(c.socket, sent);
        if (i < count - 1) assert.equal(answered, i + 1, `answer ${i + 1} counted`);
      }
      const outcome = await batch;
      assert.ok(outcome.ok, String(!outcome.ok && outcome.error));
      assert.equal(clock.now, count * 999, 'the batch outlasted readTimeoutMs several times over');
      assert.equal(p.state, 'connected');
      assert.equal(s.connections.length, 1);
      assert.equal(clock.countTimers(), 0);
    });
  });

  it('does not run the read timer while idle', async () => {
    const { s, release } = await gatedServer();
    const p = new LookupPeer(s.address, { readTimeoutMs: 50 });
    cleanup(() => p.close());
    const first = settle(p.ping());
    await release(1);
    assert.ok((await first).ok);
    assert.equal(clock.countTimers(), 0);
    clock.tick(60_000);
    assert.equal(p.state, 'connected');
    const second = settle(p.ping());
    await release(2);
    assert.ok((await second).ok);
    assert.equal(s.connections.length, 1);
  });

  it('gives up a dial after dialTimeoutMs, not before', async () => {
    const listener = await UnacceptingListener.start();
    cleanup(() => listener.stop());
    const p = new LookupPeer(listener.address, { dialTimeoutMs: 3000 });
    cleanup(() => p.close());
    const ping = settle(p.ping());
    assert.equal(clock.countTimers(), 1, 'the dial timer is armed');
    clock.tick(2999);
    assert.equal(await isSettled(ping), false);
    assert.equal(p.state, 'connecting');
    clock.tick(1);
    assertConnectionError(await ping, 'NSQ_ERR_CONNECT_TIMEOUT', listener.address);
    assert.equal(p.state, 'disconnected');
  });

  it('close(): waits readTimeoutMs for lookupd to close its side, then destroys the socket', async () => {
    const s = await FakeLookupd.start({ allowHalfOpen: true });
    cleanup(() => s.stop());
    const p = new LookupPeer(s.address, { readTimeoutMs: 5000 });
    await p.ping();
    const serverEnd = once(s.connections[0]!.socket, 'end');
    const closing = p.close();
    await serverEnd;
    assert.equal(await isSettled(closing), false, 'waits for lookupd to close its side');
    clock.tick(4999);
    assert.equal(await isSettled(closing), false);
    clock.tick(1);
    await closing;
    assert.equal(p.state, 'closed');
    assert.equal(clock.countTimers(), 0);
  });
});
