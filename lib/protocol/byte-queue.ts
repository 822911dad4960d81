/**
 * Unread input of one connection: appended chunk by chunk, consumed from the front. A chunk that
 * arrives with nothing pending is adopted without copying; otherwise bytes are copied into a buffer
 * that doubles when full, so a line that trickles in byte by byte costs amortized O(1) per byte.
 */
const EMPTY = Buffer.alloc(0);

export class ByteQueue {
  #buffer: Buffer = EMPTY;
  #start = 0;
  #end = 0;
  /** Whether #buffer was allocated here; an adopted chunk belongs to the socket and is never written. */
  #owned = false;

  get length(): number {
    return this.#end - this.#start;
  }

  append(chunk: Buffer): void {
    if (this.#start === this.#end) {
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (!this.#owned || this.#buffer.length - this.#end < chunk.length) {
      const pending = this.#end - this.#start;
      const needed = pending + chunk.length;
      const capacity = this.#owned ? Math.max(needed, this.#buffer.length * 2) : Math.max(needed * 2, 4096);
      const next = Buffer.allocUnsafe(capacity);
      this.#buffer.copy(next, 0, this.#start, this.#end);
      this.#buffer = next;
      this.#start = 0;
      this.#end = pending;
      this.#owned = true;
    }
    chunk.copy(this.#buffer, this.#end);
    this.#end += chunk.length;
  }

  /** Offset (from the front) of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0): number {
    const at = this.#buffer.indexOf(byte, this.#start + from);
    return at === -1 || at >= this.#end ? -1 : at - this.#start;
  }

  /** The first `n` bytes as a byte string (latin1), consumed. */
  takeLatin1(n: number): string {
    const text = this.#buffer.toString('latin1', this.#start, this.#start + n);
    this.#consume(n);
    return text;
  }

  /** The first `n` bytes as a Buffer view, consumed: valid until the next append. */
  take(n: number): Buffer {
    const view = this.#buffer.subarray(this.#start, this.#start + n);
    this.#consume(n);
    return view;
  }

  readInt32BE(): number {
    return this.#buffer.readInt32BE(this.#start);
  }

  skip(n: number): void {
    this.#consume(n);
  }

  /** Drops everything, releasing the buffer. */
  clear(): void {
    this.#buffer = EMPTY;
    this.#start = 0;
    this.#end = 0;
    this.#owned = false;
  }

  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      // Nothing left: let go of the buffer so an idle connection pins no memory.
      this.#buffer = EMPTY;
      this.#start = 0;
      this.#end = 0;
      this.#owned = false;
    }
  }
}
