import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
