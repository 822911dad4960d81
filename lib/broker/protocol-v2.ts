/**
 * nsqd's V2 client protocol, bytes only (no sockets, no timers).
 *
 * Client → broker: the magic `"  V2"` once, then commands. A command is a line of space-separated
 * parameters ending in `\n` (an optional `\r` before it is dropped). IDENTIFY, AUTH, PUB, MPUB and DPUB
 * are followed by a 4-byte big-endian signed size and that many bytes of body.
 *
 * Broker → client: frames of
 *
 *   [size int32][frame type int32][data]     size = 4 + data length, big-endian
 *
 * with frame type 0 (response: `OK`, `_heartbeat_`, `CLOSE_WAIT`, IDENTIFY's JSON), 1 (error:
 * `E_<CODE> description`) or 2 (message). A message's data is
 *
 *   [timestamp int64 ns][attempts uint16][id: 16 bytes of hex ASCII][body]
 */

import { InvalidArgumentError, V2Error } from '../errors.js';

export { V2Error };

export const MAGIC_V2 = Buffer.from('  V2', 'latin1');

export const FrameType = {
  RESPONSE: 0,
  ERROR: 1,
  MESSAGE: 2,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Length of a message ID on the wire (nsqd's MsgIDLength). */
export const MESSAGE_ID_LENGTH = 16;
const SIZE_LENGTH = 4;
const FRAME_HEADER_LENGTH = 8;
const MESSAGE_HEADER_LENGTH = 8 + 2 + MESSAGE_ID_LENGTH;
const MAX_ATTEMPTS = 0xffff;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
/** `FIN ` and a message ID. */
const FIN_LINE_LENGTH = 4 + MESSAGE_ID_LENGTH;

/** How to read the body that follows a command line, and how to word a bad size as nsqd does. */
export interface BodySpec {
  /** The command, for the error text (`PUB`, `MPUB`...). */
  command: string;
  /** `message` for one message (E_BAD_MESSAGE), `body` for IDENTIFY, AUTH and MPUB (E_BAD_BODY). */
  kind: 'message' | 'body';
  /** Largest size accepted, in bytes. */
  max: number;
}

export type Token = { type: 'line'; params: string[] } | { type: 'body'; body: Buffer };

/**
 * Splits the client's byte stream into command lines and bodies. Push bytes with {@link push}, then
 * call {@link next} until it returns undefined. After a line whose command carries a body, call
 * {@link expectBody} before the next {@link next}. Sizes are checked before any body byte is buffered;
 * a line longer than `maxLineBytes` is refused without waiting for its end. Framing errors throw a
 * fatal {@link V2Error}.
 */
export class CommandReader {
  #buffer: Buffer = Buffer.alloc(0);
  #offset = 0;
  #stage: 'magic' | 'line' | 'size' | 'body' = 'magic';
  #spec: BodySpec | undefined;
  #bodySize = 0;
  /** Where the newline search resumes, so a line arriving byte by byte is scanned once. */
  #scanned = 0;

  constructor(readonly maxLineBytes: number) {}

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.#buffer.length - this.#offset;
  }

  push(chunk: Buffer): void {
    const unread = this.buffered;
    const scannedUnread = Math.max(0, this.#scanned - this.#offset);
    if (unread === 0) {
      this.#buffer = chunk;
    } else {
      // Always a fresh buffer: bodies handed out earlier are copies, but this keeps the rule simple.
      const merged = Buffer.allocUnsafe(unread + chunk.length);
      this.#buffer.copy(merged, 0, this.#offset);
      chunk.copy(merged, unread);
      this.#buffer = merged;
    }
    this.#scanned = unread === 0 ? 0 : scannedUnread;
    this.#offset = 0;
  }

  expectBody(spec: BodySpec): void {
    if (this.#stage !== 'line') throw new InvalidArgumentError(`expectBody in stage ${this.#stage}`);
    this.#spec = spec;
    this.#stage = 'size';
  }

  next(): Token | undefined {
    for (;;) {
      switch (this.#stage) {
        case 'magic': {
          if (this.buffered < MAGIC_V2.length) return undefined;
          const magic = this.#take(MAGIC_V2.length);
          if (!magic.equals(MAGIC_V2)) throw new V2Error('E_BAD_PROTOCOL', '');
          this.#stage = 'line';
          continue;
        }
        case 'line':
          return this.#line();
        case 'size': {
          if (this.buffered < SIZE_LENGTH) return undefined;
          const size = this.#buffer.readInt32BE(this.#offset);
          this.#offset += SIZE_LENGTH;
          const spec = this.#spec!;
          const noun = spec.kind === 'message' ? 'message body' : 'body';
          const code = spec.kind === 'message' ? 'E_BAD_MESSAGE' : 'E_BAD_BODY';
          if (size <= 0) throw new V2Error(code, `${spec.command} invalid ${noun} size ${size}`);
          if (size > spec.max)
            throw new V2Error(code, `${spec.command} ${spec.kind} too big ${size} > ${spec.max}`);
          this.#bodySize = size;
          this.#stage = 'body';
          continue;
        }
        case 'body': {
          if (this.buffered < this.#bodySize) return undefined;
          // A copy: bodies become messages that outlive the chunk they arrived in.
          const body = Buffer.from(this.#take(this.#bodySize));
          this.#stage = 'line';
          this.#spec = undefined;
          return { type: 'body', body };
        }
      }
    }
  }

  #line(): Token | undefined {
    const end = this.#buffer.indexOf(NEWLINE, Math.max(this.#offset, this.#scanned));
    if (end === -1) {
      this.#scanned = this.#buffer.length;
      if (this.buffered > this.maxLineBytes) {
        throw new V2Error('E_INVALID', `command line longer than ${this.maxLineBytes} bytes`);
      }
      return undefined;
    }
    if (end - this.#offset > this.maxLineBytes) {
      throw new V2Error('E_INVALID', `command line longer than ${this.maxLineBytes} bytes`);
    }
    if (end - this.#offset === FIN_LINE_LENGTH && this.#isFinLine(end)) {
      const id = this.#buffer.toString('latin1', this.#offset + 4, end);
      this.#offset = end + 1;
      this.#scanned = this.#offset;
      return { type: 'line', params: ['FIN', id] };
    }
    let last = end;
    if (last > this.#offset && this.#buffer[last - 1] === CARRIAGE_RETURN) last--;
    // latin1 maps each byte to one character, so lengths (a 16-byte message ID) stay byte counts.
    const params = this.#buffer.toString('latin1', this.#offset, last).split(' ');
    this.#offset = end + 1;
    this.#scanned = this.#offset;
    return { type: 'line', params };
  }

  /**
   * Whether the line before `end` is `FIN <16 bytes>` with no space in the ID and no CR at its end:
   * the line a consumer sends once per message, whose parameters are then known without splitting it.
   */
  #isFinLine(end: number): boolean {
    const buffer = this.#buffer;
    const start = this.#offset;
    if (buffer[start] !== 0x46 || buffer[start + 1] !== 0x49 || buffer[start + 2] !== 0x4e) return false;
    if (buffer[start + 3] !== SPACE || buffer[end - 1] === CARRIAGE_RETURN) return false;
    for (let i = start + 4; i < end; i++) if (buffer[i] === SPACE) return false;
    return true;
  }

  #take(length: number): Buffer {
    const bytes = this.#buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return bytes;
  }
}

export function encodeFrame(frameType: FrameTypeValue, data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + bytes.length);
  frame.writeInt32BE(4 + bytes.length, 0);
  frame.writeInt32BE(frameType, 4);
  bytes.copy(frame, FRAME_HEADER_LENGTH);
  return frame;
}

export const OK_FRAME = encodeFrame(FrameType.RESPONSE, 'OK');
export const HEARTBEAT_FRAME = encodeFrame(FrameType.RESPONSE, '_heartbeat_');
export const CLOSE_WAIT_FRAME = encodeFrame(FrameType.RESPONSE, 'CLOSE_WAIT');

export function encodeErrorFrame(error: V2Error): Buffer {
  return encodeFrame(FrameType.ERROR, error.message);
}

/** One message as a channel holds it; each channel has its own copy (and its own attempts). */
export interface Message {
  /** 16 ASCII bytes, as a latin1 string. */
  readonly id: string;
  /** The message as published. */
  readonly body: Buffer;
  /** Creation time in nanoseconds since the epoch. */
  readonly timestampNs: bigint;
  /** Deliveries so far, counted as nsqd counts them (incremented just before each one). */
  attempts: number;
}

/** Bytes of a message's frame on the wire, size prefix included. */
export function messageFrameLength(message: Message): number {
  return FRAME_HEADER_LENGTH + MESSAGE_HEADER_LENGTH + message.body.length;
}

export function encodeMessageFrame(message: Message): Buffer {
  const frame = Buffer.allocUnsafe(messageFrameLength(message));
  writeMessageFrame(message, frame, 0);
  return frame;
}

// The timestamp of the last frame written, in the two halves Buffer's int32 writers take: a batch
// published together shares one timestamp, so most frames skip the BigInt arithmetic.
let lastTimestampNs = -1n;
let lastTimestampHigh = 0;
let lastTimestampLow = 0;

/** Writes a message's frame into `target` at `offset` ({@link messageFrameLength} bytes). */
export function writeMessageFrame(message: Message, target: Buffer, offset: number): void {
  const length = MESSAGE_HEADER_LENGTH + message.body.length;
  target.writeInt32BE(4 + length, offset);
  target.writeInt32BE(FrameType.MESSAGE, offset + 4);
  if (message.timestampNs !== lastTimestampNs) {
    lastTimestampNs = message.timestampNs;
    lastTimestampHigh = Number(BigInt.asIntN(32, message.timestampNs >> 32n));
    lastTimestampLow = Number(BigInt.asUintN(32, message.timestampNs));
  }
  target.writeInt32BE(lastTimestampHigh, offset + 8);
  target.writeUInt32BE(lastTimestampLow, offset + 12);
  target.writeUInt16BE(Math.min(message.attempts, MAX_ATTEMPTS), offset + 16);
  target.write(message.id, offset + 18, MESSAGE_ID_LENGTH, 'latin1');
  message.body.copy(target, offset + FRAME_HEADER_LENGTH + MESSAGE_HEADER_LENGTH);
}

/**
 * MPUB's body: `[count int32]` then `count` times `[size int32][bytes]`. The whole body has been read
 * (and bounded by the max body size) already; each message is checked against `maxMsgSize`.
 */
export function parseMpubBody(body: Buffer, maxMsgSize: number): Buffer[] {
  if (body.length < SIZE_LENGTH) throw new V2Error('E_BAD_BODY', 'MPUB failed to read message count');
  const count = body.readInt32BE(0);
  if (count <= 0) throw new V2Error('E_BAD_BODY', `MPUB invalid message count ${count}`);
  const messages: Buffer[] = [];
  let offset = SIZE_LENGTH;
  for (let i = 0; i < count; i++) {
    if (offset + SIZE_LENGTH > body.length) {
      throw new V2Error('E_BAD_MESSAGE', `MPUB failed to read message(${i}) body size`);
    }
    const size = body.readInt32BE(offset);
    offset += SIZE_LENGTH;
    if (size <= 0) throw new V2Error('E_BAD_MESSAGE', `MPUB invalid message(${i}) body size ${size}`);
    if (size > maxMsgSize) throw new V2Error('E_BAD_MESSAGE', `MPUB message too big ${size} > ${maxMsgSize}`);
    if (offset + size > body.length) throw new V2Error('E_BAD_MESSAGE', 'MPUB failed to read message body');
    messages.push(body.subarray(offset, offset + size));
    offset += size;
  }
  return messages;
}

/** nsqd's ByteToBase10: digits only (no sign, no spaces); undefined otherwise. */
export function parseBase10(text: string): number | undefined {
  if (!/^[0-9]*$/.test(text)) return undefined;
  return text === '' ? 0 : Number(text);
}
