import assert from 'node:assert/strict';
import { NSQLOOKUPD_BIN, startRealLookupd } from '../../harness/oracle.js';
import { type RunningCli, spawnCli } from '../support/cli.js';
import { answer, FakeLookupd, startHttpPing } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { refusedAddress } from '../support/unreachable.js';

describe('nsqd-lookup heartbeat (CLI)', () => {
  const cleanup = useCleanup();

  const cli = (args: string[]): RunningCli => {
    const running = spawnCli(['heartbeat', ...args]);
    cleanup(() => running.stop());
    return running;
  };

  const run = (args: string[]) => cli(args).done;
  const fast = ['--count', '3', '--interval', '100ms'];

  it('exits 0 when lookupd answers within --warn, having sent only PINGs (flags as nsqd spells them)', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const { code, stdout, stderr } = await run([
      '-lookupd-tcp-address',
      address,
      '-count=3',
      '-interval',
      '100ms',
      '-crit=10s',
      '--warn',
      '5s',
    ]);
    assert.equal(code, 0, stdout + stderr);
    assert.equal(stdout.match(new RegExp(` tcp://${address} up rtt=`, 'g'))?.length, 3, stdout);
    assert.match(stdout, /3 probe\(s\): 3 answered, 0 failed; now up/);
    assert.match(stdout, /rtt min\/median\/p99\/max = /);
    assert.match(stdout, /^OK: exit 0/m);
    assert.deepEqual(lookupd.lines(), ['PING', 'PING', 'PING']);
  });

  it('exits 1 when lookupd answers slower than --warn but faster than --crit', async () => {
    const slow = await FakeLookupd.start({ handlers: { PING: answer.slowly(300) } });
    cleanup(() => slow.stop());
    const address = slow.address;
    const { code, stdout, stderr } = await run([
      '--lookupd-tcp-address',
      address,
      ...fast,
      '--warn',
      '50ms',
      '--crit',
      '2s',
      '--timeout',
      '2s',
    ]);
    assert.equal(code, 1, stdout + stderr);
    assert.match(stdout, /status: warn \(median \d+ms > warn 50ms\)/);
    assert.match(stdout, /^WARN: exit 1/m);
  });

  it('exits 2 when a lookupd is down, even if another is healthy', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const healthy = lookupd.address;
    const dead = await refusedAddress();
    const { code, stdout, stderr } = await run([
      '--lookupd-tcp-address',
      healthy,
      '--lookupd-tcp-address',
      dead,
      ...fast,
      '--warn',
      '5s',
      '--crit',
      '10s',
    ]);
    assert.equal(code, 2, stdout + stderr);
    assert.match(stdout, new RegExp(`tcp://${dead} down NSQ_ERR_CONNECT: `));
    assert.match(stdout, /3 probe\(s\): 0 answered, 3 failed; now down/);
    assert.match(stdout, /status: crit \(never answered: /);
    assert.match(stdout, /status: ok /);
    assert.match(stdout, /^CRIT: exit 2/m);
  });

  it('--json writes one JSON object per line: samples, then a summary per target and the result', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const tcp = lookupd.address;
    const httpPing = await startHttpPing();
    cleanup(() => httpPing.close());
    const { code, stdout, stderr } = await run([
      '--lookupd-tcp-address',
      tcp,
      '--lookupd-http-address',
      httpPing.address,
      ...fast,
      '--warn',
      '5s',
      '--crit',
      '10s',
      '--json',
    ]);
    assert.equal(code, 0, stdout + stderr);
    const objects = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const targets = [`tcp://${tcp}`, `http://${httpPing.address}/ping`];
    for (const target of targets) {
      const samples = objects.filter((o) => o.type === 'sample' && o.target === target);
      assert.equal(samples.length, 3, target);
      for (const s of samples) {
        assert.equal(s.ok, true);
        assert.equal(typeof s.rtt_ms, 'number');
        assert.ok(!Number.isNaN(Date.parse(s.time as string)));
      }
    }
    const summaries = objects.filter((o) => o.type === 'summary');
    assert.deepEqual(
      summaries.map((s) => [s.target, s.state, s.probes, s.failures, s.status]),
      targets.map((t) => [t, 'up', 3, 0, 'ok']),
    );
    assert.deepEqual(Object.keys(summaries[0]!.rtt_ms as object), ['min', 'median', 'p99', 'max']);
    assert.deepEqual(objects.at(-1), {
      type: 'result',
      status: 'ok',
      exit_code: 0,
      warn_ms: 5000,
      crit_ms: 10000,
    });
    assert.equal(objects.length, 6 + 2 + 1);
    assert.deepEqual(new Set(httpPing.requests), new Set(['GET /ping']));
  });

  it('--json reports failures with their code, and exits 2', async () => {
    const dead = await refusedAddress();
    const { code, stdout } = await run(['--lookupd-tcp-address', dead, ...fast, '--json']);
    assert.equal(code, 2);
    const objects = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const samples = objects.filter((o) => o.type === 'sample');
    assert.equal(samples.length, 3);
    assert.ok(samples.every((s) => s.ok === false && s.code === 'NSQ_ERR_CONNECT'));
    const summary = objects.find((o) => o.type === 'summary')!;
    assert.equal(summary.state, 'down');
    assert.equal((summary.outages as { ongoing: boolean }[])[0]?.ongoing, true);
    assert.equal(objects.at(-1)?.exit_code, 2);
  });

  it('runs until SIGINT, then prints the summary and exits by health', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const running = cli([
      '--lookupd-tcp-address',
      address,
      '--interval',
      '50ms',
      '--warn',
      '5s',
      '--crit',
      '10s',
      '--json',
    ]);
    await running.lines(2, (line) => line.includes('"type":"sample"'));
    running.child.kill('SIGINT');
    const { code, stdout, stderr } = await running.done;
    assert.equal(code, 0, stdout + stderr);
    const last = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as { type: string; exit_code: number };
    assert.deepEqual([last.type, last.exit_code], ['result', 0]);
  });

  it('--help prints the usage and the exit codes; bad flags exit 3', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: nsqd-lookup heartbeat/);
    assert.match(help.stdout, /Exit codes/);
    assert.match(help.stdout, /--lookupd-tcp-address HOST:PORT/);

    const bad = await run(['--lookupd-tcp-address', '127.0.0.1:4160', '--interval', '10']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /--interval: invalid duration "10": missing unit/);
    assert.equal(bad.stdout, '');

    const none = await run([]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /at least one --lookupd-tcp-address/);
  });

  (NSQLOOKUPD_BIN ? it : it.skip)(
    'probes the real nsqlookupd without ever appearing in its /nodes',
    async () => {
      const lookupd = await startRealLookupd();
      cleanup(() => lookupd.close());
      const running = cli([
        '--lookupd-tcp-address',
        lookupd.tcpAddress,
        '--lookupd-http-address',
        lookupd.httpAddress,
        '--interval',
        '50ms',
        '--warn',
        '5s',
        '--crit',
        '10s',
        '--json',
      ]);
      await running.lines(3, (line) => line.includes(`"target":"tcp://${lookupd.tcpAddress}","ok":true`));
      await running.lines(3, (line) =>
        line.includes(`"target":"http://${lookupd.httpAddress}/ping","ok":true`),
      );
      // The probe's TCP connection is open now: lookupd would list it had it IDENTIFYed.
      const response = await fetch(`http://${lookupd.httpAddress}/nodes`);
      assert.deepEqual(await response.json(), { producers: [] });
      running.child.kill('SIGINT');
      const { code, stdout, stderr } = await running.done;
      assert.equal(code, 0, stdout + stderr);
    },
  );
});
