import assert from 'node:assert/strict';
import { ClientSockets } from '../../harness/client-sockets.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import {
  Heartbeat,
  type HeartbeatOptions,
  type HeartbeatOutage,
  type HeartbeatSample,
} from '../../lib/tools/heartbeat.js';
import { useFakeClock } from '../support/fake-clock.js';
import { answer, FakeLookupd, startHttpPing } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { LIB_DIR, trackResources } from '../support/leak-check.js';
import { refusedAddress } from '../support/unreachable.js';
import { int32be } from '../support/wire-builder.js';

/** Resolves with the samples of `target` once `n` of them satisfy `accept`. */
function samples(
  hb: Heartbeat,
  target: string,
  n: number,
  accept: (s: HeartbeatSample) => boolean = () => true,
): Promise<HeartbeatSample[]> {
  const seen: HeartbeatSample[] = [];
  return new Promise((resolve) => {
    const listener = (t: string, sample: HeartbeatSample) => {
      if (t !== target || !accept(sample)) return;
      seen.push(sample);
      if (seen.length < n) return;
      hb.off('sample', listener);
      resolve(seen);
    };
    hb.on('sample', listener);
  });
}

function nextOutage(hb: Heartbeat, target: string): Promise<HeartbeatOutage> {
  return new Promise((resolve) => {
    const listener = (t: string, outage: HeartbeatOutage) => {
      if (t !== target) return;
      hb.off('outage', listener);
      resolve(outage);
    };
    hb.on('outage', listener);
  });
}

/** The error code of a failed sample; undefined for an answered one. */
const codeOf = (s: HeartbeatSample | undefined): string | undefined =>
  s && !s.ok ? (s.error as { code?: string }).code : undefined;

const failedWith = (code: string) => (s: HeartbeatSample) => codeOf(s) === code;

describe('Heartbeat (library)', () => {
  const cleanup = useCleanup();
  const heartbeat = (options: HeartbeatOptions): Heartbeat => {
    const hb = new Heartbeat(options);
    cleanup(() => hb.close());
    return hb;
  };

  it('writes the magic and PINGs only, never IDENTIFY, over one connection', async () => {
    const leaks = trackResources();
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const pings = await FakeLookupd.start();
    cleanup(() => pings.stop());
    const pingAddress = pings.address;

    const hb = heartbeat({ tcpAddresses: [address, pingAddress], intervalMs: 20 });
    const states: string[] = [];
    hb.on('state', (target, state, previous) => {
      if (target === `tcp://${address}`) states.push(`${previous}->${state}`);
    });
    assert.deepEqual(hb.targets, [`tcp://${address}`, `tcp://${pingAddress}`]);
    hb.start();
    const [answered] = await Promise.all([
      samples(hb, `tcp://${address}`, 3),
      samples(hb, `tcp://${pingAddress}`, 3),
    ]);
    assert.ok(answered.every((s) => s.ok && s.rttMs >= 0));
    await hb.close();
    assert.deepEqual(await leaks.live({ createdIn: LIB_DIR }), [], 'close() released its sockets and timers');

    assert.ok(lookupd.received.length >= 3, String(lookupd.lines()));
    assert.deepEqual(new Set(lookupd.lines()), new Set(['PING']));
    assert.equal(lookupd.connections.length, 1);
    assert.deepEqual(
      pings.connections.map((c) => c.magic?.toString('latin1')),
      ['  V1'],
    );
    assert.deepEqual(new Set(pings.lines()), new Set(['PING']));
    assert.deepEqual(states, ['connecting->up']);

    const [stats] = hb.stats();
    assert.equal(stats?.state, 'up');
    assert.equal(stats?.failures, 0);
    assert.ok((stats?.successes ?? 0) >= 3);
    assert.equal(stats?.rtt?.samples, stats?.successes);
    assert.ok(stats!.rtt!.minMs <= stats!.rtt!.medianMs && stats!.rtt!.medianMs <= stats!.rtt!.maxMs);
    assert.match(stats?.sparkline ?? '', /^[▁-█]+$/);

    await lookupd.stop();
    await pings.stop();
    assert.deepEqual(await leaks.stop(), []);
  });

  it('stops each target after `count` probes, emits end and resolves finished()', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const hb = heartbeat({ tcpAddresses: [address], intervalMs: 10, count: 3 });
    const ended = new Promise<void>((resolve) => hb.once('end', resolve));
    hb.start();
    await hb.finished();
    await ended;
    assert.equal(hb.stats()[0]?.probes, 3);
    assert.deepEqual(lookupd.lines(), ['PING', 'PING', 'PING']);
  });

  it('checks HTTP GET /ping as a target of its own', async () => {
    const leaks = trackResources();
    const good = await startHttpPing();
    cleanup(() => good.close());
    const bad = await startHttpPing({ status: 500, body: 'NOPE' });
    cleanup(() => bad.close());
    const hb = heartbeat({ httpAddresses: [good.address, bad.address], intervalMs: 20 });
    hb.start();
    const [answered, failed] = await Promise.all([
      samples(hb, `http://${good.address}/ping`, 3),
      samples(hb, `http://${bad.address}/ping`, 1),
    ]);
    assert.ok(answered.every((s) => s.ok));
    assert.equal(failed[0]?.ok, false);
    assert.equal(codeOf(failed[0]), 'NSQ_ERR_HTTP_CHECK');
    assert.match((failed[0] as { error: Error }).error.message, /answered 500 "NOPE"/);
    await hb.close();
    assert.deepEqual(await leaks.live({ createdIn: LIB_DIR }), [], 'close() released its sockets and timers');
    assert.deepEqual(new Set(good.requests), new Set(['GET /ping']));
    assert.deepEqual(
      hb.stats().map((s) => s.state),
      ['up', 'down'],
    );
    await good.close();
    await bad.close();
    assert.deepEqual(await leaks.stop(), []);
  });

  it('marks a refused port down, retries with backoff and reports the outage once it answers', async () => {
    const address = await refusedAddress();
    const target = `tcp://${address}`;
    const hb = heartbeat({ tcpAddresses: [address], intervalMs: 1000, retryMinMs: 20 });
    const down = new Promise((resolve) =>
      hb.on('state', (t, state) => t === target && state === 'down' && resolve(state)),
    );
    const outage = nextOutage(hb, target);
    hb.start();
    await down;
    await samples(hb, target, 3, failedWith('NSQ_ERR_CONNECT'));
    const stats = hb.stats()[0]!;
    assert.equal(stats.state, 'down');
    assert.equal(stats.rtt, null);
    assert.notEqual(stats.downSince, null);

    const server = await FakeLookupd.start({ port: Number(address.split(':')[1]) });
    cleanup(() => server.stop());
    const ended = await outage;
    assert.ok(ended.failures >= 3, String(ended.failures));
    assert.equal(ended.error.code, 'NSQ_ERR_CONNECT');
    assert.ok(ended.durationMs > 0);
    assert.equal(ended.endedAt - ended.startedAt, ended.durationMs);
    const after = hb.stats()[0]!;
    assert.equal(after.state, 'up');
    assert.equal(after.outageCount, 1);
    assert.equal(after.outages[0]?.endedAt, ended.endedAt);
    assert.equal(after.downSince, null);
  });

  it('reconnects after lookupd drops and comes back on the same port', async () => {
    const server = await FakeLookupd.start();
    cleanup(() => server.stop());
    const address = server.address;
    const target = `tcp://${address}`;
    const hb = heartbeat({ tcpAddresses: [address], intervalMs: 20, timeoutMs: 200, retryMinMs: 10 });
    hb.start();
    await samples(hb, target, 2, (s) => s.ok);
    const outage = nextOutage(hb, target);
    await server.crash();
    await samples(hb, target, 2, (s) => !s.ok);
    await server.restart();
    const ended = await outage;
    assert.ok(ended.failures >= 2);
    assert.ok(server.connections.length >= 2, String(server.connections.length));
    assert.equal(hb.stats()[0]?.state, 'up');
  });

  it('times out on a server that never answers, stays down, and close() leaves nothing running', async () => {
    const leaks = trackResources();
    const server = await FakeLookupd.start({ handlers: { PING: answer.silent } });
    cleanup(() => server.stop());
    const address = server.address;
    const target = `tcp://${address}`;
    const hb = heartbeat({ tcpAddresses: [address], intervalMs: 200, timeoutMs: 50, retryMinMs: 10 });
    const sampled: HeartbeatSample[] = [];
    hb.on('sample', (_t, s) => sampled.push(s));
    hb.start();
    const timedOut = await samples(hb, target, 2, failedWith('NSQ_ERR_READ_TIMEOUT'));
    assert.match((timedOut[0] as { error: Error }).error.message, /no complete answer within 50 ms/);
    // Each timeout drops the connection, so every retry dials again.
    await server.waitForConnections(3);
    assert.equal(hb.stats()[0]?.state, 'down');
    assert.ok(sampled.every((s) => !s.ok));
    assert.deepEqual(new Set(server.lines()), new Set(['PING']));

    await hb.close();
    assert.deepEqual(await leaks.live({ createdIn: LIB_DIR }), [], 'close() released its sockets and timers');
    const count = sampled.length;
    await server.stop();
    assert.deepEqual(await leaks.stop(), []);
    assert.equal(sampled.length, count, 'no sample after close()');
  });

  it('--count 3 --timeout 1s ends against a lookupd that trickles its PING answers (fake clock)', async () => {
    const server = await FakeLookupd.start({ handlers: { PING: () => {} } });
    cleanup(() => server.stop());
    const clients = new ClientSockets();
    cleanup(async () => clients.uninstall());
    const clock = useFakeClock(cleanup);
    const hb = heartbeat({ tcpAddresses: [server.address], count: 3, timeoutMs: 1000 });
    const sampled: HeartbeatSample[] = [];
    hb.on('sample', (_t, s) => sampled.push(s));
    let ended = false;
    void hb.finished().then(() => (ended = true));
    hb.start();
    // A body of 1 MiB announced, then one byte every 400 ms: it would take 17 fake days to finish.
    const trickle = Buffer.concat([int32be(1024 * 1024), Buffer.alloc(16, 'x')]);
    const turn = async () => {
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    for (let probe = 1; probe <= 3; probe++) {
      // The first probe is due at once, a retry after at most intervalMs.
      clock.tick(probe === 1 ? 1 : 1000);
      await server.until(() => server.commands('PING').length === probe, `PING ${probe}`);
      const c = server.connections[probe - 1]!;
      const pingedAt = clock.now;
      let sent = 0;
      while (sampled.length < probe && sent < trickle.length) {
        c.write(trickle.subarray(sent, sent + 1));
        sent++;
        await clients.received(c.socket, sent);
        clock.tick(400);
        await turn();
      }
      assert.equal(sampled.length, probe, `probe ${probe} ended while its answer was still trickling`);
      assert.equal(codeOf(sampled[probe - 1]), 'NSQ_ERR_READ_TIMEOUT');
      assert.equal(sent, 3, 'bytes at +0, +400 and +800 ms did not push the deadline past +1000 ms');
      assert.equal(clock.now - pingedAt, 1200);
    }
    await hb.finished();
    assert.equal(ended, true);
    assert.equal(hb.stats()[0]?.probes, 3);
    assert.equal(hb.stats()[0]?.state, 'down');
    assert.equal(server.connections.length, 3, 'each timed-out probe dropped its connection');
  });

  it('close() is idempotent, resolves finished() and stops a heartbeat that never started', async () => {
    const address = await refusedAddress();
    const hb = new Heartbeat({ tcpAddresses: [address] });
    await Promise.all([hb.close(), hb.close()]);
    await hb.finished();
    hb.start();
    assert.equal(hb.stats()[0]?.probes, 0);
  });

  it('validates its options', () => {
    assert.throws(() => new Heartbeat({}), InvalidArgumentError);
    assert.throws(() => new Heartbeat({ tcpAddresses: ['nope'] }), InvalidArgumentError);
    assert.throws(() => new Heartbeat({ tcpAddresses: ['a:1'], intervalMs: 0 }), /intervalMs/);
    assert.throws(() => new Heartbeat({ tcpAddresses: ['a:1'], count: 1.5 }), /count/);
  });
});
