/**
 * The whole path with a client nobody here wrote: the broker (lib/broker/, nsqd-lookup/broker) registers with
 * lookupd through a LookupLoop; nsqjs Writers publish to it over the V2 protocol; nsqjs Readers that
 * know only lookupd's HTTP address find it and consume. Runs against every lookupd in LOOKUPD_TARGETS.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import { useCleanup } from '../support/harness.js';
import {
  brokerFor,
  channelStats,
  countBodies,
  deferPublish,
  lookupdChannels,
  lookupdLists,
  post,
  publish,
  readerFor,
  writerFor,
} from '../support/nsqjs-clients.js';
import { eventually } from '../support/wait.js';

for (const target of LOOKUPD_TARGETS) {
  describe(`broker with nsqjs, through the ${target.name}`, function () {
    this.timeout(30_000);
    const cleanup = useCleanup();
    let lookupd: RunningLookupd;

    beforeEach(async () => {
      lookupd = await target.start();
      cleanup(() => lookupd.close());
    });

    const startBroker = (options = {}) =>
      brokerFor(cleanup, { lookupdTcpAddresses: [lookupd.tcpAddress], ...options });

    it('a Reader found through lookupd gets every message exactly once on each of two channels', async () => {
      const broker = await startBroker();
      const topic = 'orders';
      assert.equal((await post(broker, `/topic/create?topic=${topic}`)).status, 200);
      await eventually(() => lookupdLists(lookupd.httpAddress, topic, broker), 'lookupd lists the broker');

      const billing = readerFor(cleanup, topic, 'billing', lookupd.httpAddress);
      const shipping = readerFor(cleanup, topic, 'shipping', lookupd.httpAddress);
      for (const { reader } of [billing, shipping]) {
        reader.on('message', (message) => message.finish());
        const ready = once(reader, 'ready');
        reader.connect();
        await ready;
      }
      // Each SUB created its channel, which the broker registered at once.
      await eventually(
        async () => (await lookupdChannels(lookupd.httpAddress, topic)).sort().join() === 'billing,shipping',
        'lookupd lists both channels',
      );

      const writer = await writerFor(cleanup, broker.tcpAddress);
      const expected: string[] = [];
      for (let i = 0; i < 5; i++) {
        await publish(writer, topic, `pub-${i}`); // PUB
        expected.push(`pub-${i}`);
      }
      const batch = Array.from({ length: 20 }, (_, i) => `mpub-${i}`);
      await publish(writer, topic, batch); // MPUB
      expected.push(...batch);
      await deferPublish(writer, topic, 'dpub-0', 50); // DPUB
      expected.push('dpub-0');

      await Promise.all([billing.received(expected.length), shipping.received(expected.length)]);
      for (const [name, handle] of Object.entries({ billing, shipping })) {
        const counts = countBodies(handle.deliveries);
        assert.deepEqual([...counts.keys()].sort(), [...expected].sort(), `${name} got every message`);
        assert.ok(
          [...counts.values()].every((n) => n === 1),
          `${name} got each message once`,
        );
        assert.ok(handle.deliveries.every((m) => m.attempts === 1));
      }
      // Nothing is left to redeliver: every message was finished on both channels.
      for (const channel of ['billing', 'shipping']) {
        await eventually(
          async () => (await channelStats(broker, topic, channel))?.in_flight_count === 0,
          'FINs',
        );
        const stats = (await channelStats(broker, topic, channel))!;
        assert.equal(stats.message_count, expected.length);
        assert.equal(stats.depth, 0);
        assert.equal(stats.deferred_count, 0);
        assert.equal(stats.requeue_count, 0);
        assert.equal(stats.timeout_count, 0);
        assert.equal(stats.client_count, 1);
      }
      assert.deepEqual(writer.errors, []);
    });

    it('REQ, REQ with a delay and a message timeout each redeliver the message', async () => {
      const broker = await startBroker();
      const topic = 'retries';
      await post(broker, `/topic/create?topic=${topic}`);
      await post(broker, `/channel/create?topic=${topic}&channel=worker`);
      const writer = await writerFor(cleanup, broker.tcpAddress);
      await publish(writer, topic, ['requeue-now', 'requeue-later', 'time-out']);
      await eventually(() => lookupdLists(lookupd.httpAddress, topic, broker), 'lookupd lists the broker');

      // msg_timeout 1000 ms (nsqd's minimum) so the unanswered message times out quickly.
      const worker = readerFor(cleanup, topic, 'worker', lookupd.httpAddress, { messageTimeout: 1000 });
      worker.reader.on('message', (message) => {
        const body = message.body.toString();
        if (message.attempts > 1) message.finish();
        else if (body === 'requeue-now') message.requeue(0, false);
        else if (body === 'requeue-later') message.requeue(20, false);
        // 'time-out' is left unanswered on its first delivery.
      });
      worker.reader.connect();
      await worker.received(3, (message) => message.attempts === 2);

      const attempts = worker.deliveries.map((m) => `${m.body}#${m.attempts}`).sort();
      assert.deepEqual(attempts, [
        'requeue-later#1',
        'requeue-later#2',
        'requeue-now#1',
        'requeue-now#2',
        'time-out#1',
        'time-out#2',
      ]);
      // Redeliveries keep the message ID.
      for (const body of ['requeue-now', 'requeue-later', 'time-out']) {
        const ids = new Set(worker.deliveries.filter((m) => m.body.toString() === body).map((m) => m.id));
        assert.equal(ids.size, 1, `${body} kept its ID`);
      }
      await eventually(
        async () => (await channelStats(broker, topic, 'worker'))?.in_flight_count === 0,
        'FINs',
      );
      const stats = (await channelStats(broker, topic, 'worker'))!;
      assert.equal(stats.requeue_count, 2);
      assert.equal(stats.timeout_count, 1);
      assert.equal(stats.message_count, 3);
    });

    it('a stopped broker disappears from /lookup and the Reader and Writer notice', async () => {
      const broker = await startBroker();
      const topic = 'short-lived';
      const writer = await writerFor(cleanup, broker.tcpAddress);
      await publish(writer, topic, 'hello'); // PUB creates the topic, which is registered at once
      await eventually(() => lookupdLists(lookupd.httpAddress, topic, broker), 'lookupd lists the broker');
      const consumer = readerFor(cleanup, topic, 'c', lookupd.httpAddress);
      consumer.reader.on('message', (message) => message.finish());
      consumer.reader.connect();
      await consumer.received(1);

      const readerNoticed = once(consumer.reader, 'nsqd_closed');
      const writerNoticed = once(writer, 'closed');
      await broker.close();
      const [host, port] = await readerNoticed;
      assert.equal(`${host}:${port}`, broker.tcpAddress);
      await writerNoticed;
      await eventually(
        async () => !(await lookupdLists(lookupd.httpAddress, topic, broker)),
        'lookupd no longer lists the broker',
      );
    });

    it('two brokers with the same topic: the Reader connects to both and gets messages from both', async () => {
      const topic = 'shared';
      const brokers = [await startBroker(), await startBroker()];
      const expected: string[] = [];
      for (const [index, broker] of brokers.entries()) {
        // The channel exists before anything is published, so it holds every message for the Reader.
        assert.equal((await post(broker, `/topic/create?topic=${topic}`)).status, 200);
        assert.equal((await post(broker, `/channel/create?topic=${topic}&channel=c`)).status, 200);
        const writer = await writerFor(cleanup, broker.tcpAddress);
        const bodies = Array.from({ length: 10 }, (_, i) => `broker${index}-${i}`);
        await publish(writer, topic, bodies);
        expected.push(...bodies);
        await eventually(
          () => lookupdLists(lookupd.httpAddress, topic, broker),
          `lookupd lists broker ${index}`,
        );
      }

      const consumer = readerFor(cleanup, topic, 'c', lookupd.httpAddress);
      consumer.reader.on('message', (message) => message.finish());
      consumer.reader.connect();
      await consumer.received(expected.length);

      assert.deepEqual([...consumer.connected].sort(), brokers.map((b) => b.tcpAddress).sort());
      const counts = countBodies(consumer.deliveries);
      assert.deepEqual([...counts.keys()].sort(), [...expected].sort());
      assert.ok([...counts.values()].every((n) => n === 1));
    });

    it('an ephemeral channel and topic are unregistered when the last consumer leaves', async () => {
      const broker = await startBroker();
      const topic = 'scratch#ephemeral';
      const writer = await writerFor(cleanup, broker.tcpAddress);
      await publish(writer, topic, 'x');
      await eventually(() => lookupdLists(lookupd.httpAddress, topic, broker), 'lookupd lists the broker');
      const consumer = readerFor(cleanup, topic, 'tail#ephemeral', lookupd.httpAddress);
      consumer.reader.on('message', (message) => message.finish());
      consumer.reader.connect();
      await consumer.received(1);
      // The broker registers the channel when the SUB arrives; lookupd may not have the REGISTER yet.
      await eventually(
        async () => (await lookupdChannels(lookupd.httpAddress, topic)).join() === 'tail#ephemeral',
        'lookupd lists the ephemeral channel',
      );

      consumer.reader.close();
      await eventually(
        () => broker.topic(topic) === undefined,
        'the broker deleted the channel and the topic',
      );
      assert.equal(broker.registry.hasTopic(topic), false);
      await eventually(
        async () => (await lookupdChannels(lookupd.httpAddress, topic)).length === 0,
        'lookupd dropped the ephemeral channel',
      );
      await eventually(
        async () => !(await lookupdLists(lookupd.httpAddress, topic, broker)),
        'lookupd no longer lists the broker for the topic',
      );
    });
  });
}
