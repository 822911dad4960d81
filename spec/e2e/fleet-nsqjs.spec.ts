/**
 * Consumers nobody here wrote, over a fleet that generates traffic: nsqjs Readers that know only
 * lookupd's HTTP address find 20 serving fakes and get every generated message exactly once per
 * channel, each fake's sequence numbers without a gap. Runs against every lookupd in LOOKUPD_TARGETS.
 */
import assert from 'node:assert/strict';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import { type FakeProducerFleet, startFakeProducers } from '../../lib/tools/fake-producers.js';
import type { GeneratedMessage } from '../../lib/tools/fake-traffic.js';
import { useCleanup } from '../support/harness.js';
import { type ReaderHandle, readerFor } from '../support/nsqjs-clients.js';
import { eventually } from '../support/wait.js';

const FAKES = 20;
const CHANNELS = ['channel-0', 'channel-1'];

for (const target of LOOKUPD_TARGETS) {
  describe(`nsqjs Readers over ${FAKES} generating fakes, through the ${target.name}`, function () {
    this.timeout(30_000);
    const cleanup = useCleanup();
    let lookupd: RunningLookupd;
    let fleet: FakeProducerFleet;

    beforeEach(async () => {
      lookupd = await target.start();
      cleanup(() => lookupd.close());
      fleet = await startFakeProducers({
        addresses: [lookupd.tcpAddress],
        producers: FAKES,
        topics: 1,
        channels: CHANNELS.length,
        messageRate: 50,
        messageSize: 100,
      });
      cleanup(() => fleet.close());
      await fleet.settled();
    });

    /** What each fake generated for topic-0, read from the fake itself. */
    const generated = () =>
      Array.from({ length: FAKES }, (_, i) => fleet.broker(i)!.topic('topic-0')?.messageCount ?? 0);

    it('every generated message exactly once per channel, no sequence number missing', async () => {
      const readers: ReaderHandle[] = CHANNELS.map((channel) =>
        readerFor(cleanup, 'topic-0', channel, lookupd.httpAddress, { maxInFlight: 100 }),
      );
      for (const { reader } of readers) {
        reader.on('message', (message) => message.finish());
        reader.connect();
      }
      const tcpAddresses = Array.from({ length: FAKES }, (_, i) => fleet.broker(i)!.tcpAddress).sort();
      // At least 5 messages from each fake on each channel before generation stops.
      const enoughFromEach = (handle: ReaderHandle) => {
        const perProducer = new Map<number, number>();
        for (const m of handle.deliveries) {
          const { producer } = JSON.parse(m.body.toString()) as GeneratedMessage;
          perProducer.set(producer, (perProducer.get(producer) ?? 0) + 1);
        }
        return perProducer.size === FAKES && [...perProducer.values()].every((n) => n >= 5);
      };
      await eventually(() => readers.every(enoughFromEach), 'each reader gets 5 messages from every fake', {
        timeoutMs: 20_000,
      });
      fleet.setMessageRate(0);
      const counts = generated();
      const total = counts.reduce((a, b) => a + b, 0);
      await eventually(
        () => readers.every((handle) => handle.deliveries.length >= total),
        `each channel receives all ${total} generated messages`,
        { timeoutMs: 20_000 },
      );
      assert.equal(fleet.status().messagesGenerated, total);
      for (const [c, handle] of readers.entries()) {
        assert.deepEqual(
          [...new Set(handle.connected)].sort(),
          tcpAddresses,
          `${CHANNELS[c]}: connected to every fake`,
        );
        const byProducer = new Map<number, number[]>();
        for (const message of handle.deliveries) {
          const body = message.body.toString();
          assert.equal(body.length, 100, 'padded to messageSize');
          const { producer, topic, sequence } = JSON.parse(body) as GeneratedMessage;
          assert.equal(topic, 'topic-0');
          byProducer.set(producer, [...(byProducer.get(producer) ?? []), sequence]);
        }
        for (let i = 0; i < FAKES; i++) {
          const sequences = (byProducer.get(i) ?? []).sort((a, b) => a - b);
          assert.deepEqual(
            sequences,
            Array.from({ length: counts[i]! }, (_, n) => n),
            `${CHANNELS[c]}: fake ${i}'s sequences exactly once, 0 to ${counts[i]! - 1}`,
          );
        }
        assert.deepEqual(handle.errors, []);
      }
    });
  });
}
