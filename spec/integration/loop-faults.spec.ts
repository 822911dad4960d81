import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Fault, FaultProxy } from '../../harness/fault-proxy.js';
import { expectedRegistrations, producerRegistrations } from '../../harness/lookupd-view.js';
import { LOOKUPD_TARGETS, portOf, type RunningLookupd } from '../../harness/targets.js';
import { LookupLoop } from '../../lib/loop/lookup-loop.js';
import { Registry } from '../../lib/registry/registry.js';
import { useCleanup } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { eventually } from '../support/wait.js';

const GARBAGE = Buffer.from([0x7f, 0xff, 0xff, 0xff]);

const FAULTS: Fault[] = [
  { type: 'refuse' },
  { type: 'silent' },
  { type: 'delay', ms: 20 },
  { type: 'cut-mid-frame' },
  { type: 'reset' },
  { type: 'garbage', bytes: GARBAGE },
];

function faultName(fault: Fault): string {
  return fault.type === 'delay' ? `delay ${fault.ms} ms` : fault.type;
}

for (const target of LOOKUPD_TARGETS) {
  describe(`LookupLoop under faults (${target.name})`, () => {
    const cleanup = useCleanup();

    async function setup(registry: Registry) {
      const proxied = await target.start();
      const direct = await target.start();
      const servers = { proxied, direct };
      cleanup(() => servers.proxied.close());
      cleanup(() => servers.direct.close());
      const proxy = await FaultProxy.start(proxied.tcpAddress);
      cleanup(() => proxy.stop());
      const loop = new LookupLoop({
        addresses: [proxy.address, direct.tcpAddress],
        identity: IDENTITY,
        registry,
        readTimeoutMs: 250,
        dialTimeoutMs: 250,
        reconnect: { initialDelayMs: 5, maxDelayMs: 50 },
      });
      cleanup(() => loop.close());
      loop.start();
      await eventually(() => loop.inSync, 'both peers in sync at start');
      return { servers, proxy, loop };
    }

    /**
     * After the fault ends, the loop must get back in sync and every lookupd must hold exactly the
     * registry. Both are re-checked until they hold together: a fault can still be travelling when the
     * loop last looked (an RST not yet read, a lookupd still dropping the old connection's producer).
     */
    async function assertConverged(
      loop: LookupLoop,
      lookupds: RunningLookupd[],
      registry: Registry,
      context: string,
    ) {
      const expected = expectedRegistrations(registry);
      let last = '';
      const converged = async () => {
        if (!loop.inSync) {
          last = `loop not in sync: ${JSON.stringify(loop.stats().map((s) => [s.address, s.state, s.lastError?.code]))}`;
          return false;
        }
        for (const lookupd of lookupds) {
          const actual = await producerRegistrations(lookupd.httpAddress, IDENTITY);
          if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            last = `${lookupd.tcpAddress} holds ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
            return false;
          }
        }
        return true;
      };
      try {
        await eventually(converged, `convergence after ${context}`, { timeoutMs: 10_000 });
      } catch (error) {
        throw new Error(`${(error as Error).message}; last seen: ${last}`);
      }
      await loop.settled();
      for (const lookupd of lookupds) {
        assert.deepEqual(
          await producerRegistrations(lookupd.httpAddress, IDENTITY),
          expected,
          `${lookupd.tcpAddress}`,
        );
      }
    }

    for (const fault of FAULTS) {
      it(`converges after a ${faultName(fault)} fault with changes made during it`, async () => {
        const registry = new Registry();
        for (let i = 0; i < 40; i++) registry.addChannel(`t${i % 7}`, `c${i}`);
        const { servers, proxy, loop } = await setup(registry);
        await proxy.setFault(fault);
        if (fault.type === 'refuse') await proxy.dropAll();
        registry.addChannel('during', 'fault');
        registry.removeTopic('t3');
        registry.removeChannel('t1', 'c1');
        registry.addTopic('bare');
        // The healthy lookupd is never held up by the faulty one.
        await eventually(
          async () =>
            JSON.stringify(await producerRegistrations(servers.direct.httpAddress, IDENTITY)) ===
            JSON.stringify(expectedRegistrations(registry)),
          'the direct lookupd follows the registry during the fault',
        );
        await proxy.setFault({ type: 'pass' });
        await assertConverged(loop, [servers.proxied, servers.direct], registry, faultName(fault));
      });
    }

    it('converges after lookupd restarts on the same port, with changes while it was down', async () => {
      const registry = new Registry([{ topic: 'a', channel: 'x' }]);
      const { servers, loop } = await setup(registry);
      const ports = {
        tcpPort: portOf(servers.direct.tcpAddress),
        httpPort: portOf(servers.direct.httpAddress),
      };
      await servers.direct.close();
      registry.addChannel('b', 'y');
      registry.removeChannel('a', 'x');
      servers.direct = await target.start(ports);
      await assertConverged(loop, [servers.proxied, servers.direct], registry, 'a restart');
    });

    it('converges for any interleaving of registry changes, faults and restarts (property)', async function () {
      this.timeout(120_000);
      const name = fc.constantFrom('t0', 't1', 't2', 't3#ephemeral');
      const channel = fc.constantFrom('c0', 'c1', 'c2#ephemeral');
      const op = fc.oneof(
        fc.record({ kind: fc.constant('addChannel' as const), topic: name, channel }),
        fc.record({ kind: fc.constant('addTopic' as const), topic: name }),
        fc.record({ kind: fc.constant('removeChannel' as const), topic: name, channel }),
        fc.record({ kind: fc.constant('removeTopic' as const), topic: name }),
        fc.record({ kind: fc.constant('fault' as const), fault: fc.constantFrom(...FAULTS) }),
        fc.record({ kind: fc.constant('heal' as const) }),
        fc.record({ kind: fc.constant('restart' as const) }),
        fc.record({ kind: fc.constant('settle' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const registry = new Registry([{ topic: 't0', channel: 'c0' }]);
          const { servers, proxy, loop } = await setup(registry);
          try {
            for (const o of ops) {
              switch (o.kind) {
                case 'addChannel':
                  registry.addChannel(o.topic, o.channel);
                  break;
                case 'addTopic':
                  registry.addTopic(o.topic);
                  break;
                case 'removeChannel':
                  registry.removeChannel(o.topic, o.channel);
                  break;
                case 'removeTopic':
                  registry.removeTopic(o.topic);
                  break;
                case 'fault':
                  await proxy.setFault(o.fault);
                  break;
                case 'heal':
                  await proxy.setFault({ type: 'pass' });
                  break;
                case 'restart': {
                  const ports = {
                    tcpPort: portOf(servers.direct.tcpAddress),
                    httpPort: portOf(servers.direct.httpAddress),
                  };
                  await servers.direct.close();
                  servers.direct = await target.start(ports);
                  break;
                }
                case 'settle':
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  break;
              }
            }
            await proxy.setFault({ type: 'pass' });
            await assertConverged(loop, [servers.proxied, servers.direct], registry, JSON.stringify(ops));
          } finally {
            await cleanup.run();
          }
        }),
        { numRuns: target.name.includes('real') ? 8 : 15, endOnFailure: true },
      );
    });
  });
}
