/**
 * 100 simulated nsqds, each registering 3 topics with 2 channels, from a script.
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

const fleet = await startFakeProducers({ addresses: [lookupd], producers: 100, topics: 3, channels: 2 });
await fleet.settled();
console.log(fleet.status());

if (embedded) {
  const lookup = await new LookupdHttpClient(embedded.httpAddress).lookup('topic-0');
  console.log(
    `a consumer of topic-0 finds ${lookup?.producers.length} producers and channels ${lookup?.channels}`,
  );
}

// Producers add and remove topics like real brokers; lookupd follows.
fleet.registry(0)?.addChannel('late-topic', 'late-channel');
await fleet.settled();

await fleet.close();
await embedded?.close();
