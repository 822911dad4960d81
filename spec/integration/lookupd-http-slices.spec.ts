import { strict as assert } from 'node:assert';
import { type IncomingMessage, request } from 'node:http';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import type { PeerInfo } from '../../lib/lookupd/registration-db.js';
import { connectSocket } from '../support/connect.js';
import { useCleanup } from '../support/harness.js';
import { httpCall } from '../support/http.js';
import { V1Client } from '../support/v1-client.js';
import { identifyCommand, nsqdIdentity } from '../support/wire-builder.js';

/**
 * Large HTTP answers of the embedded lookupd are rendered and written in slices, so that the TCP
 * side keeps being served while they are written. What shows it without a wall clock: a registry
 * change made while the answer is held back by the client (a PING's last_update, a REGISTER) is in
 * the part of the answer written after it, which a server rendering the whole answer at once could
 * not do.
 */

// Enough for /debug (about 6 MB) to take a hundred slices; the bench measures 100,000.
const REGISTRATIONS = 20_000;

describe('embedded lookupd: large HTTP answers are written in slices', function () {
  this.timeout(30_000);
  const cleanup = useCleanup();

  let now = 1_000_000;
  const clock = () => now;

  async function start(): Promise<Lookupd> {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', now: clock });
    cleanup(() => lookupd.close());
    return lookupd;
  }

  async function producer(
    lookupd: Lookupd,
    broadcast: string,
  ): Promise<{ client: V1Client; peer: PeerInfo }> {
    const client = await V1Client.open(lookupd.tcpAddress);
    cleanup(() => client.destroy());
    await client.write(Buffer.concat([Buffer.from('  V1'), identifyCommand(nsqdIdentity(broadcast))]));
    await client.texts(1);
    const peer = lookupd.db
      .findProducers('client', '', '')
      .map((p) => p.peer)
      .find((p) => p.broadcastAddress === broadcast);
    assert.ok(peer, `${broadcast} identified`);
    return { client, peer };
  }

  /** GETs `path` and holds the answer back (paused) until `whileHeld` resolves; returns the body. */
  function getHeld(
    lookupd: Lookupd,
    path: string,
    whileHeld: (state: { ended: boolean }) => Promise<void>,
  ): Promise<{ response: IncomingMessage; body: string }> {
    const at = lookupd.httpAddress.lastIndexOf(':');
    const state = { ended: false };
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: Number(lookupd.httpAddress.slice(at + 1)), path, agent: false },
        (response) => {
          response.pause();
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            state.ended = true;
            resolve({ response, body: Buffer.concat(chunks).toString('utf8') });
          });
          response.on('error', reject);
          whileHeld(state).then(() => response.resume(), reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it(`a PING sent while /debug of ${REGISTRATIONS} registrations is written is answered before the body ends`, async () => {
    now = 1_000_000;
    const lookupd = await start();
    const { client, peer } = await producer(lookupd, 'a.example');
    for (let i = 0; i < REGISTRATIONS; i++) {
      lookupd.db.addProducer('topic', `t${String(i).padStart(6, '0')}`, '', peer);
    }
    const { response, body } = await getHeld(lookupd, '/debug', async (state) => {
      now = 2_000_000;
      await client.write('PING\n');
      assert.equal((await client.texts(2))[1], 'OK', 'the PING is answered');
      assert.equal(state.ended, false, 'before the /debug body ends');
    });
    assert.equal(response.statusCode, 200);
    const debug = JSON.parse(body) as Record<string, { last_update: number }[]>;
    const names = Object.keys(debug);
    assert.equal(names.length, REGISTRATIONS + 1, 'every registration, the client one included');
    assert.deepEqual(names, [...names].sort(), 'in Go’s sorted map order');
    assert.equal(names[0], 'client::');
    // Rendered before the PING arrived: the IDENTIFY time. Rendered after it: the PING's.
    assert.equal(debug['client::']![0]!.last_update, 1_000_000 * 1e6);
    assert.equal(
      debug[names.at(-1)!]![0]!.last_update,
      2_000_000 * 1e6,
      'the end was rendered after the PING',
    );
    assert.equal(response.headers['transfer-encoding'], 'chunked');
  });

  it('a REGISTER answered while /nodes is written shows in the part written after it', async () => {
    const lookupd = await start();
    // Many producers before the last one, so that /nodes is far longer than any socket buffer.
    const { peer: first } = await producer(lookupd, 'first.example');
    for (let i = 0; i < 20_000; i++) {
      const peer: PeerInfo = {
        ...first,
        id: `10.0.${i >> 8}.${i & 255}:1`,
        broadcastAddress: `p${i}.example`,
      };
      lookupd.db.addProducer('client', '', '', peer);
      for (let t = 0; t < 5; t++) lookupd.db.addProducer('topic', `topic-${t}`, '', peer);
    }
    const { client: last } = await producer(lookupd, 'last.example');
    const { body } = await getHeld(lookupd, '/nodes', async (state) => {
      await last.write('REGISTER late\n');
      assert.equal((await last.texts(2))[1], 'OK', 'the REGISTER is answered');
      assert.equal(state.ended, false);
    });
    const nodes = JSON.parse(body) as { producers: { broadcast_address: string; topics: string[] }[] };
    assert.equal(nodes.producers.length, 20_002);
    assert.deepEqual(nodes.producers.at(-1), {
      ...nodes.producers.at(-1),
      broadcast_address: 'last.example',
      topics: ['late'],
    });
  });

  it('an answer of up to 2048 bytes goes out with a Content-Length, a longer one chunked, as net/http sends them', async () => {
    const lookupd = await start();
    // {"topics":[...]} with 30 names of 64 bytes and one of 23: 2048 bytes; of 24: 2049.
    for (let i = 10; i < 40; i++) lookupd.db.addRegistration('topic', `${'a'.repeat(62)}${i}`, '');
    lookupd.db.addRegistration('topic', 'b'.repeat(23), '');
    const fits = await httpCall(lookupd.httpAddress, 'GET', '/topics');
    assert.equal(Buffer.byteLength(fits.body), 2048);
    assert.equal(fits.headers['content-length'], '2048');
    assert.equal(fits.headers['transfer-encoding'], undefined);
    lookupd.db.removeRegistration(lookupd.db.get('topic', 'b'.repeat(23), '')!);
    lookupd.db.addRegistration('topic', 'b'.repeat(24), '');
    const over = await httpCall(lookupd.httpAddress, 'GET', '/topics');
    assert.equal(Buffer.byteLength(over.body), 2049);
    assert.equal(over.headers['content-length'], undefined);
    assert.equal(over.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(JSON.parse(over.body).topics.at(-1), 'b'.repeat(24));
  });

  it('a request it cannot parse, pipelined after /debug, is answered after the whole /debug', async () => {
    const lookupd = await start();
    const { peer } = await producer(lookupd, 'a.example');
    for (let i = 0; i < 20_000; i++) lookupd.db.addProducer('topic', `t${i}`, '', peer);
    const socket = await connectSocket(lookupd.httpAddress);
    cleanup(() => socket.destroy());
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /debug HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE\r\n\r\n');
    await closed;
    const text = Buffer.concat(received).toString('latin1');
    const bad = 'HTTP/1.1 400 Bad Request\r\n';
    assert.equal(text.indexOf(bad), text.lastIndexOf(bad), 'one 400');
    const [debug, after] = text.split(bad);
    assert.match(debug!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n0\r\n\r\n$/, 'the whole chunked /debug first');
    const body = debug!
      .slice(debug!.indexOf('\r\n\r\n') + 4)
      .replace(/([0-9a-f]+)\r\n([\s\S]*?)\r\n/g, (_, size: string, data: string) => {
        assert.equal(data.length, Number.parseInt(size, 16));
        return data;
      });
    assert.equal(Object.keys(JSON.parse(body)).length, 20_001);
    assert.match(after!, /Connection: close\r\n\r\n400 Bad Request$/);
  });

  it('stops rendering when the client goes away in the middle of an answer', async () => {
    const lookupd = await start();
    const { peer } = await producer(lookupd, 'a.example');
    for (let i = 0; i < REGISTRATIONS; i++) lookupd.db.addProducer('topic', `t${i}`, '', peer);
    // /debug looks each registration up again as it renders it: count how far it got.
    let rendered = 0;
    const get = lookupd.db.get.bind(lookupd.db);
    lookupd.db.get = (...args) => {
      rendered++;
      return get(...args);
    };
    const at = lookupd.httpAddress.lastIndexOf(':');
    await new Promise<void>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: Number(lookupd.httpAddress.slice(at + 1)), path: '/debug', agent: false },
        (response) => {
          response.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.on('close', resolve);
      req.end();
    });
    // Once the server has seen the close, the count stands still for good.
    let stable = 0;
    let last = rendered;
    for (let turn = 0; turn < 10_000 && stable < 50; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      stable = rendered === last ? stable + 1 : 0;
      last = rendered;
    }
    assert.equal(stable, 50, 'rendering stopped');
    assert.ok(
      rendered > 0 && rendered < REGISTRATIONS / 2,
      `rendered as written and stopped early: ${rendered} of ${REGISTRATIONS}`,
    );
    // And what is still there is answered.
    assert.equal((await httpCall(lookupd.httpAddress, 'GET', '/ping')).body, 'OK');
  });
});
