import { EventEmitter } from 'node:events';
import * as net from 'node:net';

/**
 * A minimal lookupd stand-in that answers every V1 command correctly and records each command line
 * (IDENTIFY included) per connection, for specs that look at exactly what a client wrote.
 */
export class RecordingLookupd extends EventEmitter {
  readonly commands: string[] = [];
  readonly #server = net.createServer((socket) => this.#accept(socket));
  readonly #sockets = new Set<net.Socket>();
  readonly #gates = new Map<string, Promise<void>>();
  connections = 0;

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

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  /** Resolves when a command line equal to `line` has been received (now or later). */
  waitFor(line: string): Promise<void> {
    if (this.commands.includes(line)) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (received: string) => {
        if (received !== line) return;
        this.off('command', listener);
        resolve();
      };
      this.on('command', listener);
    });
  }

  /** Drops every client connection (as a crashing lookupd would), keeps listening. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(socket: net.Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let magicSeen = false;
    let answered: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!magicSeen) {
          if (buffered.length < 4) return;
          magicSeen = true;
          buffered = buffered.subarray(4);
          continue;
        }
        const newline = buffered.indexOf(0x0a);
        if (newline < 0) return;
        const line = buffered.toString('latin1', 0, newline);
        let consumed = newline + 1;
        let answer = 'OK';
        if (line === 'IDENTIFY') {
          if (buffered.length < consumed + 4) return;
          const size = buffered.readInt32BE(consumed);
          if (buffered.length < consumed + 4 + size) return;
          consumed += 4 + size;
          answer = JSON.stringify({
            tcp_port: 4160,
            http_port: 4161,
            version: '1.3.0',
            broadcast_address: 'recording',
            hostname: 'recording',
          });
        }
        buffered = buffered.subarray(consumed);
        this.commands.push(line);
        this.emit('command', line);
        const body = Buffer.from(answer);
        const frame = Buffer.alloc(4 + body.length);
        frame.writeInt32BE(body.length, 0);
        body.copy(frame, 4);
        const gate = this.#gates.get(line);
        if (gate) this.#gates.delete(line);
        answered = answered
          .then(() => gate)
          .then(() => {
            if (!socket.destroyed) socket.write(frame);
          });
      }
    });
  }
}
