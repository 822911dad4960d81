import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { normalizeGoFlags } from '../../lib/cli/flags.js';
import { parseLookupdFlags } from '../../lib/cli/lookupd.js';
import { cliBin } from '../support/cli.js';
import { httpCall } from '../support/http.js';
import { V1Client } from '../support/v1-client.js';
import { identifyCommand, nsqdIdentity } from '../support/wire-builder.js';

/** `nsqd-lookup lookupd`: nsqlookupd's flags, log lines and signals, as a child process. */

function run(args: string[]): ChildProcess {
  return spawn(process.execPath, [cliBin(), 'lookupd', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('nsqd-lookup lookupd (CLI)', function () {
  this.timeout(20_000);

  describe('flags', () => {
    it('takes Go-style single-dash flags', () => {
      assert.deepEqual(
        normalizeGoFlags(['-tcp-address=1:2', '-http-address', '3:4', '--x', '-h', '--', '-y']),
        ['--tcp-address=1:2', '--http-address', '3:4', '--x', '-h', '--', '-y'],
      );
    });

    it('parses nsqlookupd’s flags and Go durations', () => {
      const config = parseLookupdFlags([
        '-tcp-address=127.0.0.1:4160',
        '--http-address',
        '127.0.0.1:4161',
        '--broadcast-address=lookupd.example',
        '--inactive-producer-timeout=5m0s',
        '--tombstone-lifetime',
        '1m30s',
        '--log-level=WARN',
      ]);
      assert.deepEqual(config, {
        tcpAddress: '127.0.0.1:4160',
        httpAddress: '127.0.0.1:4161',
        broadcastAddress: 'lookupd.example',
        inactiveProducerTimeoutMs: 300_000,
        tombstoneLifetimeMs: 90_000,
        logLevel: 'warn',
        logPrefix: '[nsqlookupd] ',
      });
      const defaults = parseLookupdFlags([]);
      assert.equal(defaults?.tcpAddress, '0.0.0.0:4160');
      assert.equal(defaults?.httpAddress, '0.0.0.0:4161');
      assert.equal(defaults?.inactiveProducerTimeoutMs, 300_000);
      assert.equal(defaults?.tombstoneLifetimeMs, 45_000);
    });

    it('refuses bad durations, levels and unknown flags', () => {
      assert.throws(() => parseLookupdFlags(['--tombstone-lifetime=45']), /missing unit/);
      assert.throws(() => parseLookupdFlags(['--log-level=loud']), /--log-level must be one of/);
      assert.throws(() => parseLookupdFlags(['--nope']), /nope/);
      assert.throws(() => parseLookupdFlags(['--config=x.toml']), /not supported/);
    });
  });

  it('prints nsqlookupd’s listening lines, serves, and exits 0 on SIGTERM', async () => {
    const child = run(['-tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--tombstone-lifetime=5s']);
    const done = output(child);
    let log = '';
    const addresses = await new Promise<{ tcp: string; http: string }>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk;
        const tcp = /INFO: TCP: listening on (\S+)/.exec(log)?.[1];
        const http = /INFO: HTTP: listening on (\S+)/.exec(log)?.[1];
        if (tcp && http) resolve({ tcp, http });
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${log}`)));
    });
    assert.match(log, /^\[nsqlookupd\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} INFO: nsqlookupd v1\.3\.0 /);
    const client = await V1Client.open(addresses.tcp);
    try {
      await client.write(
        Buffer.concat([Buffer.from('  V1'), identifyCommand(nsqdIdentity()), Buffer.from('REGISTER t1\n')]),
      );
      const frames = await client.texts(2);
      assert.equal(JSON.parse(frames[0]!).tcp_port, Number(addresses.tcp.split(':')[1]));
      assert.equal(frames[1], 'OK');
      const lookup = await httpCall(addresses.http, 'GET', '/lookup?topic=t1');
      assert.equal(JSON.parse(lookup.body).producers[0].broadcast_address, 'broker.example');
    } finally {
      client.destroy();
    }
    child.kill('SIGTERM');
    const { code, stderr } = await done;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /INFO: received SIGTERM, exiting/);
  });

  it('exits 2 on bad flags and 1 when it cannot listen', async () => {
    const bad = await output(run(['--tombstone-lifetime=soon']));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--tombstone-lifetime: invalid duration "soon"/);

    const first = run(['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0']);
    const firstDone = output(first);
    const taken = await new Promise<string>((resolve) => {
      let log = '';
      first.stderr!.on('data', (chunk: Buffer) => {
        log += chunk;
        const tcp = /TCP: listening on (\S+)/.exec(log)?.[1];
        if (tcp) resolve(tcp);
      });
    });
    const clash = await output(run([`--tcp-address=${taken}`, '--http-address=127.0.0.1:0']));
    first.kill('SIGINT');
    assert.equal((await firstDone).code, 0);
    assert.equal(clash.code, 1);
    assert.match(
      clash.stderr,
      /FATAL: failed to instantiate nsqlookupd - listen \(127\.0\.0\.1:\d+\) failed/,
    );
  });

  it('--help prints the help text', async () => {
    const help = await output(run(['--help']));
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: nsqd-lookup lookupd/);
    assert.match(help.stdout, /--inactive-producer-timeout/);
  });
});
