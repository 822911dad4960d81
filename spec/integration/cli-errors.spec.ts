import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchFailure } from '../../lib/http/lookupd-http-client.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { spawnCli } from '../support/cli.js';
import { refusedAddress } from '../support/unreachable.js';

describe('CLI errors name their cause and the address', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fetchFailure unwraps fetch’s cause: ECONNREFUSED, ENOTFOUND, timeout, a non-HTTP answer', () => {
    const fetchFailed = (code: string, message: string) =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) });
    assert.match(
      fetchFailure(fetchFailed('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'), 50),
      /ECONNREFUSED/,
    );
    assert.match(fetchFailure(fetchFailed('ENOTFOUND', 'getaddrinfo ENOTFOUND x.invalid'), 50), /ENOTFOUND/);
    assert.match(
      fetchFailure(new DOMException('timed out', 'TimeoutError'), 50),
      /no answer within 50 ms \(timeout\)/,
    );
    assert.match(fetchFailure(fetchFailed('HPE_INVALID_CONSTANT', 'bad'), 50), /not an HTTP answer/);
    assert.doesNotMatch(fetchFailure(fetchFailed('ECONNREFUSED', 'x'), 50), /fetch failed/);
    const badPort = Object.assign(new TypeError('fetch failed'), { cause: new TypeError('bad port') });
    assert.match(fetchFailure(badPort, 50), /fetch refuses to dial this port/);
  });

  it('status and snapshot save say ECONNREFUSED or ENOTFOUND with the address, not "fetch failed"', async () => {
    const refused = await refusedAddress();
    const dir = await mkdtemp(join(tmpdir(), 'nsqd-lookup-errors-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [status, unknown, save] = await Promise.all([
      spawnCli(['status', '-lookupd-http-address', refused]).done,
      spawnCli(['status', '-lookupd-http-address', 'no-such-host.invalid:4161', '-timeout', '3s']).done,
      spawnCli(['snapshot', 'save', '-lookupd-http-address', refused, '-o', join(dir, 'x.snap')]).done,
    ]);
    assert.equal(status.code, 2);
    assert.match(status.stdout, new RegExp(`${refused}.*ECONNREFUSED`));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stdout, /no-such-host\.invalid:4161.*(ENOTFOUND|EAI_AGAIN)/);
    assert.equal(save.code, 1);
    assert.match(save.stderr, new RegExp(`${refused}.*ECONNREFUSED`));
    for (const run of [status, unknown, save]) assert.doesNotMatch(run.stdout + run.stderr, /fetch failed/);
  });

  it('heartbeat pointed at an HTTP port says so and names the flag to use', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const { code, stdout } = await spawnCli([
      'heartbeat',
      '-lookupd-tcp-address',
      lookupd.httpAddress,
      '-count',
      '1',
      '-json',
    ]).done;
    assert.equal(code, 2);
    assert.match(stdout, /reached an HTTP port/);
    assert.match(stdout, /--lookupd-http-address/);
    assert.doesNotMatch(stdout, /1213486160/);
  });
});
