import { V2Error } from '../errors.js';

/**
 * Snappy's framing format (https://github.com/google/snappy/blob/main/framing_format.txt), as nsqd
 * speaks it after IDENTIFY negotiates `snappy` (go-snappystream on nsqd's side, golang/snappy in
 * go-nsq): a stream identifier, then chunks of at most 64 KiB of data, each with the masked CRC-32C
 * of its uncompressed bytes. No package in Node does snappy without a native build, so the block
 * codec is here too, kept small: a greedy LZ77 with one hash probe, as the reference's fast path.
 */

const STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;
const CHUNK_PADDING = 0xfe;
const CHUNK_STREAM_IDENTIFIER = 0xff;
/** Uncompressed bytes per chunk, the format's limit. */
const MAX_BLOCK = 65536;
/** The largest chunk body a well-formed stream has: a 64 KiB block that did not compress, plus its CRC. */
const MAX_CHUNK_BODY = 4 + 32 + MAX_BLOCK + Math.ceil(MAX_BLOCK / 6);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of `data`. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The format's checksum: the CRC rotated and offset, so that a CRC of CRCs is not a CRC. */
function maskedCrc(data: Uint8Array): number {
  const crc = crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One snappy block (at most 64 KiB in): its length as a varint, then literals and copies. */
export function compressBlock(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(32 + input.length + Math.ceil(input.length / 6));
  let o = 0;
  for (let n = input.length; ; n >>>= 7) {
    if (n < 0x80) {
      out[o++] = n;
      break;
    }
    out[o++] = (n & 0x7f) | 0x80;
  }
  const table = new Int32Array(1 << 14).fill(-1);
  const hash = (i: number) => (Math.imul(input.readUInt32LE(i), 0x1e35a7bd) >>> 18) & 0x3fff;
  let literalStart = 0;
  let i = 0;
  const end = input.length - 4;
  const literal = (from: number, to: number) => {
    const length = to - from;
    if (length === 0) return;
    const n = length - 1;
    if (n < 60) out[o++] = n << 2;
    else if (n < 0x100) {
      out[o++] = 60 << 2;
      out[o++] = n;
    } else {
      out[o++] = 61 << 2;
      out.writeUInt16LE(n, o);
      o += 2;
    }
    input.copy(out, o, from, to);
    o += length;
  };
  while (i <= end) {
    const h = hash(i);
    const candidate = table[h]!;
    table[h] = i;
    if (candidate < 0 || i - candidate > 0xffff || input.readUInt32LE(candidate) !== input.readUInt32LE(i)) {
      i++;
      continue;
    }
    literal(literalStart, i);
    let length = 4;
    while (i + length < input.length && input[candidate + length] === input[i + length]) length++;
    const offset = i - candidate;
    // Copies with a 2-byte offset, at most 64 bytes each.
    for (let left = length; left > 0; ) {
      const take = Math.min(left, 64);
      out[o++] = ((take - 1) << 2) | 0x02;
      out.writeUInt16LE(offset, o);
      o += 2;
      left -= take;
    }
    i += length;
    literalStart = i;
  }
  literal(literalStart, input.length);
  return out.subarray(0, o);
}

/** Decodes one snappy block; a malformed block or one larger than `max` is an `E_BAD_BODY`. */
export function decompressBlock(input: Buffer, max = MAX_BLOCK): Buffer {
  const bad = (why: string) => new V2Error('E_BAD_BODY', `snappy: corrupt input (${why})`, true);
  let length = 0;
  let p = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= input.length || shift > 28) throw bad('length');
    const byte = input[p++]!;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > max) throw bad(`block of ${length} bytes`);
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  while (p < input.length) {
    const tag = input[p++]!;
    let size: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        size = tag >>> 2;
        if (size >= 60) {
          const extra = size - 59;
          if (p + extra > input.length) throw bad('literal length');
          size = input.readUIntLE(p, extra);
          p += extra;
        }
        size += 1;
        if (p + size > input.length || o + size > length) throw bad('literal');
        input.copy(out, o, p, p + size);
        p += size;
        o += size;
        continue;
      }
      case 1:
        if (p + 1 > input.length) throw bad('copy');
        size = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | input[p++]!;
        break;
      case 2:
        if (p + 2 > input.length) throw bad('copy');
        size = (tag >>> 2) + 1;
        offset = input.readUInt16LE(p);
        p += 2;
        break;
      default:
        if (p + 4 > input.length) throw bad('copy');
        size = (tag >>> 2) + 1;
        offset = input.readUInt32LE(p);
        p += 4;
    }
    if (offset === 0 || offset > o || o + size > length) throw bad('copy offset');
    // Byte by byte: a copy may overlap what it writes (a run).
    for (let k = 0; k < size; k++, o++) out[o] = out[o - offset]!;
  }
  if (o !== length) throw bad('short block');
  return out;
}

/** Frames what is written as a snappy stream: the identifier first, then one chunk per 64 KiB. */
export class SnappyFramer {
  #started = false;

  /** The stream bytes for `data` (compressed chunks, or uncompressed ones where that is shorter). */
  frame(data: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.#started) {
      this.#started = true;
      parts.push(STREAM_IDENTIFIER);
    }
    for (let start = 0; start < data.length; start += MAX_BLOCK) {
      const block = data.subarray(start, start + MAX_BLOCK);
      const compressed = compressBlock(block);
      const useCompressed = compressed.length < block.length - block.length / 8;
      const body = useCompressed ? compressed : block;
      const header = Buffer.allocUnsafe(8);
      header[0] = useCompressed ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED;
      header.writeUIntLE(body.length + 4, 1, 3);
      header.writeUInt32LE(maskedCrc(block), 4);
      parts.push(header, body);
    }
    return Buffer.concat(parts);
  }
}

/**
 * Reads a snappy stream pushed in pieces: each {@link push} returns the data of the chunks it
 * completed. Throws an `E_BAD_BODY` {@link V2Error} (fatal) on a missing identifier, a bad checksum,
 * an unskippable unknown chunk, or a chunk longer than the format allows (so memory stays bounded).
 */
export class SnappyUnframer {
  #pending: Buffer = Buffer.alloc(0);
  #started = false;

  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    const bad = (why: string) => new V2Error('E_BAD_BODY', `snappy: corrupt input (${why})`, true);
    while (this.#pending.length >= 4) {
      const type = this.#pending[0]!;
      const length = this.#pending.readUIntLE(1, 3);
      if (length > MAX_CHUNK_BODY) throw bad(`chunk of ${length} bytes`);
      if (this.#pending.length < 4 + length) break;
      const body = this.#pending.subarray(4, 4 + length);
      this.#pending = this.#pending.subarray(4 + length);
      if (!this.#started) {
        if (type !== CHUNK_STREAM_IDENTIFIER || !body.equals(STREAM_IDENTIFIER.subarray(4)))
          throw bad('no stream identifier');
        this.#started = true;
        continue;
      }
      if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
        if (length < 4) throw bad('short chunk');
        const data =
          type === CHUNK_COMPRESSED ? decompressBlock(body.subarray(4)) : Buffer.from(body.subarray(4));
        if (data.length > MAX_BLOCK) throw bad('chunk over 64 KiB');
        if (maskedCrc(data) !== body.readUInt32LE(0)) throw bad('checksum');
        out.push(data);
      } else if (type === CHUNK_STREAM_IDENTIFIER || type === CHUNK_PADDING || type >= 0x80) {
        // Skippable.
      } else {
        throw bad(`reserved chunk type ${type}`);
      }
    }
    return out;
  }
}
