import { strict as assert } from 'node:assert';
import * as diagnostics from 'node:diagnostics_channel';
import { Agent, get } from 'node:http';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import { connectSocket } from '../support/connect.js';
import { useCleanup } from '../support/harness.js';
import { trackResources } from '../support/leak-check.js';
import { V1Client } from '../support/v1-client.js';
import { identifyCommand, nsqdIdentity } from '../support/wire-builder.js';

/**
 * close() of the embedded lookupd against clients in the same process: once it resolves, every
 * connection it accepted is closed and the clients have seen it, so a client with a keep-alive pool
 * (Node's default agent) does not send its next request down a dead socket to a server started
 * afterwards on the same ports.
 */

/** Options of Node's global agent (http.globalAgent), in an agent of the test's own. */
function defaultLikeAgent(): Agent {
  return new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
}

function ping(address: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://${address}/ping`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('embedded lookupd close() and keep-alive clients', function () {
  this.timeout(15_000);
  const cleanup = useCleanup();

  it('a request with a keep-alive agent to a lookupd restarted on the same ports succeeds', async () => {
    const agent = defaultLikeAgent();
    cleanup(() => agent.destroy());
    let lookupd: Lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    const { tcpAddress, httpAddress } = lookupd;
    try {
      for (let restart = 0; restart < 5; restart++) {
        assert.equal(await ping(httpAddress, agent), 'OK', `GET before restart ${restart}`);
        assert.equal(agent.freeSockets[`${httpAddress}:`]?.length, 1, 'the socket is kept alive');
        await lookupd.close();
        lookupd = await startLookupd({ tcpAddress, httpAddress });
      }
      assert.equal(await ping(httpAddress, agent), 'OK', 'GET after the last restart');
    } finally {
      await lookupd.close();
    }
  });

  it('resolves once every socket it accepted is closed, leaving no handle', async () => {
    const tracker = trackResources();
    const agent = defaultLikeAgent();
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    const client = await V1Client.open(lookupd.tcpAddress);
    await client.write('  V1PING\n');
    await client.texts(1);
    await Promise.all([ping(lookupd.httpAddress, agent), ping(lookupd.httpAddress, agent)]);
    await lookupd.close();
    const kept = Object.values(agent.freeSockets).flat();
    assert.ok(
      kept.every((socket) => socket?.destroyed),
      'every socket the agent kept alive is destroyed (an agent never reuses one)',
    );
    agent.destroy();
    await client.untilClosed();
    assert.deepEqual(await tracker.stop(), []);
  });

  it('an answer under way when close() is called goes out whole, then the connection ends', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    let closed = false;
    cleanup(() => (closed ? undefined : lookupd.close()));
    const client = await V1Client.open(lookupd.tcpAddress);
    cleanup(() => client.destroy());
    await client.write(Buffer.concat([Buffer.from('  V1'), identifyCommand(nsqdIdentity('a.example'))]));
    await client.texts(1);
    const [peer] = lookupd.db.findProducers('client', '', '');
    // Large enough that /debug is written over many turns of the event loop.
    for (let i = 0; i < 20_000; i++) lookupd.db.addProducer('topic', `t${i}`, '', peer!.peer);
    const socket = await connectSocket(lookupd.httpAddress);
    cleanup(() => socket.destroy());
    const received: Buffer[] = [];
    const ended = new Promise((resolve) => socket.once('close', resolve));
    const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write('GET /debug HTTP/1.1\r\nHost: a\r\n\r\n');
    await firstBytes;
    const closing = lookupd.close().then(() => {
      closed = true;
    });
    await ended;
    await closing;
    const text = Buffer.concat(received).toString('latin1');
    assert.match(
      text,
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n0\r\n\r\n$/,
      'the whole chunked answer, then the close',
    );
    const body = text
      .slice(text.indexOf('\r\n\r\n') + 4)
      .replace(/([0-9a-f]+)\r\n([\s\S]*?)\r\n/g, (_, size: string, data: string) => {
        assert.equal(data.length, Number.parseInt(size, 16));
        return data;
      });
    // Written slice by slice, it shows the registry as it stands as each slice is written: the V1
    // connections close first, so the producers are gone from the later part. It is whole JSON.
    assert.equal(typeof JSON.parse(body), 'object');
  });

  it('a request still arriving when close() is called is answered, with Connection: close', async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    let closed = false;
    cleanup(() => (closed ? undefined : lookupd.close()));
    const socket = await connectSocket(lookupd.httpAddress);
    cleanup(() => socket.destroy());
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // The headers now, the body later: the answer cannot start before the body is in.
    const started = new Promise<void>((resolve) => {
      const onStart = () => {
        diagnostics.unsubscribe('http.server.request.start', onStart);
        resolve();
      };
      diagnostics.subscribe('http.server.request.start', onStart);
    });
    socket.write('POST /topic/create?topic=t HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n');
    await started;
    assert.equal(lookupd.db.findRegistrations('topic', 't', '').length, 0, 'not served before its body');
    const closing = lookupd.close().then(() => {
      closed = true;
    });
    socket.write('body');
    await ended;
    await closing;
    const text = Buffer.concat(received).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, text);
    assert.match(text, /\r\nConnection: close\r\n/i, text);
    assert.equal(lookupd.db.findRegistrations('topic', 't', '').length, 1, 'the request was served');
  });
});
