import type { LogFn } from '../util/debug.js';
import type { Topic } from './topic.js';
import type { TlsSettings } from './transport.js';

/** The broker's limits and defaults, nsqd's flags in milliseconds and bytes. */
export interface BrokerLimits {
  /** Default in-flight timeout, nsqd's --msg-timeout (60000). */
  msgTimeoutMs: number;
  /** Largest msg_timeout a client may ask for and cap on TOUCH, nsqd's --max-msg-timeout (900000). */
  maxMsgTimeoutMs: number;
  /** Largest single message, nsqd's --max-msg-size (1 MiB). */
  maxMsgSize: number;
  /** Largest IDENTIFY, AUTH or MPUB body, nsqd's --max-body-size (5 MiB). */
  maxBodySize: number;
  /** Largest REQ / DPUB / HTTP defer, nsqd's --max-req-timeout (3600000). */
  maxReqTimeoutMs: number;
  /** Largest RDY, nsqd's --max-rdy-count (2500). */
  maxRdyCount: number;
  /** nsqd's --client-timeout (60000): heartbeats default to half of it. */
  clientTimeoutMs: number;
  /** Largest heartbeat_interval a client may ask for, nsqd's --max-heartbeat-interval (60000). */
  maxHeartbeatIntervalMs: number;
  /** nsqd's --max-output-buffer-size (65536); negotiated and reported only. */
  maxOutputBufferSize: number;
  /** nsqd's --min-output-buffer-timeout (25); negotiated and reported only. */
  minOutputBufferTimeoutMs: number;
  /** nsqd's --max-output-buffer-timeout (30000); negotiated and reported only. */
  maxOutputBufferTimeoutMs: number;
  /** Messages kept per topic or channel before publishing fails, nsqd's --mem-queue-size (10000). */
  memQueueSize: number;
  /** Whether IDENTIFY may negotiate deflate, nsqd's --deflate (true). */
  deflate: boolean;
  /** Highest deflate level a client may ask for, nsqd's --max-deflate-level (6). */
  maxDeflateLevel: number;
  /** Whether IDENTIFY may negotiate snappy, nsqd's --snappy (true). */
  snappy: boolean;
  /** Longest command line, in bytes (16384, nsqd's read buffer). */
  maxLineBytes: number;
  /** Version reported by IDENTIFY, /info, /stats and to lookupd ("1.3.0", the protocol this speaks). */
  version: string;
}

/** nsqd v1.3.0's defaults, used for every limit {@link BrokerOptions} leaves out. */
export const DEFAULT_LIMITS: BrokerLimits = {
  msgTimeoutMs: 60_000,
  maxMsgTimeoutMs: 15 * 60_000,
  maxMsgSize: 1024 * 1024,
  maxBodySize: 5 * 1024 * 1024,
  maxReqTimeoutMs: 60 * 60_000,
  maxRdyCount: 2500,
  clientTimeoutMs: 60_000,
  maxHeartbeatIntervalMs: 60_000,
  maxOutputBufferSize: 64 * 1024,
  minOutputBufferTimeoutMs: 25,
  maxOutputBufferTimeoutMs: 30_000,
  memQueueSize: 10_000,
  deflate: true,
  maxDeflateLevel: 6,
  snappy: true,
  maxLineBytes: 16 * 1024,
  version: '1.3.0',
};

/** What connections and the HTTP API need from the broker. */
export interface BrokerContext {
  /** The limits in force. */
  readonly options: BrokerLimits;
  /** Where connections and the HTTP API log (`debug`'s `nsqd-lookup:broker` by default). */
  readonly log: LogFn;
  /** The topic, created (and registered with lookupd) if needed: nsqd's GetTopic. */
  getTopic(name: string): Topic;
  /** TLS as IDENTIFY may negotiate it (nsqd's --tls-cert and --tls-key); none without them. */
  readonly tls: TlsSettings | undefined;
  /** nsqd's --tls-required: a client must upgrade to TLS in IDENTIFY before any other command. */
  readonly tlsRequired: boolean;
}

/** Which part of `/stats` to report: nsqd's `topic`, `channel` and `include_clients` parameters. */
export interface StatsFilter {
  /** Only this topic (all when empty or absent). */
  topic?: string | null;
  /** Only this channel of each topic reported (all when empty or absent). */
  channel?: string | null;
  /** Whether each channel lists its clients (default true). */
  includeClients?: boolean;
}

/** What the HTTP API needs from the broker. */
export interface BrokerHttpContext extends BrokerContext {
  /** The topic, if it exists. */
  topic(name: string): Topic | undefined;
  /** Deletes a topic and its channels; false when there was none. */
  deleteTopic(name: string): boolean;
  /** Deletes a channel; false when there was none. */
  deleteChannel(topicName: string, channelName: string): boolean;
  /** nsqd's `/info`. */
  info(): Record<string, unknown>;
  /** nsqd's `/stats?format=json`. */
  stats(filter?: StatsFilter): Record<string, unknown>;
}
