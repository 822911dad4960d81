import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseBrokerFlags } from '../../examples/broker/flags.js';
import { InvalidArgumentError } from '../../lib/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the example broker’s command line', () => {
  // A broker that started after all (the old behaviour) would run on: never leave one behind.
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  });

  it('takes nsqd’s durations and Go-style flags', () => {
    const config = parseBrokerFlags([
      '-msg-timeout',
      '60s',
      '-lookupd-tcp-address=a:1',
      '--mem-queue-size',
      '5',
    ]);
    assert.ok(config !== 'help');
    assert.equal(config.msgTimeoutMs, 60_000);
    assert.deepEqual(config.lookupdTcpAddresses, ['a:1']);
    assert.equal(config.memQueueSize, 5);
    assert.equal(
      (parseBrokerFlags(['--msg-timeout=1m30s']) as { msgTimeoutMs: number }).msgTimeoutMs,
      90_000,
    );
    assert.equal(parseBrokerFlags(['-h']), 'help');
  });

  it('refuses milliseconds without a unit, bad numbers and unknown flags with a typed error', () => {
    for (const [argv, message] of [
      [['--msg-timeout', '60000'], /--msg-timeout: invalid duration "60000": missing unit/],
      [['--msg-timeout', '0s'], /--msg-timeout must be at least 1ms/],
      [['--mem-queue-size', '1.5'], /--mem-queue-size must be a positive whole number/],
      [['--bogus'], /bogus/],
    ] as const) {
      assert.throws(
        () => parseBrokerFlags([...argv]),
        (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
      );
    }
  });

  it('from the command: a message and exit 2 for a bad flag, exit 1 when it cannot listen, never a stack trace', async function () {
    this.timeout(10_000);
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/broker/main.ts', ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      const [code] = await once(child, 'close');
      return { code: code as number, stderr };
    };
    try {
      const [bad, inUse] = await Promise.all([
        run(['--msg-timeout', '60000']),
        run([
          '--lookupd-tcp-address',
          '127.0.0.1:9',
          '--tcp-address',
          `127.0.0.1:${port}`,
          '--http-address',
          '127.0.0.1:0',
        ]),
      ]);
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr,
        'broker: --msg-timeout: invalid duration "60000": missing unit (Go syntax, e.g. 500ms, 1s, 1m30s)\n' +
          "Run 'npx tsx examples/broker/main.ts --help' for usage.\n",
      );
      assert.equal(inUse.code, 1, inUse.stderr);
      assert.match(inUse.stderr, /^broker: cannot start: .*EADDRINUSE/);
      assert.doesNotMatch(inUse.stderr, /\n\s+at /);
    } finally {
      // On the old behaviour the broker would start and run on: never leave it behind.
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      busy.close();
    }
  });
});
