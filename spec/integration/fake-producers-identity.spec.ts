import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../lib/errors.js';
import {
  FakeProducerFleet,
  type FakeProducerSpec,
  type FakeProducersOptions,
  startFakeProducers,
} from '../../lib/tools/fake-producers.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';

const GOOD: FakeProducerSpec = {
  identity: {
    broadcastAddress: 'good.test',
    hostname: 'good',
    tcpPort: 4150,
    httpPort: 4151,
    version: '1.3.0',
  },
  registrations: [{ topic: 'orders', channel: 'billing' }],
};

describe('FakeProducerFleet refuses bad identities at construction', () => {
  const cleanup = useCleanup();
  // Counts connections: a refused fleet must not have dialled anyone.
  let lookupd: FakeLookupd;
  let address: string;
  beforeEach(async () => {
    lookupd = await FakeLookupd.start({ onConnection: (c) => c.mute() });
    cleanup(() => lookupd.stop());
    address = lookupd.address;
  });

  const refusal = (message: RegExp) => (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.code, 'NSQ_ERR_INVALID_ARGUMENT');
    assert.match(error.message, message);
    return true;
  };

  it('an explicit producer with port 0 or 70000, an empty broadcast address or version, naming the producer', async () => {
    const cases: Array<[Partial<FakeProducerSpec['identity']>, RegExp]> = [
      [{ tcpPort: 0 }, /^specs\[2\]\.identity\.tcpPort must be an integer port from 1 to 65535, got 0$/],
      [
        { httpPort: 70000 },
        /^specs\[2\]\.identity\.httpPort must be an integer port from 1 to 65535, got 70000$/,
      ],
      [
        { broadcastAddress: '' },
        /^specs\[2\]\.identity\.broadcastAddress must be a non-empty string, got ""$/,
      ],
      [{ version: '' }, /^specs\[2\]\.identity\.version must be a non-empty string, got ""$/],
    ];
    for (const [change, message] of cases) {
      // The bad one last: the two before it would have connected had it been found only at start().
      const options: FakeProducersOptions = {
        addresses: [address],
        specs: [GOOD, GOOD, { ...GOOD, identity: { ...GOOD.identity, ...change } }],
      };
      assert.throws(() => new FakeProducerFleet(options), refusal(message));
      await assert.rejects(startFakeProducers(options), refusal(message));
    }
    assert.equal(lookupd.connections.length, 0, 'no producer connected');
  });

  it('fleet options that would generate a bad identity, naming the option', async () => {
    const cases: Array<[Partial<FakeProducersOptions>, RegExp]> = [
      [{ tcpPortBase: 0 }, /^tcpPortBase must be an integer port from 1 to 65535, got 0$/],
      [{ tcpPortBase: 70000 }, /^tcpPortBase must be an integer port from 1 to 65535, got 70000$/],
      [{ httpPortBase: 70000 }, /^httpPortBase must be an integer port from 1 to 65535, got 70000$/],
      [{ broadcastAddressPattern: '' }, /^broadcastAddressPattern must be a non-empty string, got ""$/],
      [{ version: '' }, /^version must be a non-empty string, got ""$/],
      [{ connectConcurrency: 0 }, /^connectConcurrency must be an integer >= 1, got 0$/],
      [{ pingIntervalMs: 0 }, /^pingIntervalMs must be a positive number, got 0$/],
    ];
    for (const [change, message] of cases) {
      const options: FakeProducersOptions = { addresses: [address], producers: 3, ...change };
      assert.throws(() => new FakeProducerFleet(options), refusal(message));
      await assert.rejects(startFakeProducers(options), refusal(message));
    }
    assert.equal(lookupd.connections.length, 0, 'no producer connected');
  });
});
