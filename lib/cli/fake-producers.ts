import { FakeProducerFleet, type FakeProducersOptions, type FleetStatus } from '../tools/fake-producers.js';
import { parseDuration } from './args.js';
import type { CommandMain } from './command.js';
import { EXIT } from './exit-codes.js';
import {
  addressList,
  integerFlag,
  numberFlag,
  parseFlags,
  runCommand,
  untilSignalOrTimeout,
} from './flags.js';
import { ndjsonLine } from './json.js';
import { UsageError } from './usage.js';

/** Every flag of `fake-producers` (the help text lists each; a spec checks). */
export const FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  producers: { type: 'string' },
  topics: { type: 'string' },
  channels: { type: 'string' },
  'topic-pattern': { type: 'string' },
  'channel-pattern': { type: 'string' },
  'broadcast-address': { type: 'string' },
  'tcp-port-base': { type: 'string' },
  'http-port-base': { type: 'string' },
  'nsqd-version': { type: 'string' },
  'ping-interval': { type: 'string' },
  churn: { type: 'string' },
  duration: { type: 'string' },
  'connect-concurrency': { type: 'string' },
  'read-timeout': { type: 'string' },
  'status-interval': { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const main: CommandMain = (argv) =>
  runCommand('fake-producers', async () => {
    const parsed = parseFlags('fake-producers', argv, FLAGS, {
      renamed: { 'heartbeat-interval': 'ping-interval', version: 'nsqd-version' },
    });
    if (!parsed) return EXIT.ok;
    const { values } = parsed;
    const addresses = addressList(values['lookupd-tcp-address'], 'lookupd-tcp-address');
    if (addresses.length === 0) throw new UsageError('at least one --lookupd-tcp-address is required');
    const duration = (flag: string, text: string | undefined, fallback: number) => {
      if (text === undefined) return fallback;
      try {
        return parseDuration(text);
      } catch (error) {
        throw new UsageError(`--${flag}: ${(error as Error).message}`);
      }
    };
    const options: FakeProducersOptions = {
      addresses,
      producers: integerFlag(values.producers, 'producers', 1, 1),
      topics: integerFlag(values.topics, 'topics', 1, 0),
      channels: integerFlag(values.channels, 'channels', 1, 0),
      topicPattern: values['topic-pattern'],
      channelPattern: values['channel-pattern'],
      broadcastAddressPattern: values['broadcast-address'],
      tcpPortBase: integerFlag(values['tcp-port-base'], 'tcp-port-base', 20000, 1, 65535),
      httpPortBase: integerFlag(values['http-port-base'], 'http-port-base', 40000, 1, 65535),
      version: values['nsqd-version'],
      pingIntervalMs: duration('ping-interval', values['ping-interval'], 15000),
      churnPerSecond: numberFlag(values.churn, 'churn', 0),
      connectConcurrency: integerFlag(values['connect-concurrency'], 'connect-concurrency', 200, 1),
      readTimeoutMs: duration('read-timeout', values['read-timeout'], 5000),
      seed: values.seed === undefined ? undefined : integerFlag(values.seed, 'seed', 0),
    };
    const runFor = duration('duration', values.duration, 0);
    const statusEvery = duration('status-interval', values['status-interval'], 5000);
    let fleet: FakeProducerFleet;
    try {
      fleet = new FakeProducerFleet(options);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    return runFleet(fleet, { json: values.json === true, runFor, statusEvery });
  });

export default main;

/** Starts the fleet, reports progress and status, and stops on SIGINT/SIGTERM or after `runFor` ms. */
export async function runFleet(
  fleet: FakeProducerFleet,
  {
    json,
    runFor,
    statusEvery,
    label = 'fake producers',
    command = 'fake-producers',
  }: { json: boolean; runFor: number; statusEvery: number; label?: string; command?: string },
): Promise<number> {
  const out = process.stdout;
  const live = out.isTTY === true && !json;
  const print = (event: string, status: FleetStatus, extra: Record<string, unknown> = {}) => {
    if (json) {
      out.write(ndjsonLine({ event, ...status, ...extra }));
      return;
    }
    const line = describe(event, status, extra);
    if (live && event === 'progress') out.write(`\r\x1b[2K${line}`);
    else out.write(`${live ? '\r\x1b[2K' : ''}${line}\n`);
  };
  fleet.on('progress', (status) => print('progress', status));
  // Every failure's cause, without DEBUG: the first of each kind per lookupd (a loop retries the same
  // failure every backoff step; the "errors" count has them all).
  const shown = new Map<string, string>();
  fleet.on('error', (producer, address, error) => {
    const code = (error as { code?: unknown }).code;
    const key = `${String(code)} ${error.message.replaceAll(/\d+/g, '#')}`;
    if (shown.get(address) === key) return;
    shown.set(address, key);
    if (json) {
      out.write(ndjsonLine({ event: 'error', producer, address, code, message: error.message }));
      return;
    }
    const where = error.message.includes(address) ? '' : `lookupd ${address}: `;
    process.stderr.write(
      `${live ? '\r\x1b[2K' : ''}nsqd-lookup ${command}: producer ${producer}: ${where}${error.message}\n`,
    );
  });
  const stopped = untilSignalOrTimeout(runFor);
  const started = performance.now();
  await Promise.race([fleet.start().then(() => fleet.settled()), stopped]);
  // "registered" only once every connection is up and every registration acknowledged.
  let registered = false;
  const announce = (event: 'registered' | 'status', status: FleetStatus) => {
    if (!registered && inSyncNow(status) && status.started === status.producers) {
      registered = true;
      print('registered', status, { elapsedMs: Math.round(performance.now() - started), label });
    } else if (event === 'status') {
      print('status', status);
    } else {
      print('waiting', status, { label });
    }
  };
  announce('registered', fleet.status());
  const ticker = setInterval(() => announce('status', fleet.status()), statusEvery);
  const why = await stopped;
  clearInterval(ticker);
  const final = fleet.status();
  const inSync = inSyncNow(final);
  await fleet.close();
  print('stopped', final, { reason: why === 'timeout' ? 'duration reached' : 'signal', inSync });
  return inSync ? EXIT.ok : EXIT.failed;
}

function inSyncNow(s: FleetStatus): boolean {
  return s.connected === s.peers && s.registrationsAcked === s.registrationsExpected;
}

function describe(event: string, s: FleetStatus, extra: Record<string, unknown>): string {
  const counts = `${s.connected}/${s.peers} connections up, ${s.registrationsAcked}/${s.registrationsExpected} registrations acknowledged, ${s.errors} errors`;
  switch (event) {
    case 'progress':
      return `connecting: ${s.started}/${s.producers} producers started, ${counts}`;
    case 'registered':
      return `registered: ${s.producers} ${String(extra.label)}, ${counts}, in ${String(extra.elapsedMs)} ms`;
    case 'waiting':
      return `not registered yet: ${s.started}/${s.producers} ${String(extra.label)} started, ${counts}; retrying`;
    case 'stopped':
      return `stopped (${String(extra.reason)}): ${counts}${s.churnOperations ? `, ${s.churnOperations} churn operations` : ''}`;
    default:
      return `status: ${counts}${s.churnOperations ? `, ${s.churnOperations} churn operations` : ''}`;
  }
}
