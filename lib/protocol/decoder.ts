import { ProtocolError } from '../errors.js';
import { DEFAULT_MAX_BODY_SIZE, SIZE_PREFIX_LENGTH } from './constants.js';

/**
 * Incremental decoder for lookupd's response frames:
 *
 *   [ size: int32 big-endian ][ body: size bytes ]
 *
 * Fed arbitrary chunks, it hands out every complete body and keeps only the unread tail. A size that is
 * negative or above `maxBodySize` is a {@link ProtocolError} raised as soon as the 4 size bytes are in,
 * never an allocation; after that the decoder refuses further input, since the stream has no
 * recoverable frame boundary.
 */
export class ResponseDecoder {
  readonly maxBodySize: number;
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Stream bytes consumed before `buffer[start]`, for error messages. */
  private consumed = 0;
  private failure: ProtocolError | undefined;
  /** Whether `buffer` was allocated here: a chunk handed in by the caller is never written into. */
  private ownsBuffer = false;

  /** @param maxBodySize largest body accepted, in bytes (default 5 MiB, nsqd's `--max-body-size`). */
  constructor(maxBodySize: number = DEFAULT_MAX_BODY_SIZE) {
    if (!Number.isInteger(maxBodySize) || maxBodySize < 0 || maxBodySize > 0x7fffffff) {
      throw new RangeError(`maxBodySize must be an integer from 0 to 2147483647, got ${maxBodySize}`);
    }
    this.maxBodySize = maxBodySize;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /**
   * Consumes `chunk` and calls `onFrame` once per complete frame, in order. The body handed to
   * `onFrame` is a view into the decoder's buffer, valid only during that call: copy what you keep.
   * Throws {@link ProtocolError} on a bad size.
   */
  parse(chunk: Buffer, onFrame: (body: Buffer) => void): void {
    if (this.failure) throw this.failure;
    this.append(chunk);
    while (this.end - this.start >= SIZE_PREFIX_LENGTH) {
      const size = this.buffer.readInt32BE(this.start);
      if (size < 0 || size > this.maxBodySize) {
        this.failure = new ProtocolError(
          `response frame at stream offset ${this.consumed} declares a body of ${size} bytes, ` +
            `outside 0..${this.maxBodySize} (the maxBodySize option)`,
        );
        this.release();
        throw this.failure;
      }
      const frameEnd = this.start + SIZE_PREFIX_LENGTH + size;
      if (frameEnd > this.end) break;
      const body = this.buffer.subarray(this.start + SIZE_PREFIX_LENGTH, frameEnd);
      this.consumed += frameEnd - this.start;
      this.start = frameEnd;
      onFrame(body);
    }
    if (this.start === this.end) {
      // Nothing pending: drop the reference so a large chunk is not pinned between frames.
      this.release();
    }
  }

  /** Forgets any partial frame and a previous failure, as for a new connection. */
  reset(): void {
    this.failure = undefined;
    this.consumed = 0;
    this.release();
  }

  private release(): void {
    this.buffer = Buffer.alloc(0);
    this.ownsBuffer = false;
    this.start = 0;
    this.end = 0;
  }

  private append(chunk: Buffer): void {
    if (this.start === this.end) {
      // Common case: the previous chunk ended on a frame boundary, parse the new one in place.
      this.buffer = chunk;
      this.ownsBuffer = false;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    const pending = this.end - this.start;
    const needed = pending + chunk.length;
    if (this.buffer.length - this.end >= chunk.length && this.ownsBuffer) {
      chunk.copy(this.buffer, this.end);
      this.end += chunk.length;
      return;
    }
    // Grow to what the next frame needs if its size is known, so a big body is copied once or twice,
    // not once per chunk; never beyond one frame, so a hostile size cannot inflate it (checked above).
    let capacity = Math.max(needed, 1024);
    if (pending >= SIZE_PREFIX_LENGTH) {
      const size = this.buffer.readInt32BE(this.start);
      if (size >= 0 && size <= this.maxBodySize) capacity = Math.max(needed, SIZE_PREFIX_LENGTH + size);
    }
    const next = Buffer.allocUnsafe(capacity);
    this.buffer.copy(next, 0, this.start, this.end);
    chunk.copy(next, pending);
    this.buffer = next;
    this.ownsBuffer = true;
    this.start = 0;
    this.end = needed;
  }
}
