import { SIZE_PREFIX_LENGTH } from './constants.js';

/** A response frame as lookupd writes it: the body's 4-byte big-endian size, then the body. */
export function responseFrame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(SIZE_PREFIX_LENGTH + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, SIZE_PREFIX_LENGTH);
  return out;
}
