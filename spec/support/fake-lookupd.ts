import { EventEmitter, once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { realTimers } from '../../harness/real-timers.js';
import { eventually } from './wait.js';
import { frame, MAGIC_BYTES } from './wire-builder.js';

/**
 * The one scriptable stand-in for nsqlookupd's TCP side, for peer, loop and heartbeat specs. It parses
 * what a client sends (magic, command lines, IDENTIFY bodies), records every command, and answers
 * through one handler per command name. By default it answers like lookupd v1.3.0 (OK to PING,
 * REGISTER and UNREGISTER, its info to IDENTIFY, `E_INVALID` and a hang-up to anything else); a spec
 * replaces handlers (see {@link answer}) to stay silent, answer slowly, close, reset, send garbage or
 * close mid-frame, holds an answer back with {@link FakeLookupd.hold}, drops every connection, or
 * crashes and restarts it on the same port. Handlers of one connection run one at a time, in command
 * order, as lookupd's do.
 *
 * Listens on 127.0.0.1 (port 0 unless told). stop() closes the listener and every accepted socket,
 * cancels pending sleeps, and resolves once all of them are closed. Its waits run on real time, so a
 * spec's fake clock does not stop them.
 */

export interface ReceivedCommand {
  /** 1-based number of the connection it came on, in accept order. */
  connection: number;
  /** The command line without its `\n`. */
  line: string;
  name: string;
  args: string[];
  /** IDENTIFY's body. */
  body?: Buffer;
}

export type CommandHandler = (command: ReceivedCommand, connection: FakeConnection) => void | Promise<void>;

export interface LookupdInfoAnswer {
  broadcast_address: string;
  hostname: string;
  http_port: number;
  tcp_port: number;
  version: string;
}

export interface FakeLookupdOptions {
  /** Handlers by command name (`*`: any other name), replacing the lookupd-like defaults. */
  handlers?: Record<string, CommandHandler>;
  /**
   * Runs when a connection is accepted, before any byte is read: to close, reset, talk first, or
   * `mute()` it (a lookupd that accepts and never answers).
   */
  onConnection?: (connection: FakeConnection) => void | Promise<void>;
  /** Fields of the IDENTIFY answer; `tcp_port` defaults to the server's port. */
  info?: Partial<LookupdInfoAnswer>;
  /** Keep a connection open after the client's FIN (lookupd closes its side; a stuck server doesn't). */
  allowHalfOpen?: boolean;
  /** The port to listen on (default: any free one), e.g. one a client was refused on a moment ago. */
  port?: number;
}

/** Ready-made handlers. */
export const answer = {
  ok: ((_, c) => c.reply('OK')) as CommandHandler,
  /** Stops answering, from this command on, while still reading: a hung lookupd. */
  silent: ((_, c) => c.mute()) as CommandHandler,
  /** Answers `body` after `ms` (later commands on the connection wait, as on lookupd). */
  slowly:
    (ms: number, body: string | Buffer = 'OK'): CommandHandler =>
    async (_, c) => {
      await c.sleep(ms);
      c.reply(body);
    },
  /** Answers with lookupd's fatal `E_*` text, then hangs up as lookupd does. */
  fatal:
    (text: string): CommandHandler =>
    (_, c) => {
      c.reply(text);
      c.end();
    },
  /** Closes the connection (FIN) without answering. */
  close: ((_, c) => c.end()) as CommandHandler,
  /** Resets the connection (RST) without answering. */
  reset: ((_, c) => c.reset()) as CommandHandler,
  /** Writes raw bytes instead of an answer. */
  garbage:
    (bytes: Buffer): CommandHandler =>
    (_, c) =>
      c.write(bytes),
  /** Writes the first half of the answer's frame (header included), then closes. */
  closeMidFrame:
    (body: string | Buffer = 'OK'): CommandHandler =>
    (_, c) =>
      c.closeMidFrame(body),
  /** Echoes the command line back as the body (to check which answer went to which command). */
  echo: ((cmd, c) => c.reply(cmd.line)) as CommandHandler,
};

export class FakeConnection {
  readonly received: ReceivedCommand[] = [];
  /** The first 4 bytes the client sent. */
  magic: Buffer | undefined;
  /** Number of 'data' events: how many pieces the client's bytes arrived in. */
  dataEvents = 0;
  /** Every byte received, in order. */
  readonly bytes: Buffer[] = [];
  readonly closed: Promise<void>;
  #pending: Buffer = Buffer.alloc(0);
  #chain: Promise<void> = Promise.resolve();
  /** No more handlers run (after a close, a reset, or mute()); commands are still recorded. */
  #stopped = false;
  #badMagic = false;

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    private readonly server: FakeLookupd,
  ) {
    // Not events.once(): it would reject on the socket's 'error', which precedes 'close' on a reset.
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (error) => server.socketErrors.push(error));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  /** Writes one response frame. */
  reply(body: string | Buffer): void {
    this.write(frame(body));
  }

  /** Writes raw bytes (partial frames, garbage). */
  write(bytes: Buffer): void {
    if (this.socket.writable) this.socket.write(bytes);
  }

  /** Keeps reading but runs no more handlers on this connection. */
  mute(): void {
    this.#stopped = true;
  }

  /** Half-closes (FIN); the socket closes once the client closes its side. */
  end(): void {
    this.#stopped = true;
    this.socket.end();
  }

  /** Closes with a TCP RST. */
  reset(): void {
    this.#stopped = true;
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  /** Writes the header and half the body of a frame, then closes. */
  closeMidFrame(body: string | Buffer): void {
    const bytes = frame(body);
    this.write(bytes.subarray(0, 4 + Math.floor((bytes.length - 4) / 2)));
    this.end();
  }

  /** Waits `ms` of real time; rejects (ending the handler) if the server is stopped first. */
  sleep(ms: number): Promise<void> {
    const signal = this.server.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => {
        realTimers.clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = realTimers.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #onData(chunk: Buffer): void {
    this.dataEvents++;
    this.bytes.push(chunk);
    if (this.#badMagic) return;
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let buf = this.#pending;
    if (this.magic === undefined) {
      if (buf.length < 4) return;
      this.magic = buf.subarray(0, 4);
      buf = buf.subarray(4);
      if (!this.magic.equals(MAGIC_BYTES)) {
        this.#badMagic = true;
        this.reply('E_BAD_PROTOCOL');
        this.end();
        return;
      }
    }
    for (;;) {
      const newline = buf.indexOf(0x0a);
      if (newline < 0) break;
      const line = buf.toString('utf8', 0, newline);
      const [name = '', ...args] = line.split(' ');
      let next = newline + 1;
      let body: Buffer | undefined;
      if (name === 'IDENTIFY') {
        if (buf.length < next + 4) break;
        const size = buf.readInt32BE(next);
        if (size < 0 || buf.length < next + 4 + size) break;
        body = Buffer.from(buf.subarray(next + 4, next + 4 + size));
        next += 4 + size;
      }
      buf = buf.subarray(next);
      const command: ReceivedCommand = { connection: this.id, line, name, args, ...(body && { body }) };
      this.received.push(command);
      const gate = this.server.record(command);
      const handler = this.server.handlerFor(name);
      this.#chain = this.#chain
        .then(() => gate)
        .then(() => (this.#stopped ? undefined : handler(command, this)))
        .catch((error: unknown) => {
          if (!this.server.signal.aborted) this.server.handlerErrors.push(error);
        });
    }
    this.#pending = Buffer.from(buf);
  }
}

export class FakeLookupd {
  /** Every connection accepted, in order (closed ones included). */
  readonly connections: FakeConnection[] = [];
  /** Every command received, on any connection, in arrival order. */
  readonly received: ReceivedCommand[] = [];
  /** Errors thrown by handlers (a test may assert there are none). */
  readonly handlerErrors: unknown[] = [];
  /** Errors on accepted sockets (ECONNRESET when the client resets, say). */
  readonly socketErrors: Error[] = [];
  #server: net.Server | undefined;
  readonly #handlers: Record<string, CommandHandler>;
  readonly #gates = new Map<string, Promise<void>>();
  readonly #options: FakeLookupdOptions;
  readonly #events = new EventEmitter();
  readonly #abort = new AbortController();
  #port = 0;

  private constructor(options: FakeLookupdOptions) {
    this.#options = options;
    this.#handlers = { ...this.#defaultHandlers(), ...options.handlers };
    this.#port = options.port ?? 0;
  }

  static async start(options: FakeLookupdOptions = {}): Promise<FakeLookupd> {
    const server = new FakeLookupd(options);
    await server.#listen();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Replaces (or adds) the handler for one command name. */
  handle(name: string, handler: CommandHandler): void {
    this.#handlers[name] = handler;
  }

  handlerFor(name: string): CommandHandler {
    return this.#handlers[name] ?? this.#handlers['*']!;
  }

  /**
   * Holds back the answer to the next command equal to `line` (and every answer after it on that
   * connection, as lookupd answers in order) until the returned function is called.
   */
  hold(line: string): () => void {
    let release!: () => void;
    this.#gates.set(
      line,
      new Promise((resolve) => {
        release = resolve;
      }),
    );
    return () => release();
  }

  /** Commands received with this name. */
  commands(name: string): ReceivedCommand[] {
    return this.received.filter((c) => c.name === name);
  }

  /** Every command line received, in arrival order. */
  lines(): string[] {
    return this.received.map((c) => c.line);
  }

  /**
   * Resolves once `condition()` holds, re-checked after every connection, command and close, and
   * every 10 ms for state the server does not see change (a test's own handler variables).
   */
  until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return eventually(condition, `${what} (fake lookupd ${this.address})`, {
      timeoutMs,
      wake: (recheck) => {
        this.#events.on('change', recheck);
        return () => this.#events.off('change', recheck);
      },
    });
  }

  /** Resolves once a command line equal to `line` has been received (now or later). */
  waitFor(line: string, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.received.some((c) => c.line === line), `'${line}'`, timeoutMs);
  }

  waitForCommands(count: number): Promise<void> {
    return this.until(() => this.received.length >= count, `${count} commands`);
  }

  waitForConnections(count: number): Promise<void> {
    return this.until(() => this.connections.length >= count, `${count} connections`);
  }

  /** Drops every open connection (as a lookupd that lost them would), and keeps listening. */
  async dropConnections(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await Promise.all(this.connections.map((c) => c.closed));
  }

  /** Stops listening and drops every connection, as a lookupd that died; {@link restart} brings it back. */
  async crash(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    await Promise.all([closed, this.dropConnections()]);
  }

  /** Listens again on the port it had, after {@link crash}. */
  async restart(): Promise<void> {
    if (this.#server) throw new Error(`fake lookupd ${this.address} is still running`);
    await this.#listen();
  }

  /** Closes the listener and every accepted socket; resolves once all are closed. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.crash();
  }

  /** Records a command from one of its connections; returns the gate its answer waits for. */
  record(command: ReceivedCommand): Promise<void> | undefined {
    this.received.push(command);
    const gate = this.#gates.get(command.line);
    if (gate) this.#gates.delete(command.line);
    this.#events.emit('change');
    return gate;
  }

  async #listen(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: this.#options.allowHalfOpen ?? false }, (socket) =>
      this.#onConnection(socket),
    );
    this.#server = server;
    server.listen({ host: '127.0.0.1', port: this.#port });
    await once(server, 'listening');
    this.#port = (server.address() as net.AddressInfo).port;
  }

  #onConnection(socket: net.Socket): void {
    const connection = new FakeConnection(this.connections.length + 1, socket, this);
    this.connections.push(connection);
    void connection.closed.then(() => this.#events.emit('change'));
    if (this.#abort.signal.aborted || this.#server === undefined) {
      socket.destroy();
      return;
    }
    this.#events.emit('change');
    if (this.#options.onConnection) {
      // Nothing is read until the hook is done, so it can talk first or hang up first.
      socket.pause();
      void Promise.resolve(this.#options.onConnection(connection))
        .catch((error: unknown) => this.handlerErrors.push(error))
        .finally(() => {
          if (!socket.destroyed) socket.resume();
        });
    }
  }

  #defaultHandlers(): Record<string, CommandHandler> {
    return {
      PING: answer.ok,
      REGISTER: answer.ok,
      UNREGISTER: answer.ok,
      IDENTIFY: (_, c) => c.reply(JSON.stringify(this.info)),
      '*': (cmd, c) => answer.fatal(`E_INVALID invalid command ${cmd.name}`)(cmd, c),
    };
  }

  /** The IDENTIFY answer, keys in lookupd's order. */
  get info(): LookupdInfoAnswer {
    const info = this.#options.info ?? {};
    return {
      broadcast_address: info.broadcast_address ?? 'fake-lookupd.example',
      hostname: info.hostname ?? 'fake-lookupd-host',
      http_port: info.http_port ?? 4161,
      tcp_port: info.tcp_port ?? this.#port,
      version: info.version ?? '1.3.0',
    };
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
