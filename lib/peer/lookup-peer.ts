import { hostname as osHostname } from 'node:os';
import { ConnectionError, ProtocolError } from '../errors.js';
import { DEFAULT_MAX_BODY_BYTES, MAGIC_V1 } from '../protocol/constants.js';
import {
  encodeIdentify,
  encodeRegister,
  encodeUnregister,
  type IdentifyInfo,
  PING,
} from '../protocol/encoder.js';
import { type LookupdInfo, parseIdentifyResponse } from '../protocol/response.js';
import { splitHostPort } from '../util/address.js';
import { type LogFn, logger } from '../util/debug.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { integerAtLeast, positiveNumber } from '../util/validate.js';
import { Connection } from './connection.js';

/**
 * What a connect callback gets: commands bound to the connection just made (ioredis'
 * `sendCommand(cmd, stream)`), sent before anything that waits for the connection, in the order
 * issued. Once that connection has failed, they reject with its error.
 */
export interface ConnectHandle {
  /** The lookupd's TCP address (the peer's {@link LookupPeer.address}). */
  readonly address: string;
  /** IDENTIFY; resolves with lookupd's info, also kept as the peer's `info`. */
  identify(info: IdentifyInfo): Promise<LookupdInfo>;
  /** `REGISTER topic [channel]`; rejects with a {@link LookupdError} on an `E_*` answer. */
  register(topic: string, channel?: string): Promise<void>;
  /** `UNREGISTER topic [channel]`; rejects like {@link register}. */
  unregister(topic: string, channel?: string): Promise<void>;
  /** PING; resolves on lookupd's `OK`. */
  ping(): Promise<void>;
  /** One encoded command; resolves with lookupd's answer. */
  command(command: Buffer): Promise<Buffer>;
  /** `count` encoded commands in one write, as {@link LookupPeer.commandBatch}. */
  commandBatch(commands: Buffer, count: number, onAnswer?: () => void): Promise<Buffer>;
}

/** `disconnected` → `connecting` (dial, magic, connect callback) → `connected`; `closed` is final. */
export type PeerState = 'disconnected' | 'connecting' | 'connected' | 'closed';

/** What {@link LookupPeer} takes; every field is optional. */
export interface LookupPeerOptions {
  /**
   * The connect callback, run after every (re)connect once the magic is written and before any command
   * that was waiting for the connection. Commands it issues on its {@link ConnectHandle} go to that
   * connection first, in the order issued.
   * If it throws or rejects, the connection is dropped and the waiting commands reject: with the
   * connection's own failure if it failed (an `E_*` answer, a timeout, a malformed IDENTIFY answer),
   * else with `NSQ_ERR_CONNECT_CALLBACK` (`NSQ_ERR_PROTOCOL` for a {@link ProtocolError}), the thrown
   * value as its cause.
   */
  onConnect?: (connection: ConnectHandle) => unknown;
  /** Time allowed for the TCP handshake, in ms (default 1000, as nsqd); then `NSQ_ERR_CONNECT_TIMEOUT`. */
  dialTimeoutMs?: number;
  /**
   * Time each answer has to arrive whole, in ms, counted from when it becomes the next one due (sent
   * with nothing else owed, or the answer before it complete), partial bytes notwithstanding (default
   * 1000, as nsqd). On expiry every pending command rejects with `NSQ_ERR_READ_TIMEOUT` and the connection is
   * dropped; a pipeline of n commands takes at most n times this long.
   */
  readTimeoutMs?: number;
  /** Largest response body accepted, in bytes (nsqd's `--max-body-size`, default 5 MiB). */
  maxBodyBytes?: number;
  /** Replaces the `debug` logger (`nsqd-lookup:lookup-peer:<address>`). */
  log?: LogFn;
}

/** What {@link LookupPeer} emits, event name to listener arguments; listeners run on the next tick. */
export interface LookupPeerEvents {
  [event: string]: unknown[];
  /** Every state change, with the state before it. */
  state: [state: PeerState, previous: PeerState];
  /** The connect callback finished; the connection is usable. */
  connect: [];
  /** A connection (or an attempt at one) ended; `error` says why. Not emitted for `close()`. */
  disconnect: [error: Error];
}

interface Waiting {
  commands: Buffer;
  count: number;
  onAnswer: (() => void) | undefined;
  resolve: (body: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * One lookupd, one TCP connection, connected lazily like nsqd's `lookupPeer`: the first command dials,
 * writes the magic and runs the connect callback. Unlike nsqd's, many commands may be in flight at once
 * (responses are matched in order), and a failure rejects every pending command with an error that
 * names this address.
 */
export class LookupPeer extends TypedEmitter<LookupPeerEvents> {
  /** The lookupd's TCP address, `host:port` or `[v6]:port`. */
  readonly address: string;
  /** lookupd's answer to the last successful {@link identify} on this peer. */
  info: LookupdInfo | undefined;
  readonly #options: Required<Omit<LookupPeerOptions, 'onConnect' | 'log'>> &
    Pick<LookupPeerOptions, 'onConnect'>;
  readonly #log: LogFn;
  #state: PeerState = 'disconnected';
  /** The last connection made; once it has failed it only stays here for close() to await its socket. */
  #connection: Connection | undefined;
  #connecting: Promise<void> | undefined;
  /** The dial in progress (settled when none), for close() to await. */
  #dialing: Promise<unknown> = Promise.resolve();
  /** Aborted by close(): abandons a dial in progress. */
  readonly #abort = new AbortController();
  #waiting: Waiting[] = [];
  #markClosed!: () => void;
  readonly #closed = new Promise<void>((resolve) => {
    this.#markClosed = resolve;
  });

  constructor(address: string, options: LookupPeerOptions = {}) {
    super();
    splitHostPort(address);
    this.address = address;
    this.#options = {
      onConnect: options.onConnect,
      dialTimeoutMs: positiveNumber('dialTimeoutMs', options.dialTimeoutMs, 1000),
      readTimeoutMs: positiveNumber('readTimeoutMs', options.readTimeoutMs, 1000),
      maxBodyBytes: integerAtLeast('maxBodyBytes', options.maxBodyBytes, 1, DEFAULT_MAX_BODY_BYTES),
    };
    this.#log = options.log ?? logger('lookup-peer', address);
  }

  /** Where the connection is now; each change is also a `state` event. */
  get state(): PeerState {
    return this.#state;
  }

  /** Commands written and not yet answered. */
  get inFlight(): number {
    return this.#connection?.inFlight ?? 0;
  }

  /** Connects now if not connected (nsqd's `Command(nil)`); resolves once the connect callback is done. */
  connect(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    if (this.#state === 'connected') return Promise.resolve();
    return this.#startConnect();
  }

  /** Sends one encoded command and resolves with lookupd's response body. */
  command(command: Buffer): Promise<Buffer> {
    return this.commandBatch(command, 1);
  }

  /**
   * Sends `count` commands encoded back to back in `commands` (see `encodeRegistrations`) in one write
   * and resolves with the last answer once all are in; `onAnswer` is called for each of the others.
   * Ordered and queued exactly like {@link command}; an `E_*` answer rejects the batch.
   */
  commandBatch(commands: Buffer, count: number, onAnswer?: () => void): Promise<Buffer> {
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    const connection = this.#connection;
    if (connection && !connection.failed && this.#state === 'connected') {
      return connection.sendBatch(commands, count, onAnswer);
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ commands, count, onAnswer, resolve, reject });
      this.#startConnect().catch(() => {
        // The waiting commands carry this failure; the connect promise itself has no other reader here.
      });
    });
  }

  /**
   * IDENTIFY with `info` (JSON keys and order as nsqd writes them; `hostname` defaults to this host's).
   * Resolves to lookupd's own info, also kept as {@link LookupPeer.info}. An answer that is not
   * lookupd's info (not a JSON object, a field of the wrong type) is a protocol failure like a bad frame:
   * the connection is dropped with an `NSQ_ERR_PROTOCOL` {@link ConnectionError}, the
   * {@link ProtocolError} as its cause.
   */
  async identify(info: IdentifyInfo): Promise<LookupdInfo> {
    return this.#identifyOn(
      info,
      (command) => this.command(command),
      () => this.#connection,
    );
  }

  /**
   * `REGISTER topic [channel]`, connecting first if needed. Rejects with {@link InvalidNameError}, before
   * anything is sent, for a name nsq refuses; with a {@link LookupdError} on an `E_*` answer, after
   * which lookupd hangs up.
   */
  async register(topic: string, channel?: string): Promise<void> {
    await this.command(encodeRegister(topic, channel));
  }

  /** `UNREGISTER topic [channel]`, like {@link register}. */
  async unregister(topic: string, channel?: string): Promise<void> {
    await this.command(encodeUnregister(topic, channel));
  }

  /** PING, as nsqd sends every 15 s to stay registered; resolves on lookupd's `OK`. */
  async ping(): Promise<void> {
    await this.command(PING);
  }

  /** Drops the current connection (if any) with `error`; the next command reconnects. */
  disconnect(error?: Error): void {
    this.#connection?.destroy(
      error ?? new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', this.address, 'disconnected by the caller'),
    );
  }

  /** No new commands; pending ones reject; the socket is ended. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') {
      await Promise.all([this.#connection?.closed, this.#dialing]);
      return;
    }
    this.#setState('closed');
    const error = this.#closedError();
    this.#abort.abort(error);
    this.#rejectWaiting(error);
    await Promise.all([this.#connection?.end(error, this.#options.readTimeoutMs), this.#dialing]);
    this.#markClosed();
  }

  /** Resolves once {@link close} has finished: no socket or timer of this peer is left. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /**
   * IDENTIFY through `send`; keeps lookupd's answer as {@link info}. A malformed answer is a protocol
   * error of the connection that sent it (`answeredOn`), which is dropped.
   */
  async #identifyOn(
    info: IdentifyInfo,
    send: (command: Buffer) => Promise<Buffer>,
    answeredOn: () => Connection | undefined,
  ): Promise<LookupdInfo> {
    const body = await send(encodeIdentify({ ...info, hostname: info.hostname ?? osHostname() }));
    try {
      this.info = parseIdentifyResponse(body, this.address);
    } catch (cause) {
      if (!(cause instanceof ProtocolError)) throw cause;
      const error = new ConnectionError('NSQ_ERR_PROTOCOL', this.address, cause.message, { cause });
      answeredOn()?.destroy(error);
      throw error;
    }
    return this.info;
  }

  /** The connect callback's handle: every command goes to `connection`, ahead of the waiting queue. */
  #handleFor(connection: Connection): ConnectHandle {
    const batch = (commands: Buffer, count: number, onAnswer?: () => void) =>
      connection.sendBatch(commands, count, onAnswer);
    const command = (bytes: Buffer) => batch(bytes, 1);
    return {
      address: this.address,
      command,
      commandBatch: batch,
      identify: (info) => this.#identifyOn(info, command, () => connection),
      register: async (topic, channel) => {
        await command(encodeRegister(topic, channel));
      },
      unregister: async (topic, channel) => {
        await command(encodeUnregister(topic, channel));
      },
      ping: async () => {
        await command(PING);
      },
    };
  }

  #startConnect(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    const attempt = this.#runConnect().finally(() => {
      if (this.#connecting === attempt) this.#connecting = undefined;
    });
    this.#connecting = attempt;
    return attempt;
  }

  async #runConnect(): Promise<void> {
    this.#setState('connecting');
    let connection: Connection | undefined;
    try {
      const dialing = this.#dial();
      this.#dialing = dialing.catch(() => {});
      connection = await dialing;
      this.#connection = connection;
      connection.writeRaw(MAGIC_V1);
      const onConnect = this.#options.onConnect;
      if (onConnect) {
        const current = connection;
        await (async () => {
          try {
            await onConnect(this.#handleFor(current));
          } catch (cause) {
            if (current.failed) throw cause;
            // A protocol error keeps its code (lookupd sent what the callback could not use); anything
            // else is the callback's own failure.
            const error =
              cause instanceof ProtocolError
                ? new ConnectionError('NSQ_ERR_PROTOCOL', this.address, cause.message, { cause })
                : new ConnectionError(
                    'NSQ_ERR_CONNECT_CALLBACK',
                    this.address,
                    `connect callback failed: ${cause instanceof Error ? cause.message : String(cause)}`,
                    { cause },
                  );
            current.destroy(error);
            throw error;
          }
        })();
      }
      if (connection.failed) throw await connection.closed;
      if (this.state === 'closed') throw this.#closedError();
    } catch (error) {
      const reason =
        error instanceof Error
          ? error
          : new ConnectionError('NSQ_ERR_CONNECT', this.address, `connect failed: ${String(error)}`);
      this.#log('connect failed: %s', reason.message);
      this.#rejectWaiting(reason);
      if (this.state !== 'closed') {
        this.#setState('disconnected');
        this.#emitLater('disconnect', reason);
      }
      throw reason;
    }
    this.#setState('connected');
    this.#emitLater('connect');
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) connection.sendBatch(w.commands, w.count, w.onAnswer).then(w.resolve, w.reject);
  }

  /** Dials; resolves only with a connection this peer may still use (not after close()). */
  async #dial(): Promise<Connection> {
    let connection: Connection | undefined;
    connection = await Connection.dial(this.address, {
      dialTimeoutMs: this.#options.dialTimeoutMs,
      readTimeoutMs: this.#options.readTimeoutMs,
      maxBodyBytes: this.#options.maxBodyBytes,
      log: this.#log,
      signal: this.#abort.signal,
      onFailure: (reason) => {
        if (connection) this.#onConnectionFailed(connection, reason);
      },
    });
    if (this.#state === 'closed') {
      connection.destroy(this.#closedError());
      await connection.closed;
      throw this.#closedError();
    }
    return connection;
  }

  // Runs synchronously inside the connection's failure, before its pending commands reject: whoever
  // reacts to those rejections already finds this peer disconnected, and a new command reconnects.
  // A failure while connecting is #runConnect's to report, once that attempt is over.
  #onConnectionFailed(connection: Connection, reason: Error): void {
    if (this.#connection !== connection || this.#state !== 'connected') return;
    this.#log('connection lost: %s', reason.message);
    this.#setState('disconnected');
    this.#emitLater('disconnect', reason);
  }

  #rejectWaiting(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.reject(error);
  }

  #closedError(): ConnectionError {
    return new ConnectionError('NSQ_ERR_PEER_CLOSED', this.address, 'peer closed');
  }

  #setState(next: PeerState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#log('%s -> %s', previous, next);
    this.#emitLater('state', next, previous);
  }

  // Listeners run on the next tick so that one reacting to an event (say, by reconnecting or closing)
  // never re-enters the transition that raised it.
  #emitLater<E extends keyof LookupPeerEvents & string>(event: E, ...args: LookupPeerEvents[E]): void {
    process.nextTick(() => this.emit(event, ...args));
  }
}
