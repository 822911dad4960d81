import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SnapshotFileError } from '../errors.js';
import { FakeProducerFleet } from '../tools/fake-producers.js';
import {
  captureSnapshot,
  loadSnapshot,
  recreateUnownedNames,
  saveSnapshot,
  snapshotToSpecs,
  type TopologySnapshot,
} from '../tools/snapshot.js';
import { parseDuration } from './args.js';
import type { CommandMain } from './command.js';
import { EXIT } from './exit-codes.js';
import { runFleet } from './fake-producers.js';
import { addressList, parseFlags, runCommand } from './flags.js';
import { jsonDocument } from './json.js';
import { UsageError } from './usage.js';

/** The flags of each action (the help text lists each; a spec checks). */
export const SAVE_FLAGS = {
  'lookupd-http-address': { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
} as const;
export const LOAD_FLAGS = {
  'lookupd-tcp-address': { type: 'string', multiple: true },
  'registration-only': { type: 'boolean' },
  'listen-address': { type: 'string' },
  'lookupd-http-address': { type: 'string', multiple: true },
  duration: { type: 'string' },
  'ping-interval': { type: 'string' },
  'status-interval': { type: 'string' },
  json: { type: 'boolean' },
} as const;
export const SHOW_FLAGS = { json: { type: 'boolean' } } as const;
export const FLAGS = { ...SAVE_FLAGS, ...LOAD_FLAGS, ...SHOW_FLAGS } as const;

const main: CommandMain = (argv) =>
  runCommand('snapshot', async () => {
    const [action, ...rest] = argv;
    switch (action) {
      case 'save':
        return save(rest);
      case 'load':
        return load(rest);
      case 'show':
        return show(rest);
      case '-h':
      case '--help':
      case '-help':
      case '--version':
      case '-version':
        parseFlags('snapshot', [action], {});
        return EXIT.ok;
      case undefined:
        throw new UsageError('give an action: save, load or show');
      default:
        throw new UsageError(`unknown action ${JSON.stringify(action)} (save, load or show)`);
    }
  });

export default main;

async function save(argv: string[]): Promise<number> {
  const parsed = parseFlags('snapshot', argv, SAVE_FLAGS);
  if (!parsed) return EXIT.ok;
  const [http, ...others] = addressList(parsed.values['lookupd-http-address'], 'lookupd-http-address');
  if (!http || others.length > 0)
    throw new UsageError('snapshot save reads exactly one --lookupd-http-address');
  const output = parsed.values.output;
  if (!output) throw new UsageError('snapshot save needs -o FILE');
  const timeoutMs = parsed.values.timeout ? parseDuration(parsed.values.timeout, '--timeout') : 5000;
  // Checked before lookupd is read: a typo in -o should not cost a capture, nor create folders.
  const folder = dirname(resolve(output));
  const kind = await stat(folder).then(
    (s) => (s.isDirectory() ? 'folder' : 'not a folder'),
    () => 'missing',
  );
  if (kind !== 'folder') {
    process.stderr.write(
      `nsqd-lookup snapshot save: cannot write ${output}: ${folder} ${kind === 'missing' ? 'does not exist (create it first)' : 'is not a folder'}\n`,
    );
    return EXIT.failed;
  }
  let snapshot: TopologySnapshot;
  try {
    snapshot = await captureSnapshot(http, { timeoutMs });
  } catch (error) {
    process.stderr.write(`nsqd-lookup snapshot save: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
  try {
    await saveSnapshot(snapshot, output);
  } catch (error) {
    process.stderr.write(`nsqd-lookup snapshot save: cannot write ${output}: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
  process.stdout.write(`saved ${summary(snapshot)} from ${http} to ${output}\n`);
  return EXIT.ok;
}

async function load(argv: string[]): Promise<number> {
  const parsed = parseFlags('snapshot', argv, LOAD_FLAGS, {
    positionals: true,
    renamed: { 'heartbeat-interval': 'ping-interval' },
  });
  if (!parsed) return EXIT.ok;
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError('snapshot load takes one FILE');
  const addresses = addressList(parsed.values['lookupd-tcp-address'], 'lookupd-tcp-address');
  if (addresses.length === 0) throw new UsageError('at least one --lookupd-tcp-address is required');
  const snapshot = await readOrReport(file);
  if (!snapshot) return EXIT.failed;
  if (snapshot.producers.length === 0) {
    process.stderr.write(`nsqd-lookup snapshot load: ${file} has no producers to replay\n`);
    return EXIT.failed;
  }
  const readTimeoutMs = 5000;
  const fleet = new FakeProducerFleet({
    addresses,
    specs: snapshotToSpecs(snapshot),
    registrationOnly: parsed.values['registration-only'] === true,
    listenAddress: parsed.values['listen-address'],
    lookupdHttpAddresses: addressList(parsed.values['lookupd-http-address'], 'lookupd-http-address'),
    pingIntervalMs: parsed.values['ping-interval']
      ? parseDuration(parsed.values['ping-interval'], '--ping-interval')
      : 15000,
    readTimeoutMs,
  });
  return runFleet(fleet, {
    json: parsed.values.json === true,
    runFor: parsed.values.duration ? parseDuration(parsed.values.duration, '--duration') : 0,
    statusEvery: parsed.values['status-interval']
      ? parseDuration(parsed.values['status-interval'], '--status-interval')
      : 5000,
    beforeStart: async () => {
      await recreateUnownedNames(addresses, snapshot, { readTimeoutMs });
    },
    label: `producers from ${file}`,
    command: 'snapshot load',
  });
}

async function show(argv: string[]): Promise<number> {
  const parsed = parseFlags('snapshot', argv, SHOW_FLAGS, { positionals: true });
  if (!parsed) return EXIT.ok;
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError('snapshot show takes one FILE');
  const snapshot = await readOrReport(file);
  if (!snapshot) return EXIT.failed;
  if (parsed.values.json) {
    process.stdout.write(jsonDocument(snapshot));
    return EXIT.ok;
  }
  const lines = [`${file}: ${summary(snapshot)}, saved ${snapshot.savedAt} from ${snapshot.source}`];
  for (const p of snapshot.producers) {
    const zone =
      p.topologyZone || p.topologyRegion ? ` zone=${p.topologyZone} region=${p.topologyRegion}` : '';
    lines.push(
      `  ${p.broadcastAddress}:${p.tcpPort} (http ${p.httpPort}, ${p.hostname}, v${p.version}${zone})`,
    );
    for (const topic of p.topics) {
      lines.push(`    ${topic.name}${topic.channels.length ? `: ${topic.channels.join(', ')}` : ''}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

async function readOrReport(file: string): Promise<TopologySnapshot | undefined> {
  try {
    return await loadSnapshot(file);
  } catch (error) {
    if (!(error instanceof SnapshotFileError)) throw error;
    process.stderr.write(`nsqd-lookup snapshot: ${error.message}\n`);
    return undefined;
  }
}

function summary(snapshot: TopologySnapshot): string {
  const topics = new Set(snapshot.producers.flatMap((p) => p.topics.map((t) => t.name)));
  const registrations = snapshot.producers.reduce(
    (n, p) => n + p.topics.reduce((m, t) => m + Math.max(1, t.channels.length), 0),
    0,
  );
  return `${snapshot.producers.length} producers, ${topics.size} topics, ${registrations} registrations`;
}
