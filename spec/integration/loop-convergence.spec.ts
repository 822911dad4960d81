import assert from 'node:assert/strict';
import {
  expectedRegistrations,
  isListedProducer,
  producerRegistrations,
} from '../../harness/lookupd-view.js';
import { LOOKUPD_TARGETS, portOf, type RunningLookupd } from '../../harness/targets.js';
import { LookupLoop, type LookupLoopOptions, type PeerStatusEvent } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { mulberry32 } from '../../lib/util/random.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { eventually, nextLoopEvent } from '../support/wait.js';

function populate(registry: Registry, pairs: number): void {
  for (let i = 0; i < pairs; i++) registry.addChannel(`topic-${i % 17}`, `channel-${i}`);
  registry.addTopic('lonely');
  registry.addChannel('ephemeral#ephemeral', 'c#ephemeral');
}

async function assertConverged(lookupd: RunningLookupd, registry: Registry): Promise<void> {
  assert.deepEqual(
    await producerRegistrations(lookupd.httpAddress, IDENTITY),
    expectedRegistrations(registry),
  );
}

for (const target of LOOKUPD_TARGETS) {
  describe(`LookupLoop against the ${target.name}`, () => {
    const cleanup = useCleanup();

    async function startServer(ports?: { tcpPort: number; httpPort: number }): Promise<RunningLookupd> {
      const server = await target.start(ports);
      cleanup(() => server.close());
      return server;
    }

    function newLoop(options: Omit<LookupLoopOptions, 'identity'>): LookupLoop {
      const loop = new LookupLoop({
        identity: IDENTITY,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        ...options,
      });
      cleanup(() => loop.close());
      return loop;
    }

    async function startAndConnect(loop: LookupLoop): Promise<void> {
      const connected = loop.addresses.map((address) => nextLoopEvent(loop.events({ address }), 'connected'));
      loop.start();
      await Promise.all(connected);
      await loop.settled();
    }

    it('registers a populated registry on every lookupd when it connects', async () => {
      const [a, b] = [await startServer(), await startServer()];
      const registry = new Registry();
      populate(registry, 500);
      const loop = newLoop({ addresses: [a.tcpAddress, b.tcpAddress], registry });
      await startAndConnect(loop);
      await assertConverged(a, registry);
      await assertConverged(b, registry);
      for (const stats of loop.stats()) {
        assert.equal(stats.state, 'connected');
        assert.equal(stats.commandsFailed, 0);
        // IDENTIFY plus one REGISTER per channel and per channel-less topic.
        assert.equal(stats.commandsSent, 1 + registry.size);
      }
    });

    it('sends every registry change to every lookupd (randomized churn)', async () => {
      const seed = Date.now() >>> 0;
      const random = mulberry32(seed);
      const [a, b] = [await startServer(), await startServer()];
      const registry = new Registry();
      populate(registry, 50);
      const loop = newLoop({ addresses: [a.tcpAddress, b.tcpAddress], registry });
      await startAndConnect(loop);
      for (let i = 0; i < 300; i++) {
        const topic = `topic-${Math.floor(random() * 20)}`;
        const channel = `channel-${Math.floor(random() * 10)}`;
        const op = random();
        if (op < 0.35) registry.addChannel(topic, channel);
        else if (op < 0.55) registry.addTopic(topic);
        else if (op < 0.85) registry.removeChannel(topic, channel);
        else registry.removeTopic(topic);
      }
      await loop.settled();
      try {
        await assertConverged(a, registry);
        await assertConverged(b, registry);
      } catch (error) {
        throw new Error(`churn with seed ${seed} did not converge: ${(error as Error).message}`);
      }
    });

    it('reconnects with backoff after a lookupd restart on the same port and re-registers everything', async () => {
      const a = await startServer();
      const registry = new Registry();
      populate(registry, 200);
      const loop = newLoop({ addresses: [a.tcpAddress], registry });
      await startAndConnect(loop);
      const disconnected = nextLoopEvent(loop.events({ address: a.tcpAddress }), 'disconnected');
      await a.close();
      await disconnected;
      // Changes while it is down are not queued: the reconnect sends the registry as it is then.
      registry.removeTopic('topic-3');
      registry.addChannel('while-down', 'c');
      const reconnected = nextLoopEvent(loop.events({ address: a.tcpAddress }), 'connected');
      const restarted = await startServer({ tcpPort: portOf(a.tcpAddress), httpPort: portOf(a.httpAddress) });
      await reconnected;
      await loop.settled();
      await assertConverged(restarted, registry);
      const [stats] = loop.stats();
      assert.equal(stats?.connects, 2);
      assert.equal(stats?.lastError?.code !== undefined, true);
    });

    it('setAddresses adds new peers, closes removed ones and leaves the rest untouched', async () => {
      const [a, b, c] = [await startServer(), await startServer(), await startServer()];
      const registry = new Registry();
      populate(registry, 30);
      const loop = newLoop({ addresses: [a.tcpAddress, b.tcpAddress], registry });
      await startAndConnect(loop);
      const events: PeerStatusEvent[] = [];
      loop.on('status', (event) => events.push(event));
      const connectedC = nextLoopEvent(loop.events({ address: c.tcpAddress }), 'connected');
      const diff = await loop.setAddresses([b.tcpAddress, c.tcpAddress]);
      assert.deepEqual(diff, { added: [c.tcpAddress], removed: [a.tcpAddress] });
      await connectedC;
      await loop.settled();
      assert.deepEqual(
        events.filter((e) => e.address === b.tcpAddress),
        [],
        'b kept its peer: no transition at all',
      );
      assert.equal(
        loop.stats().find((s) => s.address === b.tcpAddress)?.connects,
        1,
        'b was not reconnected',
      );
      await assertConverged(b, registry);
      await assertConverged(c, registry);
      await eventually(
        async () => !(await isListedProducer(a.httpAddress, IDENTITY)),
        'a drops the producer',
      );
      assert.deepEqual(loop.addresses, [b.tcpAddress, c.tcpAddress]);
    });

    it('lookupdHttpAddresses() comes from the IDENTIFY answers', async () => {
      const [a, b] = [await startServer(), await startServer()];
      const loop = newLoop({ addresses: [a.tcpAddress, b.tcpAddress], registry: new Registry() });
      await startAndConnect(loop);
      assert.deepEqual(
        loop.lookupdHttpAddresses().sort(),
        [`127.0.0.1:${portOf(a.httpAddress)}`, `127.0.0.1:${portOf(b.httpAddress)}`].sort(),
      );
    });

    it('a silent lookupd does not delay registrations on a healthy one', async () => {
      const healthy = await startServer();
      // Accepts and never answers: IDENTIFY stays owed until the read timeout.
      const silent = await FakeLookupd.start({ onConnection: (c) => c.mute() });
      cleanup(() => silent.stop());
      const silentAddress = silent.address;
      const registry = new Registry();
      const loop = newLoop({
        addresses: [silentAddress, healthy.tcpAddress],
        registry,
        readTimeoutMs: 60_000,
      });
      const connected = nextLoopEvent(loop.events({ address: healthy.tcpAddress }), 'connected');
      loop.start();
      await connected;
      for (let i = 0; i < 20; i++) registry.addTopic(`new-${i}`);
      await eventually(
        async () => (await producerRegistrations(healthy.httpAddress, IDENTITY)).length === 20,
        'the healthy lookupd lists all 20 topics',
      );
      // Still waiting for its IDENTIFY answer: the healthy peer never waited for it.
      assert.equal(loop.stats().find((s) => s.address === silentAddress)?.state, 'connecting');
      await assertConverged(healthy, registry);
    });
  });
}
