import assert from 'node:assert/strict';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { type FakeClock, useFakeClock } from '../support/fake-clock.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { refusedAddress } from '../support/unreachable.js';
import { eventually, nextLoopEvent } from '../support/wait.js';

describe('LookupLoop timers (fake clock)', () => {
  const cleanup = useCleanup();

  it('PINGs each connected peer every pingIntervalMs, and not before', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    // Only the interval is faked: sockets and their timeouts run on real time.
    const clock = useFakeClock(cleanup, ['setInterval', 'clearInterval']);
    const registry = new Registry();
    const loop = new LookupLoop({
      addresses: [address],
      identity: IDENTITY,
      registry,
      pingIntervalMs: 15000,
    });
    cleanup(() => loop.close());
    const connected = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    await connected;

    clock.tick(14_999);
    // Commands on one connection arrive in order: had a PING gone out, it would precede this REGISTER.
    registry.addTopic('marker-1');
    await lookupd.waitFor('REGISTER marker-1');
    assert.deepEqual(lookupd.lines(), ['IDENTIFY', 'REGISTER marker-1']);

    const pinged = nextLoopEvent(loop.events({ address }), 'ping');
    clock.tick(1);
    await lookupd.waitFor('PING');
    const { rttMs } = await pinged;
    assert.equal(typeof rttMs, 'number');
    assert.equal(loop.stats()[0]?.lastPingRttMs, rttMs);

    clock.tick(15_000);
    registry.addTopic('marker-2');
    await lookupd.waitFor('REGISTER marker-2');
    assert.deepEqual(lookupd.lines(), ['IDENTIFY', 'REGISTER marker-1', 'PING', 'PING', 'REGISTER marker-2']);
  });

  it('reconnects with exponential backoff from initialDelayMs, capped at maxDelayMs', async () => {
    const address = await refusedAddress();

    const clock = useFakeClock(cleanup, ['setTimeout', 'clearTimeout']);
    const loop = new LookupLoop({
      addresses: [address],
      identity: IDENTITY,
      registry: new Registry(),
      reconnect: { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: false },
    });
    cleanup(() => loop.close());
    // p-retry arms its delay a few promise hops after reporting a failure.
    const backoffArmed = (fake: FakeClock) =>
      eventually(() => fake.countTimers() > 0, 'the backoff delay to be armed', { pollMs: 1 });
    const attemptsAt: number[] = [];
    loop.on('status', (event) => {
      if (event.type === 'connecting') attemptsAt.push(clock.now);
    });
    loop.start();
    while (attemptsAt.length < 5) {
      await backoffArmed(clock);
      await clock.nextAsync();
    }
    // Delays 100, 200, 400, then capped at 400: attempts at these fake-clock times.
    assert.deepEqual(attemptsAt, [0, 100, 300, 700, 1100]);
    await backoffArmed(clock);
    assert.equal(loop.stats()[0]?.lastError?.code, 'NSQ_ERR_CONNECT');
    assert.equal(loop.stats()[0]?.reconnectAttempts, 5);
  });

  it('reconnects at once after a dropped connection, well before the next PING', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    useFakeClock(cleanup, ['setInterval', 'clearInterval']);
    const registry = new Registry([{ topic: 't', channel: 'c' }]);
    const loop = new LookupLoop({
      addresses: [address],
      identity: IDENTITY,
      registry,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    cleanup(() => loop.close());
    let connected = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    await connected;
    connected = nextLoopEvent(loop.events({ address }), 'connected');
    await lookupd.dropConnections();
    // The ping interval never advances here: only the backoff (real time, tens of ms) brings it back.
    await connected;
    assert.equal(lookupd.connections.length, 2);
    assert.deepEqual(lookupd.lines(), ['IDENTIFY', 'REGISTER t c', 'IDENTIFY', 'REGISTER t c']);
  });
});
