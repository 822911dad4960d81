import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { frame, MAGIC_BYTES } from './wire-builder.js';

/**
 * A scripted stand-in for nsqlookupd's TCP side, for peer tests. It parses what a client sends (magic,
 * command lines, IDENTIFY bodies), records every command, and answers through one handler per command
 * name. By default it answers like lookupd v1.3.0 (OK to PING/REGISTER/UNREGISTER, its info to
 * IDENTIFY, `E_INVALID` and a hang-up to anything else); a test replaces handlers to stay silent,
 * answer slowly, close, reset, send garbage or close mid-frame. Handlers of one connection run one at
 * a time, in command order, as lookupd's do.
 *
 * Listens on 127.0.0.1 port 0. stop() closes the listener and every accepted socket, cancels pending
 * sleeps, and resolves once all of them are closed.
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

export type CommandHandler = (
  command: ReceivedCommand,
  connection: ScriptedConnection,
) => void | Promise<void>;

export interface LookupdInfoAnswer {
  broadcast_address: string;
  hostname: string;
  http_port: number;
  tcp_port: number;
  version: string;
}

export interface ScriptedServerOptions {
  /** Handlers by command name, replacing the lookupd-like defaults. */
  handlers?: Record<string, CommandHandler>;
  /** Runs when a connection is accepted, before any byte is read (to close, reset, or talk first). */
  onConnection?: (connection: ScriptedConnection) => void | Promise<void>;
  /** Fields of the IDENTIFY answer; `tcp_port` defaults to the server's port. */
  info?: Partial<LookupdInfoAnswer>;
  /** Keep a connection open after the client's FIN (lookupd closes its side; a stuck server doesn't). */
  allowHalfOpen?: boolean;
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

export class ScriptedConnection {
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
    private readonly server: ScriptedServer,
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

  /** Waits `ms`; rejects (ending the handler) if the server is stopped first. */
  sleep(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.server.signal });
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
      this.server.record(command);
      const handler = this.server.handlerFor(name);
      this.#chain = this.#chain
        .then(() => (this.#stopped ? undefined : handler(command, this)))
        .catch((error: unknown) => {
          if (!this.server.signal.aborted) this.server.handlerErrors.push(error);
        });
    }
    this.#pending = Buffer.from(buf);
  }
}

export class ScriptedServer {
  readonly connections: ScriptedConnection[] = [];
  /** Every command received, on any connection, in arrival order. */
  readonly received: ReceivedCommand[] = [];
  /** Errors thrown by handlers (a test may assert there are none). */
  readonly handlerErrors: unknown[] = [];
  /** Errors on accepted sockets (ECONNRESET when the client resets, say). */
  readonly socketErrors: Error[] = [];
  readonly #server: net.Server;
  readonly #handlers: Record<string, CommandHandler>;
  readonly #options: ScriptedServerOptions;
  readonly #events = new EventEmitter();
  readonly #abort = new AbortController();
  #port = 0;

  private constructor(options: ScriptedServerOptions) {
    this.#options = options;
    this.#handlers = { ...this.#defaultHandlers(), ...options.handlers };
    this.#server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) =>
      this.#onConnection(socket),
    );
  }

  static async start(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
    const server = new ScriptedServer(options);
    server.#server.listen({ host: '127.0.0.1', port: 0 });
    await once(server.#server, 'listening');
    server.#port = (server.#server.address() as net.AddressInfo).port;
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

  /** Commands received with this name. */
  commands(name: string): ReceivedCommand[] {
    return this.received.filter((c) => c.name === name);
  }

  /**
   * Resolves once `condition()` holds, re-checked after every connection, command and close, and every
   * 10 ms for conditions on state the server does not see change (a test's own handler variables).
   */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        done();
        resolve();
      };
      const poll = setInterval(check, 10);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`scripted server: still waiting for ${what} after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#events.off('change', check);
      };
      this.#events.on('change', check);
    });
  }

  waitForCommands(count: number): Promise<void> {
    return this.until(() => this.received.length >= count, `${count} commands`);
  }

  waitForConnections(count: number): Promise<void> {
    return this.until(() => this.connections.length >= count, `${count} connections`);
  }

  /** Closes the listener and every accepted socket; resolves once all are closed. */
  async stop(): Promise<void> {
    this.#abort.abort();
    const listenerClosed = this.#server.listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    for (const c of this.connections) c.socket.destroy();
    await Promise.all([listenerClosed, ...this.connections.map((c) => c.closed)]);
  }

  record(command: ReceivedCommand): void {
    this.received.push(command);
    this.#events.emit('change');
  }

  #onConnection(socket: net.Socket): void {
    const connection = new ScriptedConnection(this.connections.length + 1, socket, this);
    this.connections.push(connection);
    void connection.closed.then(() => this.#events.emit('change'));
    if (this.#abort.signal.aborted) {
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
      broadcast_address: info.broadcast_address ?? 'scripted.example',
      hostname: info.hostname ?? 'scripted-host',
      http_port: info.http_port ?? 4161,
      tcp_port: info.tcp_port ?? this.#port,
      version: info.version ?? '1.3.0',
    };
  }
}

/** Starts a scripted server; the caller registers `stop()` as cleanup. */
export function startScriptedServer(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  return ScriptedServer.start(options);
}
