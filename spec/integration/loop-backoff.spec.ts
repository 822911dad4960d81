import assert from 'node:assert/strict';
import { FaultProxy } from '../../harness/fault-proxy.js';
import { LOOKUPD_TARGETS, portOf } from '../../harness/targets.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { LookupLoop, type PeerStatusEvent } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { mulberry32 } from '../../lib/util/random.js';
import { useFakeClock } from '../support/fake-clock.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { refusedAddress } from '../support/unreachable.js';
import { eventually } from '../support/wait.js';

/** Lets real I/O and promise chains run until `condition` holds, without moving the fake clock. */
const until = (condition: () => boolean, what: string, timeoutMs = 5000) =>
  eventually(condition, what, { pollMs: 1, timeoutMs });

describe('LookupLoop reconnect backoff (fake clock)', () => {
  const cleanup = useCleanup();

  it('with jitter, waits exactly the announced delay, each within [d/2, d] and never above maxDelayMs', async () => {
    const address = await refusedAddress();
    const clock = useFakeClock(cleanup, ['setTimeout', 'clearTimeout', 'Date']);
    const loop = new LookupLoop({
      addresses: [address],
      identity: IDENTITY,
      registry: new Registry(),
      checkBroadcastAddress: false,
      reconnect: { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: true, random: mulberry32(7) },
    });
    cleanup(() => loop.close());
    const attempts: number[] = [];
    const retries: Extract<PeerStatusEvent, { type: 'retry-scheduled' }>[] = [];
    loop.on('status', (event) => {
      if (event.type === 'connecting') attempts.push(clock.now);
      if (event.type === 'retry-scheduled') retries.push(event);
    });
    loop.start();
    while (retries.length < 8) {
      const round = retries.length + 1;
      await until(() => retries.length === round, 'the attempt failed and a retry was scheduled');
      assert.equal(attempts.length, round);
      assert.equal(loop.stats()[0]?.nextRetryAt, retries.at(-1)!.nextRetryAt);
      await clock.tickAsync(retries.at(-1)!.delayMs);
      await until(() => attempts.length === retries.length + 1, 'the next attempt started');
    }
    const ceilings = [100, 200, 400, 400, 400, 400, 400, 400];
    for (const [i, retry] of retries.entries()) {
      assert.equal(retry.attempt, i + 1);
      assert.ok(retry.delayMs <= 400, `delay ${retry.delayMs} above maxDelayMs`);
      assert.ok(retry.delayMs >= ceilings[i]! / 2 && retry.delayMs <= ceilings[i]!, `delay ${retry.delayMs}`);
      // The next attempt starts exactly when the event said it would.
      assert.equal(attempts[i + 1], retry.nextRetryAt);
    }
    assert.ok(new Set(retries.slice(2).map((r) => r.delayMs)).size > 1, 'jitter spreads the capped delays');
  });

  it('a bad identity or schedule throws at construction, naming the option', () => {
    const base = { addresses: ['127.0.0.1:4160'], registry: new Registry() };
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { identity: { ...IDENTITY, tcpPort: 0 } },
        /identity\.tcpPort must be an integer port from 1 to 65535, got 0/,
      ],
      [{ identity: { ...IDENTITY, httpPort: 70000 } }, /identity\.httpPort .* got 70000/],
      [
        { identity: { ...IDENTITY, broadcastAddress: '' } },
        /identity\.broadcastAddress must be a non-empty string/,
      ],
      [{ identity: { ...IDENTITY, version: '' } }, /identity\.version must be a non-empty string/],
      [{ identity: IDENTITY, pingIntervalMs: 0 }, /pingIntervalMs must be a positive number/],
      [
        { identity: IDENTITY, reconnect: { maxDelayMs: -1 } },
        /reconnect\.maxDelayMs must be a positive number/,
      ],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () =>
          new LookupLoop({ ...base, ...options } as unknown as ConstructorParameters<typeof LookupLoop>[0]),
        (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  for (const target of LOOKUPD_TARGETS) {
    it(`with default options, a lookupd back after a 60 s outage is dialled within maxDelayMs (2 s) of listening (${target.name})`, async () => {
      const address = await refusedAddress();
      const port = portOf(address);
      const clock = useFakeClock(cleanup, ['setTimeout', 'clearTimeout', 'Date']);
      const registry = new Registry([{ topic: 'back', channel: 'again' }]);
      const loop = new LookupLoop({
        addresses: [address],
        identity: IDENTITY,
        registry,
        checkBroadcastAddress: false,
      });
      cleanup(() => loop.close());
      const retries: Extract<PeerStatusEvent, { type: 'retry-scheduled' }>[] = [];
      let connectedAt: number | undefined;
      loop.on('status', (event) => {
        if (event.type === 'retry-scheduled') retries.push(event);
        if (event.type === 'connected') connectedAt = clock.now;
      });
      loop.start();
      // 60 s of refused dials, the backoff's delays taken one by one on the fake clock.
      while (clock.now < 60_000) {
        const seen = retries.length;
        await until(() => retries.length > seen, 'the failed dial scheduled a retry');
        await clock.tickAsync(retries.at(-1)!.delayMs);
      }
      await until(() => retries.length > 0 && clock.now < retries.at(-1)!.nextRetryAt, 'a retry is pending');
      const lookupd = await target.start({ tcpPort: port });
      cleanup(() => lookupd.close());
      const listeningAt = clock.now;
      // From here on only the pending delay stands between lookupd and its broker.
      await clock.tickAsync(retries.at(-1)!.nextRetryAt - clock.now);
      await until(() => connectedAt !== undefined, 'the broker connected', 20_000);
      assert.ok(
        connectedAt! - listeningAt <= 2000,
        `connected ${connectedAt! - listeningAt} ms after lookupd listened`,
      );
      assert.ok(Math.max(...retries.map((r) => r.delayMs)) <= 2000, 'no delay above the default cap');
    });

    it(`a lookupd that accepts, takes the whole registry and drops gets the backoff's schedule, not a storm (${target.name})`, async () => {
      const lookupd = await target.start();
      cleanup(() => lookupd.close());
      const registry = new Registry([{ topic: 'a', channel: 'x' }, { topic: 'b' }]);
      // IDENTIFY's answer and the 2 REGISTER answers reach the client, then the proxy closes.
      const proxy = await FaultProxy.start(lookupd.tcpAddress);
      cleanup(() => proxy.stop());
      await proxy.setFault({ type: 'close-after', afterFrames: 3 });
      const clock = useFakeClock(cleanup, [
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'Date',
      ]);
      const loop = new LookupLoop({
        addresses: [proxy.address],
        identity: IDENTITY,
        registry,
        checkBroadcastAddress: false,
        reconnect: { initialDelayMs: 100, maxDelayMs: 800, factor: 2, jitter: false },
      });
      cleanup(() => loop.close());
      const events: PeerStatusEvent[] = [];
      loop.on('status', (event) => events.push(event));
      const count = (type: PeerStatusEvent['type']) => events.filter((e) => e.type === type).length;
      loop.start();
      for (let round = 1; round <= 5; round++) {
        await until(() => count('retry-scheduled') === round, `drop ${round} scheduled a retry`);
        // Nothing reconnects before the delay is over: one connection per round, however fast the drop.
        assert.equal(proxy.accepted, round);
        assert.equal(count('connected'), round, 'each connection completed its re-registration');
        const retry = events.filter((e) => e.type === 'retry-scheduled').at(-1)!;
        await clock.tickAsync(retry.type === 'retry-scheduled' ? retry.delayMs - 1 : 0);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(proxy.accepted, round, 'no attempt before the delay is over');
        await clock.tickAsync(1);
        await until(() => proxy.accepted === round + 1 || round === 5, 'the next attempt dialled');
      }
      const delays = events.flatMap((e) => (e.type === 'retry-scheduled' ? [e.delayMs] : []));
      assert.deepEqual(delays.slice(0, 5), [100, 200, 400, 800, 800]);
      assert.equal(loop.stats()[0]?.reconnectAttempts, 5);
    });
  }
});
