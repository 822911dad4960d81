import { hostname } from 'node:os';
import {
  FakeProducerFleet,
  type FakeProducersOptions,
  type FleetEvents,
  type FleetStatus,
} from '../tools/fake-producers.js';
import { FleetWorkers, producersPerProcess, sliceFleet } from '../tools/fleet-workers.js';
import type { TypedEmitter } from '../util/typed-emitter.js';
import { parseDuration } from './args.js';
import { readTls, TLS_FLAGS, tlsFlags } from './broker.js';
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
  'registration-only': { type: 'boolean' },
  'listen-address': { type: 'string' },
  'broadcast-address': { type: 'string' },
  'tcp-port-base': { type: 'string' },
  'http-port-base': { type: 'string' },
  'nsqd-version': { type: 'string' },
  'message-rate': { type: 'string' },
  'message-size': { type: 'string' },
  'lookupd-http-address': { type: 'string', multiple: true },
  'ping-interval': { type: 'string' },
  churn: { type: 'string' },
  duration: { type: 'string' },
  'connect-concurrency': { type: 'string' },
  'read-timeout': { type: 'string' },
  'status-interval': { type: 'string' },
  seed: { type: 'string' },
  ...TLS_FLAGS,
  shard: { type: 'string' },
  'producers-per-process': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The fleet surface {@link runFleet} drives: one process's fleet, or one spread over workers. */
export type RunnableFleet = Pick<FakeProducerFleet, 'start' | 'settled' | 'status' | 'verify' | 'close'> &
  Pick<TypedEmitter<FleetEvents>, 'on'> & { pids?(): number[] };

/** `--shard K/N`: this copy is shard K (from 0) of N. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !(count >= 1) || !(index < count))
    throw new UsageError(`--shard must be K/N with 0 <= K < N (say 0/4), got ${JSON.stringify(text)}`);
  return { index, count };
}

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
    const tlsFlagValues = tlsFlags(values);
    const portBase = (flag: 'tcp-port-base' | 'http-port-base') =>
      values[flag] === undefined ? undefined : integerFlag(values[flag], flag, 0, 1, 65535);
    const options: FakeProducersOptions = {
      addresses,
      registrationOnly: values['registration-only'] === true,
      listenAddress: values['listen-address'],
      producers: integerFlag(values.producers, 'producers', 1, 1),
      topics: integerFlag(values.topics, 'topics', 1, 0),
      channels: integerFlag(values.channels, 'channels', 1, 0),
      topicPattern: values['topic-pattern'],
      channelPattern: values['channel-pattern'],
      broadcastAddressPattern: values['broadcast-address'],
      tcpPortBase: portBase('tcp-port-base'),
      httpPortBase: portBase('http-port-base'),
      version: values['nsqd-version'],
      messageRate: integerFlag(values['message-rate'], 'message-rate', 0, 0),
      messageSize: integerFlag(values['message-size'], 'message-size', 0, 0),
      lookupdHttpAddresses: addressList(values['lookupd-http-address'], 'lookupd-http-address'),
      pingIntervalMs: duration('ping-interval', values['ping-interval'], 15000),
      churnPerSecond: numberFlag(values.churn, 'churn', 0),
      connectConcurrency: integerFlag(values['connect-concurrency'], 'connect-concurrency', 200, 1),
      readTimeoutMs: duration('read-timeout', values['read-timeout'], 5000),
      seed: values.seed === undefined ? undefined : integerFlag(values.seed, 'seed', 0),
      tls: await readTls(tlsFlagValues),
    };
    // A shard is a slice of the whole fleet: disjoint producer numbers (so names and ports), and an
    // address other machines can reach.
    const total = options.producers!;
    let first = 0;
    let end = total;
    if (values.shard !== undefined) {
      const shard = parseShard(values.shard);
      first = Math.floor((shard.index * total) / shard.count);
      end = Math.floor(((shard.index + 1) * total) / shard.count);
      if (end === first)
        throw new UsageError(`shard ${values.shard} of ${total} producers has none: give more --producers`);
      options.broadcastAddressPattern ??= hostname();
      if (!options.registrationOnly) options.listenAddress ??= '0.0.0.0';
    }
    Object.assign(options, { firstIndex: first, producers: end - first, totalProducers: total });
    const runFor = duration('duration', values.duration, 0);
    const statusEvery = duration('status-interval', values['status-interval'], 5000);
    let fleet: FakeProducerFleet;
    try {
      fleet = new FakeProducerFleet(options);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const perProcess =
      values['producers-per-process'] === undefined
        ? producersPerProcess({
            lookupds: addresses.length,
            registrationOnly: options.registrationOnly === true,
          })
        : integerFlag(values['producers-per-process'], 'producers-per-process', 1, 1);
    const json = values.json === true;
    if (end - first <= perProcess) return runFleet(fleet, { json, runFor, statusEvery });
    // More than one process may hold: each worker runs a slice, the same checks already passed here.
    const workers = new FleetWorkers(sliceFleet(options, perProcess), { script: process.argv[1]! });
    return runFleet(workers, { json, runFor, statusEvery });
  });

export default main;

/** Starts the fleet, reports progress and status, and stops on SIGINT/SIGTERM or after `runFor` ms. */
export async function runFleet(
  fleet: RunnableFleet,
  {
    json,
    runFor,
    statusEvery,
    label = 'fake producers',
    command = 'fake-producers',
    beforeStart,
  }: {
    json: boolean;
    runFor: number;
    statusEvery: number;
    label?: string;
    command?: string;
    /** Runs first (snapshot load recreates names there); its rejection is reported, exit 1. */
    beforeStart?: () => Promise<void>;
  },
): Promise<number> {
  const out = process.stdout;
  const live = out.isTTY === true && !json;
  let lastProgress = Number.NEGATIVE_INFINITY;
  const print = (event: string, status: FleetStatus, extra: Record<string, unknown> = {}) => {
    if (event === 'progress') {
      // A terminal line is rewritten in place; anywhere else (a log file, a pipe) one a second is plenty.
      const now = performance.now();
      if (!live && now - lastProgress < 1000) return;
      lastProgress = now;
    }
    if (json) {
      out.write(ndjsonLine({ event, ...status, ...extra }));
      return;
    }
    const line = describe(event, status, extra);
    if (live && event === 'progress') out.write(`\r\x1b[2K${line}`);
    else out.write(`${live ? '\r\x1b[2K' : ''}${line}\n`);
  };
  const report = (message: string) =>
    process.stderr.write(`${live ? '\r\x1b[2K' : ''}nsqd-lookup ${command}: ${message}\n`);
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
    report(`producer ${producer}: ${where}${error.message}`);
  });
  // lookupd's own view, when the fleet can read it: a registration it dropped is not "in sync".
  const verify = async () => {
    try {
      await fleet.verify();
    } catch (error) {
      report(`cannot check lookupd's registrations: ${(error as Error).message}`);
    }
  };
  const stopped = untilSignalOrTimeout(runFor);
  const started = performance.now();
  try {
    await beforeStart?.();
  } catch (error) {
    report((error as Error).message);
    await fleet.close();
    return EXIT.failed;
  }
  const starting = fleet.start().then(() => fleet.settled());
  // A signal may win the race below; the start-up's own failure is then not worth reporting.
  starting.catch(() => undefined);
  const pids = fleet.pids?.();
  if (pids) {
    if (json) out.write(ndjsonLine({ event: 'workers', workers: pids.length, pids }));
    else
      out.write(`${live ? '\r\x1b[2K' : ''}started ${pids.length} worker processes (${pids.join(', ')})\n`);
  }
  const outcome = await Promise.race([starting.then(() => 'started' as const), stopped]).catch(
    (error: Error) => error,
  );
  if (outcome instanceof Error) {
    // A fake that cannot listen (its port taken): nothing else is worth running.
    report(outcome.message);
    await fleet.close();
    return EXIT.failed;
  }
  // "registered" only once every connection is up and every registration acknowledged.
  let registered = false;
  const announce = async (event: 'registered' | 'status') => {
    await verify();
    const status = fleet.status();
    if (!registered && inSyncNow(status) && status.started === status.producers) {
      registered = true;
      print('registered', status, { elapsedMs: Math.round(performance.now() - started), label });
    } else if (event === 'status') {
      print('status', status);
    } else {
      print('waiting', status, { label });
    }
  };
  await announce('registered');
  let ticking = Promise.resolve();
  const ticker = setInterval(() => {
    ticking = ticking.then(() => announce('status'));
  }, statusEvery);
  const why = await stopped;
  clearInterval(ticker);
  await ticking;
  await verify();
  const final = fleet.status();
  const inSync = inSyncNow(final);
  await fleet.close();
  print('stopped', final, { reason: why === 'timeout' ? 'duration reached' : 'signal', inSync });
  return inSync ? EXIT.ok : EXIT.failed;
}

function inSyncNow(s: FleetStatus): boolean {
  return (
    s.connected === s.peers &&
    s.registrationsAcked === s.registrationsExpected &&
    s.registrationsDropped === 0
  );
}

function describe(event: string, s: FleetStatus, extra: Record<string, unknown>): string {
  let counts = `${s.connected}/${s.peers} connections up, ${s.registrationsAcked}/${s.registrationsExpected} registrations acknowledged`;
  if (s.registrationsDropped > 0) counts += `, ${s.registrationsDropped} dropped by lookupd`;
  counts += `, ${s.errors} errors`;
  let activity = '';
  if (s.churnOperations) activity += `, ${s.churnOperations} churn operations`;
  if (s.messagesGenerated || s.generationPaused)
    activity += `, ${s.messagesGenerated} messages generated${s.generationPaused ? ` (${s.generationPaused} topics paused: queue full)` : ''}`;
  const serving = s.serving > 0 ? `${s.serving} serving, ` : '';
  switch (event) {
    case 'progress':
      return `connecting: ${s.started}/${s.producers} producers started, ${serving}${counts}`;
    case 'registered':
      return `registered: ${s.producers} ${String(extra.label)}, ${serving}${counts}, in ${String(extra.elapsedMs)} ms`;
    case 'waiting':
      return `not registered yet: ${s.started}/${s.producers} ${String(extra.label)} started, ${counts}; retrying`;
    case 'stopped':
      return `stopped (${String(extra.reason)}): ${counts}${activity}`;
    default:
      return `status: ${serving}${counts}${activity}`;
  }
}
