import assert from 'node:assert/strict';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { nextLoopEvent } from '../support/wait.js';

describe('LookupLoop commands on the wire', () => {
  const cleanup = useCleanup();

  async function connected(registry: Registry) {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const loop = new LookupLoop({ addresses: [address], identity: IDENTITY, registry });
    cleanup(() => loop.close());
    return { lookupd, address, loop };
  }

  it('sends registry changes as nsqd does, a deleted topic as UNREGISTER t then UNREGISTER t c per channel', async () => {
    const registry = new Registry();
    const { lookupd, address, loop } = await connected(registry);
    const up = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    await up;
    registry.addTopic('t');
    registry.addChannel('t', 'a');
    registry.addChannel('t', 'b#ephemeral');
    registry.removeChannel('t', 'a');
    registry.addChannel('t', 'c');
    registry.removeTopic('t');
    await loop.settled();
    assert.deepEqual(lookupd.lines(), [
      'IDENTIFY',
      'REGISTER t',
      'REGISTER t a',
      'REGISTER t b#ephemeral',
      'UNREGISTER t a',
      'REGISTER t c',
      'UNREGISTER t',
      'UNREGISTER t b#ephemeral',
      'UNREGISTER t c',
    ]);
  });

  it('re-registers channels (or bare topics) on connect, and applies changes made during that burst after it', async () => {
    const registry = new Registry([
      { topic: 'x', channel: 'c1' },
      { topic: 'x', channel: 'c2' },
      { topic: 'bare' },
    ]);
    const { lookupd, address, loop } = await connected(registry);
    // lookupd sits on the burst's first answer while the broker changes its topics.
    const release = lookupd.hold('REGISTER x c1');
    const up = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    await lookupd.waitFor('REGISTER bare');
    registry.removeTopic('x');
    registry.addChannel('late', 'c');
    release();
    await up;
    await loop.settled();
    assert.deepEqual(lookupd.lines(), [
      'IDENTIFY',
      'REGISTER x c1',
      'REGISTER x c2',
      'REGISTER bare',
      'UNREGISTER x',
      'UNREGISTER x c1',
      'UNREGISTER x c2',
      'REGISTER late',
      'REGISTER late c',
    ]);
    assert.equal(loop.stats()[0]?.inSync, true);
    assert.equal(loop.stats()[0]?.registrationsAcked, registry.size);
  });

  it('writes the whole re-registration burst before the first answer arrives (pipelined)', async () => {
    const registry = new Registry();
    for (let i = 0; i < 1000; i++) registry.addChannel(`t${i % 10}`, `c${i}`);
    const { lookupd, address, loop } = await connected(registry);
    const release = lookupd.hold('REGISTER t0 c0');
    const up = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    // All 1000 REGISTERs reach lookupd while it has not answered the first one.
    await lookupd.waitFor('REGISTER t9 c999');
    assert.equal(lookupd.received.length, 1001);
    release();
    await up;
  });
});
