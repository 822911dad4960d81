/**
 * Fake producers that serve: each is a small nsqd on its own 127.0.0.1 ports, advertising those, so
 * what lookupd hands out can be dialled; what is done to a fake over its HTTP API reaches lookupd. And
 * the registration-only mode, whose advertised addresses refuse at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import { LookupdHttpClient } from '../../lib/http/lookupd-http-client.js';
import { registrationOnlyPorts } from '../../lib/tools/fake-producer-specs.js';
import { type FakeProducerFleet, startFakeProducers } from '../../lib/tools/fake-producers.js';
import { useCleanup } from '../support/harness.js';
import { eventually } from '../support/wait.js';

for (const target of LOOKUPD_TARGETS) {
  describe(`fake producers against the ${target.name}`, () => {
    const cleanup = useCleanup();
    let lookupd: RunningLookupd;
    let http: LookupdHttpClient;
    beforeEach(async () => {
      lookupd = await target.start();
      cleanup(() => lookupd.close());
      http = new LookupdHttpClient(lookupd.httpAddress);
    });

    const fleetOf = async (options: Partial<Parameters<typeof startFakeProducers>[0]>) => {
      const fleet = await startFakeProducers({
        addresses: [lookupd.tcpAddress],
        pingIntervalMs: 60_000,
        ...options,
      });
      cleanup(() => fleet.close());
      await fleet.settled();
      return fleet;
    };

    it('serve by default: lookupd lists 127.0.0.1 and the ports each fake listens on, which answer as nsqd', async () => {
      const fleet = await fleetOf({ producers: 3, topics: 1, channels: 2 });
      const nodes = await http.nodes();
      assert.equal(nodes.length, 3);
      for (let i = 0; i < 3; i++) {
        const broker = fleet.broker(i)!;
        const tcpPort = Number(broker.tcpAddress.split(':')[1]);
        const httpPort = Number(broker.httpAddress.split(':')[1]);
        const node = nodes.find((n) => n.http_port === httpPort);
        assert.ok(node, `lookupd lists producer ${i} on its HTTP port ${httpPort}`);
        assert.deepEqual(
          [node.broadcast_address, node.tcp_port, node.hostname],
          ['127.0.0.1', tcpPort, `fake-nsqd-${i}`],
        );
        const base = `http://127.0.0.1:${httpPort}`;
        assert.equal(await (await fetch(`${base}/ping`)).text(), 'OK');
        const info = (await (await fetch(`${base}/info`)).json()) as Record<string, unknown>;
        assert.deepEqual(
          [info.tcp_port, info.http_port, info.hostname],
          [tcpPort, httpPort, `fake-nsqd-${i}`],
        );
        const stats = (await (await fetch(`${base}/stats?format=json&topic=topic-0`)).json()) as {
          topics: Array<{ topic_name: string; channels: Array<{ channel_name: string }> }>;
        };
        assert.deepEqual(
          stats.topics.map((t) => [t.topic_name, t.channels.map((c) => c.channel_name)]),
          [['topic-0', ['channel-0', 'channel-1']]],
        );
        // Its V2 port takes connections (the broker specs cover what it says).
        const socket = net.connect(tcpPort, '127.0.0.1');
        cleanup(() => socket.destroy());
        await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      }
      assert.equal(fleet.status().serving, 3);
    });

    it("an action on a fake's HTTP API changes what it registers: the lookupd follows", async () => {
      const fleet = await fleetOf({ producers: 2, topics: 1, channels: 1 });
      const victim = fleet.broker(1)!;
      const deleted = await fetch(`http://${victim.httpAddress}/topic/delete?topic=topic-0`, {
        method: 'POST',
      });
      assert.equal(deleted.status, 200);
      const created = await fetch(`http://${victim.httpAddress}/channel/create?topic=fresh&channel=c`, {
        method: 'POST',
      });
      assert.equal(created.status, 404, 'the topic must exist first');
      assert.equal(
        (await fetch(`http://${victim.httpAddress}/topic/create?topic=fresh`, { method: 'POST' })).status,
        200,
      );
      await eventually(async () => {
        const producers = await http.lookup('topic-0').catch(() => undefined);
        const fresh = await http.lookup('fresh').catch(() => undefined);
        return (
          producers?.producers.length === 1 &&
          producers.producers[0]!.hostname === 'fake-nsqd-0' &&
          fresh?.producers.length === 1 &&
          fresh.producers[0]!.hostname === 'fake-nsqd-1'
        );
      }, 'lookupd lists topic-0 on fake 0 only and fresh on fake 1');
      assert.deepEqual([...fleet.registry(1)!.registrations()], [{ topic: 'fresh' }]);
      await fleet.settled();
      const status = fleet.status();
      assert.equal(status.registrationsAcked, status.registrationsExpected);
    });

    it('--registration-only: nothing listens, and the advertised 127.0.0.1 ports refuse at once', async () => {
      const fleet = await fleetOf({ producers: 2, registrationOnly: true });
      assert.equal(fleet.broker(0), undefined);
      assert.equal(fleet.status().serving, 0);
      const nodes = (await http.nodes()).sort((a, b) => a.tcp_port - b.tcp_port);
      const { tcpPortBase, httpPortBase } = registrationOnlyPorts(2);
      assert.deepEqual(
        nodes.map((n) => [n.broadcast_address, n.tcp_port, n.http_port]),
        [
          ['127.0.0.1', tcpPortBase, httpPortBase],
          ['127.0.0.1', tcpPortBase + 1, httpPortBase + 1],
        ],
      );
      const refused = await new Promise<string | undefined>((resolve) => {
        const socket = net.connect(nodes[0]!.tcp_port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      });
      assert.equal(refused, 'ECONNREFUSED');
    });

    it('verify() counts acknowledged registrations a lookupd dropped on its own (nsqadmin deleting a topic)', async () => {
      const fleet: FakeProducerFleet = await fleetOf({
        producers: 3,
        topics: 2,
        channels: 1,
        registrationOnly: true,
        lookupdHttpAddresses: [lookupd.httpAddress],
      });
      assert.equal(await fleet.verify(), 0);
      assert.equal(fleet.status().verified, true);
      // What nsqadmin's delete does to lookupd: the topic and its channels go, the fakes are not told.
      const deleted = await fetch(`http://${lookupd.httpAddress}/topic/delete?topic=topic-1`, {
        method: 'POST',
      });
      assert.equal(deleted.status, 200);
      assert.equal(await fleet.verify(), 3, 'topic-1/channel-0 of each of the 3 producers');
      const status = fleet.status();
      assert.equal(status.registrationsDropped, 3);
      assert.equal(status.registrationsAcked, status.registrationsExpected, 'still all acknowledged');
    });
  });
}

describe('registration-only default ports', () => {
  it('TCP 10000+i and HTTP 20000+i below the ephemeral range, else packed from 1024', () => {
    assert.deepEqual(registrationOnlyPorts(10_000, 32768), { tcpPortBase: 10_000, httpPortBase: 20_000 });
    assert.deepEqual(registrationOnlyPorts(10_001, 32768), { tcpPortBase: 1024, httpPortBase: 11_025 });
    // A kernel whose range starts low: 5,000 producers need 20000-24999 for HTTP, above 24000.
    assert.deepEqual(registrationOnlyPorts(5000, 24_000), { tcpPortBase: 1024, httpPortBase: 6024 });
    assert.deepEqual(registrationOnlyPorts(3000, 24_000), { tcpPortBase: 10_000, httpPortBase: 20_000 });
  });
});

describe('a serving fake that cannot listen', () => {
  const cleanup = useCleanup();
  it('fails start() with the listen error, and the fakes started before it are closed', async () => {
    const lookupd = await LOOKUPD_TARGETS[0]!.start();
    cleanup(() => lookupd.close());
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise((resolve) => taken.close(resolve)));
    const { port } = taken.address() as net.AddressInfo;
    // Producer 2's TCP port is the taken one.
    const options = {
      addresses: [lookupd.tcpAddress],
      producers: 3,
      tcpPortBase: port - 2,
      connectConcurrency: 1,
    };
    await assert.rejects(
      startFakeProducers(options),
      (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE',
    );
    await eventually(
      async () => (await new LookupdHttpClient(lookupd.httpAddress).nodes()).length === 0,
      'the two that had registered are gone',
    );
  });
});

describe('serving fakes with TLS', () => {
  const cleanup = useCleanup();
  it('negotiate TLS in IDENTIFY as the broker does: the answer says true and a handshake follows', async () => {
    const lookupd = await LOOKUPD_TARGETS[0]!.start();
    cleanup(() => lookupd.close());
    const pem = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), 'utf8');
    const fleet = await startFakeProducers({
      addresses: [lookupd.tcpAddress],
      producers: 2,
      tls: { cert: pem('server.pem'), key: pem('server.key') },
    });
    cleanup(() => fleet.close());
    const port = Number(fleet.broker(1)!.tcpAddress.split(':')[1]);
    const socket = net.connect(port, '127.0.0.1');
    cleanup(() => socket.destroy());
    const body = Buffer.from(JSON.stringify({ feature_negotiation: true, tls_v1: true }));
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    socket.write(Buffer.concat([Buffer.from('  V2IDENTIFY\n'), size, body]));
    const [answer] = (await once(socket, 'data')) as [Buffer];
    assert.equal((JSON.parse(answer.subarray(8).toString()) as { tls_v1: boolean }).tls_v1, true);
    const secure = tls.connect({ socket, ca: pem('ca.pem'), servername: 'localhost' });
    cleanup(() => secure.destroy());
    const [ok] = (await once(secure, 'data')) as [Buffer];
    assert.equal(ok.subarray(8).toString(), 'OK');
    assert.ok(secure.authorized);
  });
});

/**
 * The first of `count` adjacent ports that were all free a moment ago (each bound, then released).
 * Picked below the kernel's ephemeral range, where no outgoing connection takes a port meanwhile.
 */
async function adjacentFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 9_000);
    const servers: net.Server[] = [];
    const bound = await (async () => {
      for (let port = first; port < first + count; port++) {
        const server = net.createServer();
        const ok = await new Promise<boolean>((resolve) => {
          server.once('error', () => resolve(false));
          server.listen(port, '127.0.0.1', () => resolve(true));
        });
        if (!ok) return false;
        servers.push(server);
      }
      return true;
    })();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    if (bound) return first;
  }
  throw new Error(`no ${count} adjacent free ports found`);
}

describe('a slice of a serving fleet (firstIndex)', () => {
  const cleanup = useCleanup();
  it('names, listens on and advertises the ports of its producers in the whole fleet', async () => {
    const lookupd = await LOOKUPD_TARGETS[0]!.start();
    cleanup(() => lookupd.close());
    const free = await adjacentFreePorts(2);
    // Producers 3 and 4 of a fleet of 5: TCP ports base+3 and base+4.
    const fleet = await startFakeProducers({
      addresses: [lookupd.tcpAddress],
      producers: 2,
      firstIndex: 3,
      totalProducers: 5,
      tcpPortBase: free - 3,
    });
    cleanup(() => fleet.close());
    await fleet.settled();
    assert.deepEqual(
      [0, 1].map((i) => fleet.broker(i)!.tcpAddress),
      [`127.0.0.1:${free}`, `127.0.0.1:${free + 1}`],
    );
    const nodes = (await new LookupdHttpClient(lookupd.httpAddress).nodes()).sort(
      (a, b) => a.tcp_port - b.tcp_port,
    );
    assert.deepEqual(
      nodes.map((n) => [n.hostname, n.tcp_port]),
      [
        ['fake-nsqd-3', free],
        ['fake-nsqd-4', free + 1],
      ],
    );
  });
});
