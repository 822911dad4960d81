import * as net from 'node:net';
import {
  ConnectionError,
  type ConnectionErrorCode,
  InvalidArgumentError,
  LookupdError,
  NsqLookupError,
  ProtocolError,
} from '../errors.js';
import { ResponseDecoder } from '../protocol/decoder.js';
import { isErrorBody } from '../protocol/response.js';
import { splitHostPort } from '../util/address.js';
import type { LogFn } from '../util/debug.js';

export interface ConnectionOptions {
  dialTimeoutMs: number;
  readTimeoutMs: number;
  maxBodyBytes: number;
  log: LogFn;
  /** Abandons the dial: it rejects with the signal's reason once the socket is closed. */
  signal?: AbortSignal;
  /**
   * Called once, synchronously, when the connection fails, before its pending commands reject, so
   * that the owner stops routing commands to it before anyone reacts to those rejections.
   */
  onFailure?: (error: Error) => void;
}

/** One command awaiting its answer, or a batch of `remaining` commands awaiting theirs. */
interface Pending {
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
  /** Answers still owed to this entry (1 for a single command). */
  remaining: number;
  /** Batches only: called for each answer but the last. */
  onAnswer?: () => void;
}

/**
 * One TCP connection to one lookupd: writes commands (batched per tick), matches response frames to
 * them in order, and dies on the first failure. It knows nothing of reconnecting or connect callbacks;
 * {@link LookupPeer} owns that.
 */
export class Connection {
  readonly address: string;
  readonly #socket: net.Socket;
  readonly #decoder: ResponseDecoder;
  readonly #options: ConnectionOptions;
  readonly #pending: Pending[] = [];
  #pendingHead = 0;
  /** Answers owed over all pending entries. */
  #owed = 0;
  #outbox: Buffer[] = [];
  #flushScheduled = false;
  /**
   * The deadline of the answer at the head of the queue: restarted only when an answer becomes the
   * next one due (sent with nothing owed, or its predecessor complete), never by partial bytes, so a
   * trickling lookupd cannot stretch it and a pipeline of n answers takes at most n x readTimeoutMs.
   */
  #answerDeadline: NodeJS.Timeout | undefined;
  /** Answers matched so far, to tell whether a chunk completed one. */
  #answered = 0;
  #failure: Error | undefined;
  readonly #closed: Promise<Error>;
  #resolveClosed!: (error: Error) => void;

  private constructor(address: string, socket: net.Socket, options: ConnectionOptions) {
    this.address = address;
    this.#socket = socket;
    this.#options = options;
    this.#decoder = new ResponseDecoder(options.maxBodyBytes);
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onSocketError(error));
    socket.on('close', () => this.#onSocketClose());
  }

  /**
   * Dials `address`; rejects with a {@link ConnectionError} naming the address on refusal or timeout,
   * or with the reason of `options.signal` when aborted. A failed dial settles only once its socket is
   * closed, so nothing is left behind when the promise settles.
   */
  static dial(address: string, options: ConnectionOptions): Promise<Connection> {
    const { host, port } = splitHostPort(address);
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const socket = net.connect({ host, port });
      const fail = (error: unknown) => {
        cleanup();
        // Every path here runs before the socket's 'close' (a handle closes asynchronously).
        socket.once('close', () => reject(error));
        socket.destroy();
      };
      const timer = setTimeout(() => {
        fail(
          new ConnectionError(
            'NSQ_ERR_CONNECT_TIMEOUT',
            address,
            `no TCP connection within ${options.dialTimeoutMs} ms (dialTimeoutMs)`,
          ),
        );
      }, options.dialTimeoutMs);
      timer.unref();
      const onError = (cause: Error) => {
        fail(new ConnectionError('NSQ_ERR_CONNECT', address, `cannot connect: ${cause.message}`, { cause }));
      };
      const onAbort = () => fail(signal!.reason);
      const onConnect = () => {
        cleanup();
        resolve(new Connection(address, socket, options));
      };
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('connect', onConnect);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      socket.once('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Responses still owed by lookupd. */
  get inFlight(): number {
    return this.#owed;
  }

  /** Resolves with the reason once the socket is gone, whoever ended it. */
  get closed(): Promise<Error> {
    return this.#closed;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Writes raw bytes that expect no answer (the magic). */
  writeRaw(bytes: Buffer): void {
    if (this.#failure) return;
    this.#enqueue(bytes);
  }

  /** Writes one command and resolves with its response body; rejects with lookupd's `E_*` as {@link LookupdError}. */
  send(command: Buffer): Promise<Buffer> {
    return this.sendBatch(command, 1);
  }

  /**
   * Writes `count` commands already encoded back to back in `commands` and resolves with the last
   * answer once all `count` are in; `onAnswer` sees each of the others. One promise for a whole
   * re-registration burst instead of one per command. An `E_*` answer rejects the batch.
   */
  sendBatch(commands: Buffer, count: number, onAnswer?: () => void): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!(count >= 1))
      return Promise.reject(new InvalidArgumentError(`a batch needs at least one command, got ${count}`));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject, remaining: count, onAnswer });
      this.#owed += count;
      if (this.#owed === count) this.#startAnswerDeadline();
      this.#enqueue(commands);
    });
  }

  /** Ends the connection now: pending commands reject with `error`, the socket is destroyed. */
  destroy(error: Error): void {
    this.#fail(error);
    this.#socket.destroy();
  }

  /** Graceful end: pending commands reject with `error`, FIN is sent, resolves once the socket is closed. */
  async end(error: Error, graceMs: number): Promise<void> {
    this.#fail(error);
    if (this.#socket.destroyed) {
      // Already failed and destroyed: its close may still be under way.
      await this.#closed;
      return;
    }
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), graceMs);
    timer.unref();
    await this.#closed;
    clearTimeout(timer);
  }

  #enqueue(bytes: Buffer): void {
    this.#outbox.push(bytes);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Commands issued in the same tick (a re-registration burst) leave in one write.
    process.nextTick(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const outbox = this.#outbox;
    this.#outbox = [];
    if (this.#failure || outbox.length === 0) return;
    this.#socket.write(outbox.length === 1 ? outbox[0]! : Buffer.concat(outbox));
  }

  #onData(chunk: Buffer): void {
    if (this.#failure) return;
    const answeredBefore = this.#answered;
    try {
      this.#decoder.parse(chunk, (body) => this.#onFrame(body));
    } catch (error) {
      const cause =
        error instanceof NsqLookupError ? error : new ProtocolError(String(error), { cause: error });
      this.destroy(new ConnectionError('NSQ_ERR_PROTOCOL', this.address, cause.message, { cause }));
      return;
    }
    if (this.#failure) return;
    if (this.#owed === 0) this.#stopAnswerDeadline();
    else if (this.#answered !== answeredBefore) this.#startAnswerDeadline();
  }

  #onFrame(body: Buffer): void {
    if (this.#failure) return;
    const pending = this.#pending[this.#pendingHead];
    if (!pending) {
      throw new ProtocolError(`unsolicited response frame ${JSON.stringify(body.toString('utf8', 0, 100))}`);
    }
    this.#owed--;
    this.#answered++;
    const error = isErrorBody(body) ? LookupdError.parse(body, this.address) : null;
    if (!error && pending.remaining > 1) {
      pending.remaining--;
      pending.onAnswer?.();
      return;
    }
    this.#pending[this.#pendingHead++] = undefined as unknown as Pending;
    if (this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
    if (error) {
      // nsqlookupd hangs up after every E_* answer: the rest of the pipeline is lost with it.
      pending.reject(error);
      this.destroy(
        new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', this.address, `closed after ${error.message}`, {
          cause: error,
        }),
      );
      return;
    }
    pending.resolve(Buffer.from(body));
  }

  /** A new answer is due: it has readTimeoutMs from now to be complete. */
  #startAnswerDeadline(): void {
    if (this.#answerDeadline) {
      this.#answerDeadline.refresh();
      return;
    }
    const timeoutMs = this.#options.readTimeoutMs;
    this.#answerDeadline = setTimeout(() => {
      this.#answerDeadline = undefined;
      if (this.#failure || this.#owed === 0) return;
      const partial = this.#decoder.bufferedBytes;
      this.#options.log(
        '%s: answer not complete within %d ms (%d bytes of it in), %d owed',
        this.address,
        timeoutMs,
        partial,
        this.#owed,
      );
      this.destroy(
        new ConnectionError(
          'NSQ_ERR_READ_TIMEOUT',
          this.address,
          `no complete answer within ${timeoutMs} ms (readTimeoutMs) with ${this.#owed} command(s) owed` +
            (partial > 0 ? `; ${partial} byte(s) of the next answer received` : ''),
        ),
      );
    }, timeoutMs);
    this.#answerDeadline.unref();
  }

  #stopAnswerDeadline(): void {
    if (this.#answerDeadline) clearTimeout(this.#answerDeadline);
    this.#answerDeadline = undefined;
  }

  #onSocketError(error: NodeJS.ErrnoException): void {
    if (this.#failure) return;
    const code: ConnectionErrorCode =
      error.code === 'ECONNRESET' || error.code === 'EPIPE'
        ? 'NSQ_ERR_CONNECTION_RESET'
        : 'NSQ_ERR_CONNECTION_CLOSED';
    this.#fail(
      new ConnectionError(code, this.address, `connection failed: ${error.message}`, { cause: error }),
    );
  }

  #onSocketClose(): void {
    this.#fail(
      new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', this.address, 'connection closed by lookupd'),
    );
    this.#resolveClosed(this.#failure!);
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#stopAnswerDeadline();
    this.#outbox = [];
    this.#options.onFailure?.(error);
    const pending = this.#pending.slice(this.#pendingHead);
    this.#pending.length = 0;
    this.#pendingHead = 0;
    this.#owed = 0;
    for (const p of pending) p.reject(error);
  }
}

export type { ConnectionErrorCode };
