import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NSQD_BIN, startNsqProcess } from '../../harness/oracle.js';
import { splitHostPort } from '../../lib/index.js';

export interface Frame {
  type: 'response' | 'error' | 'message';
  data: Buffer;
  /** `response: OK`, `error: E_INVALID ...` or `message: <body>`. */
  text: string;
  message?: { timestampNs: bigint; attempts: number; id: string; body: Buffer };
}

/** A raw V2 connection that records every frame it receives. */
export class RawV2 {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  #pending = Buffer.alloc(0);
  #read = 0;
  #waiters: Array<() => void> = [];
  #isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', () => {});
    this.closed = once(socket, 'close').then(() => {
      this.#isClosed = true;
      this.#wake();
    });
  }

  static async connect(address: string): Promise<RawV2> {
    const { host, port } = splitHostPort(address);
    const socket = connect(port, host);
    await once(socket, 'connect');
    return new RawV2(socket);
  }

  send(...parts: Array<string | Buffer>): void {
    for (const part of parts)
      this.socket.write(typeof part === 'string' ? Buffer.from(part, 'latin1') : part);
  }

  /** The next frame not read yet (heartbeats included); throws if the connection closes first. */
  async next(): Promise<Frame> {
    for (;;) {
      const frame = this.frames[this.#read];
      if (frame) {
        this.#read++;
        return frame;
      }
      if (this.#isClosed) throw new Error(`connection closed; frames so far: ${this.texts().join(' | ')}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async nextText(): Promise<string> {
    return (await this.next()).text;
  }

  /** Every frame received so far, as text. */
  texts(): string[] {
    return this.frames.map((frame) => frame.text);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 4) {
      const size = this.#pending.readInt32BE(0);
      if (this.#pending.length < 4 + size) break;
      const type = this.#pending.readInt32BE(4);
      const data = this.#pending.subarray(8, 4 + size);
      this.#pending = this.#pending.subarray(4 + size);
      if (type === 2) {
        const message = {
          timestampNs: data.readBigInt64BE(0),
          attempts: data.readUInt16BE(8),
          id: data.subarray(10, 26).toString('latin1'),
          body: data.subarray(26),
        };
        this.frames.push({ type: 'message', data, text: `message: ${message.body}`, message });
      } else {
        const kind = type === 1 ? 'error' : 'response';
        this.frames.push({ type: kind, data, text: `${kind}: ${data.toString('latin1')}` });
      }
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A running nsqd-compatible server: the broker (lib/broker) or the real nsqd. */
export interface RunningNsqd {
  tcpAddress: string;
  httpAddress: string;
  close(): Promise<void>;
}

/**
 * The real nsqd on free 127.0.0.1 ports with a temporary data directory; `flags` are nsqd's
 * (`--max-msg-size=10`).
 */
export async function startRealNsqd(flags: string[] = []): Promise<RunningNsqd> {
  if (!NSQD_BIN) throw new Error('NSQD_BIN is not set');
  const dataPath = await mkdtemp(join(tmpdir(), 'nsqd-'));
  const nsqd = await startNsqProcess(NSQD_BIN, [], {
    extraArgs: ['--broadcast-address=127.0.0.1', `--data-path=${dataPath}`, ...flags],
  });
  return {
    tcpAddress: nsqd.tcpAddress,
    httpAddress: nsqd.httpAddress,
    async close() {
      await nsqd.close();
      await rm(dataPath, { recursive: true, force: true });
    },
  };
}
