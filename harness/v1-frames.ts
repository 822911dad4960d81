/**
 * The test side's reader of lookupd's V1 answers, `[int32 big-endian size][body]` per frame, used by
 * every client and proxy the specs and the bench run (spec/support/v1-client.ts, fault-proxy.ts). It
 * shares no code with lib/protocol on purpose, so a decoder bug cannot hide behind the same bug here.
 */

/** No lookupd frame is this large; a size above it (or below zero) is garbage, not a frame. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface Frame {
  size: number;
  /** The body; empty when the reader counts bodies without keeping them. */
  body: Buffer;
}

export interface FrameReaderOptions {
  /** Keep each body (default true); a proxy that only needs the boundaries counts them instead. */
  keepBodies?: boolean;
}

/**
 * Splits a byte stream into frames, one chunk at a time, wherever the chunks are cut. Framing stops
 * for good at the first size no lookupd sends ({@link garbage} says which); the bytes from there on
 * are the caller's to judge.
 */
export class FrameReader {
  /** Set once a frame header declared an impossible size: `frame size <n>`. */
  garbage: string | undefined;
  readonly #keepBodies: boolean;
  #header: Buffer = Buffer.alloc(0);
  /** Bytes of the current body still to come, once its header is complete; -1 between frames. */
  #bodyLeft = -1;
  #size = 0;
  #body: Buffer[] = [];
  /** Bytes read since the last complete frame, garbage included. */
  #pending = 0;

  constructor(options: FrameReaderOptions = {}) {
    this.#keepBodies = options.keepBodies ?? true;
  }

  /** Whether the next byte starts a frame: no header or body is half read, and no garbage came. */
  get atBoundary(): boolean {
    return this.#pending === 0 && this.garbage === undefined;
  }

  /** Bytes read since the last complete frame: a header or body cut short, or garbage. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /**
   * Reads `chunk` from offset `from` until one frame is complete or the chunk ends, and returns where
   * it stopped, with the frame if one completed. Once garbage came, it takes the rest of every chunk
   * as more of it.
   */
  readFrame(chunk: Buffer, from = 0): { end: number; frame?: Frame } {
    const start = from;
    let at = from;
    const done = (frame?: Frame) => {
      this.#pending = frame ? 0 : this.#pending + (at - start);
      return frame ? { end: at, frame } : { end: at };
    };
    if (this.garbage !== undefined) {
      at = chunk.length;
      return done();
    }
    if (this.#bodyLeft < 0) {
      const take = chunk.subarray(at, at + 4 - this.#header.length);
      this.#header = this.#header.length === 0 ? Buffer.from(take) : Buffer.concat([this.#header, take]);
      at += take.length;
      if (this.#header.length < 4) return done();
      const size = this.#header.readInt32BE(0);
      this.#header = Buffer.alloc(0);
      if (size < 0 || size > MAX_FRAME_BYTES) {
        this.garbage = `frame size ${size}`;
        return done();
      }
      this.#size = size;
      this.#bodyLeft = size;
      this.#body = [];
    }
    const take = Math.min(this.#bodyLeft, chunk.length - at);
    if (this.#keepBodies && take > 0) this.#body.push(Buffer.from(chunk.subarray(at, at + take)));
    at += take;
    this.#bodyLeft -= take;
    if (this.#bodyLeft > 0) return done();
    const frame: Frame = { size: this.#size, body: Buffer.concat(this.#body) };
    this.#bodyLeft = -1;
    this.#body = [];
    return done(frame);
  }

  /** Every frame `chunk` completes, in order. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    for (let at = 0; at < chunk.length; ) {
      const { end, frame } = this.readFrame(chunk, at);
      if (frame) frames.push(frame);
      at = end;
    }
    return frames;
  }
}
