import assert from 'node:assert/strict';
import { FLAGS as BROKER } from '../../lib/cli/broker.js';
import { FLAGS as DEMO } from '../../lib/cli/demo.js';
import { FLAGS as FAKE_PRODUCERS } from '../../lib/cli/fake-producers.js';
import { HEARTBEAT_FLAGS } from '../../lib/cli/heartbeat/flags.js';
import { helpText, packageVersion } from '../../lib/cli/help.js';
import { FLAGS as LOOKUPD } from '../../lib/cli/lookupd.js';
import { FLAGS as SNAPSHOT } from '../../lib/cli/snapshot.js';
import { FLAGS as STATUS } from '../../lib/cli/status.js';
import { usageMessage } from '../../lib/cli/usage.js';
import { spawnCli } from '../support/cli.js';

const COMMANDS: Record<string, Record<string, { type: string; short?: string }>> = {
  broker: BROKER,
  demo: DEMO,
  'fake-producers': FAKE_PRODUCERS,
  heartbeat: HEARTBEAT_FLAGS,
  status: STATUS,
  snapshot: SNAPSHOT,
  lookupd: LOOKUPD,
};
const MONITORING = new Set(['heartbeat', 'status']);

/** The entry of `--flag` in a help text: its line and the indented lines that continue it. */
function entry(help: string, flag: string): string | undefined {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => new RegExp(`^  (-\\w, )?--${flag}( |$)`).test(line));
  if (start < 0) return undefined;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => !/^ {6,}\S/.test(line));
  return [lines[start], ...rest.slice(0, end < 0 ? rest.length : end)].join(' ');
}

describe('the command line of every command', () => {
  it('--help lists each flag with its value kind and default, --version and --help, and the exit codes', () => {
    for (const [command, flags] of Object.entries(COMMANDS)) {
      const help = helpText(command);
      for (const [flag, spec] of Object.entries(flags)) {
        const text = entry(help, flag);
        assert.ok(text, `${command} --help does not list --${flag}`);
        assert.match(text, /\(default[ :]/, `${command} --${flag} has no default: ${text}`);
        if (spec.type === 'string') {
          assert.match(text, new RegExp(`--${flag} [A-Z:/]+ `), `${command} --${flag} names no value`);
        }
      }
      assert.ok(entry(help, 'version'), `${command} --help lists no --version`);
      assert.ok(entry(help, 'help'), `${command} --help lists no --help`);
      const codes = MONITORING.has(command)
        ? [/^ {2}0 {2}OK/m, /^ {2}1 {2}WARNING/m, /^ {2}2 {2}CRITICAL/m, /^ {2}3 {2}UNKNOWN: usage error/m]
        : [/^ {2}0 {2}\S/m, /^ {2}1 {2}failure/m, /^ {2}2 {2}usage error/m];
      assert.match(help, /^Exit codes/m, command);
      for (const code of codes) assert.match(help, code, `${command}: ${code}`);
    }
  });

  it('has one usage-error shape', () => {
    assert.equal(
      usageMessage('status', 'at least one --lookupd-http-address is required'),
      "nsqd-lookup status: at least one --lookupd-http-address is required\nRun 'nsqd-lookup status --help' for usage.\n",
    );
    assert.equal(usageMessage(undefined, 'x'), "nsqd-lookup: x\nRun 'nsqd-lookup --help' for usage.\n");
  });

  it('from the bin: --version on the tool and on every command; bare nsqd-lookup is a usage error on stderr', async () => {
    const version = packageVersion();
    const runs = ['', ...Object.keys(COMMANDS)].map(async (command) => {
      const { code, stdout, stderr } = await spawnCli(command ? [command, '-version'] : ['--version']).done;
      return { command, code, stdout, stderr };
    });
    for (const { command, code, stdout, stderr } of await Promise.all(runs)) {
      assert.equal(code, 0, `${command} --version: ${stderr}`);
      const expected =
        command === 'lookupd'
          ? `nsqd-lookup v${version}`
          : `nsqd-lookup${command ? ` ${command}` : ''} v${version}`;
      assert.ok(stdout.includes(expected), `${command} --version printed ${stdout}`);
    }
    const bare = await spawnCli([]).done;
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^Usage: nsqd-lookup <command>/);
    for (const command of Object.keys(COMMANDS)) assert.match(bare.stderr, new RegExp(`^  ${command} `, 'm'));
    const unknown = await spawnCli(['no-such-command']).done;
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [2, 'nsqd-lookup: unknown command "no-such-command"\nRun \'nsqd-lookup --help\' for usage.\n'],
    );
  });

  it('from the bin: every usage error has the one shape, with exit 2, or 3 for heartbeat and status', async () => {
    const runs = Object.keys(COMMANDS).map(async (command) => {
      const { code, stdout, stderr } = await spawnCli([command, '-no-such-flag']).done;
      return { command, code, stdout, stderr };
    });
    for (const { command, code, stdout, stderr } of await Promise.all(runs)) {
      assert.equal(code, MONITORING.has(command) ? 3 : 2, command);
      assert.equal(stdout, '', command);
      assert.match(
        stderr,
        new RegExp(
          `^nsqd-lookup ${command}: [^\\n]*no-such-flag[^\\n]*\\nRun 'nsqd-lookup ${command} --help' for usage\\.\\n$`,
          's',
        ),
      );
    }
  });
});
