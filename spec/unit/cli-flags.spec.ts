import assert from 'node:assert/strict';
import { normalizeGoFlags, parseCommandLine } from '../../lib/cli/flags.js';
import { UsageError } from '../../lib/cli/usage.js';

describe('the CLI flag parser (every command)', () => {
  const OPTIONS = {
    'lookupd-tcp-address': { type: 'string', multiple: true },
    'ping-interval': { type: 'string' },
    json: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  } as const;

  it('takes -flag, --flag, -flag=value, --flag value and repeats, as Go’s flag package does', () => {
    const line = parseCommandLine(
      [
        '-lookupd-tcp-address',
        'a:1',
        '--lookupd-tcp-address=b:2',
        '-lookupd-tcp-address=c:3',
        '--ping-interval',
        '5s',
        '-json',
        '-o',
        'file',
      ],
      OPTIONS,
    );
    assert.ok(!line.show);
    assert.deepEqual(
      { ...line.values },
      {
        'lookupd-tcp-address': ['a:1', 'b:2', 'c:3'],
        'ping-interval': '5s',
        json: true,
        output: 'file',
      },
    );
  });

  it('takes -bool=true and -bool=false; keeps one-letter flags and everything after -- as they are', () => {
    assert.deepEqual(normalizeGoFlags(['-json=false', '-json=true', '-x=1'], new Set(['json'])), [
      '--json',
      '-x=1',
    ]);
    assert.deepEqual(normalizeGoFlags(['-h', '-o', 'f', '--', '-json']), ['-h', '-o', 'f', '--', '-json']);
    const off = parseCommandLine(['-json=false'], OPTIONS);
    assert.ok(!off.show);
    assert.equal(off.values.json, undefined);
  });

  it('has --help and --version (single dash too) on every command line', () => {
    for (const flag of ['--help', '-help', '-h'])
      assert.deepEqual(parseCommandLine([flag], {}), { show: 'help' });
    for (const flag of ['--version', '-version']) {
      assert.deepEqual(parseCommandLine([flag], {}), { show: 'version' });
    }
  });

  it('tells a renamed flag’s new name; --version with a value is the renamed one, alone it prints the version', () => {
    const renamed = { 'heartbeat-interval': 'ping-interval', version: 'nsqd-version' };
    for (const argv of [
      ['-heartbeat-interval', '5s'],
      ['--heartbeat-interval=5s'],
      ['--version', '1.2.0'],
      ['-version=1.2.0'],
    ]) {
      assert.throws(() => parseCommandLine(argv, OPTIONS, { renamed }), UsageError, argv.join(' '));
    }
    assert.throws(
      () => parseCommandLine(['--version', '1.2.0'], OPTIONS, { renamed }),
      /--version was renamed --nsqd-version/,
    );
    assert.deepEqual(parseCommandLine(['--version'], OPTIONS, { renamed }), { show: 'version' });
    assert.deepEqual(parseCommandLine(['--version', '-json'], OPTIONS, { renamed }), { show: 'version' });
  });

  it('turns every mistake into a UsageError', () => {
    assert.throws(() => parseCommandLine(['-bogus'], OPTIONS), UsageError);
    assert.throws(() => parseCommandLine(['extra'], OPTIONS), UsageError);
    assert.throws(() => parseCommandLine(['--ping-interval'], OPTIONS), UsageError);
  });
});
