/**
 * A minimal TypeScript broker: nsqd's topic/channel HTTP API, registered with nsqlookupd through a
 * LookupLoop, its topics and channels persisted across restarts.
 *
 *   npx tsx examples/broker.ts                                  # with an embedded lookupd
 *   npx tsx examples/broker.ts --lookupd-tcp-address 127.0.0.1:4160 --http-address 127.0.0.1:4151
 *
 *   curl -X POST 'http://127.0.0.1:4151/channel/create?topic=orders&channel=billing'
 *   curl 'http://<lookupd-http>/lookup?topic=orders'
 */
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isValidChannelName, isValidTopicName, LookupLoop, Registry } from 'nsqd-lookup';
import { startLookupd } from 'nsqd-lookup/lookupd';

const { values } = parseArgs({
  options: {
    'lookupd-tcp-address': { type: 'string', multiple: true },
    'http-address': { type: 'string', default: '127.0.0.1:0' },
    'broadcast-address': { type: 'string', default: '127.0.0.1' },
    'data-path': { type: 'string', default: '.broker-data' },
  },
});

const registryFile = join(values['data-path'], 'registry.msgpack');
const registry = existsSync(registryFile) ? await Registry.load(registryFile) : new Registry();
// Persist after every change, as nsqd persists its metadata; one save at a time, the last one wins.
let saving = Promise.resolve();
registry.on('change', () => {
  saving = saving.then(() => registry.save(registryFile)).catch((error) => console.error('save failed:', error));
});

const embedded = values['lookupd-tcp-address'] ? undefined : await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
const lookupdAddresses = values['lookupd-tcp-address'] ?? [embedded!.tcpAddress];

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://broker');
  const reply = (status: number, body: unknown = '') => {
    response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const topic = url.searchParams.get('topic');
  const channel = url.searchParams.get('channel');
  if (request.method === 'GET' && url.pathname === '/ping') return reply(200, 'OK');
  if (request.method === 'GET' && url.pathname === '/stats') {
    return reply(200, {
      topics: registry.topics().map((name) => ({ name, channels: registry.channels(name) })),
      lookupd: loop.stats(),
    });
  }
  if (request.method !== 'POST') return reply(405, { message: 'METHOD_NOT_ALLOWED' });
  if (!topic) return reply(400, { message: 'MISSING_ARG_TOPIC' });
  if (!isValidTopicName(topic)) return reply(400, { message: 'INVALID_TOPIC' });
  switch (url.pathname) {
    case '/topic/create':
      registry.addTopic(topic);
      return reply(200);
    case '/topic/delete':
      return registry.removeTopic(topic) ? reply(200) : reply(404, { message: 'TOPIC_NOT_FOUND' });
    case '/channel/create':
    case '/channel/delete': {
      if (!channel) return reply(400, { message: 'MISSING_ARG_CHANNEL' });
      if (!isValidChannelName(channel)) return reply(400, { message: 'INVALID_CHANNEL' });
      if (url.pathname === '/channel/create') {
        if (!registry.hasTopic(topic)) return reply(404, { message: 'TOPIC_NOT_FOUND' });
        registry.addChannel(topic, channel);
        return reply(200);
      }
      return registry.removeChannel(topic, channel) ? reply(200) : reply(404, { message: 'CHANNEL_NOT_FOUND' });
    }
    default:
      return reply(404, { message: 'NOT_FOUND' });
  }
});
const [host, port] = values['http-address'].split(/:(?=\d+$)/);
await new Promise<void>((resolve) => server.listen(Number(port), host, resolve));
const { port: httpPort } = server.address() as import('node:net').AddressInfo;

const loop = new LookupLoop({
  addresses: lookupdAddresses,
  // This example speaks no client protocol: the TCP port is what a real broker would announce.
  identity: { broadcastAddress: values['broadcast-address'], tcpPort: 4150, httpPort, version: '1.3.0', hostname: hostname() },
  registry,
});
loop.on('connect', (address) => console.log(`registered with lookupd ${address} (${registry.size} registrations)`));
loop.on('disconnect', (address, error) => console.log(`lost lookupd ${address}: ${error.message}; reconnecting`));
loop.start();

console.log(`broker HTTP on http://${host}:${httpPort}, lookupd TCP ${lookupdAddresses.join(', ')}`);
if (embedded) console.log(`embedded lookupd HTTP on http://${embedded.httpAddress} (try /lookup?topic=...)`);
console.log(`topics and channels persist in ${registryFile}; Ctrl-C to stop`);

const stop = async () => {
  await loop.close();
  await new Promise((resolve) => server.close(resolve));
  await saving;
  await embedded?.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
