import { strict as assert } from 'node:assert';
import { Agent, get } from 'node:http';
import { type Lookupd, startLookupd } from '../../lib/lookupd/index.js';
import { useCleanup } from '../support/harness.js';
import { trackResources } from '../support/leak-check.js';
import { V1Client } from '../support/v1-client.js';

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
});
