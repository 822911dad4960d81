import assert from 'node:assert/strict';
import { ClosedError } from '../../lib/errors.js';
import { FakeProducerFleet } from '../../lib/tools/fake-producers.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';
import { LIB_DIR, trackResources } from '../support/leak-check.js';

describe('FakeProducerFleet closed while starting', () => {
  const cleanup = useCleanup();
  let lookupd: FakeLookupd;
  let address: string;
  beforeEach(async () => {
    // A lookupd that accepts and never answers IDENTIFY: every producer stays "starting".
    lookupd = await FakeLookupd.start({ onConnection: (c) => c.mute() });
    cleanup(() => lookupd.stop());
    address = lookupd.address;
  });

  function fleet(): FakeProducerFleet {
    return new FakeProducerFleet({
      addresses: [address],
      producers: 5,
      connectConcurrency: 1,
      // Far beyond the test: only close() can end the wait for the IDENTIFY answer.
      readTimeoutMs: 600_000,
    });
  }

  it('start() rejects with a ClosedError before close() resolves, and starts no further producer', async () => {
    const resources = trackResources();
    const producers = fleet();
    const order: string[] = [];
    const accepted = lookupd.waitForConnections(1);
    const starting = producers.start().then(
      () => order.push('start resolved'),
      (error: unknown) => {
        order.push('start rejected');
        return error;
      },
    );
    await accepted;
    await producers.close();
    order.push('close resolved');
    assert.deepEqual(order, ['start rejected', 'close resolved']);
    const error = await starting;
    assert.ok(error instanceof ClosedError, String(error));
    assert.equal((error as ClosedError).code, 'NSQ_ERR_CLOSED');
    assert.match(
      (error as ClosedError).message,
      /fake producer fleet closed while starting \(1 of 5 producers started\)/,
    );
    assert.equal(producers.status().started, 1);
    await assert.rejects(producers.start(), ClosedError, 'a closed fleet does not start again');
    assert.deepEqual(await resources.stop({ createdIn: LIB_DIR }), []);
  });

  it('start() rejects when close() is called in the same turn', async () => {
    const producers = fleet();
    let outcome: unknown = 'still pending';
    const starting = producers.start().then(
      () => {
        outcome = 'resolved';
      },
      (error: unknown) => {
        outcome = error;
      },
    );
    await producers.close();
    assert.ok(outcome instanceof ClosedError, String(outcome));
    await starting;
  });
});
