/**
 * 100 simulated nsqds, each a small nsqd on its own 127.0.0.1 ports with 3 topics of 2 channels,
 * publishing 5 messages a second to each topic, from a script.
 *
 *   npx tsx examples/fake-producers.ts                       # against an embedded lookupd
 *   npx tsx examples/fake-producers.ts 127.0.0.1:4160        # against a running one
 */

import { startLookupd } from 'nsqd-lookup/lookupd';
import { LookupdHttpClient, startFakeProducers } from 'nsqd-lookup/tools';

const embedded = process.argv[2]
  ? undefined
  : await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
const lookupd = process.argv[2] ?? embedded!.tcpAddress;

const fleet = await startFakeProducers({
  addresses: [lookupd],
  producers: 100,
  topics: 3,
  channels: 2,
  messageRate: 5,
});
await fleet.settled();
console.log(fleet.status());

// Each fake answers as nsqd does: consumers and nsqadmin can use it. A second of traffic:
await new Promise((resolve) => setTimeout(resolve, 1000));
const first = fleet.broker(0)!;
const stats = (await (await fetch(`http://${first.httpAddress}/stats?format=json&topic=topic-0`)).json()) as {
  topics: Array<{ message_count: number; channels: Array<{ channel_name: string; depth: number }> }>;
};
console.log(
  `fake 0 listens on ${first.tcpAddress}; topic-0 got ${stats.topics[0]?.message_count} messages, waiting in`,
  stats.topics[0]?.channels.map((c) => `${c.channel_name}: ${c.depth}`).join(', '),
);

if (embedded) {
  const lookup = await new LookupdHttpClient(embedded.httpAddress).lookup('topic-0');
  console.log(
    `a consumer of topic-0 finds ${lookup?.producers.length} producers and channels ${lookup?.channels}`,
  );
}

// Producers add and remove topics like real brokers; lookupd follows.
first.getTopic('late-topic').getChannel('late-channel');
await fleet.settled();

await fleet.close();
await embedded?.close();
