import assert from 'node:assert/strict';
import { ConnectionError, HttpCheckError } from '../../lib/errors.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { failureCause } from '../../lib/tools/heartbeat-metrics.js';
import { spawnCli } from '../support/cli.js';
import { type Family, parseExposition } from '../support/exposition.js';
import { refusedAddress } from '../support/unreachable.js';
import { eventually } from '../support/wait.js';

const value = (family: Family | undefined, name: string, labels: Record<string, string>) =>
  family?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
  )?.value;

describe('heartbeat --metrics-address (a Prometheus exporter)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('names each failure by its cause: the errno, the HTTP status, or the catalogue code', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(
      failureCause(new ConnectionError('NSQ_ERR_CONNECT', 'a:1', 'cannot connect', { cause: refused })),
      'ECONNREFUSED',
    );
    assert.equal(failureCause(new HttpCheckError('a:1', 503, 'x')), 'HTTP_503');
    assert.equal(
      failureCause(new ConnectionError('NSQ_ERR_READ_TIMEOUT', 'a:1', 'no answer')),
      'NSQ_ERR_READ_TIMEOUT',
    );
    assert.equal(failureCause('thrown'), 'ERROR');
  });

  it('serves valid exposition text at /metrics: up, PING RTT histogram, failures by cause, the HTTP check; exits 0 on SIGTERM', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanups.push(() => lookupd.close());
    const refused = await refusedAddress();
    const run = spawnCli([
      'heartbeat',
      '-lookupd-tcp-address',
      lookupd.tcpAddress,
      '-lookupd-tcp-address',
      refused,
      '-lookupd-http-address',
      lookupd.httpAddress,
      '-interval',
      '50ms',
      '-metrics-address',
      '127.0.0.1:0',
      '-json',
    ]);
    cleanups.push(() => run.stop());
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      run.child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const match = /serving Prometheus metrics at (http:\/\/\S+\/metrics)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      void run.done.then(({ code }) => reject(new Error(`exited ${code}: ${stderr}`)));
    });

    let families = new Map<string, Family>();
    const scrape = async () => {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      families = parseExposition(await response.text());
    };
    const tcp = { check: 'tcp', address: lookupd.tcpAddress };
    const http = { check: 'http', address: lookupd.httpAddress };
    const down = { check: 'tcp', address: refused };
    await eventually(async () => {
      await scrape();
      const rtt = families.get('nsqd_lookup_heartbeat_rtt_seconds');
      return (
        (value(rtt, 'nsqd_lookup_heartbeat_rtt_seconds_count', tcp) ?? 0) >= 2 &&
        (value(rtt, 'nsqd_lookup_heartbeat_rtt_seconds_count', http) ?? 0) >= 2 &&
        (value(families.get('nsqd_lookup_heartbeat_failures_total'), 'nsqd_lookup_heartbeat_failures_total', {
          ...down,
          cause: 'ECONNREFUSED',
        }) ?? 0) >= 1
      );
    }, 'two answered probes per live target and a refused one');

    const up = families.get('nsqd_lookup_heartbeat_up');
    assert.equal(up?.type, 'gauge');
    assert.deepEqual(
      [tcp, http, down].map((labels) => value(up, 'nsqd_lookup_heartbeat_up', labels)),
      [1, 1, 0],
    );
    assert.equal(families.get('nsqd_lookup_heartbeat_rtt_seconds')?.type, 'histogram');
    assert.equal(families.get('nsqd_lookup_heartbeat_failures_total')?.type, 'counter');
    assert.equal(families.get('nsqd_lookup_heartbeat_probes_total')?.type, 'counter');
    assert.equal(
      value(
        families.get('nsqd_lookup_heartbeat_failures_total'),
        'nsqd_lookup_heartbeat_failures_total',
        tcp,
      ),
      undefined,
      'no failures for the live lookupd',
    );
    assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);

    run.child.kill('SIGTERM');
    const { code } = await run.done;
    assert.equal(code, 0, stderr);
  });

  it('refuses --count with --metrics-address as a usage error (3)', async () => {
    const { code, stderr } = await spawnCli([
      'heartbeat',
      '-lookupd-tcp-address',
      '127.0.0.1:4160',
      '-count',
      '3',
      '-metrics-address',
      '127.0.0.1:0',
    ]).done;
    assert.equal(code, 3);
    assert.match(stderr, /--count cannot be used with --metrics-address/);
  });
});
