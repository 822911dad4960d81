import assert from 'node:assert/strict';
import { once } from 'node:events';
import { LookupPeer } from '../../lib/peer/lookup-peer.js';
import { FakeClock } from '../support/fake-clock.js';
import {
  assertConnectionError,
  type Outcome,
  settle,
  useCleanup,
  useLeakChecks,
} from '../support/harness.js';
import { ScriptedServer } from '../support/scripted-server.js';
import { UnacceptingListener } from '../support/unaccepting-listener.js';

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
    clock = new FakeClock();
    cleanup(clock.install());
  });

  /** A server whose PING answers wait until the test releases them, one at a time, in order. */
  async function gatedServer() {
    const gates: (() => void)[] = [];
    const s = await ScriptedServer.start({
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

  it('times out on silence, not on total time: every answer restarts readTimeoutMs', async () => {
    const { s, release } = await gatedServer();
    const p = new LookupPeer(s.address, { readTimeoutMs: 1000 });
    cleanup(() => p.close());
    const pings = Array.from({ length: 5 }, () => settle(p.ping()));
    for (let i = 0; i < pings.length; i++) {
      clock.advance(900);
      await release(i + 1);
      const outcome: Outcome<void> = await pings[i]!;
      assert.ok(outcome.ok, `ping ${i + 1} after ${clock.now} ms: ${String(!outcome.ok && outcome.error)}`);
    }
    assert.ok(clock.now > 1000 * 4);
    assert.equal(clock.pending, 0, 'no read timer while nothing is owed');
    assert.equal(p.state, 'connected');

    const silent = settle(p.ping());
    await s.waitForCommands(6);
    clock.advance(999);
    assert.equal(await isSettled(silent), false, 'still waiting 1 ms before the timeout');
    clock.advance(1);
    const error = assertConnectionError(await silent, 'NSQ_ERR_READ_TIMEOUT', s.address);
    assert.match(error.message, /1000 ms \(readTimeoutMs\) with 1 command\(s\) owed/);
  });

  it('does not run the read timer while idle', async () => {
    const { s, release } = await gatedServer();
    const p = new LookupPeer(s.address, { readTimeoutMs: 50 });
    cleanup(() => p.close());
    const first = settle(p.ping());
    await release(1);
    assert.ok((await first).ok);
    assert.equal(clock.pending, 0);
    clock.advance(60_000);
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
    assert.equal(clock.pending, 1, 'the dial timer is armed');
    clock.advance(2999);
    assert.equal(await isSettled(ping), false);
    assert.equal(p.state, 'connecting');
    clock.advance(1);
    assertConnectionError(await ping, 'NSQ_ERR_CONNECT_TIMEOUT', listener.address);
    assert.equal(p.state, 'disconnected');
  });

  it('close(): waits readTimeoutMs for lookupd to close its side, then destroys the socket', async () => {
    const s = await ScriptedServer.start({ allowHalfOpen: true });
    cleanup(() => s.stop());
    const p = new LookupPeer(s.address, { readTimeoutMs: 5000 });
    await p.ping();
    const serverEnd = once(s.connections[0]!.socket, 'end');
    const closing = p.close();
    await serverEnd;
    assert.equal(await isSettled(closing), false, 'waits for lookupd to close its side');
    clock.advance(4999);
    assert.equal(await isSettled(closing), false);
    clock.advance(1);
    await closing;
    assert.equal(p.state, 'closed');
    assert.equal(clock.pending, 0);
  });
});
