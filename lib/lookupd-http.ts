import { NsqLookupError } from './errors.js';

/** A producer as lookupd's `/nodes` lists it. */
export interface NodeProducer {
  remote_address: string;
  hostname: string;
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  version: string;
  topology_zone?: string;
  topology_region?: string;
  tombstones: boolean[];
  topics: string[];
}

/** A producer as `/lookup` lists it. */
export type LookupProducer = Omit<NodeProducer, 'tombstones' | 'topics'>;

export class LookupdHttpError extends NsqLookupError {
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NSQ_ERR_LOOKUPD_HTTP', `${url}: ${message}`, options);
  }
}

/** The read side of lookupd's HTTP API, as consumers and tools use it. */
export class LookupdHttpClient {
  constructor(
    readonly httpAddress: string,
    readonly timeoutMs = 5000,
  ) {}

  /** `GET /ping`: true when lookupd answers 200 `OK`. */
  async ping(): Promise<boolean> {
    const response = await this.#get('/ping');
    return response.status === 200 && (await response.text()) === 'OK';
  }

  async nodes(): Promise<NodeProducer[]> {
    return (await this.#json<{ producers: NodeProducer[] }>('/nodes')).producers;
  }

  async topics(): Promise<string[]> {
    return (await this.#json<{ topics: string[] }>('/topics')).topics;
  }

  async channels(topic: string): Promise<string[]> {
    return (await this.#json<{ channels: string[] }>(`/channels?topic=${encodeURIComponent(topic)}`))
      .channels;
  }

  /** `GET /lookup?topic=`; null for a topic lookupd does not know (404 TOPIC_NOT_FOUND). */
  async lookup(topic: string): Promise<{ channels: string[]; producers: LookupProducer[] } | null> {
    const path = `/lookup?topic=${encodeURIComponent(topic)}`;
    const response = await this.#get(path);
    if (response.status === 404) return null;
    return this.#parse(path, response);
  }

  /** `GET /debug`: every registration key (`topic:t:`, `channel:t:c`, `client::`) with its producers. */
  async debug(): Promise<Record<string, Array<Record<string, unknown>>>> {
    return this.#json('/debug');
  }

  async #json<T>(path: string): Promise<T> {
    return this.#parse<T>(path, await this.#get(path));
  }

  async #parse<T>(path: string, response: Response): Promise<T> {
    const url = this.#url(path);
    const text = await response.text();
    if (response.status !== 200)
      throw new LookupdHttpError(url, response.status, `HTTP ${response.status} ${text}`);
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new LookupdHttpError(url, response.status, `not JSON: ${text.slice(0, 200)}`, { cause });
    }
  }

  async #get(path: string): Promise<Response> {
    const url = this.#url(path);
    try {
      return await fetch(url, {
        headers: { accept: 'application/vnd.nsq; version=1.0' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new LookupdHttpError(url, undefined, `request failed: ${(cause as Error).message}`, { cause });
    }
  }

  #url(path: string): string {
    return `http://${this.httpAddress}${path}`;
  }
}
