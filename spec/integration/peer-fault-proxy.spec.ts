import assert from 'node:assert/strict';
import { FaultProxy } from '../../harness/fault-proxy.js';
import { ConnectionError } from '../../lib/errors.js';
import { LookupPeer, type LookupPeerOptions } from '../../lib/peer/lookup-peer.js';
import { answer, FakeLookupd } from '../support/fake-lookupd.js';
import {
  assertConnectionError,
  nextEvent,
  openTcpHandles,
  quiesce,
  settle,
  untilState,
  useCleanup,
  useLeakChecks,
} from '../support/harness.js';
import { V1Client } from '../support/v1-client.js';
import { commandLine, frame, int32be, MAGIC_BYTES } from '../support/wire-builder.js';

/** A raw client through the proxy: writes `bytes`, collects what comes back until the socket ends. */
describe('FaultProxy (with LookupPeer)', () => {
  const cleanup = useCleanup();
  useLeakChecks(cleanup);

  async function setup(peerOptions: LookupPeerOptions = {}) {
    const target = await FakeLookupd.start();
    cleanup(() => target.stop());
    const proxy = await FaultProxy.start(target.address);
    cleanup(() => proxy.stop());
    const peer = new LookupPeer(proxy.address, peerOptions);
    cleanup(() => peer.close());
    return { target, proxy, peer };
  }

  it('pass: forwards both ways', async () => {
    const { target, proxy, peer } = await setup();
    await peer.ping();
    await peer.register('t', 'c');
    assert.equal(proxy.accepted, 1);
    assert.equal(proxy.openConnections, 1);
    assert.deepEqual(
      target.received.map((c) => c.line),
      ['PING', 'REGISTER t c'],
    );
    assert.deepEqual(target.connections[0]!.magic, MAGIC_BYTES);
  });

  it('silent: a new connection is accepted and never answered (read timeout); nothing reaches lookupd', async () => {
    const { target, proxy, peer } = await setup({ readTimeoutMs: 100 });
    await proxy.setFault({ type: 'silent' });
    assertConnectionError(await settle(peer.ping()), 'NSQ_ERR_READ_TIMEOUT', proxy.address);
    assert.equal(proxy.accepted, 1);
    assert.equal(target.connections.length, 0);
  });

  it('silent: an open connection goes quiet', async () => {
    const { target, proxy, peer } = await setup({ readTimeoutMs: 100 });
    await peer.ping();
    await proxy.setFault({ type: 'silent' });
    assertConnectionError(await settle(peer.ping()), 'NSQ_ERR_READ_TIMEOUT', proxy.address);
    assert.equal(target.received.length, 1);
    await proxy.setFault({ type: 'pass' });
    await peer.ping();
    assert.equal(proxy.accepted, 2);
  });

  it('delay: everything still arrives, in order', async () => {
    const { target, proxy, peer } = await setup();
    await proxy.setFault({ type: 'delay', ms: 20 });
    const bodies = await Promise.all(['a', 'b', 'c'].map((t) => peer.command(commandLine(`REGISTER ${t}`))));
    assert.deepEqual(bodies.map(String), ['OK', 'OK', 'OK']);
    assert.deepEqual(
      target.received.map((c) => c.line),
      ['REGISTER a', 'REGISTER b', 'REGISTER c'],
    );
  });

  it('cut-mid-frame: sends whole frames, then half of the next one, then a FIN', async () => {
    const target = await FakeLookupd.start({ handlers: { PING: answer.echo } });
    cleanup(() => target.stop());
    const proxy = await FaultProxy.start(target.address);
    cleanup(() => proxy.stop());
    await proxy.setFault({ type: 'cut-mid-frame', afterFrames: 1 });
    const raw = await V1Client.open(proxy.address);
    cleanup(() => raw.destroy());
    await raw.write(Buffer.concat([MAGIC_BYTES, commandLine('PING one'), commandLine('PING two-two')]));
    await raw.untilClosed();
    assert.equal(raw.error, undefined);
    const second = frame('PING two-two');
    assert.deepEqual(raw.received(), Buffer.concat([frame('PING one'), second.subarray(0, 4 + 6)]));
  });

  it('cut-mid-frame: the peer rejects the owed commands with NSQ_ERR_CONNECTION_CLOSED', async () => {
    const { proxy, peer } = await setup();
    await peer.ping();
    await proxy.setFault({ type: 'cut-mid-frame' });
    const outcomes = await Promise.all([settle(peer.ping()), settle(peer.register('a'))]);
    for (const outcome of outcomes)
      assertConnectionError(outcome, 'NSQ_ERR_CONNECTION_CLOSED', proxy.address);
  });

  it('reset: resets the open connections at once', async () => {
    const { target, proxy, peer } = await setup();
    target.handle('REGISTER', answer.silent);
    await peer.ping();
    const pending = settle(peer.register('a'));
    await target.waitForCommands(2);
    await proxy.setFault({ type: 'reset' });
    assertConnectionError(await pending, 'NSQ_ERR_CONNECTION_RESET', proxy.address);
  });

  it('reset: resets new connections on accept', async () => {
    const { proxy, peer } = await setup();
    await proxy.setFault({ type: 'reset' });
    const outcome = await settle(peer.ping());
    assert.ok(!outcome.ok && outcome.error instanceof ConnectionError, String(!outcome.ok && outcome.error));
    // Reset right after the handshake: before or after the peer saw 'connect'.
    assert.ok(
      ['NSQ_ERR_CONNECT', 'NSQ_ERR_CONNECTION_RESET'].includes(outcome.error.code),
      outcome.error.code,
    );
    assert.equal(proxy.accepted, 1);
  });

  it('reset after N frames: the client has read them all, then gets an RST', async () => {
    const target = await FakeLookupd.start();
    cleanup(() => target.stop());
    const proxy = await FaultProxy.start(target.address);
    cleanup(() => proxy.stop());
    const raw = await V1Client.open(proxy.address);
    cleanup(() => raw.destroy());
    await raw.write(Buffer.concat([MAGIC_BYTES, commandLine('PING')]));
    await raw.texts(1);
    await proxy.setFault({ type: 'reset', afterFrames: 1 });
    await raw.write(commandLine('PING'));
    await raw.texts(2);
    await raw.write(commandLine('PING'));
    await raw.untilClosed();
    assert.equal(raw.error?.code, 'ECONNRESET');
    assert.deepEqual(raw.received(), Buffer.concat([frame('OK'), frame('OK')]));
  });

  it('garbage: replaces the next frame; the peer sees a protocol error', async () => {
    const { proxy, peer } = await setup();
    await peer.ping();
    await proxy.setFault({ type: 'garbage', bytes: int32be(-7) });
    const outcome = await settle(peer.ping());
    const error = assertConnectionError(outcome, 'NSQ_ERR_PROTOCOL', proxy.address);
    assert.match(error.message, /-7 bytes/);
  });

  it('refuse: the port refuses dials until the fault is lifted, on the same address', async () => {
    const { proxy, peer } = await setup();
    await peer.ping();
    await proxy.setFault({ type: 'refuse' });
    // An open connection is untouched by refuse.
    await peer.ping();
    await proxy.dropAll();
    await untilState(peer, 'disconnected');
    assertConnectionError(await settle(peer.ping()), 'NSQ_ERR_CONNECT', proxy.address);
    await proxy.setFault({ type: 'pass' });
    await peer.ping();
    assert.equal(proxy.accepted, 2);
  });

  it('dropAll: FIN or RST on every open connection', async () => {
    const { proxy, peer } = await setup();
    await peer.ping();
    let disconnected = nextEvent(peer, 'disconnect');
    await proxy.dropAll();
    assert.equal((await disconnected)[0] instanceof ConnectionError, true);
    assert.equal(((await disconnected)[0] as ConnectionError).code, 'NSQ_ERR_CONNECTION_CLOSED');
    await peer.ping();
    disconnected = nextEvent(peer, 'disconnect');
    await proxy.dropAll({ reset: true });
    assert.equal(((await disconnected)[0] as ConnectionError).code, 'NSQ_ERR_CONNECTION_RESET');
    assert.equal(proxy.openConnections, 0);
  });

  it('setTarget: new connections go to the new target', async () => {
    const { target, proxy, peer } = await setup();
    await peer.ping();
    const other = await FakeLookupd.start();
    cleanup(() => other.stop());
    proxy.setTarget(other.address);
    await proxy.dropAll();
    await untilState(peer, 'disconnected');
    await peer.register('moved');
    assert.deepEqual(
      other.received.map((c) => c.line),
      ['REGISTER moved'],
    );
    assert.equal(target.received.length, 1);
  });

  it('stop(): closes every socket on both sides and the listener', async () => {
    await quiesce();
    const baseline = openTcpHandles();
    const target = await FakeLookupd.start({ handlers: { PING: answer.silent } });
    const proxy = await FaultProxy.start(target.address);
    await proxy.setFault({ type: 'delay', ms: 10_000 });
    const raw = await V1Client.open(proxy.address);
    await raw.write(Buffer.concat([MAGIC_BYTES, commandLine('PING')]));
    await proxy.waitForConnections(1);
    await proxy.stop();
    await raw.untilClosed();
    await target.stop();
    await quiesce();
    assert.deepEqual(openTcpHandles(), baseline);
    await assert.rejects(proxy.setFault({ type: 'pass' }), /stopped/);
  });
});
