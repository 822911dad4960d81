/**
 * TLS, snappy and deflate as IDENTIFY negotiates them, checked on the bytes: after the answer says
 * true, what follows is a TLS handshake, a snappy stream or deflate data, and commands keep working
 * through it. Every case runs against the package's broker and, when NSQD_BIN is set, against the
 * real nsqd started with the same certificates, with the same expectations.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';
import { NSQD_BIN } from '../../harness/oracle.js';
import type { BrokerTlsOptions } from '../../lib/broker/broker.js';
import { SnappyFramer, SnappyUnframer } from '../../lib/broker/snappy-stream.js';
import { type Cleanup, useCleanup } from '../support/harness.js';
import { brokerFor } from '../support/nsqjs-clients.js';
import { type RunningNsqd, startRealNsqd } from '../support/raw-v2.js';
import { command, identify, MAGIC } from '../support/v2-wire-builder.js';

const CERTS = new URL('../fixtures/tls/', import.meta.url);
const pem = (name: string) => readFileSync(new URL(name, CERTS));
const path = (name: string) => new URL(name, CERTS).pathname;

interface Server {
  name: string;
  start(cleanup: Cleanup, tlsOptions?: Omit<BrokerTlsOptions, 'cert' | 'key'>): Promise<RunningNsqd>;
}

const SERVERS: Server[] = [
  {
    name: 'broker',
    async start(cleanup, options = {}) {
      const broker = await brokerFor(cleanup, {
        tls: { cert: pem('server.pem'), key: pem('server.key'), rootCa: pem('ca.pem'), ...options },
      });
      return { tcpAddress: broker.tcpAddress, httpAddress: broker.httpAddress, close: () => broker.close() };
    },
  },
];
if (NSQD_BIN) {
  SERVERS.push({
    name: 'real nsqd',
    async start(cleanup, options = {}) {
      const flags = [
        `--tls-cert=${path('server.pem')}`,
        `--tls-key=${path('server.key')}`,
        `--tls-root-ca-file=${path('ca.pem')}`,
        '--https-address=127.0.0.1:0',
      ];
      if (options.clientAuthPolicy) flags.push(`--tls-client-auth-policy=${options.clientAuthPolicy}`);
      if (options.required !== undefined) flags.push(`--tls-required=${options.required}`);
      const nsqd = await startRealNsqd(flags);
      cleanup(() => nsqd.close());
      return nsqd;
    },
  });
}

/** Reads V2 frames (size, type, data) from bytes pushed in any pieces. */
class Frames {
  #pending = Buffer.alloc(0);
  #waiting: Array<() => void> = [];
  readonly frames: Array<{ type: number; data: string }> = [];

  /** `max`: stop after that many frames; what follows them stays in {@link rest}. */
  constructor(readonly max = Number.POSITIVE_INFINITY) {}

  push(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    while (
      this.frames.length < this.max &&
      this.#pending.length >= 8 &&
      this.#pending.length >= 4 + this.#pending.readInt32BE(0)
    ) {
      const size = this.#pending.readInt32BE(0);
      if (size < 4) throw new Error(`not a V2 frame: size ${size}`);
      this.frames.push({
        type: this.#pending.readInt32BE(4),
        data: this.#pending.subarray(8, 4 + size).toString(),
      });
      this.#pending = this.#pending.subarray(4 + size);
    }
    for (const wake of this.#waiting.splice(0)) wake();
  }

  /** Bytes received after the last whole frame. */
  rest(): Buffer {
    return this.#pending;
  }

  /** The next frame, as `response: ...` or `error: ...`. */
  async next(): Promise<string> {
    while (this.frames.length === 0) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const { type, data } = this.frames.shift()!;
    return `${type === 1 ? 'error' : type === 0 ? 'response' : `type ${type}`}: ${data}`;
  }
}

/** A raw connection that sends the magic and IDENTIFY and returns the answer, reading plain frames. */
async function identified(cleanup: Cleanup, server: RunningNsqd, fields: Record<string, unknown>) {
  const [host, port] = server.tcpAddress.split(':');
  const socket = net.connect(Number(port), host);
  cleanup(() => socket.destroy());
  await once(socket, 'connect');
  // One frame only: after it, the bytes may be TLS, snappy or deflate.
  const plain = new Frames(1);
  const onData = (chunk: Buffer) => plain.push(chunk);
  socket.on('data', onData);
  socket.write(Buffer.concat([MAGIC, identify({ feature_negotiation: true, ...fields })]));
  const answer = await plain.next();
  // What comes next is not plain V2 any more (when upgraded): the caller reads it.
  socket.off('data', onData);
  return {
    socket,
    rest: plain.rest(),
    answer,
    json: answer.startsWith('response: {') ? JSON.parse(answer.slice(10)) : undefined,
  };
}

for (const server of SERVERS) {
  describe(`${server.name}: IDENTIFY's feature negotiation on the bytes`, function () {
    this.timeout(10_000);
    const cleanup = useCleanup();

    it('tls_v1: the answer says true, a TLS handshake follows, then OK and commands over TLS', async () => {
      const nsqd = await server.start(cleanup);
      const { socket, json } = await identified(cleanup, nsqd, { tls_v1: true });
      assert.equal(json.tls_v1, true);
      const secure = tls.connect({ socket, ca: pem('ca.pem'), servername: 'localhost' });
      cleanup(() => secure.destroy());
      await once(secure, 'secureConnect');
      assert.ok(secure.authorized, String(secure.authorizationError));
      const frames = new Frames();
      secure.on('data', (chunk: Buffer) => frames.push(chunk));
      assert.equal(await frames.next(), 'response: OK');
      secure.write(command('PUB negotiated', 'over tls'));
      assert.equal(await frames.next(), 'response: OK');
      const stats = (await (await fetch(`http://${nsqd.httpAddress}/stats?format=json`)).json()) as {
        producers: Array<{ tls: boolean; tls_version: string }>;
      };
      assert.deepEqual(
        stats.producers.map((p) => p.tls),
        [true],
      );
      assert.match(stats.producers[0]!.tls_version, /TLS/);
    });

    it('snappy: the answer says true, then a snappy stream (identifier first) carrying OK; commands go framed', async () => {
      const nsqd = await server.start(cleanup);
      const { socket, json, rest } = await identified(cleanup, nsqd, { snappy: true });
      assert.equal(json.snappy, true);
      const raw: Buffer[] = [];
      const unframer = new SnappyUnframer();
      const frames = new Frames();
      const receive = (chunk: Buffer) => {
        raw.push(chunk);
        for (const part of unframer.push(chunk)) frames.push(part);
      };
      receive(rest);
      socket.on('data', receive);
      assert.equal(await frames.next(), 'response: OK');
      assert.deepEqual(
        Buffer.concat(raw).subarray(0, 10),
        Buffer.from([0xff, 0x06, 0x00, 0x00, ...Buffer.from('sNaPpY')]),
        'a snappy stream begins with its identifier',
      );
      socket.write(new SnappyFramer().frame(command('PUB negotiated', 'snappy '.repeat(100))));
      assert.equal(await frames.next(), 'response: OK');
    });

    it('deflate: the answer says true at the level asked (capped at 6), then raw deflate data carrying OK', async () => {
      const nsqd = await server.start(cleanup);
      const { socket, json, rest } = await identified(cleanup, nsqd, { deflate: true, deflate_level: 9 });
      assert.deepEqual([json.deflate, json.deflate_level, json.max_deflate_level], [true, 6, 6]);
      const inflate = zlib.createInflateRaw();
      const frames = new Frames();
      inflate.on('data', (chunk: Buffer) => frames.push(chunk));
      inflate.write(rest);
      socket.on('data', (chunk: Buffer) => inflate.write(chunk));
      assert.equal(await frames.next(), 'response: OK');
      const deflate = zlib.createDeflateRaw();
      deflate.on('data', (chunk: Buffer) => socket.write(chunk));
      deflate.write(command('PUB negotiated', 'deflate '.repeat(100)));
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
      assert.equal(await frames.next(), 'response: OK');
      cleanup(() => {
        inflate.destroy();
        deflate.destroy();
      });
    });

    it('snappy and deflate together: E_IDENTIFY_FAILED, and the connection is closed', async () => {
      const nsqd = await server.start(cleanup);
      const { socket, answer } = await identified(cleanup, nsqd, { snappy: true, deflate: true });
      assert.equal(answer, 'error: E_IDENTIFY_FAILED cannot enable both deflate and snappy compression');
      await once(socket, 'close');
    });

    it("--tls-required: a plain client gets nsqd's error for its first command", async () => {
      const nsqd = await server.start(cleanup, { required: true });
      const { socket, json } = await identified(cleanup, nsqd, {});
      assert.equal(json.tls_v1, false);
      const frames = new Frames();
      socket.on('data', (chunk: Buffer) => frames.push(chunk));
      socket.write(command('SUB t c'));
      assert.equal(await frames.next(), 'error: E_INVALID cannot SUB in current state (TLS required)');
      await once(socket, 'close');
    });

    it('--tls-client-auth-policy=require-verify: a client certificate from the CA gets in, a stranger does not', async () => {
      const nsqd = await server.start(cleanup, { clientAuthPolicy: 'require-verify' });
      const attempt = async (cert: string) => {
        const { socket } = await identified(cleanup, nsqd, { tls_v1: true });
        const secure = tls.connect({
          socket,
          ca: pem('ca.pem'),
          servername: 'localhost',
          cert: pem(`${cert}.pem`),
          key: pem(`${cert}.key`),
        });
        cleanup(() => secure.destroy());
        const frames = new Frames();
        secure.on('data', (chunk: Buffer) => frames.push(chunk));
        const outcome = await Promise.race([
          frames.next(),
          once(secure, 'error').then(([error]) => `refused: ${(error as Error).message}`),
          once(secure, 'close').then(() => 'refused: closed'),
        ]);
        return outcome;
      };
      assert.equal(await attempt('client'), 'response: OK');
      assert.match(await attempt('stranger'), /^refused/);
    });
  });
}
