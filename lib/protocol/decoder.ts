import { InvalidArgumentError, ProtocolError } from '../errors.js';
import { DEFAULT_MAX_BODY_BYTES, SIZE_PREFIX_LENGTH } from './constants.js';

/** The bytes `HTTP` read as a big-endian int32 size: what a TCP client reads from an HTTP server. */
export const HTTP_AS_SIZE = 0x48545450;

/** Smallest buffer allocated for a partial frame, so that a trickle is not copied once per byte. */
const MIN_CAPACITY = 256;

/**
 * Incremental decoder for lookupd's response frames:
 *
 *   [ size: int32 big-endian ][ body: size bytes ]
 *
 * Fed arbitrary chunks, it hands out every complete body and keeps only the unread tail. A size that is
 * negative or above `maxBodyBytes` is a {@link ProtocolError} raised as soon as the 4 size bytes are in,
 * never an allocation; after that the decoder refuses further input, since the stream has no
 * recoverable frame boundary.
 *
 * Memory follows the bytes received, not the sizes declared: a frame split across chunks is assembled
 * in a buffer that doubles as its bytes arrive, up to the frame's size, so a stalled peer that announced
 * 5 MiB holds about what it sent and a large honest frame is copied a handful of times. Frames whole in
 * a chunk are handed out in place, without a copy.
 */
export class ResponseDecoder {
  /** Largest body accepted, in bytes: a frame declaring more is refused before anything is allocated. */
  readonly maxBodyBytes: number;
  /**
   * The partial frame, at `buffer[start..end)`: either a view of the caller's last chunk (its tail), or
   * a buffer of our own (`ownsBuffer`) that holds it from offset 0 with room to grow.
   */
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Stream bytes consumed before the partial frame, for error messages. */
  private consumed = 0;
  private failure: ProtocolError | undefined;
  /** Whether `buffer` was allocated here: a chunk handed in by the caller is never written into. */
  private ownsBuffer = false;

  /** @param maxBodyBytes largest body accepted, in bytes (default 5 MiB, nsqd's `--max-body-size`). */
  constructor(maxBodyBytes: number = DEFAULT_MAX_BODY_BYTES) {
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0 || maxBodyBytes > 0x7fffffff) {
      throw new InvalidArgumentError(
        `maxBodyBytes must be an integer from 0 to 2147483647, got ${maxBodyBytes}`,
      );
    }
    this.maxBodyBytes = maxBodyBytes;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /**
   * Bytes of buffer held for the partial frame between calls: the capacity of the decoder's own buffer,
   * or the length of the caller's chunk it still refers to; 0 when no frame is partial.
   */
  get reservedBytes(): number {
    return this.buffer.length;
  }

  /**
   * Consumes `chunk` and calls `onFrame` once per complete frame, in order. The body handed to
   * `onFrame` is a view into the decoder's buffer or into `chunk`, valid only during that call: copy
   * what you keep. The decoder may keep referring to `chunk` after the call: do not write into it.
   * Throws {@link ProtocolError} on a bad size.
   */
  parse(chunk: Buffer, onFrame: (body: Buffer) => void): void {
    if (this.failure) throw this.failure;
    let offset = 0;
    if (this.end > this.start) {
      offset = this.completePartial(chunk, onFrame);
      if (offset < 0) return;
    }
    // Every frame whole in the chunk is handed out in place.
    const length = chunk.length;
    while (length - offset >= SIZE_PREFIX_LENGTH) {
      const size = chunk.readInt32BE(offset);
      if (size < 0 || size > this.maxBodyBytes) this.refuse(size);
      const frameEnd = offset + SIZE_PREFIX_LENGTH + size;
      if (frameEnd > length) break;
      const body = chunk.subarray(offset + SIZE_PREFIX_LENGTH, frameEnd);
      this.consumed += frameEnd - offset;
      offset = frameEnd;
      onFrame(body);
    }
    if (offset === length) return;
    // A partial frame ends the chunk: keep a view of it; the next chunk copies it out.
    this.buffer = chunk;
    this.ownsBuffer = false;
    this.start = offset;
    this.end = length;
  }

  /** Forgets any partial frame and a previous failure, as for a new connection. */
  reset(): void {
    this.failure = undefined;
    this.consumed = 0;
    this.release();
  }

  private release(): void {
    this.buffer = EMPTY;
    this.ownsBuffer = false;
    this.start = 0;
    this.end = 0;
  }

  private refuse(size: number): never {
    // An HTTP server's answer starts "HTTP/1.1 ...": read as a frame size, that is 0x48545450.
    const http = size === HTTP_AS_SIZE;
    this.failure = new ProtocolError(
      http
        ? `reached an HTTP port, not lookupd's TCP port: the answer starts with "HTTP"`
        : `response frame at stream offset ${this.consumed} declares a body of ${size} bytes, ` +
            `outside 0..${this.maxBodyBytes} (the maxBodyBytes option)`,
      { reachedHttp: http },
    );
    this.release();
    throw this.failure;
  }

  /**
   * Moves into the partial frame the bytes of `chunk` it still needs, and hands it out if that
   * completes it. Returns how many bytes of `chunk` it took, or -1 if the frame is still partial
   * (every byte of `chunk` taken).
   */
  private completePartial(chunk: Buffer, onFrame: (body: Buffer) => void): number {
    const pending = this.end - this.start;
    let frameLength = -1;
    if (pending >= SIZE_PREFIX_LENGTH) {
      // Checked when its 4 bytes came in.
      frameLength = SIZE_PREFIX_LENGTH + this.buffer.readInt32BE(this.start);
    } else if (pending + chunk.length >= SIZE_PREFIX_LENGTH) {
      let size = 0;
      for (let i = 0; i < SIZE_PREFIX_LENGTH; i++) {
        size = (size << 8) | (i < pending ? this.buffer[this.start + i]! : chunk[i - pending]!);
      }
      if (size < 0 || size > this.maxBodyBytes) this.refuse(size);
      frameLength = SIZE_PREFIX_LENGTH + size;
    }
    const taken = frameLength < 0 ? chunk.length : Math.min(chunk.length, frameLength - pending);
    const filled = pending + taken;
    if (!this.ownsBuffer || this.buffer.length - this.end < taken) {
      // Double with the bytes received, never beyond the frame: what a peer makes us hold is about
      // what it sent, and a frame of n bytes arriving in chunks of c is copied about log2(n / c) times.
      let capacity = Math.max(filled, MIN_CAPACITY, 2 * filled);
      if (frameLength >= 0) capacity = Math.max(filled, Math.min(capacity, frameLength));
      const next = Buffer.allocUnsafe(capacity);
      this.buffer.copy(next, 0, this.start, this.end);
      this.buffer = next;
      this.ownsBuffer = true;
      this.start = 0;
      this.end = pending;
    }
    chunk.copy(this.buffer, this.end, 0, taken);
    this.end += taken;
    if (this.end - this.start !== frameLength) return -1;
    const body = this.buffer.subarray(this.start + SIZE_PREFIX_LENGTH, this.end);
    this.consumed += frameLength;
    // Dropped before the frame is handed out: a large buffer is not kept for the frames after it.
    this.release();
    onFrame(body);
    return taken;
  }
}

const EMPTY = Buffer.alloc(0);
