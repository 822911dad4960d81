import { request } from 'node:http';
import type { Socket } from 'node:net';
import { connectSocket } from './connect.js';

/**
 * The two ways a recorded scenario talks to a lookupd, shared by the replayer and the recorder: a V1
 * TCP client that frames every answer and notes when and how the server closed, and a raw HTTP request
 * that keeps the body's bytes.
 */

/** How long a wait for frames or a close may take before a step fails. */
export const STEP_TIMEOUT_MS = 5000;

export interface ReceivedFrame {
  size: number;
  body: Buffer;
  /** Index of the step that was running when the frame arrived. */
  step: number;
}

export class WireClient {
  readonly frames: ReceivedFrame[] = [];
  closed = false;
  reset = false;
  closedAtStep = -1;
  destroyedByUs = false;
  localPort = 0;
  garbage: string | undefined;
  /** Called after every frame and at the close (the recorder waits for quiet with it). */
  onActivity: (() => void) | undefined;
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();
  readonly #step: () => number;

  private constructor(socket: Socket, step: () => number) {
    this.#socket = socket;
    this.#step = step;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      if (!this.closed) {
        this.closed = true;
        this.closedAtStep = this.#step();
      }
      this.#notify();
    });
  }

  static async connect(address: string, step: () => number): Promise<WireClient> {
    const socket = await connectSocket(address);
    const client = new WireClient(socket, step);
    client.localPort = socket.localPort ?? 0;
    return client;
  }

  write(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  end(): void {
    if (!this.#socket.destroyed) this.#socket.end();
  }

  destroy(): void {
    this.destroyedByUs = true;
    this.#socket.destroy();
  }

  /** Resolves once `condition` holds, re-checked at every frame and at the close. */
  async until(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`));
      }, STEP_TIMEOUT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  #notify(): void {
    this.onActivity?.();
    for (const waiter of [...this.#waiters]) waiter();
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 4 && this.garbage === undefined) {
      const size = this.#pending.readInt32BE(0);
      if (size < 0 || size > 64 * 1024 * 1024) {
        this.garbage = `frame size ${size}`;
        break;
      }
      if (this.#pending.length < 4 + size) break;
      this.frames.push({ size, body: Buffer.from(this.#pending.subarray(4, 4 + size)), step: this.#step() });
      this.#pending = this.#pending.subarray(4 + size);
    }
    this.#notify();
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export function httpRequest(
  address: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<HttpResult> {
  const at = address.lastIndexOf(':');
  const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address.slice(0, at).replace(/^\[|\]$/g, ''),
        port: Number(address.slice(at + 1)),
        method,
        path,
        agent: false,
        headers: { ...headers, 'content-length': String(payload?.length ?? 0) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const h: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(res.headers))
            h[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The response headers the recordings keep. */
export const RECORDED_HEADERS = ['content-type', 'x-nsq-content-type', 'allow', 'location'];
