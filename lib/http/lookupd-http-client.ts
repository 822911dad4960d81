import { LookupdHttpBodyTooLargeError, LookupdHttpError } from '../errors.js';
import { integerAtLeast, positiveNumber } from '../util/validate.js';

export { LookupdHttpBodyTooLargeError, LookupdHttpError };

/** A producer as lookupd's `/nodes` lists it. */
export interface NodeProducer {
  /** The producer's TCP connection as lookupd sees it, `ip:port`. */
  remote_address: string;
  /** The producer's host name, from its IDENTIFY. */
  hostname: string;
  /** Where consumers dial the producer, from its IDENTIFY. */
  broadcast_address: string;
  /** The producer's TCP port for consumers. */
  tcp_port: number;
  /** The producer's HTTP port. */
  http_port: number;
  /** The producer's nsqd version. */
  version: string;
  /** The producer's `--topology-zone`, `""` if it set none; absent from older lookupds. */
  topology_zone?: string;
  /** The producer's `--topology-region`, `""` if it set none; absent from older lookupds. */
  topology_region?: string;
  /** For each of {@link topics}, in the same order: whether lookupd has tombstoned the producer for it. */
  tombstones: boolean[];
  /** The topics the producer registered. */
  topics: string[];
}

/** A producer as `/lookup` lists it. */
export type LookupProducer = Omit<NodeProducer, 'tombstones' | 'topics'>;

/** What {@link LookupdHttpClient} takes; every field is optional. */
export interface LookupdHttpClientOptions {
  /** Deadline of each request, body included, in ms (default 5000). */
  timeoutMs?: number;
  /**
   * Largest response body read, in bytes (default 256 MiB, room for a `/debug` of millions of
   * registrations). A larger body fails with {@link LookupdHttpBodyTooLargeError} and is not buffered.
   */
  maxBodyBytes?: number;
}

/**
 * Why a fetch got no answer, in words that name the cause. fetch itself only says `fetch failed`; the
 * socket's error (ECONNREFUSED, ENOTFOUND, ...) is its `cause`, and a deadline shows as a TimeoutError.
 */
export function fetchFailure(error: unknown, timeoutMs: number): string {
  const outer = error as { name?: string; message?: string; cause?: unknown };
  if (outer?.name === 'TimeoutError' || outer?.name === 'AbortError') {
    return `no answer within ${timeoutMs} ms (timeout)`;
  }
  const cause = (outer?.cause ?? outer) as { code?: unknown; message?: string; errors?: unknown[] };
  // A host with several addresses fails with an AggregateError: the first one's code says enough.
  const first = (cause?.errors?.[0] ?? cause) as { code?: unknown; message?: string };
  const code =
    typeof cause?.code === 'string' ? cause.code : typeof first?.code === 'string' ? first.code : undefined;
  const detail = first?.message || cause?.message || outer?.message || String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot connect: ECONNREFUSED (nothing listens there: ${detail})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect: ${code} (the host name does not resolve: ${detail})`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `cannot connect: timeout (${detail})`;
    case undefined:
      // fetch never dials some ports (1, 7, 9, 25, 6000, ...: the Fetch standard's "bad ports").
      if (detail === 'bad port')
        return 'fetch refuses to dial this port (a "bad port" in the Fetch standard)';
      return `request failed: ${detail}`;
    default:
      if (code.startsWith('HPE_') || code === 'UND_ERR_SOCKET') {
        return `not an HTTP answer (${code}: ${detail}); is this lookupd's TCP port? lookupd's HTTP port is 4161 by default`;
      }
      return `request failed: ${code} (${detail})`;
  }
}

/** Default of {@link LookupdHttpClientOptions.maxBodyBytes}: 256 MiB, in bytes. */
export const DEFAULT_MAX_HTTP_BODY_BYTES = 256 * 1024 * 1024;

/**
 * The read side of lookupd's HTTP API, as consumers and tools use it. A request that gets no answer, a
 * status other than 200 or a body that is not JSON rejects with a {@link LookupdHttpError}; a body over
 * `maxBodyBytes` with a {@link LookupdHttpBodyTooLargeError}.
 */
export class LookupdHttpClient {
  /** Deadline of each request, body included, in ms. */
  readonly timeoutMs: number;
  /** Largest response body read, in bytes. */
  readonly maxBodyBytes: number;

  constructor(
    /** lookupd's HTTP address, `host:port` (its `--http-address`), without a scheme. */
    readonly httpAddress: string,
    options: LookupdHttpClientOptions = {},
  ) {
    this.timeoutMs = positiveNumber('timeoutMs', options.timeoutMs, 5000);
    this.maxBodyBytes = integerAtLeast('maxBodyBytes', options.maxBodyBytes, 1, DEFAULT_MAX_HTTP_BODY_BYTES);
  }

  /** `GET /ping`: true when lookupd answers 200 `OK`. */
  async ping(): Promise<boolean> {
    return this.#request(
      '/ping',
      async (response) => response.status === 200 && (await this.#body('/ping', response)) === 'OK',
    );
  }

  /**
   * `GET /nodes`: every producer lookupd heard from within its `--inactive-producer-timeout`, with its
   * topics and tombstones.
   */
  async nodes(): Promise<NodeProducer[]> {
    return (await this.#json<{ producers: NodeProducer[] }>('/nodes')).producers;
  }

  /** `GET /topics`: every topic lookupd knows, including those no producer has any more. */
  async topics(): Promise<string[]> {
    return (await this.#json<{ topics: string[] }>('/topics')).topics;
  }

  /** `GET /channels?topic=`: the topic's channels lookupd knows; empty for an unknown topic. */
  async channels(topic: string): Promise<string[]> {
    return (await this.#json<{ channels: string[] }>(`/channels?topic=${encodeURIComponent(topic)}`))
      .channels;
  }

  /** `GET /lookup?topic=`; null for a topic lookupd does not know (404 TOPIC_NOT_FOUND). */
  async lookup(topic: string): Promise<{
    /** The topic's channels. */
    channels: string[];
    /** The topic's producers, but for those inactive or tombstoned for it. */
    producers: LookupProducer[];
  } | null> {
    const path = `/lookup?topic=${encodeURIComponent(topic)}`;
    return this.#request(path, async (response) => {
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      return this.#parse(path, response);
    });
  }

  /** `GET /debug`: every registration key (`topic:t:`, `channel:t:c`, `client::`) with its producers. */
  async debug(): Promise<Record<string, Array<Record<string, unknown>>>> {
    return this.#json('/debug');
  }

  async #json<T>(path: string): Promise<T> {
    return this.#request(path, (response) => this.#parse<T>(path, response));
  }

  async #parse<T>(path: string, response: Response): Promise<T> {
    const url = this.#url(path);
    const text = await this.#body(path, response);
    if (response.status !== 200)
      throw new LookupdHttpError(url, response.status, `HTTP ${response.status} ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new LookupdHttpError(url, response.status, `not JSON: ${text.slice(0, 200)}`, { cause });
    }
  }

  /**
   * GETs `path` and reads the answer with `read`, both within `timeoutMs`. The timer is cleared as soon
   * as the answer is read, so no request leaves one behind.
   */
  async #request<T>(path: string, read: (response: Response) => Promise<T>): Promise<T> {
    const url = this.#url(path);
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('timeout', 'TimeoutError')),
      this.timeoutMs,
    );
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { accept: 'application/vnd.nsq; version=1.0' },
          signal: controller.signal,
        });
      } catch (cause) {
        throw new LookupdHttpError(url, undefined, fetchFailure(cause, this.timeoutMs), { cause });
      }
      return await read(response);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The body as text (UTF-8, as `Response.text()` decodes it), read as a stream so that no more than
   * `maxBodyBytes` are ever held: a larger body, declared or not, drops the connection and throws.
   */
  async #body(path: string, response: Response): Promise<string> {
    const url = this.#url(path);
    const limit = this.maxBodyBytes;
    const tooLarge = (declared?: number) =>
      new LookupdHttpBodyTooLargeError(url, response.status, limit, 'maxBodyBytes', declared);
    if (!response.body) return '';
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limit) {
      await response.body.cancel().catch(() => undefined);
      throw tooLarge(declared);
    }
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(value);
      }
    } catch (cause) {
      if (cause instanceof LookupdHttpError) throw cause;
      throw new LookupdHttpError(
        url,
        response.status,
        `reading the body failed: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    } finally {
      reader.releaseLock();
    }
    return new TextDecoder().decode(Buffer.concat(chunks, size));
  }

  #url(path: string): string {
    return `http://${this.httpAddress}${path}`;
  }
}
