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
import { InvalidArgumentError } from 'nsqd-lookup';
import { startLookupd } from 'nsqd-lookup/lookupd';
import { startBroker } from './broker.js';
import { BROKER_USAGE, type BrokerCommandLine, parseBrokerFlags } from './flags.js';

// A bad flag is a message and exit 2, a failed start a message and exit 1: never a stack trace.
let config: BrokerCommandLine | 'help';
try {
  config = parseBrokerFlags(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof InvalidArgumentError)) throw error;
  process.stderr.write(`broker: ${error.message}\nRun 'npx tsx examples/broker/main.ts --help' for usage.\n`);
  process.exit(2);
}
if (config === 'help') {
  process.stdout.write(BROKER_USAGE);
  process.exit(0);
}

let embedded: Awaited<ReturnType<typeof startLookupd>> | undefined;
let broker: Awaited<ReturnType<typeof startBroker>>;
try {
  embedded = config.lookupdTcpAddresses
    ? undefined
    : await startLookupd({
        tcpAddress: '127.0.0.1:0',
        httpAddress: '127.0.0.1:0',
        broadcastAddress: '127.0.0.1',
      });
  broker = await startBroker({
    tcpAddress: config.tcpAddress,
    httpAddress: config.httpAddress,
    broadcastAddress: config.broadcastAddress,
    lookupdTcpAddresses: config.lookupdTcpAddresses ?? [embedded!.tcpAddress],
    dataPath: config.dataPath,
    msgTimeoutMs: config.msgTimeoutMs,
    memQueueSize: config.memQueueSize,
    maxMsgSize: config.maxMsgSize,
    maxBodySize: config.maxBodySize,
  });
} catch (error) {
  await embedded?.close();
  process.stderr.write(`broker: cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}
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
