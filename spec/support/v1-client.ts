import type { Socket } from 'node:net';
import { FrameReader } from '../../harness/v1-frames.js';
import { connectSocket } from './connect.js';
import { eventually } from './wait.js';

/**
 * The one bare V1 client of the specs, for talking to a lookupd byte by byte (the lookupd specs, the
 * fuzzers, the differential runs, the fixture replayer and recorder): it writes raw bytes, frames
 * every answer with {@link FrameReader}, and notes how the connection ended (FIN or RST, and at
 * which step), and whether the server sent bytes that are no frame. It builds nothing with the
 * library's codec.
 */

export interface ReceivedFrame {
  size: number;
  body: Buffer;
  /** The caller's step that was running when the frame arrived (see {@link V1ClientOptions.step}). */
  step: number;
}

export interface V1ClientOptions {
  /**
   * The caller's current step, read as each frame and the close arrive: the replayer tags them so a
   * frame that came too early shows up as a stale frame at the next step. Default: always 0.
   */
  step?: () => number;
}

/** How long a wait for frames or a close may take by default. */
export const V1_CLIENT_TIMEOUT_MS = 5000;

export class V1Client {
  /** Frames not yet taken by the caller (a caller may splice them off as it checks them). */
  readonly frames: ReceivedFrame[] = [];
  /** Set once the socket is closed. */
  closed = false;
  /** The step running when the socket closed; -1 while open. */
  closedAtStep = -1;
  /** The first socket error, if any. */
  error: NodeJS.ErrnoException | undefined;
  /** The code of every socket error seen. */
  readonly errorCodes = new Set<string>();
  /** Set by destroy(): the caller closed it, so its silence or close says nothing about the server. */
  destroyedByUs = false;
  readonly localPort: number;
  /** Called after every chunk received and at the close (the recorder waits for quiet with it). */
  onActivity: (() => void) | undefined;
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  readonly #received: Buffer[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #step: () => number;

  private constructor(socket: Socket, options: V1ClientOptions) {
    this.#socket = socket;
    this.#step = options.step ?? (() => 0);
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      this.#received.push(chunk);
      for (const { size, body } of this.#reader.push(chunk)) {
        this.frames.push({ size, body, step: this.#step() });
      }
      this.#notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error ??= error;
      if (error.code) this.errorCodes.add(error.code);
    });
    socket.on('close', () => {
      if (!this.closed) {
        this.closed = true;
        this.closedAtStep = this.#step();
      }
      this.#notify();
    });
  }

  static async open(address: string, options: V1ClientOptions = {}): Promise<V1Client> {
    return new V1Client(await connectSocket(address), options);
  }

  /** The connection was reset (ECONNRESET). */
  get reset(): boolean {
    return this.errorCodes.has('ECONNRESET');
  }

  /** A write failed with EPIPE: the server had reset the connection before the write. */
  get brokenPipe(): boolean {
    return this.errorCodes.has('EPIPE');
  }

  /** Why the answers stopped being frames (`frame size <n>`), if they did. */
  get garbage(): string | undefined {
    return this.#reader.garbage;
  }

  /** Bytes received after the last complete frame. */
  get pendingBytes(): number {
    return this.#reader.pendingBytes;
  }

  /** Every byte received, in order, frames or not. */
  received(): Buffer {
    return Buffer.concat(this.#received);
  }

  /** Resolves once the bytes are handed to the kernel (false if the socket is gone). */
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

  /** Half-closes (FIN). */
  end(): void {
    if (!this.#socket.destroyed) this.#socket.end();
  }

  destroy(): void {
    this.destroyedByUs = true;
    this.#socket.destroy();
  }

  /** Waits for `count` frames in total (or the close), then returns them all as latin1 text. */
  async texts(count: number, timeoutMs = V1_CLIENT_TIMEOUT_MS): Promise<string[]> {
    await this.until(() => this.frames.length >= count || this.closed, `${count} frame(s)`, timeoutMs);
    return this.frames.map((f) => f.body.toString('latin1'));
  }

  async untilClosed(timeoutMs = V1_CLIENT_TIMEOUT_MS): Promise<void> {
    await this.until(() => this.closed, 'the close', timeoutMs);
  }

  /** Resolves once `condition` holds, re-checked at every chunk received and at the close. */
  until(condition: () => boolean, what: string, timeoutMs = V1_CLIENT_TIMEOUT_MS): Promise<void> {
    return eventually(condition, `${what} (${this.frames.length} frame(s) so far)`, {
      timeoutMs,
      wake: (recheck) => {
        this.#waiters.add(recheck);
        return () => this.#waiters.delete(recheck);
      },
    });
  }

  #notify(): void {
    this.onActivity?.();
    for (const waiter of [...this.#waiters]) waiter();
  }
}
