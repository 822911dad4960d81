import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpStatusError, QueueFullError, V2Error } from '../errors.js';
import { isValidChannelName, isValidTopicName } from '../protocol/names.js';
import type { BrokerHttpContext } from './context.js';
import { parseMpubBody } from './protocol-v2.js';
import type { Topic } from './topic.js';

type Handler = (broker: BrokerHttpContext, url: URL, request: IncomingMessage) => Promise<unknown> | unknown;

/** Marks a plain-text answer (nsqd answers /ping, /pub and /mpub with text, the rest with JSON). */
class Text {
  constructor(readonly text: string) {}
}

const ROUTES: Record<string, { method: 'GET' | 'POST'; handler: Handler }> = {
  '/ping': { method: 'GET', handler: () => new Text('OK') },
  '/info': { method: 'GET', handler: (broker) => broker.info() },
  '/stats': { method: 'GET', handler: stats },
  '/pub': { method: 'POST', handler: pub },
  '/mpub': { method: 'POST', handler: mpub },
  '/topic/create': { method: 'POST', handler: (broker, url) => void broker.getTopic(topicParam(url)) },
  '/topic/delete': {
    method: 'POST',
    handler: (broker, url) => void broker.deleteTopic(existingTopic(broker, url).name),
  },
  '/topic/empty': { method: 'POST', handler: (broker, url) => existingTopic(broker, url).empty() },
  '/topic/pause': { method: 'POST', handler: (broker, url) => existingTopic(broker, url).pause() },
  '/topic/unpause': { method: 'POST', handler: (broker, url) => existingTopic(broker, url).unpause() },
  '/channel/create': {
    method: 'POST',
    handler: (broker, url) => {
      const channel = channelParam(url);
      void existingTopic(broker, url).getChannel(channel);
    },
  },
  '/channel/delete': {
    method: 'POST',
    handler: (broker, url) => {
      const channel = channelParam(url);
      const topic = existingTopic(broker, url);
      if (!broker.deleteChannel(topic.name, channel)) throw new HttpStatusError(404, 'CHANNEL_NOT_FOUND');
    },
  },
  '/channel/empty': { method: 'POST', handler: (broker, url) => existingChannel(broker, url).empty() },
  '/channel/pause': { method: 'POST', handler: (broker, url) => existingChannel(broker, url).pause() },
  '/channel/unpause': { method: 'POST', handler: (broker, url) => existingChannel(broker, url).unpause() },
};

/** nsqd's HTTP API, the parts a broker without disk, TLS or auth has (see README.md). */
export function createHttpHandler(broker: BrokerHttpContext) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    void handle(broker, request, response);
  };
}

async function handle(
  broker: BrokerHttpContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://broker');
  const route = ROUTES[url.pathname];
  try {
    if (!route) throw new HttpStatusError(404, 'NOT_FOUND');
    if (request.method !== route.method) throw new HttpStatusError(405, 'METHOD_NOT_ALLOWED');
    const result = await route.handler(broker, url, request);
    if (result instanceof Text) {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(result.text);
    } else if (result === undefined) {
      response.writeHead(200).end();
    } else {
      response
        .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify(result));
    }
  } catch (error) {
    const status = error instanceof HttpStatusError ? error.status : 500;
    const message = error instanceof HttpStatusError ? error.message : 'INTERNAL_ERROR';
    if (!(error instanceof HttpStatusError))
      broker.log('http %s %s: %o', request.method, url.pathname, error);
    if (response.headersSent) {
      response.destroy();
      return;
    }
    // A body we stopped reading must not be parsed as the next request.
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (!request.complete) headers.connection = 'close';
    response.writeHead(status, headers).end(JSON.stringify({ message }));
  }
}

function topicParam(url: URL): string {
  const topic = url.searchParams.get('topic');
  if (topic === null) throw new HttpStatusError(400, 'MISSING_ARG_TOPIC');
  if (!isValidTopicName(topic)) throw new HttpStatusError(400, 'INVALID_TOPIC');
  return topic;
}

function channelParam(url: URL): string {
  topicParam(url);
  const channel = url.searchParams.get('channel');
  if (channel === null) throw new HttpStatusError(400, 'MISSING_ARG_CHANNEL');
  if (!isValidChannelName(channel)) throw new HttpStatusError(400, 'INVALID_CHANNEL');
  return channel;
}

function existingTopic(broker: BrokerHttpContext, url: URL): Topic {
  const topic = broker.topic(topicParam(url));
  if (!topic) throw new HttpStatusError(404, 'TOPIC_NOT_FOUND');
  return topic;
}

function existingChannel(broker: BrokerHttpContext, url: URL) {
  const name = channelParam(url);
  const channel = existingTopic(broker, url).channel(name);
  if (!channel) throw new HttpStatusError(404, 'CHANNEL_NOT_FOUND');
  return channel;
}

/**
 * Reads the request body, refusing more than `max` bytes without buffering them: a Content-Length
 * above it is refused before reading, a longer chunked body as soon as it passes the limit.
 */
async function readBody(request: IncomingMessage, max: number, tooBig: string): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (declared > max) throw new HttpStatusError(413, tooBig);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) throw new HttpStatusError(413, tooBig);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function publish(topic: Topic, bodies: Buffer[], deferMs = 0): Text {
  try {
    topic.publish(bodies, deferMs);
  } catch (error) {
    if (error instanceof QueueFullError) throw new HttpStatusError(503, 'QUEUE_FULL');
    throw error;
  }
  return new Text('OK');
}

async function pub(broker: BrokerHttpContext, url: URL, request: IncomingMessage): Promise<Text> {
  const body = await readBody(request, broker.options.maxMsgSize, 'MSG_TOO_BIG');
  if (body.length === 0) throw new HttpStatusError(400, 'MSG_EMPTY');
  const topic = broker.getTopic(topicParam(url));
  let deferMs = 0;
  const deferParam = url.searchParams.get('defer');
  if (deferParam !== null) {
    // Go's ParseInt takes a sign; a negative delay is refused like one out of range.
    const parsed = /^[+-]?[0-9]+$/.test(deferParam) ? Number(deferParam) : Number.NaN;
    if (!(parsed >= 0 && parsed <= broker.options.maxReqTimeoutMs))
      throw new HttpStatusError(400, 'INVALID_DEFER');
    deferMs = parsed;
  }
  return publish(topic, [body], deferMs);
}

async function mpub(broker: BrokerHttpContext, url: URL, request: IncomingMessage): Promise<Text> {
  const { maxBodySize, maxMsgSize } = broker.options;
  const declared = Number(request.headers['content-length']);
  if (declared > maxBodySize) throw new HttpStatusError(413, 'BODY_TOO_BIG');
  const topic = broker.getTopic(topicParam(url));
  const body = await readBody(request, maxBodySize, 'BODY_TOO_BIG');
  let bodies: Buffer[];
  if (url.searchParams.has('binary')) {
    try {
      bodies = parseMpubBody(body, maxMsgSize);
    } catch (error) {
      // nsqd answers 413 with the protocol error's code minus its "E_".
      if (error instanceof V2Error) throw new HttpStatusError(413, error.code.slice(2));
      throw error;
    }
  } else {
    // One message per line; empty lines are skipped, as nsqd has done since 0.2.22.
    bodies = [];
    let start = 0;
    while (start <= body.length) {
      let end = body.indexOf(0x0a, start);
      if (end === -1) end = body.length;
      if (end > start) {
        if (end - start > maxMsgSize) throw new HttpStatusError(413, 'MSG_TOO_BIG');
        bodies.push(body.subarray(start, end));
      }
      start = end + 1;
    }
  }
  return publish(topic, bodies);
}

function stats(broker: BrokerHttpContext, url: URL): unknown {
  const topicFilter = url.searchParams.get('topic');
  const channelFilter = url.searchParams.get('channel');
  const includeClients = !['false', '0'].includes(url.searchParams.get('include_clients') ?? '');
  return broker.stats({ topic: topicFilter, channel: channelFilter, includeClients });
}
