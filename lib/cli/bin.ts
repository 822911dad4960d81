#!/usr/bin/env node
import { COMMANDS } from './commands.js';
import { helpText, packageVersion } from './help.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(helpText('main'));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`nsqd-lookup v${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`nsqd-lookup: unknown command ${JSON.stringify(name)}; see nsqd-lookup --help\n`);
    return 2;
  }
  const run = await command.load();
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`nsqd-lookup: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
