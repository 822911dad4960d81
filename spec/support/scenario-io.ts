import { request } from 'node:http';
import type { Segment } from './fixtures.js';

/**
 * How a recorded scenario talks to a lookupd over HTTP, shared by the replayer and the recorder: a raw
 * request that keeps the body's bytes. (Over TCP both use the specs' one V1Client, tagged by step.)
 */

/** How long a wait for frames or a close may take before a step fails. */
export const STEP_TIMEOUT_MS = 5000;

export interface HttpResult {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export function httpRequest(
  address: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<HttpResult> {
  const at = address.lastIndexOf(':');
  const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address.slice(0, at).replace(/^\[|\]$/g, ''),
        port: Number(address.slice(at + 1)),
        method,
        path,
        agent: false,
        headers: { ...headers, 'content-length': String(payload?.length ?? 0) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const h: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(res.headers))
            h[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

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
