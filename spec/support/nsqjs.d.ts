/** The parts of nsqjs 0.13 (plain JavaScript, no bundled types) that the e2e specs use. */
declare module 'nsqjs' {
  import { EventEmitter } from 'node:events';

  /** nsqjs's ConnectionConfig; times in seconds unless the name says otherwise. */
  export interface ConnectionOptions {
    clientId?: string;
    /** Seconds; sent in IDENTIFY as heartbeat_interval (ms). */
    heartbeatInterval?: number;
    maxInFlight?: number;
    /** Milliseconds; sent in IDENTIFY as msg_timeout. */
    messageTimeout?: number;
    /** Default delay of Message.requeue(), in ms. */
    requeueDelay?: number;
    sampleRate?: number;
    tls?: boolean;
    snappy?: boolean;
    deflate?: boolean;
  }

  export interface ReaderOptions extends ConnectionOptions {
    lookupdHTTPAddresses?: string[];
    nsqdTCPAddresses?: string[];
    /** Seconds between lookupd queries (at least 1). */
    lookupdPollInterval?: number;
    maxAttempts?: number;
    /** Seconds. */
    maxBackoffDuration?: number;
  }

  export class Message extends EventEmitter {
    readonly id: string;
    readonly attempts: number;
    readonly body: Buffer;
    readonly timestamp: bigint;
    hasResponded: boolean;
    finish(): void;
    requeue(delayMs?: number, backoff?: boolean): void;
    touch(): void;
  }

  export class Reader extends EventEmitter {
    constructor(topic: string, channel: string, options: ReaderOptions);
    readonly topic: string;
    readonly channel: string;
    connect(): void;
    close(): void;
    on(event: 'message' | 'discard', listener: (message: Message) => void): this;
    on(event: 'nsqd_connected' | 'nsqd_closed', listener: (host: string, port: number) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'ready' | 'not_ready', listener: () => void): this;
  }

  export class Writer extends EventEmitter {
    constructor(host: string, port: number, options?: ConnectionOptions);
    ready: boolean;
    connect(): void;
    close(): void;
    publish(
      topic: string,
      messages: string | Buffer | Array<string | Buffer>,
      callback?: (error?: Error) => void,
    ): void;
    deferPublish(
      topic: string,
      messages: Array<string | Buffer>,
      delayMs: number,
      callback?: (error?: Error) => void,
    ): void;
  }

  const nsq: { Reader: typeof Reader; Writer: typeof Writer; Message: typeof Message };
  export default nsq;
}
