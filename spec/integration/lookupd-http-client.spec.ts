import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, LookupdHttpBodyTooLargeError, LookupdHttpError } from '../../lib/errors.js';
import { LookupdHttpClient } from '../../lib/http/lookupd-http-client.js';
import { useCleanup } from '../support/harness.js';

const LIMIT = 64 * 1024;
// What an endless answer sends at most before it stalls: far past the limit, yet a bounded cost for a
// client that reads everything (as before the limit existed) until its deadline.
const ENDLESS_CAP = 16 * 1024 * 1024;

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('LookupdHttpClient body limit', () => {
  const cleanup = useCleanup();

  async function serve(handler: Handler): Promise<string> {
    const server = createServer(handler);
    cleanup(async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Answers 200 with a chunked body that never ends; resolves with the response once the client hangs up. */
  function endless(): { handler: Handler; hungUp: Promise<{ sent: number; ended: boolean }> } {
    let hangUp!: (outcome: { sent: number; ended: boolean }) => void;
    const hungUp = new Promise<{ sent: number; ended: boolean }>((resolve) => {
      hangUp = resolve;
    });
    const handler: Handler = (_request, response) => {
      let sent = 0;
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.on('close', () => hangUp({ sent, ended: response.writableEnded }));
      const pump = () => {
        while (sent < ENDLESS_CAP && !response.destroyed) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
      };
      pump();
    };
    return { handler, hungUp };
  }

  function assertTooLarge(error: unknown, path: string): true {
    assert.ok(error instanceof LookupdHttpBodyTooLargeError, String(error));
    assert.ok(error instanceof LookupdHttpError, 'still a LookupdHttpError for existing handlers');
    assert.equal(error.code, 'NSQ_ERR_LOOKUPD_HTTP_BODY_TOO_LARGE');
    assert.equal(error.limit, LIMIT);
    assert.equal(error.option, 'maxBodyBytes');
    assert.equal(error.status, 200);
    assert.match(error.message, new RegExp(`${path}[^ ]*: .*maxBodyBytes \\(${LIMIT} bytes\\)`));
    return true;
  }

  it('drops an endless body once it passes maxBodyBytes, with a typed error naming the limit and the option', async () => {
    const { handler, hungUp } = endless();
    const client = new LookupdHttpClient(await serve(handler), { maxBodyBytes: LIMIT, timeoutMs: 10_000 });
    await assert.rejects(client.debug(), (error) => assertTooLarge(error, '/debug'));
    const outcome = await hungUp;
    assert.equal(outcome.ended, false, 'the client hung up on a body that had not ended');
    assert.ok(outcome.sent < ENDLESS_CAP, `hung up after ${outcome.sent} bytes, before the answer stalled`);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    let hangUp!: () => void;
    const hungUp = new Promise<void>((resolve) => {
      hangUp = resolve;
    });
    const address = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': String(1024 ** 3) });
      response.write('{"topics":[');
      response.on('close', hangUp);
      // ...and nothing more: the client must not wait for the promised gigabyte.
    });
    const client = new LookupdHttpClient(address, { maxBodyBytes: LIMIT, timeoutMs: 10_000 });
    await assert.rejects(client.topics(), (error) => {
      assertTooLarge(error, '/topics');
      assert.equal((error as LookupdHttpBodyTooLargeError).declared, 1024 ** 3);
      return true;
    });
    await hungUp;
  });

  it('reads a body of exactly maxBodyBytes and refuses one byte more, on every request', async () => {
    let size = LIMIT;
    const address = await serve((request, response) => {
      const json = request.url === '/ping' ? 'OK' : '{"topics":["a"],"channels":["c"],"producers":[]}';
      // JSON allows trailing white space. Written before end(), so chunked: only the bytes received tell
      // the size.
      response.writeHead(200);
      response.write(json.padEnd(size, ' ').slice(0, size));
      response.end();
    });
    const client = new LookupdHttpClient(address, { maxBodyBytes: LIMIT });
    assert.deepEqual(await client.topics(), ['a']);
    size = LIMIT + 1;
    for (const [path, call] of [
      ['/topics', () => client.topics()],
      ['/nodes', () => client.nodes()],
      ['/channels', () => client.channels('a')],
      ['/lookup', () => client.lookup('a')],
      ['/debug', () => client.debug()],
    ] as const) {
      await assert.rejects(call(), (error) => assertTooLarge(error, path));
    }
    const tiny = new LookupdHttpClient(address, { maxBodyBytes: 2 });
    size = 2;
    assert.equal(await tiny.ping(), true);
    size = 3;
    await assert.rejects(tiny.ping(), LookupdHttpBodyTooLargeError);
  });

  it('defaults to 256 MiB, keeps the timeout-only form, and refuses a limit that is not a positive integer', () => {
    const client = new LookupdHttpClient('127.0.0.1:4161');
    assert.equal(client.maxBodyBytes, 256 * 1024 * 1024);
    assert.equal(client.timeoutMs, 5000);
    assert.equal(new LookupdHttpClient('127.0.0.1:4161', { timeoutMs: 1234 }).timeoutMs, 1234);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => new LookupdHttpClient('127.0.0.1:4161', { maxBodyBytes: bad }),
        InvalidArgumentError,
      );
    }
  });
});
