import type { Segment } from './fixtures.js';

/**
 * What the replayer and the recorder share about a recorded scenario: its step timeout, the bytes of
 * a write and the headers kept. (They talk to lookupd with V1Client and httpRequest, like every spec.)
 */

/** How long a wait for frames or a close may take before a step fails. */
export const STEP_TIMEOUT_MS = 5000;

/** The bytes of a recorded write. */
export function segmentBytes(data: Segment[]): Buffer {
  return Buffer.concat(
    data.map((segment) => {
      if ('text' in segment) return Buffer.from(segment.text, 'utf8');
      if ('hex' in segment) return Buffer.from(segment.hex, 'hex');
      const b = Buffer.alloc(4);
      b.writeInt32BE(segment.int32be, 0);
      return b;
    }),
  );
}

/** The response headers the recordings keep. */
export const RECORDED_HEADERS = ['content-type', 'x-nsq-content-type', 'allow', 'location'];
