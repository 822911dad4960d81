import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Counter, Registry as MetricsRegistry } from 'prom-client';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { createLookupMetrics } from '../../lib/metrics.js';
import { Registry } from '../../lib/registry/registry.js';
import { parseExposition } from '../support/exposition.js';
import { useFakeClock } from '../support/fake-clock.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { refusedAddress } from '../support/unreachable.js';
import { nextLoopEvent } from '../support/wait.js';

describe('Prometheus metrics', () => {
  const cleanup = useCleanup();

  it('exposes peers by state, PING round trips, commands and sync, in valid exposition text', async () => {
    const up = await FakeLookupd.start();
    cleanup(() => up.stop());
    const upAddress = up.address;
    const downAddress = await refusedAddress();
    const clock = useFakeClock(cleanup, ['setInterval', 'clearInterval']);
    const registry = new Registry([
      { topic: 't', channel: 'a' },
      { topic: 't', channel: 'b' },
      { topic: 'u' },
    ]);
    const loop = new LookupLoop({
      addresses: [upAddress, downAddress],
      identity: IDENTITY,
      registry,
      pingIntervalMs: 1000,
    });
    cleanup(() => loop.close());
    const metrics = createLookupMetrics(loop);
    cleanup(() => metrics.dispose());
    const connected = nextLoopEvent(loop.events({ address: upAddress }), 'connected');
    loop.start();
    await connected;
    await loop.settled();
    for (let i = 0; i < 3; i++) {
      const pinged = nextLoopEvent(loop.events({ address: upAddress }), 'ping');
      clock.tick(1000);
      await pinged;
    }

    const families = parseExposition(await metrics.metrics());
    const value = (name: string, labels: Record<string, string>) =>
      families
        .get(name)
        ?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && s.name === name)
        ?.value;
    assert.equal(families.get('nsqd_lookup_peers')?.type, 'gauge');
    assert.equal(value('nsqd_lookup_peers', { state: 'connected' }), 1);
    assert.equal(
      (value('nsqd_lookup_peers', { state: 'disconnected' }) ?? 0) +
        (value('nsqd_lookup_peers', { state: 'connecting' }) ?? 0),
      1,
    );
    assert.equal(value('nsqd_lookup_registrations_expected', { address: upAddress }), 3);
    assert.equal(value('nsqd_lookup_registrations_acknowledged', { address: upAddress }), 3);
    assert.equal(value('nsqd_lookup_in_sync', { address: upAddress }), 1);
    assert.equal(value('nsqd_lookup_in_sync', { address: downAddress }), 0);
    // IDENTIFY, 3 REGISTERs, 3 PINGs.
    assert.equal(families.get('nsqd_lookup_commands_sent_total')?.type, 'counter');
    assert.equal(
      families.get('nsqd_lookup_commands_sent_total')?.samples.find((s) => s.labels.address === upAddress)
        ?.value,
      7,
    );
    const histogram = families.get('nsqd_lookup_ping_rtt_seconds');
    assert.equal(histogram?.type, 'histogram');
    const count = histogram?.samples.find((s) => s.name.endsWith('_count') && s.labels.address === upAddress);
    assert.equal(count?.value, 3);

    // The same text over HTTP, with the exposition content type.
    const server = http.createServer(metrics.handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as import('node:net').AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    parseExposition(await response.text());
  });

  it("dispose() on a shared prom-client registry removes only this loop's metrics", async () => {
    const shared = new MetricsRegistry();
    const requests = new Counter({ name: 'app_requests_total', help: "the app's own", registers: [shared] });
    requests.inc(5);
    const loop = new LookupLoop({ addresses: [], identity: IDENTITY, registry: new Registry() });
    cleanup(() => loop.close());
    const metrics = createLookupMetrics(loop, { registry: shared });
    const ours = shared
      .getMetricsAsArray()
      .map((metric) => metric.name)
      .filter((name) => name.startsWith('nsqd_lookup_'));
    assert.ok(ours.length > 0);

    metrics.dispose();

    assert.deepEqual(
      shared.getMetricsAsArray().map((metric) => metric.name),
      ['app_requests_total'],
    );
    const families = parseExposition(await shared.metrics());
    assert.equal(families.get('app_requests_total')?.samples[0]?.value, 5);
  });

  it('takes one stats snapshot per scrape, shared by every metric, and a fresh one for the next', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const address = lookupd.address;
    const loop = new LookupLoop({
      addresses: [address],
      identity: IDENTITY,
      registry: new Registry([{ topic: 't', channel: 'a' }]),
    });
    cleanup(() => loop.close());
    const metrics = createLookupMetrics(loop);
    cleanup(() => metrics.dispose());
    const connected = nextLoopEvent(loop.events({ address }), 'connected');
    loop.start();
    await connected;
    await loop.settled();
    let snapshots = 0;
    for (const method of ['stats', 'status'] as const) {
      const original = loop[method].bind(loop) as () => never;
      loop[method] = () => {
        snapshots++;
        return original();
      };
    }

    const first = parseExposition(await metrics.registry.metrics());
    assert.equal(snapshots, 1);
    assert.equal(first.get('nsqd_lookup_in_sync')?.samples[0]?.value, 1);
    await metrics.registry.metrics();
    assert.equal(snapshots, 2);
  });

  it('the exposition reader rejects invalid text (so the check above can fail)', () => {
    assert.throws(() => parseExposition('# TYPE x gauge\nx{a="1"} 1'), /newline/);
    assert.throws(() => parseExposition('x 1\n'), /without a TYPE/);
    assert.throws(() => parseExposition('# TYPE x gauge\nx{a=1} 1\n'), /label/);
    assert.throws(() => parseExposition('# TYPE 1x gauge\n'), /metric name/);
    assert.throws(() => parseExposition('# TYPE x gauge\n# TYPE x counter\n'), /twice/);
    assert.throws(
      () =>
        parseExposition(
          '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
        ),
      /cumulative/,
    );
  });
});
