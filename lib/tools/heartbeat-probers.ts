import * as http from 'node:http';
import { ConnectionError, HttpCheckError, NsqLookupError, ProtocolError } from '../errors.js';
import { LookupPeer } from '../peer/lookup-peer.js';
import { splitHostPort } from '../util/address.js';
import type { LogFn } from '../util/debug.js';

/**
 * How {@link Heartbeat} reaches a target: a PING over a V1 connection that never identifies, or
 * `GET /ping` over a kept-alive HTTP connection.
 */

/** How a probe reaches its target; resolves with the RTT in ms. */
export interface Prober {
  probe(): Promise<number>;
  /** Drops the connection, aborts a probe in flight, releases every handle. */
  close(): Promise<void>;
}

/** PING over a {@link LookupPeer} with no connect callback: magic and PING only, never IDENTIFY. */
export class TcpProber implements Prober {
  readonly #peer: LookupPeer;

  constructor(address: string, timeoutMs: number, log: LogFn) {
    this.#peer = new LookupPeer(address, { dialTimeoutMs: timeoutMs, readTimeoutMs: timeoutMs, log });
  }

  async probe(): Promise<number> {
    // Connect first so that the RTT is the PING's alone, not the dial's.
    if (this.#peer.state !== 'connected') await this.#peer.connect();
    const started = performance.now();
    try {
      await this.#peer.ping();
    } catch (error) {
      if (reachedHttp(error)) {
        throw new ProtocolError(
          `${(error as Error).message}; an HTTP port is checked with --lookupd-http-address (httpAddresses), ` +
            '--lookupd-tcp-address takes the TCP port (4160 by default)',
          { cause: error, reachedHttp: true },
        );
      }
      throw error;
    }
    return performance.now() - started;
  }

  async close(): Promise<void> {
    // An unanswered PING is not worth waiting for: drop the socket rather than end it gracefully.
    if (this.#peer.inFlight > 0) this.#peer.disconnect();
    await this.#peer.close();
  }
}

/** Whether `error`, or an error it was caused by, is a TCP read of an HTTP server's answer. */
function reachedHttp(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ProtocolError && e.reachedHttp) return true;
  }
  return false;
}

/** `GET http://address/ping` over one kept-alive connection; 200 with body `OK` is an answer. */
export class HttpProber implements Prober {
  readonly #address: string;
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #abort = new AbortController();

  constructor(address: string, timeoutMs: number) {
    const { host, port } = splitHostPort(address);
    this.#address = address;
    this.#host = host;
    this.#port = port;
    this.#timeoutMs = timeoutMs;
  }

  probe(): Promise<number> {
    const address = this.#address;
    return new Promise((resolve, reject) => {
      let started = performance.now();
      const request = http.get(
        {
          host: this.#host,
          port: this.#port,
          path: '/ping',
          agent: this.#agent,
          signal: this.#abort.signal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < 4096) chunks.push(chunk);
            size += chunk.length;
          });
          response.on('end', () => {
            stopTimer();
            const body = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode === 200 && body.trim() === 'OK') resolve(performance.now() - started);
            else reject(new HttpCheckError(address, response.statusCode ?? 0, body));
          });
          response.on('error', fail);
        },
      );
      const timer = setTimeout(() => {
        request.destroy(
          new ConnectionError(
            'NSQ_ERR_READ_TIMEOUT',
            address,
            `GET /ping: no answer within ${this.#timeoutMs} ms (timeout)`,
          ),
        );
      }, this.#timeoutMs);
      timer.unref();
      // Like the PING's, the RTT leaves out dialing: a fresh connection starts the clock once connected.
      request.once('socket', (socket) => {
        if (socket.connecting) socket.once('connect', () => (started = performance.now()));
      });
      const stopTimer = () => clearTimeout(timer);
      function fail(error: Error) {
        stopTimer();
        if (error instanceof NsqLookupError) reject(error);
        else reject(httpConnectionError(address, error));
      }
      request.on('error', fail);
    });
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#agent.destroy();
  }
}

function httpConnectionError(address: string, cause: NodeJS.ErrnoException): ConnectionError {
  const prefix = 'GET /ping: ';
  switch (cause.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectionError('NSQ_ERR_CONNECT', address, `${prefix}cannot connect: ${cause.message}`, {
        cause,
      });
    case 'ECONNRESET':
    case 'EPIPE':
      return new ConnectionError('NSQ_ERR_CONNECTION_RESET', address, `${prefix}${cause.message}`, { cause });
    default:
      return new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', address, `${prefix}${cause.message}`, {
        cause,
      });
  }
}
