import type { Socket } from 'node:net';
import { connectSocket } from './connect.js';

/**
 * A bare V1 client for tests: writes raw bytes, collects response frames ([int32 size][body]) and
 * notes how the connection ended. Builds its frames with no help from the library's codec.
 */
export class V1Client {
  readonly frames: Buffer[] = [];
  /** Set once the socket is closed; `reset` when that came with ECONNRESET. */
  closed = false;
  reset = false;
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 4) {
        const size = this.#pending.readInt32BE(0);
        if (size < 0 || this.#pending.length < 4 + size) break;
        this.frames.push(Buffer.from(this.#pending.subarray(4, 4 + size)));
        this.#pending = this.#pending.subarray(4 + size);
      }
      this.#notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // EPIPE: a write after the peer's RST, which is how some resets are first noticed.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  static async open(address: string): Promise<V1Client> {
    return new V1Client(await connectSocket(address));
  }

  /** Bytes received after the last complete frame. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  get localPort(): number {
    return this.#socket.localPort ?? 0;
  }

  /** Resolves once `write`'s bytes are handed to the kernel (false if the socket is gone). */
  write(bytes: Buffer | string): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed || !this.#socket.writable) {
        resolve(false);
        return;
      }
      this.#socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, (error) =>
        resolve(!error),
      );
    });
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Waits for `count` frames in total (or the close), then returns them as latin1 text. */
  async texts(count: number, timeoutMs = 5000): Promise<string[]> {
    await this.until(() => this.frames.length >= count || this.closed, `${count} frame(s)`, timeoutMs);
    return this.frames.map((f) => f.toString('latin1'));
  }

  async untilClosed(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.closed, 'the close', timeoutMs);
  }

  until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.frames.length}`),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** `IDENTIFY\n`, the body size and the body. */
export function identifyBytes(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const size = Buffer.alloc(4);
  size.writeInt32BE(bytes.length, 0);
  return Buffer.concat([Buffer.from('IDENTIFY\n'), size, bytes]);
}

/** An IDENTIFY body as nsqd 1.3.0 writes it. */
export function nsqdIdentity(broadcastAddress = 'broker.example', tcpPort = 4150, httpPort = 4151): string {
  return JSON.stringify({
    broadcast_address: broadcastAddress,
    hostname: 'h',
    http_port: httpPort,
    tcp_port: tcpPort,
    version: '1.3.0',
  });
}
