import assert from 'node:assert/strict';
import { LOOKUPD_TARGETS, portOf, type RunningLookupd } from '../../harness/targets.js';
import { LookupLoop, type PeerStatusEvent } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { nextLoopEvent } from '../support/wait.js';

for (const target of LOOKUPD_TARGETS) {
  describe(`LookupLoop status (${target.name})`, () => {
    const cleanup = useCleanup();

    it('reflects a peer going down and coming back: state, error, retries, in-sync count, events', async () => {
      let server: RunningLookupd = await target.start();
      cleanup(() => server.close());
      const registry = new Registry([
        { topic: 'a', channel: 'x' },
        { topic: 'a', channel: 'y' },
        { topic: 'b' },
      ]);
      const loop = new LookupLoop({
        addresses: [server.tcpAddress],
        identity: IDENTITY,
        registry,
        reconnect: { initialDelayMs: 20, maxDelayMs: 40, jitter: true },
        pingIntervalMs: 50,
      });
      cleanup(() => loop.close());
      const events: PeerStatusEvent[] = [];
      loop.on('status', (event) => events.push(event));
      const address = server.tcpAddress;

      const synced = new Promise<void>((resolve) =>
        loop.on('status', (event) => event.type === 'in-sync' && resolve()),
      );
      loop.start();
      await synced;
      let status = loop.status();
      assert.equal(status.inSync, true);
      assert.equal(status.registrySize, 3);
      const [up] = status.peers;
      assert.equal(up?.state, 'connected');
      assert.equal(up?.registrationsAcked, 3);
      assert.equal(up?.registrationsExpected, 3);
      assert.equal(typeof up?.connectedSince, 'number');
      assert.equal(up?.lookupd?.tcpPort, portOf(address));
      assert.deepEqual(JSON.parse(JSON.stringify(status)), status, 'status() is plain JSON');
      assert.deepEqual(
        events.map((e) => e.type),
        ['added', 'connecting', 'connected', 'in-sync'],
      );

      // lookupd goes away: the peer is down, with the error and a scheduled retry visible.
      const retrying = new Promise<PeerStatusEvent>((resolve) =>
        loop.on('status', (event) => event.type === 'retry-scheduled' && resolve(event)),
      );
      await server.close();
      const retry = await retrying;
      status = loop.status();
      const [down] = status.peers;
      assert.equal(status.inSync, false);
      assert.notEqual(down?.state, 'connected');
      assert.equal(down?.connectedSince, null);
      assert.equal(down?.inSync, false);
      assert.equal(down?.registrationsAcked, 0);
      assert.match(down?.lastError?.code ?? '', /^NSQ_ERR_/);
      assert.ok((down?.reconnectAttempts ?? 0) >= 1);
      assert.ok(
        // The first delay is drawn from [initialDelayMs / 2, initialDelayMs]: never above the cap.
        retry.type === 'retry-scheduled' && retry.delayMs >= 10 && retry.delayMs <= 20,
        JSON.stringify(retry),
      );
      assert.equal(
        events.some((e) => e.type === 'disconnected'),
        true,
      );

      // Back on the same port: reconnected, re-registered, in sync again, and the counters say so.
      const again = nextLoopEvent(loop.events({ address }), 'connected');
      server = await target.start({ tcpPort: portOf(address), httpPort: portOf(server.httpAddress) });
      await again;
      await loop.settled();
      status = loop.status();
      const [back] = status.peers;
      assert.equal(back?.state, 'connected');
      assert.equal(back?.connects, 2);
      // The failures are forgotten only once the new connection proves itself by answering a PING.
      assert.ok((back?.reconnectAttempts ?? 0) >= 1, JSON.stringify(back));
      await nextLoopEvent(loop.events({ address }), 'ping');
      assert.equal(loop.stats()[0]?.reconnectAttempts, 0);
      assert.equal(back?.nextRetryAt, null);
      assert.equal(back?.inSync, true);
      assert.equal(back?.registrationsAcked, 3);
      assert.equal(events.filter((e) => e.type === 'in-sync').length, 2);
      const order = events.map((e) => e.type).filter((t) => t !== 'connecting' && t !== 'retry-scheduled');
      assert.deepEqual(order, ['added', 'connected', 'in-sync', 'disconnected', 'connected', 'in-sync']);
    });

    it("events() yields one lookupd's transitions and PINGs in order, and ends when the loop closes", async () => {
      const [a, b] = [await target.start(), await target.start()];
      cleanup(() => a.close());
      cleanup(() => b.close());
      const loop = new LookupLoop({
        addresses: [a.tcpAddress, b.tcpAddress],
        identity: IDENTITY,
        registry: new Registry([{ topic: 't' }]),
        pingIntervalMs: 20,
      });
      cleanup(() => loop.close());
      // Created before start(): nothing is missed between creating the stream and reading it.
      const onlyA = loop.events({ address: a.tcpAddress });
      const everything = loop.events();
      loop.start();
      const seen: string[] = [];
      for await (const event of onlyA) {
        assert.equal(event.address, a.tcpAddress);
        seen.push(event.type);
        if (event.type === 'ping') break;
      }
      assert.deepEqual(seen, ['added', 'connecting', 'connected', 'in-sync', 'ping']);
      let closedFirst = false;
      const closing = loop.close().then(() => {
        closedFirst = true;
      });
      const all: string[] = [];
      for await (const event of everything)
        all.push(`${event.type} ${event.address === a.tcpAddress ? 'a' : 'b'}`);
      await closing;
      assert.equal(closedFirst, true, 'the stream ends once close() is done');
      await loop.closed();
      for (const who of ['a', 'b']) {
        const mine = all.filter((e) => e.endsWith(who)).filter((e) => !e.startsWith('ping'));
        assert.deepEqual(
          mine.slice(0, 4),
          ['added', 'connecting', 'connected', 'in-sync'].map((t) => `${t} ${who}`),
        );
        assert.equal(mine.at(-1), `removed ${who}`);
      }
      // A stream asked for after close() ends at once.
      assert.equal((await loop.events().next()).done, true);
    });

    it('events() keeps the newest maxBuffered events for a reader that lags, counting what it dropped', async () => {
      const server = await target.start();
      cleanup(() => server.close());
      const registry = new Registry();
      const loop = new LookupLoop({ addresses: [server.tcpAddress], identity: IDENTITY, registry });
      cleanup(() => loop.close());
      const stream = loop.events({ maxBuffered: 2 });
      const synced = new Promise<void>((resolve) =>
        loop.on('status', (event) => event.type === 'in-sync' && resolve()),
      );
      loop.start();
      await synced;
      await loop.close();
      // added, connecting, connected, in-sync, removed: the newest two are kept.
      const kept: string[] = [];
      for await (const event of stream) kept.push(event.type);
      assert.deepEqual(kept, ['in-sync', 'removed']);
      assert.equal(stream.dropped, 3);
    });
  });
}
