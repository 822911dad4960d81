import assert from 'node:assert/strict';
import { LookupPeer } from '../../lib/peer/lookup-peer.js';
import { answer, FakeLookupd, type FakeLookupdOptions } from '../support/fake-lookupd.js';
import {
  assertConnectionError,
  openTcpHandles,
  quiesce,
  recordEvents,
  settle,
  trackLibraryTimers,
  useCleanup,
} from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { UnacceptingListener } from '../support/unreachable.js';

describe('LookupPeer: close()', () => {
  const cleanup = useCleanup();
  let baseline: string[];
  let timers: ReturnType<typeof trackLibraryTimers>;

  beforeEach(async () => {
    await quiesce();
    baseline = openTcpHandles();
    timers = trackLibraryTimers();
    cleanup(() => timers.restore());
  });

  async function server(options: FakeLookupdOptions = {}): Promise<FakeLookupd> {
    const s = await FakeLookupd.start(options);
    cleanup(() => s.stop());
    return s;
  }

  /** After close(): no library timer pending, and (once the test's servers are stopped) no socket. */
  async function assertNothingLeft(...servers: { stop(): Promise<void> }[]): Promise<void> {
    assert.deepEqual(timers.pending(), [], 'library timers still pending after close()');
    for (const s of servers) await s.stop();
    await quiesce();
    assert.deepEqual(openTcpHandles(), baseline, 'TCP handles left after close()');
  }

  it('ends an idle connection; later commands reject without dialing; close() is idempotent', async () => {
    const s = await server();
    const p = new LookupPeer(s.address);
    const events = recordEvents(p);
    await p.ping();
    let closedSeen = false;
    void p.closed().then(() => {
      closedSeen = true;
    });
    await settle(Promise.race([p.closed(), new Promise((resolve) => setImmediate(resolve))]));
    assert.equal(closedSeen, false, 'closed() waits for close()');
    await p.close();
    await p.closed();
    assert.equal(p.state, 'closed');
    // The FIN reached lookupd: its side closes too.
    await s.connections[0]!.closed;
    for (const outcome of await Promise.all([
      settle(p.ping()),
      settle(p.register('a')),
      settle(p.unregister('a')),
      settle(p.identify(IDENTITY)),
      settle(p.connect()),
      settle(p.command(Buffer.from('PING\n'))),
    ])) {
      assertConnectionError(outcome, 'NSQ_ERR_PEER_CLOSED', s.address);
    }
    await p.close();
    await Promise.all([p.close(), p.close()]);
    assert.equal(s.connections.length, 1);
    await quiesce();
    assert.deepEqual(events, [
      'disconnected->connecting',
      'connecting->connected',
      'connect',
      'connected->closed',
    ]);
    await assertNothingLeft(s);
  });

  it('rejects every pending command with NSQ_ERR_PEER_CLOSED', async () => {
    const s = await server({ handlers: { REGISTER: answer.silent } });
    const p = new LookupPeer(s.address, { readTimeoutMs: 60_000 });
    await p.ping();
    const pending = [settle(p.register('a')), settle(p.ping()), settle(p.unregister('a'))];
    await s.waitForCommands(4);
    assert.equal(p.inFlight, 3);
    await p.close();
    for (const outcome of await Promise.all(pending)) {
      assertConnectionError(outcome, 'NSQ_ERR_PEER_CLOSED', s.address);
    }
    assert.equal(p.inFlight, 0);
    await assertNothingLeft(s);
  });

  it('during the connect callback: its commands and the queued ones reject, connect never happens', async () => {
    const s = await server({ handlers: { IDENTIFY: answer.silent } });
    let identify: Promise<unknown> | undefined;
    const p = new LookupPeer(s.address, {
      onConnect: (lp) => {
        identify = settle(lp.identify(IDENTITY));
        return identify;
      },
    });
    const events = recordEvents(p);
    const queued = [settle(p.register('a')), settle(p.ping())];
    await s.until(() => s.commands('IDENTIFY').length === 1, 'IDENTIFY');
    await p.close();
    assertConnectionError((await identify) as never, 'NSQ_ERR_PEER_CLOSED', s.address);
    for (const outcome of await Promise.all(queued)) {
      assertConnectionError(outcome, 'NSQ_ERR_PEER_CLOSED', s.address);
    }
    await quiesce();
    assert.equal(p.state, 'closed');
    assert.deepEqual(events, ['disconnected->connecting', 'connecting->closed']);
    assert.deepEqual(
      s.received.map((c) => c.line),
      ['IDENTIFY'],
    );
    await assertNothingLeft(s);
  });

  it('while the dial is still in progress: pending commands reject, the dial is abandoned', async () => {
    const listener = await UnacceptingListener.start();
    cleanup(() => listener.stop());
    await quiesce();
    baseline = openTcpHandles();
    const p = new LookupPeer(listener.address, { dialTimeoutMs: 60_000 });
    const events = recordEvents(p);
    const pending = [settle(p.ping()), settle(p.connect())];
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(p.state, 'connecting');
    await p.close();
    for (const outcome of await Promise.all(pending)) {
      assertConnectionError(outcome, 'NSQ_ERR_PEER_CLOSED', listener.address);
    }
    assert.deepEqual(timers.pending(), [], 'the dial timer is cleared by close()');
    assert.deepEqual(openTcpHandles(), baseline, 'the dialing socket is closed when close() resolves');
    await quiesce();
    assert.deepEqual(events, ['disconnected->connecting', 'connecting->closed']);
  });

  it('destroys the socket after a grace period when lookupd never closes its side', async () => {
    const s = await server({ allowHalfOpen: true });
    const p = new LookupPeer(s.address, { readTimeoutMs: 100 });
    await p.ping();
    await p.close();
    assert.equal(p.state, 'closed');
    await assertNothingLeft(s);
  });

  it('before any connection: resolves at once and leaves nothing', async () => {
    const s = await server();
    const p = new LookupPeer(s.address);
    await p.close();
    assert.equal(p.state, 'closed');
    assertConnectionError(await settle(p.ping()), 'NSQ_ERR_PEER_CLOSED', s.address);
    assert.equal(s.connections.length, 0);
    await assertNothingLeft(s);
  });

  it('after the connection was lost: resolves and leaves nothing', async () => {
    const s = await server();
    const p = new LookupPeer(s.address);
    await p.ping();
    s.connections[0]!.reset();
    await s.connections[0]!.closed;
    await p.close();
    assert.equal(p.state, 'closed');
    await assertNothingLeft(s);
  });
});
