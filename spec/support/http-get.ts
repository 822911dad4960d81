import { request } from 'node:http';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request on its own connection (`Connection: close`), so no keep-alive socket outlives a
 * test. `address` is `host:port`.
 */
export function httpCall(address: string, method: string, path: string, body?: string): Promise<HttpReply> {
  const at = address.lastIndexOf(':');
  const payload = Buffer.from(body ?? '', 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address.slice(0, at).replace(/^\[|\]$/g, ''),
        port: Number(address.slice(at + 1)),
        method,
        path,
        agent: false,
        headers: { 'content-length': String(payload.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET `path` and parse the JSON body; throws with the body on a non-200 answer. */
export async function getJson<T>(address: string, path: string): Promise<T> {
  const reply = await httpCall(address, 'GET', path);
  if (reply.status !== 200) throw new Error(`GET ${path} on ${address}: ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body) as T;
}
