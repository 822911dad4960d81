import { request } from 'node:http';

export interface HttpResult {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

/**
 * The specs' one raw HTTP request: on its own connection (no agent, so no keep-alive socket outlives a
 * test), with a content-length always sent, the body kept as bytes and each header as one string.
 * `address` is `host:port` (`[v6]:port` too).
 */
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

export interface HttpReply {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

/** {@link httpRequest} with the body as UTF-8 text. */
export async function httpCall(
  address: string,
  method: string,
  path: string,
  body?: string,
): Promise<HttpReply> {
  const result = await httpRequest(address, method, path, {}, body);
  return { status: result.status, headers: result.headers, body: result.body.toString('utf8') };
}

/** GET `path` and parse the JSON body; throws with the body on a non-200 answer. */
export async function getJson<T>(address: string, path: string): Promise<T> {
  const reply = await httpCall(address, 'GET', path);
  if (reply.status !== 200) throw new Error(`GET ${path} on ${address}: ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body) as T;
}
