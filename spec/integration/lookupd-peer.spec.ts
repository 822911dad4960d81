import { strict as assert } from 'node:assert';
import { hostname as osHostname } from 'node:os';
import { NSQLOOKUPD_BIN, startRealLookupd } from '../../harness/oracle.js';
import { portOf } from '../../harness/targets.js';
import { LookupdError } from '../../lib/errors.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { LookupPeer } from '../../lib/peer/lookup-peer.js';
import { useCleanup } from '../support/harness.js';
import { getJson } from '../support/http.js';
import { eventually } from '../support/wait.js';

/** LookupPeer (the nsqd side) against the embedded lookupd, and against the real one when available. */

interface Server {
  tcpAddress: string;
  httpAddress: string;
  hostname: string;
  broadcastAddress: string;
  close(): Promise<void>;
}

interface Target {
  name: string;
  start(ports?: { tcpPort: number; httpPort: number }): Promise<Server>;
}

const TARGETS: Target[] = [
  {
    name: 'embedded lookupd',
    async start(ports) {
      const server = await startLookupd({
        tcpAddress: `127.0.0.1:${ports?.tcpPort ?? 0}`,
        httpAddress: `127.0.0.1:${ports?.httpPort ?? 0}`,
        broadcastAddress: 'lookupd.example',
        hostname: 'lookupd-host',
      });
      return server;
    },
  },
];
if (NSQLOOKUPD_BIN) {
  TARGETS.push({
    name: 'real nsqlookupd',
    async start(ports) {
      const real = await startRealLookupd({ ...ports, extraArgs: ['--broadcast-address=lookupd.example'] });
      return { ...real, hostname: osHostname(), broadcastAddress: 'lookupd.example' };
    },
  });
}

const BROKER = {
  broadcastAddress: 'broker.example',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
  hostname: 'broker-host',
};

interface LookupReply {
  channels: string[];
  producers: {
    remote_address: string;
    broadcast_address: string;
    tcp_port: number;
    http_port: number;
    hostname: string;
  }[];
}
interface NodesReply {
  producers: { broadcast_address: string; topics: string[]; tombstones: boolean[] }[];
}

for (const target of TARGETS) {
  describe(`LookupPeer against the ${target.name}`, function () {
    this.timeout(15_000);
    let server: Server;
    const cleanup = useCleanup();
    const peerFor = (address: string, options: ConstructorParameters<typeof LookupPeer>[1] = {}) => {
      const peer = new LookupPeer(address, options);
      cleanup(() => peer.close());
      return peer;
    };

    beforeEach(async () => {
      server = await target.start();
      cleanup(() => server.close());
    });

    it('IDENTIFY answers with the lookupd’s own ports, version and addresses', async () => {
      const peer = peerFor(server.tcpAddress);
      const info = await peer.identify(BROKER);
      assert.deepEqual(info, {
        tcpPort: portOf(server.tcpAddress),
        httpPort: portOf(server.httpAddress),
        version: '1.3.0',
        broadcastAddress: server.broadcastAddress,
        hostname: server.hostname,
      });
      const nodes = await getJson<NodesReply>(server.httpAddress, '/nodes');
      assert.deepEqual(
        nodes.producers.map((p) => p.broadcast_address),
        ['broker.example'],
      );
    });

    it('REGISTER and UNREGISTER show in /lookup, /channels, /topics and /nodes', async () => {
      const peer = peerFor(server.tcpAddress);
      await peer.identify(BROKER);
      await peer.register('orders', 'billing');
      await peer.register('orders', 'audit');
      await peer.register('payments');

      const lookup = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=orders');
      assert.deepEqual(lookup.channels.sort(), ['audit', 'billing']);
      assert.equal(lookup.producers.length, 1);
      assert.equal(lookup.producers[0]!.broadcast_address, 'broker.example');
      assert.equal(lookup.producers[0]!.tcp_port, 4150);
      assert.equal(lookup.producers[0]!.http_port, 4151);
      assert.equal(lookup.producers[0]!.hostname, 'broker-host');
      const nodes = await getJson<NodesReply>(server.httpAddress, '/nodes');
      assert.deepEqual(nodes.producers[0]!.topics.sort(), ['orders', 'payments']);

      await peer.unregister('orders', 'audit');
      const afterChannel = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=orders');
      assert.deepEqual(afterChannel.channels.sort(), ['audit', 'billing'], 'channel names stay listed');
      assert.equal(afterChannel.producers.length, 1, 'still a producer of the topic');

      await peer.unregister('orders');
      const afterTopic = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=orders');
      assert.deepEqual(afterTopic.producers, []);
      const topics = await getJson<{ topics: string[] }>(server.httpAddress, '/topics');
      assert.deepEqual(topics.topics.sort(), ['orders', 'payments']);
    });

    it('ephemeral channels disappear with their last producer', async () => {
      const peer = peerFor(server.tcpAddress);
      await peer.identify(BROKER);
      await peer.register('orders', 'tail#ephemeral');
      const before = await getJson<{ channels: string[] }>(server.httpAddress, '/channels?topic=orders');
      assert.deepEqual(before.channels, ['tail#ephemeral']);
      await peer.unregister('orders', 'tail#ephemeral');
      const after = await getJson<{ channels: string[] }>(server.httpAddress, '/channels?topic=orders');
      assert.deepEqual(after.channels, []);
    });

    it('PING is answered before and after IDENTIFY', async () => {
      const peer = peerFor(server.tcpAddress);
      await peer.ping();
      await peer.identify(BROKER);
      await peer.ping();
      assert.equal(peer.state, 'connected');
    });

    it('E_BAD_TOPIC surfaces as a LookupdError, and lookupd drops the connection and the producer', async () => {
      const peer = peerFor(server.tcpAddress);
      await peer.identify(BROKER);
      await peer.register('kept');
      const disconnected = new Promise((resolve) => peer.once('disconnect', resolve));
      const error = await peer.command(Buffer.from('REGISTER bad/name\n')).then(
        () => assert.fail('REGISTER bad/name was accepted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof LookupdError, `got ${String(error)}`);
      assert.equal(error.code, 'E_BAD_TOPIC');
      assert.equal(error.description, "REGISTER topic name 'bad/name' is not valid");
      await disconnected;
      let nodes!: NodesReply;
      await eventually(
        async () => {
          nodes = await getJson<NodesReply>(server.httpAddress, '/nodes');
          return nodes.producers.length === 0;
        },
        'the refused producer to leave /nodes',
        { timeoutMs: 3000 },
      );
      assert.deepEqual(nodes.producers, []);
      const lookup = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=kept');
      assert.deepEqual(lookup, { channels: [], producers: [] }, 'the topic outlives its producer');
    });

    it('REGISTER before IDENTIFY is E_INVALID', async () => {
      const peer = peerFor(server.tcpAddress);
      await assert.rejects(peer.register('orders'), (e: unknown) => {
        assert.ok(e instanceof LookupdError);
        assert.equal(e.code, 'E_INVALID');
        assert.equal(e.description, 'client must IDENTIFY');
        return true;
      });
    });

    it('a closed peer leaves /lookup and /nodes; topic and channel names stay', async () => {
      const peer = peerFor(server.tcpAddress);
      const other = peerFor(server.tcpAddress);
      await peer.identify(BROKER);
      await peer.register('orders', 'billing');
      await other.identify({ ...BROKER, broadcastAddress: 'other.example' });
      await other.register('orders');
      await peer.close();
      let lookup!: LookupReply;
      await eventually(
        async () => {
          lookup = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=orders');
          return lookup.producers.length === 1;
        },
        'the closed peer to leave /lookup',
        { timeoutMs: 3000 },
      );
      assert.deepEqual(
        lookup.producers.map((p) => p.broadcast_address),
        ['other.example'],
      );
      assert.deepEqual(lookup.channels, ['billing']);
      const nodes = await getJson<NodesReply>(server.httpAddress, '/nodes');
      assert.deepEqual(
        nodes.producers.map((p) => p.broadcast_address),
        ['other.example'],
      );
    });

    it('1000 pipelined REGISTERs are all answered and registered', async () => {
      const peer = peerFor(server.tcpAddress);
      await peer.identify(BROKER);
      await Promise.all(Array.from({ length: 1000 }, (_, i) => peer.register(`topic-${i}`, 'c')));
      const topics = await getJson<{ topics: string[] }>(server.httpAddress, '/topics');
      assert.equal(topics.topics.length, 1000);
    });

    it('reconnects to a lookupd restarted on the same ports and re-registers from onConnect', async () => {
      const ports = { tcpPort: portOf(server.tcpAddress), httpPort: portOf(server.httpAddress) };
      const peer = peerFor(server.tcpAddress, {
        onConnect: async (p) => {
          await p.identify(BROKER);
          await p.register('orders', 'billing');
        },
      });
      await peer.connect();
      const disconnected = new Promise((resolve) => peer.once('disconnect', resolve));
      await server.close();
      await disconnected;
      server = await target.start(ports);
      await peer.ping();
      const lookup = await getJson<LookupReply>(server.httpAddress, '/lookup?topic=orders');
      assert.deepEqual(
        lookup.producers.map((p) => p.broadcast_address),
        ['broker.example'],
      );
      assert.deepEqual(lookup.channels, ['billing']);
    });
  });
}
