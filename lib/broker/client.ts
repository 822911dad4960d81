import type { Socket } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import type { Channel, Consumer } from './channel.js';
import {
  type ClientState,
  type CommandClient,
  type CommandResult,
  execCommand,
  type IdentifyData,
  type Upgrade,
} from './commands.js';
import type { BrokerContext } from './context.js';
import {
  CommandReader,
  encodeErrorFrame,
  HEARTBEAT_FRAME,
  type Message,
  messageFrameLength,
  OK_FRAME,
  type Token,
  V2Error,
  writeMessageFrame,
} from './protocol-v2.js';
import { Transport } from './transport.js';

/** nsqd's numeric client states, as /stats reports them. */
const STATS_STATE: Record<ClientState, number> = { init: 0, subscribed: 3, closing: 4, closed: 1 };

/** How long a connection we hang up on gets to close its side (and read our last frames) before it is cut. */
const LINGER_MS = 1000;

/** Size of the buffers frames are written into (nsqd's default output_buffer_size). */
const OUTPUT_CHUNK_BYTES = 16 * 1024;
const NO_OUTPUT = Buffer.alloc(0);

/**
 * One V2 connection: its protocol state, what IDENTIFY negotiated, RDY and in-flight accounting,
 * heartbeats and the read deadline (no bytes for two heartbeat intervals ends the connection).
 */
export class ClientV2 implements Consumer, CommandClient {
  readonly remoteAddress: string;
  /** Epoch seconds. */
  readonly connectTime = Math.floor(Date.now() / 1000);
  clientId: string;
  hostname: string;
  userAgent = '';
  heartbeatIntervalMs: number;
  msgTimeoutMs: number;
  sampleRate = 0;
  outputBufferSize = 16 * 1024;
  outputBufferTimeoutMs = 250;
  readyCount = 0;
  inFlightCount = 0;
  messageCount = 0;
  finishCount = 0;
  requeueCount = 0;
  /** Messages published per topic over this connection. */
  readonly pubCounts = new Map<string, number>();
  channel: Channel | undefined;
  /** Resolves once the socket is closed and the client has left its channel. */
  readonly closed: Promise<void>;
  readonly #transport: Transport;
  readonly #broker: BrokerContext;
  #upgrade: Upgrade | undefined;
  /** While TLS is negotiated: frames (heartbeats) wait here instead of reaching the handshake. */
  #held: Buffer[] | undefined;
  readonly #reader: CommandReader;
  #awaitingBody: ((body: Buffer) => Buffer | undefined) | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  /**
   * Frames are encoded into `#output` one after the other; those of one tick, `#outputStart` up to
   * `#outputEnd`, go to the transport as one write at the end of the tick (or once the buffer is
   * full), as nsqd's buffered writer flushes them. The transport keeps the bytes it was given, so the
   * next tick's frames go after them and a new buffer is taken only when this one is used up. Only
   * connections that get messages have one (nsqd gives every client a buffered writer of this size);
   * the others hand their few frames to the transport, which batches them until the end of the tick.
   */
  #output: Buffer = NO_OUTPUT;
  #outputStart = 0;
  #outputEnd = 0;
  #flushQueued = false;
  readonly #flushAtTickEnd = () => {
    this.#flushQueued = false;
    this.#flush();
  };
  #state: ClientState = 'init';
  #resolveClosed!: () => void;

  constructor(
    readonly id: number,
    socket: Socket,
    broker: BrokerContext,
  ) {
    this.#broker = broker;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.clientId = socket.remoteAddress ?? '';
    this.hostname = this.clientId;
    this.heartbeatIntervalMs = broker.options.clientTimeoutMs / 2;
    this.msgTimeoutMs = broker.options.msgTimeoutMs;
    this.#reader = new CommandReader(broker.options.maxLineBytes);
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.setNoDelay(true);
    this.#transport = new Transport(socket, {
      data: (chunk) => this.#onData(chunk),
      drain: () => this.channel?.pump(),
      error: (error) => this.#fail(error),
    });
    socket.on('error', (error) => this.#broker.log('client %s: %s', this.remoteAddress, error.message));
    socket.on('close', () => this.#onClose());
    this.#restartHeartbeat();
  }

  get state(): ClientState {
    return this.#state;
  }

  readyForMessages(): boolean {
    return (
      this.state === 'subscribed' &&
      this.readyCount > this.inFlightCount &&
      !this.#transport.needDrain &&
      !this.channel?.paused
    );
  }

  sampled(): boolean {
    // nsqd: rand.Int31n(100) > sampleRate drops the message.
    return this.sampleRate === 0 || Math.floor(Math.random() * 100) <= this.sampleRate;
  }

  sendMessage(message: Message): void {
    this.inFlightCount++;
    this.messageCount++;
    const length = messageFrameLength(message);
    const offset = this.#reserve(length);
    if (offset !== undefined) writeMessageFrame(message, this.#output, offset);
  }

  timedOutMessage(): void {
    this.inFlightCount = Math.max(0, this.inFlightCount - 1);
  }

  emptied(): void {
    this.inFlightCount = 0;
  }

  finishedMessage(): void {
    this.finishCount++;
    this.inFlightCount = Math.max(0, this.inFlightCount - 1);
    this.channel?.pump();
  }

  requeuedMessage(): void {
    this.requeueCount++;
    this.inFlightCount = Math.max(0, this.inFlightCount - 1);
    this.channel?.pump();
  }

  setReadyCount(count: number): void {
    this.readyCount = count;
    this.channel?.pump();
  }

  subscribe(channel: Channel): void {
    this.channel = channel;
    this.#setState('subscribed');
    channel.addConsumer(this);
  }

  /** CLS: no more messages; FIN, REQ and TOUCH are still accepted until the client hangs up. */
  startClose(): void {
    this.readyCount = 0;
    this.#setState('closing');
  }

  /** Applies IDENTIFY's settings in nsqd's order; throws an {@link InvalidArgumentError} worded as nsqd's on a bad value. */
  identify(data: IdentifyData): void {
    const options = this.#broker.options;
    // As nsqd: what IDENTIFY says replaces the remote address, even when it says nothing.
    this.hostname = data.hostname || data.long_id || '';
    this.clientId = data.client_id || data.short_id || '';
    this.userAgent = data.user_agent ?? '';
    const heartbeat = data.heartbeat_interval ?? 0;
    if (heartbeat === -1) this.heartbeatIntervalMs = 0;
    else if (heartbeat >= 1000 && heartbeat <= options.maxHeartbeatIntervalMs)
      this.heartbeatIntervalMs = heartbeat;
    else if (heartbeat !== 0) throw new InvalidArgumentError(`heartbeat interval (${heartbeat}) is invalid`);
    const bufferSize = data.output_buffer_size ?? 0;
    if (bufferSize === -1) this.outputBufferSize = 1;
    else if (bufferSize >= 64 && bufferSize <= options.maxOutputBufferSize)
      this.outputBufferSize = bufferSize;
    else if (bufferSize !== 0)
      throw new InvalidArgumentError(`output buffer size (${bufferSize}) is invalid`);
    const bufferTimeout = data.output_buffer_timeout ?? 0;
    if (bufferTimeout === -1) this.outputBufferTimeoutMs = 0;
    else if (
      bufferTimeout >= options.minOutputBufferTimeoutMs &&
      bufferTimeout <= options.maxOutputBufferTimeoutMs
    )
      this.outputBufferTimeoutMs = bufferTimeout;
    else if (bufferTimeout !== 0)
      throw new InvalidArgumentError(`output buffer timeout (${bufferTimeout}) is invalid`);
    const sampleRate = data.sample_rate ?? 0;
    if (sampleRate < 0 || sampleRate > 99)
      throw new InvalidArgumentError(`sample rate (${sampleRate}) is invalid`);
    this.sampleRate = sampleRate;
    const msgTimeout = data.msg_timeout ?? 0;
    if (msgTimeout >= 1000 && msgTimeout <= options.maxMsgTimeoutMs) this.msgTimeoutMs = msgTimeout;
    else if (msgTimeout !== 0) throw new InvalidArgumentError(`msg timeout (${msgTimeout}) is invalid`);
    this.#restartHeartbeat();
  }

  get tlsActive(): boolean {
    return this.#transport.tls !== undefined;
  }

  upgradeAfterAnswer(upgrade: Upgrade): void {
    this.#upgrade = upgrade;
  }

  countPublished(topic: string, count: number): void {
    this.pubCounts.set(topic, (this.pubCounts.get(topic) ?? 0) + count);
  }

  /** Hangs up (channel deleted, broker closing): no more commands are read. */
  close(): void {
    if (this.state === 'closed') return;
    this.#setState('closed');
    this.#hangUp();
  }

  stats(): Record<string, unknown> {
    return {
      client_id: this.clientId,
      hostname: this.hostname,
      version: 'V2',
      remote_address: this.remoteAddress,
      state: STATS_STATE[this.state],
      ready_count: this.readyCount,
      in_flight_count: this.inFlightCount,
      message_count: this.messageCount,
      finish_count: this.finishCount,
      requeue_count: this.requeueCount,
      connect_ts: this.connectTime,
      sample_rate: this.sampleRate,
      deflate: this.#transport.deflate,
      snappy: this.#transport.snappy,
      user_agent: this.userAgent,
      ...(this.pubCounts.size > 0 && {
        pub_counts: [...this.pubCounts].map(([topic, count]) => ({ topic, count })),
      }),
      tls: this.#transport.tls !== undefined,
      tls_cipher_suite: this.#transport.tls?.cipher ?? '',
      tls_version: this.#transport.tls?.version ?? '',
      tls_negotiated_protocol: '',
      tls_negotiated_protocol_is_mutual: false,
    };
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.#armDeadline();
    try {
      this.#reader.push(chunk);
      for (let token = this.#reader.next(); token; token = this.#reader.next()) {
        this.#handle(token);
        if ((this.state as ClientState) === 'closed') return;
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #handle(token: Token): void {
    try {
      let result: CommandResult;
      if (token.type === 'line') {
        result = execCommand(this, this.#broker, token.params);
      } else {
        const continuation = this.#awaitingBody!;
        this.#awaitingBody = undefined;
        result = continuation(token.body);
      }
      if (Buffer.isBuffer(result)) {
        this.#write(result);
        if (this.#upgrade) this.#startUpgrade(this.#upgrade);
      } else if (result) {
        this.#reader.expectBody(result.body);
        this.#awaitingBody = result.onBody;
      }
    } catch (error) {
      if (!(error instanceof V2Error) || error.fatal) throw error;
      this.#broker.log('client %s: %s', this.remoteAddress, error.message);
      this.#write(encodeErrorFrame(error));
    }
  }

  /** nsqd's order after IDENTIFY's answer: TLS, then snappy or deflate, each acknowledged with `OK`. */
  #startUpgrade(upgrade: Upgrade): void {
    this.#upgrade = undefined;
    const compress = () => {
      if (upgrade.snappy) {
        this.#transport.startSnappy();
        this.#write(OK_FRAME);
      } else if (upgrade.deflateLevel !== undefined) {
        this.#transport.startDeflate(upgrade.deflateLevel);
        this.#write(OK_FRAME);
      }
    };
    if (!upgrade.tls) {
      compress();
      return;
    }
    this.#held = [];
    this.#transport.startTls(this.#broker.tls!, () => {
      const held = this.#held ?? [];
      this.#held = undefined;
      this.#broker.log('client %s: upgraded to TLS (%s)', this.remoteAddress, this.#transport.tls?.version);
      this.#write(OK_FRAME);
      compress();
      for (const frame of held) this.#write(frame);
    });
  }

  /** Sends a fatal error (if it is one of ours), then hangs up as nsqd does. */
  #fail(error: unknown): void {
    if (error instanceof V2Error) {
      this.#broker.log('client %s: %s (closing)', this.remoteAddress, error.message);
      this.#write(encodeErrorFrame(error));
    } else {
      this.#broker.log('client %s: internal error %o (closing)', this.remoteAddress, error);
    }
    this.#setState('closed');
    this.#hangUp();
  }

  /** Ends our side after what is queued; cuts the connection if the peer does not close its side soon. */
  #hangUp(): void {
    this.#flush();
    this.#transport.end();
    this.#lingerTimer ??= setTimeout(() => this.#transport.destroy(), LINGER_MS);
    this.#lingerTimer.unref();
  }

  #write(frame: Buffer): void {
    if (this.#held) {
      this.#held.push(frame);
      return;
    }
    if (this.#output !== NO_OUTPUT) {
      const offset = this.#reserve(frame.length);
      if (offset !== undefined) frame.copy(this.#output, offset);
      return;
    }
    this.#transport.write(frame);
  }

  /** Room for `length` bytes of frames in `#output`, at the offset returned; undefined once the socket is done. */
  #reserve(length: number): number | undefined {
    if (!this.#transport.writable) return undefined;
    if (this.#outputEnd + length > this.#output.length) {
      this.#flush();
      this.#output = Buffer.allocUnsafe(Math.max(OUTPUT_CHUNK_BYTES, length));
      this.#outputStart = 0;
      this.#outputEnd = 0;
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(this.#flushAtTickEnd);
    }
    const offset = this.#outputEnd;
    this.#outputEnd += length;
    return offset;
  }

  #flush(): void {
    if (this.#outputEnd === this.#outputStart) return;
    const frames = this.#output.subarray(this.#outputStart, this.#outputEnd);
    this.#outputStart = this.#outputEnd;
    // A buffer used up (or one sized for a single big frame) is let go rather than kept until the next frame.
    if (this.#outputEnd === this.#output.length) {
      this.#output = NO_OUTPUT;
      this.#outputStart = 0;
      this.#outputEnd = 0;
    }
    if (!this.#transport.writable) return;
    this.#transport.write(frames);
  }

  #restartHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    if (this.heartbeatIntervalMs <= 0 || this.state === 'closed') return;
    this.#heartbeatTimer = setInterval(() => this.#write(HEARTBEAT_FRAME), this.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
    this.#armDeadline();
  }

  #armDeadline(): void {
    if (this.heartbeatIntervalMs <= 0 || this.state === 'closed') return;
    if (this.#deadlineTimer) {
      this.#deadlineTimer.refresh();
      return;
    }
    this.#deadlineTimer = setTimeout(() => {
      if (this.state === 'closed') return;
      this.#broker.log(
        'client %s: nothing received for %d ms (2 x heartbeat_interval), closing',
        this.remoteAddress,
        this.heartbeatIntervalMs * 2,
      );
      this.close();
    }, this.heartbeatIntervalMs * 2);
    this.#deadlineTimer.unref();
  }

  #setState(next: ClientState): void {
    if (this.#state === next || this.#state === 'closed') return;
    this.#broker.log('client %s: %s -> %s', this.remoteAddress, this.#state, next);
    this.#state = next;
    if (next !== 'closed') return;
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.channel?.removeConsumer(this);
  }

  #onClose(): void {
    this.#setState('closed');
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#resolveClosed();
  }
}
