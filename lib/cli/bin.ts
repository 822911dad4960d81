#!/usr/bin/env node
import { COMMANDS } from './commands.js';
import { EXIT } from './exit-codes.js';
import { versionLine } from './flags.js';
import { helpText } from './help.js';
import { usageMessage } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a mistake: the command list goes where mistakes go, not to stdout.
    process.stderr.write(helpText('main'));
    return EXIT.usage;
  }
  if (name === '--help' || name === '-help' || name === '-h' || name === 'help') {
    process.stdout.write(helpText('main'));
    return EXIT.ok;
  }
  if (name === '--version' || name === '-version' || name === '-v') {
    process.stdout.write(`${versionLine()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(usageMessage(undefined, `unknown command ${JSON.stringify(name)}`));
    return EXIT.usage;
  }
  const run = await command.load();
  return run(rest);
}

// A fake-producer fleet's worker process (lib/tools/fleet-workers.ts) runs this bin too.
const run = process.env.NSQD_LOOKUP_FLEET_WORKER
  ? import('../tools/fleet-workers.js').then((workers) => workers.serveAsFleetWorker()).then(() => EXIT.ok)
  : main(process.argv.slice(2));

run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`nsqd-lookup: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.failed;
  },
);
