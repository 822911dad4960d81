/**
 * A small in-memory nsqd, registered with nsqlookupd: real NSQ clients (nsqjs, go-nsq, pynsq...)
 * publish to it and consume from it, finding it through lookupd. See README.md for what it leaves out.
 *
 *   npx tsx examples/broker/main.ts                      # with an embedded lookupd
 *   npx tsx examples/broker/main.ts --lookupd-tcp-address 127.0.0.1:4160 \
 *       --tcp-address 127.0.0.1:4150 --http-address 127.0.0.1:4151 --broadcast-address 127.0.0.1
 *
 *   curl -d 'hello' 'http://127.0.0.1:4151/pub?topic=orders'
 *   curl 'http://<lookupd-http>/lookup?topic=orders'
 *   DEBUG=nsqd-lookup:* npx tsx examples/broker/main.ts  # log connections, commands' errors, lookupd
 */
import { parseArgs } from 'node:util';
import { startLookupd } from 'nsqd-lookup/lookupd';
import { startBroker } from './broker.js';

const { values } = parseArgs({
  options: {
    'lookupd-tcp-address': { type: 'string', multiple: true },
    'tcp-address': { type: 'string', default: '127.0.0.1:4150' },
    'http-address': { type: 'string', default: '127.0.0.1:4151' },
    'broadcast-address': { type: 'string', default: '127.0.0.1' },
    'data-path': { type: 'string' },
    'msg-timeout': { type: 'string' },
    'mem-queue-size': { type: 'string' },
    'max-msg-size': { type: 'string' },
    'max-body-size': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`usage: npx tsx examples/broker/main.ts [options]

  --lookupd-tcp-address A   lookupd to register with (repeatable); without it, an embedded lookupd starts
  --tcp-address A           V2 protocol listener (default 127.0.0.1:4150)
  --http-address A          HTTP API listener (default 127.0.0.1:4151)
  --broadcast-address H     address lookupd gives consumers (default 127.0.0.1)
  --data-path DIR           save topics and channels there and reload them at start
  --msg-timeout MS          default in-flight timeout (60000)
  --mem-queue-size N        messages per topic or channel before publishing fails (10000)
  --max-msg-size BYTES      largest message (1048576)
  --max-body-size BYTES     largest IDENTIFY or MPUB body (5242880)`);
  process.exit(0);
}

const number = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive integer`);
  return parsed;
};

const embedded = values['lookupd-tcp-address']
  ? undefined
  : await startLookupd({
      tcpAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      broadcastAddress: '127.0.0.1',
    });

const broker = await startBroker({
  tcpAddress: values['tcp-address'],
  httpAddress: values['http-address'],
  broadcastAddress: values['broadcast-address'],
  lookupdTcpAddresses: values['lookupd-tcp-address'] ?? [embedded!.tcpAddress],
  dataPath: values['data-path'],
  msgTimeoutMs: number('msg-timeout', values['msg-timeout']),
  memQueueSize: number('mem-queue-size', values['mem-queue-size']),
  maxMsgSize: number('max-msg-size', values['max-msg-size']),
  maxBodySize: number('max-body-size', values['max-body-size']),
});
// A live line per lookupd transition, from the loop's status stream.
broker.loop.on('status', (event) => {
  const peer = broker.loop.status().peers.find((p) => p.address === event.address);
  const detail =
    event.type === 'disconnected'
      ? `: ${event.error.message}`
      : event.type === 'retry-scheduled'
        ? ` (attempt ${event.attempt}, next in ${event.delayMs} ms)`
        : '';
  console.log(
    `lookupd ${event.address}: ${event.type}${detail}; in sync ${peer?.registrationsAcked ?? 0}/${peer?.registrationsExpected ?? 0}`,
  );
});
broker.loop.on('warning', (warning) => console.warn(`warning: ${warning.message}`));

console.log(`broker TCP ${broker.tcpAddress}, HTTP http://${broker.httpAddress}`);
if (embedded) {
  console.log(`embedded lookupd TCP ${embedded.tcpAddress}, HTTP http://${embedded.httpAddress}`);
  console.log(`  consumers: lookupdHTTPAddresses: ['${embedded.httpAddress}']`);
}
console.log(
  `GET http://${broker.httpAddress}/stats shows every lookupd's status under "lookupd"; Ctrl-C to stop`,
);

const stop = async () => {
  await broker.close();
  await embedded?.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
