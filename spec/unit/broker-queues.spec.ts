/** The broker's topics and channels (lib/broker/), with a fake clock and fake consumers. */
import assert from 'node:assert/strict';
import type { Channel, Consumer } from '../../lib/broker/channel.js';
import type { Message } from '../../lib/broker/protocol-v2.js';
import { Topic } from '../../lib/broker/topic.js';
import { QueueFullError } from '../../lib/errors.js';
import { type FakeClock, useFakeClock } from '../support/fake-clock.js';
import { useCleanup } from '../support/harness.js';

let nextConsumerId = 1;

class FakeConsumer implements Consumer {
  readonly id = nextConsumerId++;
  msgTimeoutMs = 1000;
  ready = 0;
  inFlight = 0;
  closed = false;
  /** What was sent, with attempts as they were at the time. */
  readonly received: Array<{ id: string; body: string; attempts: number }> = [];

  readyForMessages(): boolean {
    return this.ready > this.inFlight;
  }

  sampled(): boolean {
    return true;
  }

  sendMessage(message: Message): void {
    this.inFlight++;
    this.received.push({ id: message.id, body: message.body.toString(), attempts: message.attempts });
  }

  timedOutMessage(): void {
    this.inFlight--;
  }

  emptied(): void {
    this.inFlight = 0;
  }

  close(): void {
    this.closed = true;
  }

  /** FIN as a client does it: the channel first, then the client's own count. */
  finish(channel: Channel, id: string): void {
    channel.finish(this.id, id);
    this.inFlight--;
    channel.pump();
  }

  bodies(): string[] {
    return this.received.map((m) => m.body);
  }
}

describe('broker topics and channels', () => {
  const cleanup = useCleanup();
  let clock: FakeClock;
  let ids: number;
  let created: string[];
  let leftEmpty: string[];

  const topic = (name = 't', memQueueSize = 100) =>
    new Topic(name, {
      memQueueSize,
      maxMsgTimeoutMs: 5000,
      newMessageId: () => (ids++).toString(16).padStart(16, '0'),
      onChannelCreated: (t, c) => created.push(`${t.name}/${c.name}`),
      onLastConsumerLeft: (t, c) => leftEmpty.push(`${t.name}/${c.name}`),
    });
  const bodies = (...texts: string[]) => texts.map((text) => Buffer.from(text));

  beforeEach(() => {
    clock = useFakeClock(cleanup, ['setTimeout', 'clearTimeout', 'Date']);
    ids = 1;
    created = [];
    leftEmpty = [];
  });

  it('holds messages in the topic until its first channel, which gets them all', () => {
    const t = topic();
    t.publish(bodies('a', 'b'));
    assert.equal(t.depth, 2);
    const first = t.getChannel('first');
    const second = t.getChannel('second');
    assert.deepEqual(created, ['t/first', 't/second']);
    assert.equal(t.depth, 0);
    assert.equal(first.depth, 2);
    assert.equal(second.depth, 0);
  });

  it('gives every channel its own copy: same ID, separate attempts', () => {
    const t = topic();
    const [a, b] = [t.getChannel('a'), t.getChannel('b')];
    const [ca, cb] = [new FakeConsumer(), new FakeConsumer()];
    ca.ready = cb.ready = 5;
    a.addConsumer(ca);
    b.addConsumer(cb);
    t.publish(bodies('m'));
    a.requeue(ca.id, ca.received[0]!.id, 0);
    assert.deepEqual(
      ca.received.map((m) => m.attempts),
      [1, 2],
    );
    assert.deepEqual(
      cb.received.map((m) => m.attempts),
      [1],
    );
    assert.equal(ca.received[0]!.id, cb.received[0]!.id);
  });

  it('shares a channel between consumers round robin, within each one RDY', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const [one, two] = [new FakeConsumer(), new FakeConsumer()];
    one.ready = 1;
    two.ready = 2;
    channel.addConsumer(one);
    channel.addConsumer(two);
    t.publish(bodies('1', '2', '3', '4', '5'));
    assert.deepEqual(one.bodies(), ['1']);
    assert.deepEqual(two.bodies(), ['2', '3']);
    assert.equal(channel.depth, 2);
    one.finish(channel, one.received[0]!.id);
    assert.deepEqual(one.bodies(), ['1', '4']);
  });

  it('requeues a message whose msg_timeout passes, counting the timeout', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 1;
    channel.addConsumer(consumer);
    t.publish(bodies('slow'));
    clock.tick(999);
    assert.equal(consumer.received.length, 1);
    clock.tick(1);
    assert.deepEqual(
      consumer.received.map((m) => m.attempts),
      [1, 2],
    );
    assert.equal(channel.timeoutCount, 1);
    assert.equal(consumer.inFlight, 1);
  });

  it('TOUCH restarts the timeout, but never past delivery + max_msg_timeout', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 1;
    channel.addConsumer(consumer);
    t.publish(bodies('long'));
    const { id } = consumer.received[0]!;
    for (let elapsed = 0; elapsed < 4500; elapsed += 900) {
      clock.tick(900);
      channel.touch(consumer.id, id, consumer.msgTimeoutMs);
    }
    assert.equal(consumer.received.length, 1, 'touched in time');
    // Touched at 4500 ms; the 1000 ms timeout would end at 5500, max_msg_timeout caps it at 5000.
    clock.tick(499);
    assert.equal(consumer.received.length, 1);
    clock.tick(1);
    assert.equal(consumer.received.length, 2);
  });

  it("times each message out at its own consumer's msg_timeout, in deadline order, FIN'd ones never", () => {
    const t = topic();
    const channel = t.getChannel('c');
    const [slow, fast] = [new FakeConsumer(), new FakeConsumer()];
    slow.msgTimeoutMs = 3000;
    fast.msgTimeoutMs = 1000;
    slow.ready = 2;
    fast.ready = 2;
    channel.addConsumer(slow);
    channel.addConsumer(fast);
    t.publish(bodies('s1', 'f1'));
    clock.tick(500);
    t.publish(bodies('s2', 'f2'));
    // No more deliveries: what times out stays queued, in the order it timed out.
    slow.ready = fast.ready = 0;
    // Finishing the message due first must not hold back or bring forward the others.
    slow.finish(channel, slow.received[0]!.id);
    const timedOut = () => [channel.timeoutCount, channel.depth];
    clock.tick(499); // 999 ms
    assert.deepEqual(timedOut(), [0, 0]);
    clock.tick(1); // 1000 ms: f1
    assert.deepEqual(timedOut(), [1, 1]);
    clock.tick(499);
    assert.deepEqual(timedOut(), [1, 1]);
    clock.tick(1); // 1500 ms: f2
    assert.deepEqual(timedOut(), [2, 2]);
    clock.tick(1999); // 3499 ms
    assert.deepEqual(timedOut(), [2, 2]);
    clock.tick(1); // 3500 ms: s2 (s1 was finished at 500 ms, so it never comes back)
    assert.deepEqual(timedOut(), [3, 3]);
    assert.deepEqual([slow.inFlight, fast.inFlight, channel.inFlightCount], [0, 0, 0]);
    fast.ready = 3;
    channel.pump();
    assert.deepEqual(
      fast.received.slice(2).map((m) => [m.body, m.attempts]),
      [
        ['f1', 2],
        ['f2', 2],
        ['s2', 2],
      ],
    );
  });

  it('times out many messages due in the same millisecond in the order they were delivered', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 10;
    channel.addConsumer(consumer);
    t.publish(bodies('0', '1', '2', '3', '4'));
    consumer.finish(channel, consumer.received[2]!.id);
    clock.tick(1000);
    assert.deepEqual(
      consumer.received.slice(5).map((m) => [m.body, m.attempts]),
      [
        ['0', 2],
        ['1', 2],
        ['3', 2],
        ['4', 2],
      ],
    );
    assert.equal(channel.timeoutCount, 4);
  });

  it('REQ with a delay and DPUB wait in the deferred set', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 5;
    channel.addConsumer(consumer);
    t.publish(bodies('later'), 300);
    assert.equal(channel.deferredCount, 1);
    clock.tick(300);
    assert.deepEqual(consumer.bodies(), ['later']);
    channel.requeue(consumer.id, consumer.received[0]!.id, 200);
    consumer.inFlight--;
    assert.equal(channel.deferredCount, 1);
    clock.tick(199);
    assert.equal(consumer.received.length, 1);
    clock.tick(1);
    assert.deepEqual(
      consumer.received.map((m) => m.attempts),
      [1, 2],
    );
    assert.equal(channel.requeueCount, 1);
  });

  it('refuses FIN, REQ and TOUCH from a client that does not own the message', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const owner = new FakeConsumer();
    owner.ready = 1;
    channel.addConsumer(owner);
    t.publish(bodies('mine'));
    const { id } = owner.received[0]!;
    assert.throws(() => channel.finish(owner.id + 1000, id), /client does not own message/);
    assert.throws(() => channel.touch(owner.id + 1000, id, 1000), /client does not own message/);
    assert.throws(() => channel.finish(owner.id, 'ffffffffffffffff'), /ID not in flight/);
    channel.finish(owner.id, id);
    assert.throws(() => channel.requeue(owner.id, id, 0), /ID not in flight/);
  });

  it('holds messages while paused (topic or channel) and delivers them on unpause', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 5;
    channel.addConsumer(consumer);
    channel.pause();
    t.publish(bodies('1'));
    t.pause();
    t.publish(bodies('2'));
    assert.deepEqual([consumer.received.length, channel.depth, t.depth], [0, 1, 1]);
    channel.unpause();
    assert.deepEqual(consumer.bodies(), ['1']);
    t.unpause();
    assert.deepEqual(consumer.bodies(), ['1', '2']);
  });

  it('refuses a batch that does not fit in mem-queue-size, all or nothing', () => {
    const t = topic('t', 3);
    t.publish(bodies('1', '2'));
    assert.throws(() => t.publish(bodies('3', '4')), QueueFullError);
    assert.equal(t.depth, 2);
    const channel = t.getChannel('c');
    t.publish(bodies('3'));
    assert.throws(() => t.publish(bodies('4')), /channel t\/c is full/);
    assert.equal(channel.depth, 3);
  });

  it('drops the overflow of an ephemeral channel instead of refusing it', () => {
    const t = topic('t', 2);
    const channel = t.getChannel('c#ephemeral');
    t.publish(bodies('1', '2', '3'));
    assert.equal(channel.depth, 2);
    assert.equal(channel.messageCount, 3);
  });

  it('reports an ephemeral channel whose last consumer left; a durable one stays quiet', () => {
    const t = topic();
    const ephemeral = t.getChannel('e#ephemeral');
    const durable = t.getChannel('d');
    const [a, b] = [new FakeConsumer(), new FakeConsumer()];
    ephemeral.addConsumer(a);
    ephemeral.addConsumer(b);
    durable.addConsumer(a);
    ephemeral.removeConsumer(a);
    assert.deepEqual(leftEmpty, []);
    ephemeral.removeConsumer(b);
    durable.removeConsumer(a);
    assert.deepEqual(leftEmpty, ['t/e#ephemeral']);
  });

  it('empty() drops queued, deferred and in-flight messages; deleting a channel closes its consumers', () => {
    const t = topic();
    const channel = t.getChannel('c');
    const consumer = new FakeConsumer();
    consumer.ready = 1;
    channel.addConsumer(consumer);
    t.publish(bodies('1', '2'));
    t.publish(bodies('3'), 1000);
    assert.deepEqual([channel.inFlightCount, channel.depth, channel.deferredCount], [1, 1, 1]);
    channel.empty();
    assert.deepEqual(
      [channel.inFlightCount, channel.depth, channel.deferredCount, consumer.inFlight],
      [0, 0, 0, 0],
    );
    clock.tick(60_000);
    assert.equal(consumer.received.length, 1, 'nothing comes back after empty()');
    assert.equal(t.deleteChannel('c'), true);
    assert.equal(consumer.closed, true);
    assert.equal(t.channel('c'), undefined);
  });
});
