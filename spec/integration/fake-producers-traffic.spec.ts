/**
 * Generated traffic on a fake clock: the rate per topic and fake, a full queue pausing generation
 * (counted, never failing) and resuming with the next sequence number, and the bodies themselves.
 */
import assert from 'node:assert/strict';
import { startLookupd } from '../../lib/lookupd/index.js';
import { startFakeProducers } from '../../lib/tools/fake-producers.js';
import { type GeneratedMessage, messageBody } from '../../lib/tools/fake-traffic.js';
import { useFakeClock } from '../support/fake-clock.js';
import { useCleanup } from '../support/harness.js';

describe('generated traffic', () => {
  const cleanup = useCleanup();

  async function fleetOn(options: { memQueueSize?: number }) {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanup(() => lookupd.close());
    const clock = useFakeClock(cleanup, ['setInterval', 'clearInterval']);
    const fleet = await startFakeProducers({
      addresses: [lookupd.tcpAddress],
      producers: 2,
      topics: 2,
      channels: 2,
      messageRate: 10,
      brokerLimits: options.memQueueSize ? { memQueueSize: options.memQueueSize } : undefined,
      pingIntervalMs: 3_600_000,
    });
    cleanup(() => fleet.close());
    return { fleet, clock };
  }

  const counts = (fleet: Awaited<ReturnType<typeof fleetOn>>['fleet']) =>
    [0, 1].flatMap((i) =>
      fleet
        .broker(i)!
        .topics()
        .map((t) => t.messageCount),
    );

  it('messageRate N: N messages a second to each topic of each fake', async () => {
    const { fleet, clock } = await fleetOn({});
    clock.tick(1000);
    assert.deepEqual(counts(fleet), [10, 10, 10, 10]);
    clock.tick(500);
    assert.deepEqual(counts(fleet), [15, 15, 15, 15]);
    assert.equal(fleet.status().messagesGenerated, 60);
    fleet.setMessageRate(0);
    clock.tick(1000);
    assert.equal(fleet.status().messagesGenerated, 60, 'rate 0 stops generating');
  });

  it('a full queue pauses that topic, counted in the status; emptying it resumes', async () => {
    const { fleet, clock } = await fleetOn({ memQueueSize: 15 });
    clock.tick(3000);
    // Both channels of every topic hold 15, the mem-queue-size: generation stopped there.
    assert.deepEqual(counts(fleet), [15, 15, 15, 15]);
    const status = fleet.status();
    assert.deepEqual([status.messagesGenerated, status.generationPaused], [60, 4]);
    const topic = fleet.broker(0)!.topic('topic-0')!;
    topic.channel('channel-0')!.empty();
    clock.tick(1000);
    assert.equal(fleet.status().generationPaused, 4, 'channel-1 is still full: the topic waits for it');
    topic.channel('channel-1')!.empty();
    clock.tick(300);
    assert.equal(topic.messageCount, 18);
    assert.equal(fleet.status().generationPaused, 3);
    assert.equal(topic.channel('channel-0')!.depth, 3);
    fleet.setMessageRate(0);
    assert.equal(fleet.status().generationPaused, 0, 'stopped: nothing is held back any more');
  });
});

describe('generated message bodies', () => {
  const parse = (body: Buffer) => JSON.parse(body.toString()) as GeneratedMessage;
  const message = { producer: 7, topic: 'orders', sequence: 41 };

  it('are JSON naming producer, topic and sequence, padded with spaces to the size', () => {
    const body = messageBody(message, 200);
    assert.equal(body.length, 200);
    assert.deepEqual(parse(body), message);
    assert.match(body.toString(), /^\{"producer":7,"topic":"orders","sequence":41\} +$/);
  });

  it('are the JSON alone when the size is below what it needs', () => {
    const json = JSON.stringify(message);
    assert.equal(messageBody(message, 10).toString(), json);
    assert.equal(messageBody(message).toString(), json);
  });
});
