/**
 * The broker from code: an embedded lookupd, a broker registered with it, one message published over
 * HTTP and found through lookupd, then both closed. The command line is `nsqd-lookup broker`.
 *
 *   npx tsx examples/broker/main.ts
 *   DEBUG=nsqd-lookup:broker npx tsx examples/broker/main.ts   # connections, commands' errors, lookupd
 */
import { startBroker } from 'nsqd-lookup/broker';
import { startLookupd } from 'nsqd-lookup/lookupd';

const lookupd = await startLookupd({
  tcpAddress: '127.0.0.1:0',
  httpAddress: '127.0.0.1:0',
  broadcastAddress: '127.0.0.1',
});
const broker = await startBroker({
  tcpAddress: '127.0.0.1:0',
  httpAddress: '127.0.0.1:0',
  lookupdTcpAddresses: [lookupd.tcpAddress],
});
try {
  console.log(`broker TCP ${broker.tcpAddress}, HTTP http://${broker.httpAddress}`);
  if (!broker.loop.inSync) await new Promise<void>((resolve) => broker.loop.once('connect', () => resolve()));
  // Publishing creates the topic; the broker's LookupLoop registers it with lookupd.
  const published = await fetch(`http://${broker.httpAddress}/pub?topic=orders`, {
    method: 'POST',
    body: 'hello',
  });
  console.log(`POST /pub: ${published.status} ${await published.text()}`);
  // Resolves once lookupd has acknowledged every REGISTER sent so far.
  await broker.loop.settled();
  const lookup = await fetch(`http://${lookupd.httpAddress}/lookup?topic=orders`);
  console.log(`lookupd /lookup?topic=orders: ${await lookup.text()}`);
  const stats = broker.stats({ topic: 'orders' }) as { topics: Array<{ topic_name: string; depth: number }> };
  console.log(`broker.stats(): ${JSON.stringify(stats.topics.map((t) => [t.topic_name, t.depth]))}`);
} finally {
  await broker.close();
  await lookupd.close();
}
