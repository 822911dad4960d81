import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itSlow } from '../../harness/suite.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { spawnCli } from '../support/cli.js';
import { refusedAddress } from '../support/unreachable.js';

describe('truthful tool lines', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fake-producers against a refused port never says "registered", shows the cause without DEBUG, and ends as "duration reached"', async () => {
    const refused = await refusedAddress();
    const env = process.env.DEBUG;
    assert.equal(env, undefined, 'DEBUG must be unset for this spec');
    const { code, stdout, stderr } = await spawnCli([
      'fake-producers',
      '-lookupd-tcp-address',
      refused,
      '-producers',
      '3',
      '-duration',
      '300ms',
      '-status-interval',
      '1h',
    ]).done;
    assert.equal(code, 1, stdout + stderr);
    assert.doesNotMatch(stdout, /^registered/m);
    assert.match(stdout, /^not registered yet: 3\/3 fake producers started, 0\/3 connections up/m);
    assert.match(stdout, /^stopped \(duration reached\): 0\/3 connections up/m);
    const causes = stderr.trimEnd().split('\n');
    assert.match(
      causes[0]!,
      new RegExp(`^nsqd-lookup fake-producers: producer \\d: .*${refused}.*ECONNREFUSED`),
    );
    assert.equal(causes.length, 1, `the same cause once per lookupd:\n${stderr}`);
  });

  it('fake-producers --json ends with reason "duration reached" once in sync', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const { code, stdout, stderr } = await spawnCli([
      'fake-producers',
      '-lookupd-tcp-address',
      lookupd.tcpAddress,
      '-duration',
      '500ms',
      '-json',
    ]).done;
    assert.equal(code, 0, stdout + stderr);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; reason?: string; in_sync?: boolean });
    assert.deepEqual(
      events.filter((e) => e.event !== 'progress' && e.event !== 'status').map((e) => e.event),
      ['registered', 'stopped'],
    );
    assert.deepEqual([events.at(-1)!.reason, events.at(-1)!.in_sync], ['duration reached', true]);
  });

  it('fake-producers with --lookupd-http-address: a registration lookupd dropped (nsqadmin\'s delete) is not "in sync", exit 1', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const run = spawnCli([
      'fake-producers',
      '--registration-only',
      '-lookupd-tcp-address',
      lookupd.tcpAddress,
      '-lookupd-http-address',
      lookupd.httpAddress,
      '-producers',
      '2',
      '-topics',
      '2',
      '-status-interval',
      '50ms',
      '-json',
    ]);
    cleanups.push(() => run.stop());
    await run.lines(1, (line) => line.includes('"event":"registered"'));
    const deleted = await fetch(`http://${lookupd.httpAddress}/topic/delete?topic=topic-1`, {
      method: 'POST',
    });
    assert.equal(deleted.status, 200);
    const [status] = await run.lines(1, (line) => /"registrations_dropped":[1-9]/.test(line));
    assert.match(status!, /"event":"status"/);
    run.child.kill('SIGINT');
    const { code, stdout } = await run.done;
    assert.equal(code, 1, stdout);
    const stopped = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual(
      [stopped.event, stopped.in_sync, stopped.registrations_dropped, stopped.verified],
      ['stopped', false, 2, true],
    );
  });

  itSlow('fake-producers off a terminal prints progress at most once a second', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const started = performance.now();
    // One producer at a time: a progress event every 100 ms for as long as start-up lasts.
    const run = spawnCli([
      'fake-producers',
      '--registration-only',
      '-lookupd-tcp-address',
      lookupd.tcpAddress,
      '-producers',
      '800',
      '-connect-concurrency',
      '1',
    ]);
    cleanups.push(() => run.stop());
    await run.lines(1, (line) => line.startsWith('registered:'));
    const elapsedMs = performance.now() - started;
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stdout + stderr);
    const progress = stdout.split('\n').filter((line) => line.startsWith('connecting:'));
    assert.ok(progress.length >= 1, stdout);
    assert.ok(
      progress.length <= 1 + Math.floor(elapsedMs / 1000),
      `${progress.length} progress lines in ${Math.round(elapsedMs)} ms:\n${stdout}`,
    );
  });

  it('snapshot save -o into a missing folder fails with a clear message and creates nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-lines-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const missing = join(dir, 'no', 'such');
    const { code, stderr } = await spawnCli([
      'snapshot',
      'save',
      '-lookupd-http-address',
      lookupd.httpAddress,
      '-o',
      join(missing, 'x.snap'),
    ]).done;
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^nsqd-lookup snapshot save: cannot write .*x\.snap: .*no\/such does not exist \(create it first\)\n$/,
    );
    assert.equal(existsSync(join(dir, 'no')), false);
  });
});
