import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { parseBrokerFlags } from '../../lib/cli/broker.js';
import { UsageError } from '../../lib/cli/usage.js';
import { type RunningCli, spawnCli } from '../support/cli.js';

describe('nsqd-lookup broker: the command line', () => {
  // A broker that started after all (the old behaviour) would run on: never leave one behind.
  const children: RunningCli[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
  });

  it('takes nsqd’s durations and Go-style flags', () => {
    const config = parseBrokerFlags([
      '-msg-timeout',
      '60s',
      '-lookupd-tcp-address=a:1',
      '--mem-queue-size',
      '5',
    ]);
    assert.ok(!('show' in config));
    assert.equal(config.msgTimeoutMs, 60_000);
    assert.deepEqual(config.lookupdTcpAddresses, ['a:1']);
    assert.equal(config.memQueueSize, 5);
    assert.equal(
      (parseBrokerFlags(['--msg-timeout=1m30s']) as { msgTimeoutMs: number }).msgTimeoutMs,
      90_000,
    );
    assert.deepEqual(parseBrokerFlags(['-h']), { show: 'help' });
  });

  it('refuses milliseconds without a unit, bad numbers and unknown flags with a UsageError', () => {
    for (const [argv, message] of [
      [['--msg-timeout', '60000'], /--msg-timeout: invalid duration "60000": missing unit/],
      [['--msg-timeout', '0s'], /--msg-timeout must be at least 1ms/],
      [['--mem-queue-size', '1.5'], /--mem-queue-size must be a positive whole number/],
      [['--bogus'], /bogus/],
    ] as const) {
      assert.throws(
        () => parseBrokerFlags([...argv]),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      );
    }
  });

  it('from the command: a message and exit 2 for a bad flag, exit 1 when it cannot listen, never a stack trace', async function () {
    this.timeout(10_000);
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    const run = async (args: string[]) => {
      const child = spawnCli(['broker', ...args]);
      children.push(child);
      const { code, stderr } = await child.done;
      return { code, stderr };
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
        'nsqd-lookup broker: --msg-timeout: invalid duration "60000": missing unit (Go syntax, e.g. 500ms, 1s, 1m30s)\n' +
          "Run 'nsqd-lookup broker --help' for usage.\n",
      );
      assert.equal(inUse.code, 1, inUse.stderr);
      assert.match(inUse.stderr, /^nsqd-lookup broker: cannot start: .*EADDRINUSE/);
      assert.doesNotMatch(inUse.stderr, /\n\s+at /);
    } finally {
      busy.close();
    }
  });

  it('from the command: serves with an embedded lookupd, prints its addresses, exits 0 on SIGTERM', async function () {
    this.timeout(10_000);
    const child = spawnCli(['broker', '--tcp-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0']);
    children.push(child);
    const [line] = await child.lines(1, (l) => l.startsWith('broker TCP '));
    const http = /HTTP http:\/\/(\S+)$/.exec(line!)?.[1];
    assert.ok(http, line);
    const ping = await fetch(`http://${http}/ping`);
    assert.equal(await ping.text(), 'OK');
    await child.lines(1, (l) => l.startsWith('embedded lookupd TCP '));
    child.child.kill('SIGTERM');
    const { code, stderr } = await child.done;
    assert.equal(code, 0, stderr);
    // nsqd's listening lines, which harness/oracle.ts startNsqProcess reads the ports from.
    const tcp = /^\[nsqd\] \S+ \S+ INFO: TCP: listening on (\S+)$/m.exec(stderr)?.[1];
    assert.equal(tcp, /^broker TCP (\S+),/.exec(line!)?.[1], stderr);
    assert.match(stderr, new RegExp(`^\\[nsqd\\] \\S+ \\S+ INFO: HTTP: listening on ${http}$`, 'm'));
  });
});
