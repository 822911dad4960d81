import { once } from 'node:events';
import nsq, { type Message, type Reader, type ReaderOptions, type Writer } from 'nsqjs';
import { type Broker, type BrokerOptions, startBroker } from '../../lib/broker/index.js';
import { splitHostPort } from '../../lib/index.js';
import { LookupdHttpClient } from '../../lib/tools/index.js';
import type { Cleanup } from './harness.js';

/** A broker on free 127.0.0.1 ports, closed by `cleanup`. */
export async function brokerFor(cleanup: Cleanup, options: BrokerOptions = {}): Promise<Broker> {
  const broker = await startBroker({
    tcpAddress: '127.0.0.1:0',
    httpAddress: '127.0.0.1:0',
    broadcastAddress: '127.0.0.1',
    ...options,
  });
  cleanup(() => broker.close());
  return broker;
}

/** An nsqjs Writer connected to `tcpAddress` and past IDENTIFY; errors are collected, not thrown. */
export async function writerFor(cleanup: Cleanup, tcpAddress: string): Promise<Writer & { errors: Error[] }> {
  const { host, port } = splitHostPort(tcpAddress);
  const writer = Object.assign(new nsq.Writer(host, port), { errors: [] as Error[] });
  writer.on('error', (error: Error) => writer.errors.push(error));
  writer.connect();
  cleanup(() => writer.close());
  await once(writer, 'ready');
  return writer;
}

export function publish(writer: Writer, topic: string, messages: string | string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    writer.publish(topic, messages, (error) => (error ? reject(error) : resolve())),
  );
}

export function deferPublish(writer: Writer, topic: string, message: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    writer.deferPublish(topic, [message], delayMs, (error) => (error ? reject(error) : resolve())),
  );
}

/** A Reader that knows only lookupd's HTTP address, with what it saw. Not connected yet. */
export interface ReaderHandle {
  reader: Reader;
  /** Every delivery, in order. */
  deliveries: Message[];
  /** `host:port` of each nsqd_connected, in order. */
  connected: string[];
  errors: Error[];
  /** Resolves once `count` deliveries satisfy `match` (all deliveries when omitted). */
  received(count: number, match?: (message: Message) => boolean): Promise<void>;
}

export function readerFor(
  cleanup: Cleanup,
  topic: string,
  channel: string,
  lookupdHttpAddress: string,
  options: ReaderOptions = {},
): ReaderHandle {
  const reader = new nsq.Reader(topic, channel, {
    lookupdHTTPAddresses: [lookupdHttpAddress],
    lookupdPollInterval: 1,
    maxInFlight: 10,
    ...options,
  });
  const handle: ReaderHandle = {
    reader,
    deliveries: [],
    connected: [],
    errors: [],
    received(count, match = () => true) {
      return new Promise((resolve) => {
        const check = () => {
          if (handle.deliveries.filter(match).length < count) return;
          reader.off('message', check);
          resolve();
        };
        reader.on('message', check);
        check();
      });
    },
  };
  // Registered first, so the handle's list is complete by the time a test's own listener runs.
  reader.on('message', (message) => handle.deliveries.push(message));
  reader.on('nsqd_connected', (host, port) => handle.connected.push(`${host}:${port}`));
  reader.on('error', (error) => handle.errors.push(error));
  cleanup(() => reader.close());
  return handle;
}

/** Whether lookupd's /lookup lists `broker` as a producer of `topic`. */
export async function lookupdLists(
  lookupdHttpAddress: string,
  topic: string,
  broker: Broker,
): Promise<boolean> {
  const lookup = await new LookupdHttpClient(lookupdHttpAddress).lookup(topic);
  const { port } = splitHostPort(broker.tcpAddress);
  return lookup?.producers.some((p) => p.broadcast_address === '127.0.0.1' && p.tcp_port === port) ?? false;
}

export async function lookupdChannels(lookupdHttpAddress: string, topic: string): Promise<string[]> {
  return new LookupdHttpClient(lookupdHttpAddress).channels(topic);
}

export interface ChannelStats {
  channel_name: string;
  depth: number;
  in_flight_count: number;
  deferred_count: number;
  message_count: number;
  requeue_count: number;
  timeout_count: number;
  client_count: number;
}

export interface TopicStats {
  topic_name: string;
  channels: ChannelStats[];
  depth: number;
  message_count: number;
}

/** The broker's `GET /stats?format=json`, over HTTP. */
export async function brokerStats(broker: Broker): Promise<{ topics: TopicStats[] }> {
  const response = await fetch(`http://${broker.httpAddress}/stats?format=json`);
  if (response.status !== 200) throw new Error(`/stats answered ${response.status}`);
  return (await response.json()) as { topics: TopicStats[] };
}

export async function channelStats(
  broker: Broker,
  topic: string,
  channel: string,
): Promise<ChannelStats | undefined> {
  const stats = await brokerStats(broker);
  return stats.topics.find((t) => t.topic_name === topic)?.channels.find((c) => c.channel_name === channel);
}

/** POSTs to the broker's HTTP API and returns the status and body. */
export async function post(
  broker: Broker,
  path: string,
  body?: string | Buffer,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${broker.httpAddress}${path}`, { method: 'POST', body });
  return { status: response.status, text: await response.text() };
}

/** Counts deliveries per body. */
export function countBodies(messages: Message[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of messages) {
    const body = message.body.toString();
    counts.set(body, (counts.get(body) ?? 0) + 1);
  }
  return counts;
}
