import assert from 'node:assert/strict';
import * as net from 'node:net';
import { portOf } from '../../harness/targets.js';
import { checkBroadcastAddress, type Resolver } from '../../lib/diagnostics/broadcast-check.js';
import { ClosedError } from '../../lib/errors.js';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { useFakeClock } from '../support/fake-clock.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { refusedAddress, UnacceptingListener } from '../support/unreachable.js';
import { eventually } from '../support/wait.js';

/** Fake DNS: no query leaves the machine. */
const resolver: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    localhost: ['127.0.0.1', '::1'],
    'broker.example': ['192.0.2.10'],
    'lookupd.example': ['192.0.2.20'],
    'lookupd-local.example': ['127.0.0.1'],
    'anywhere.example': ['0.0.0.0'],
  };
  const found = table[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return found;
};

const identity = (broadcastAddress: string, tcpPort = 4150, httpPort = 4151) => ({
  broadcastAddress,
  tcpPort,
  httpPort,
  version: '1.3.0',
});

describe('broadcast address check', () => {
  const cleanup = useCleanup();

  it('warns for localhost when a lookupd is on another host, and names the flag to set', async () => {
    const warnings = await checkBroadcastAddress({
      identity: identity('localhost'),
      lookupdAddresses: ['lookupd.example:4160'],
      resolve: resolver,
    });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['BROADCAST_LOOPBACK'],
    );
    assert.match(warnings[0]!.message, /--broadcast-address/);
    assert.match(warnings[0]!.message, /lookupd\.example:4160/);
  });

  it('stays quiet for loopback when every lookupd is local too (a single-host setup)', async () => {
    for (const lookupd of ['127.0.0.1:4160', 'lookupd-local.example:4160', '[::1]:4160']) {
      assert.deepEqual(
        await checkBroadcastAddress({
          identity: identity('localhost'),
          lookupdAddresses: [lookupd],
          resolve: resolver,
        }),
        [],
        lookupd,
      );
    }
  });

  it('warns for a name that does not resolve', async () => {
    const warnings = await checkBroadcastAddress({
      identity: identity('container-3f2a'),
      lookupdAddresses: ['127.0.0.1:4160'],
      resolve: resolver,
    });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['BROADCAST_UNRESOLVABLE'],
    );
    assert.match(warnings[0]!.message, /container-3f2a.*ENOTFOUND/);
  });

  it('warns for the unspecified address, whatever the lookupds', async () => {
    for (const address of ['0.0.0.0', '::', 'anywhere.example']) {
      const warnings = await checkBroadcastAddress({
        identity: identity(address),
        lookupdAddresses: ['127.0.0.1:4160'],
        resolve: resolver,
      });
      assert.deepEqual(
        warnings.map((w) => w.code),
        ['BROADCAST_UNSPECIFIED'],
        address,
      );
    }
  });

  it('stays quiet for a good address', async () => {
    for (const address of ['broker.example', '192.0.2.10', '2001:db8::1']) {
      assert.deepEqual(
        await checkBroadcastAddress({
          identity: identity(address),
          lookupdAddresses: ['lookupd.example:4160', '127.0.0.1:4160'],
          resolve: resolver,
        }),
        [],
        address,
      );
    }
  });

  it('verifyReachable dials the advertised ports and reports the one that does not answer', async () => {
    const listening = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise((resolve) => listening.close(resolve)));
    const closedPort = portOf(await refusedAddress());
    const tcpPort = (listening.address() as net.AddressInfo).port;
    const warnings = await checkBroadcastAddress({
      identity: identity('127.0.0.1', tcpPort, closedPort),
      lookupdAddresses: ['127.0.0.1:4160'],
      verifyReachable: true,
      resolve: resolver,
    });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['BROADCAST_HTTP_UNREACHABLE'],
    );
    assert.match(warnings[0]!.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}.*ECONNREFUSED`));
  });

  it('LookupLoop runs the check at start() and reports through a warning event', async () => {
    const lookupd = await FakeLookupd.start();
    cleanup(() => lookupd.stop());
    const loop = new LookupLoop({
      addresses: [lookupd.address],
      identity: identity('container-3f2a'),
      registry: new Registry(),
      resolve: resolver,
    });
    cleanup(() => loop.close());
    const warned = new Promise((resolve) => loop.once('warning', resolve));
    loop.start();
    assert.equal(((await warned) as { code: string }).code, 'BROADCAST_UNRESOLVABLE');
  });

  describe('a verification dial that never answers', () => {
    let listener: UnacceptingListener;
    let port: number;
    beforeEach(async () => {
      listener = await UnacceptingListener.start();
      cleanup(() => listener.stop());
      port = portOf(listener.address);
    });

    /** Watches a promise without awaiting it. */
    const watch = <T>(promise: Promise<T>) => {
      const seen: { settled: boolean; error?: unknown } = { settled: false };
      promise.then(
        () => {
          seen.settled = true;
        },
        (error: unknown) => {
          seen.settled = true;
          seen.error = error;
        },
      );
      return seen;
    };
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    it("is cut short by its abort signal, with the signal's reason, its timer cleared", async () => {
      const clock = useFakeClock(cleanup);
      const controller = new AbortController();
      const check = watch(
        checkBroadcastAddress({
          identity: identity('127.0.0.1', port, port),
          lookupdAddresses: [],
          verifyReachable: true,
          signal: controller.signal,
        }),
      );
      await eventually(() => clock.countTimers() === 1, 'the dial timer is armed');
      assert.equal(clock.referenced, 0, "the dial timer is unref'd");
      const reason = new Error('stop');
      controller.abort(reason);
      await turn();
      assert.equal(check.settled, true, 'the check settled on abort, with no time advanced');
      assert.equal(check.error, reason);
      assert.equal(clock.countTimers(), 0, 'the dial timer is cleared');
    });

    it('is aborted by LookupLoop.close(): the check rejects with ClosedError', async () => {
      const clock = useFakeClock(cleanup);
      const loop = new LookupLoop({
        addresses: [],
        identity: identity('127.0.0.1', port, port),
        registry: new Registry(),
        verifyReachable: true,
      });
      cleanup(() => loop.close());
      const check = watch(loop.checkBroadcastAddress());
      await eventually(() => clock.countTimers() === 1, 'the dial timer is armed');
      await loop.close();
      await turn();
      assert.equal(check.settled, true, 'the check settled on close(), with no time advanced');
      assert.ok(check.error instanceof ClosedError, String(check.error));
      assert.equal(clock.countTimers(), 0, 'the dial timer is cleared');
      // A check asked for after close() is refused at once.
      await assert.rejects(loop.checkBroadcastAddress(), ClosedError);
    });
  });
});
