import { EventEmitter, once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';

export interface PingServerOptions {
  /** Answer each PING with OK after this many ms (default 0). */
  delayMs?: number;
  /** Accept connections and read, but never answer. */
  silent?: boolean;
}

/**
 * A scripted lookupd stand-in for the heartbeat specs: reads the magic and command lines, answers PING
 * with OK (after `delayMs`, or never when `silent`) and anything else with E_INVALID. Emits `connection`
 * per accepted socket and `command` per line. Can re-listen on the port it had, to model a restart.
 */
export class PingServer extends EventEmitter {
  readonly commands: string[] = [];
  /** The first 4 bytes of each connection (the protocol magic, `  V1`), latin1. */
  readonly magics: string[] = [];
  connections = 0;
  readonly #options: PingServerOptions;
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #server: net.Server | undefined;
  port = 0;

  constructor(options: PingServerOptions = {}) {
    super();
    this.#options = options;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens on `port` (default: the one it had before, else any) and resolves with `host:port`. */
  async listen(port = this.port): Promise<string> {
    const server = net.createServer((socket) => this.#accept(socket));
    this.#server = server;
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    return this.address;
  }

  /** Stops listening and drops every connection; resolves once all are closed. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  #accept(socket: net.Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    this.emit('connection', socket);
    let buffered = Buffer.alloc(0);
    let magicSeen = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!magicSeen) {
        if (buffered.length < 4) return;
        magicSeen = true;
        this.magics.push(buffered.toString('latin1', 0, 4));
        buffered = buffered.subarray(4);
      }
      for (let newline = buffered.indexOf(0x0a); newline >= 0; newline = buffered.indexOf(0x0a)) {
        const line = buffered.toString('latin1', 0, newline);
        buffered = buffered.subarray(newline + 1);
        this.commands.push(line);
        this.emit('command', line);
        if (this.#options.silent) continue;
        const answer = line === 'PING' ? 'OK' : `E_INVALID invalid command ${line}`;
        this.#answer(socket, answer, this.#options.delayMs ?? 0);
      }
    });
  }

  #answer(socket: net.Socket, answer: string, delayMs: number): void {
    const body = Buffer.from(answer);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeInt32BE(body.length, 0);
    body.copy(frame, 4);
    if (delayMs === 0) {
      socket.write(frame);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!socket.destroyed) socket.write(frame);
    }, delayMs);
    this.#timers.add(timer);
  }
}

/** An HTTP server whose `GET /ping` answers `status` and `body` (default 200 `OK`), counting requests. */
export async function startHttpPing(answer: { status?: number; body?: string } = {}): Promise<{
  address: string;
  requests: string[];
  close(): Promise<void>;
}> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.url !== '/ping') {
      response.writeHead(404).end('NOT_FOUND');
      return;
    }
    response.writeHead(answer.status ?? 200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(answer.body ?? 'OK');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A 127.0.0.1 port that refuses connections (it was free a moment ago). */
export async function refusedAddress(): Promise<string> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}
