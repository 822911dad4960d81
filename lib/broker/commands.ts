import { NotInFlightError, QueueFullError, V2Error } from '../errors.js';
import { isValidChannelName, isValidTopicName } from '../protocol/names.js';
import type { Channel } from './channel.js';
import type { BrokerContext } from './context.js';
import {
  type BodySpec,
  CLOSE_WAIT_FRAME,
  encodeFrame,
  FrameType,
  MESSAGE_ID_LENGTH,
  OK_FRAME,
  parseBase10,
  parseMpubBody,
} from './protocol-v2.js';

/** `init` until SUB; `closing` after CLS (only FIN, REQ and TOUCH still matter); `closed` at the end. */
export type ClientState = 'init' | 'subscribed' | 'closing' | 'closed';

/** What IDENTIFY can set, in nsqd's JSON names. */
export interface IdentifyData {
  short_id?: string;
  long_id?: string;
  client_id?: string;
  hostname?: string;
  user_agent?: string;
  heartbeat_interval?: number;
  output_buffer_size?: number;
  output_buffer_timeout?: number;
  feature_negotiation?: boolean;
  tls_v1?: boolean;
  deflate?: boolean;
  deflate_level?: number;
  snappy?: boolean;
  sample_rate?: number;
  msg_timeout?: number;
}

/** What the commands need from the connection they arrive on (a ClientV2). */
export interface CommandClient {
  readonly id: number;
  readonly state: ClientState;
  readonly channel: Channel | undefined;
  readonly heartbeatIntervalMs: number;
  readonly msgTimeoutMs: number;
  readonly sampleRate: number;
  readonly outputBufferSize: number;
  readonly outputBufferTimeoutMs: number;
  /** Whether the connection has been upgraded to TLS. */
  readonly tlsActive: boolean;
  /** Applies IDENTIFY's settings; throws with nsqd's wording on a bad value. */
  identify(data: IdentifyData): void;
  /** What IDENTIFY negotiated: done, in nsqd's order, right after its answer is written. */
  upgradeAfterAnswer(upgrade: Upgrade): void;
  subscribe(channel: Channel): void;
  setReadyCount(count: number): void;
  finishedMessage(): void;
  requeuedMessage(): void;
  startClose(): void;
  countPublished(topic: string, count: number): void;
}

/** The upgrades IDENTIFY negotiated: TLS first, then one compression; each answered `OK` once done. */
export interface Upgrade {
  tls: boolean;
  snappy: boolean;
  /** The deflate level, when deflate was negotiated. */
  deflateLevel: number | undefined;
}

/** A response frame, nothing, or the body the command still needs and what to do with it. */
export type CommandResult =
  | Buffer
  | undefined
  | { body: BodySpec; onBody: (body: Buffer) => Buffer | undefined };

/** Runs one command line, as nsqd's protocolV2.Exec; errors are thrown as {@link V2Error}. */
export function execCommand(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  const name = params[0] ?? '';
  // nsqd's enforceTLSPolicy: only IDENTIFY (which can upgrade) before TLS, when TLS is required.
  if (name !== 'IDENTIFY' && broker.tlsRequired && !client.tlsActive)
    throw new V2Error('E_INVALID', `cannot ${name} in current state (TLS required)`);
  switch (name) {
    case 'IDENTIFY':
      return identify(client, broker);
    case 'FIN':
      return finish(client, params);
    case 'RDY':
      return ready(client, broker, params);
    case 'REQ':
      return requeue(client, broker, params);
    case 'PUB':
      return publish(client, broker, params);
    case 'MPUB':
      return multiPublish(client, broker, params);
    case 'DPUB':
      return deferredPublish(client, broker, params);
    case 'NOP':
      return undefined;
    case 'TOUCH':
      return touch(client, params);
    case 'SUB':
      return subscribe(client, broker, params);
    case 'CLS':
      return startClose(client);
    case 'AUTH':
      return auth(client, broker, params);
    default:
      throw new V2Error('E_INVALID', `invalid command ${name}`);
  }
}

function identify(client: CommandClient, broker: BrokerContext): CommandResult {
  if (client.state !== 'init') throw new V2Error('E_INVALID', 'cannot IDENTIFY in current state');
  return {
    body: { command: 'IDENTIFY', kind: 'body', max: broker.options.maxBodySize },
    onBody(body) {
      const data = decodeIdentify(body);
      try {
        client.identify(data);
      } catch (error) {
        throw new V2Error('E_BAD_BODY', `IDENTIFY ${(error as Error).message}`);
      }
      if (data.feature_negotiation !== true) return OK_FRAME;
      const { options } = broker;
      const tls = broker.tls !== undefined && data.tls_v1 === true;
      const deflate = options.deflate && data.deflate === true;
      const deflateLevel = Math.min(
        deflate && (data.deflate_level ?? 0) > 0 ? data.deflate_level! : 6,
        options.maxDeflateLevel,
      );
      const snappy = options.snappy && data.snappy === true;
      if (deflate && snappy)
        throw new V2Error('E_IDENTIFY_FAILED', 'cannot enable both deflate and snappy compression');
      // Field order and meaning as nsqd's answer. Auth is not offered.
      const answer = {
        max_rdy_count: options.maxRdyCount,
        version: options.version,
        max_msg_timeout: options.maxMsgTimeoutMs,
        msg_timeout: client.msgTimeoutMs,
        tls_v1: tls,
        deflate,
        deflate_level: deflateLevel,
        max_deflate_level: options.maxDeflateLevel,
        snappy,
        sample_rate: client.sampleRate,
        auth_required: false,
        output_buffer_size: client.outputBufferSize,
        output_buffer_timeout: client.outputBufferTimeoutMs,
      };
      if (tls || deflate || snappy)
        client.upgradeAfterAnswer({ tls, snappy, deflateLevel: deflate ? deflateLevel : undefined });
      return encodeFrame(FrameType.RESPONSE, Buffer.from(JSON.stringify(answer)));
    },
  };
}

const IDENTIFY_FIELDS: Record<string, 'string' | 'integer' | 'boolean'> = {
  short_id: 'string',
  long_id: 'string',
  client_id: 'string',
  hostname: 'string',
  user_agent: 'string',
  heartbeat_interval: 'integer',
  output_buffer_size: 'integer',
  output_buffer_timeout: 'integer',
  feature_negotiation: 'boolean',
  tls_v1: 'boolean',
  deflate: 'boolean',
  deflate_level: 'integer',
  snappy: 'boolean',
  sample_rate: 'integer',
  msg_timeout: 'integer',
};

/** JSON into nsqd's identifyDataV2: unknown keys ignored, null means absent, a wrong type is an error. */
function decodeIdentify(body: Buffer): IdentifyData {
  const fail = () => new V2Error('E_BAD_BODY', 'IDENTIFY failed to decode JSON body');
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw fail();
  }
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail();
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const type = IDENTIFY_FIELDS[key];
    if (!type || value === null) continue;
    const ok =
      type === 'integer' ? typeof value === 'number' && Number.isSafeInteger(value) : typeof value === type;
    if (!ok) throw fail();
    data[key] = value;
  }
  return data as IdentifyData;
}

function subscribe(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  if (client.state !== 'init') throw new V2Error('E_INVALID', 'cannot SUB in current state');
  if (client.heartbeatIntervalMs <= 0) throw new V2Error('E_INVALID', 'cannot SUB with heartbeats disabled');
  if (params.length < 3) throw new V2Error('E_INVALID', 'SUB insufficient number of parameters');
  const topicName = params[1]!;
  const channelName = params[2]!;
  if (!isValidTopicName(topicName)) {
    throw new V2Error('E_BAD_TOPIC', `SUB topic name ${JSON.stringify(topicName)} is not valid`);
  }
  if (!isValidChannelName(channelName)) {
    throw new V2Error('E_BAD_CHANNEL', `SUB channel name ${JSON.stringify(channelName)} is not valid`);
  }
  client.subscribe(broker.getTopic(topicName).getChannel(channelName));
  return OK_FRAME;
}

function ready(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  if (client.state === 'closing') return undefined; // nsqd ignores RDY after CLS
  if (client.state !== 'subscribed') throw new V2Error('E_INVALID', 'cannot RDY in current state');
  let count = 1;
  if (params.length > 1) {
    const parsed = parseBase10(params[1]!);
    if (parsed === undefined) throw new V2Error('E_INVALID', `RDY could not parse count ${params[1]}`);
    count = parsed;
  }
  const max = broker.options.maxRdyCount;
  if (count > max) throw new V2Error('E_INVALID', `RDY count ${count} out of range 0-${max}`);
  client.setReadyCount(count);
  return undefined;
}

/** FIN, REQ and TOUCH: allowed while subscribed or closing, on a 16-byte message ID. */
function inFlightCommand(client: CommandClient, params: string[], name: string, minParams: number): string {
  if (client.state !== 'subscribed' && client.state !== 'closing') {
    throw new V2Error('E_INVALID', `cannot ${name} in current state`);
  }
  if (params.length < minParams) throw new V2Error('E_INVALID', `${name} insufficient number of params`);
  const id = params[1]!;
  if (id.length !== MESSAGE_ID_LENGTH) throw new V2Error('E_INVALID', 'invalid message ID');
  return id;
}

/** Runs a channel operation; its refusal is the non-fatal E_<NAME>_FAILED nsqd sends. */
function onChannel(name: string, id: string, operation: () => void): void {
  try {
    operation();
  } catch (error) {
    if (!(error instanceof NotInFlightError)) throw error;
    throw new V2Error(`E_${name}_FAILED`, `${name} ${id} failed ${error.message}`, false);
  }
}

function finish(client: CommandClient, params: string[]): CommandResult {
  const id = inFlightCommand(client, params, 'FIN', 2);
  // Not through onChannel: FIN comes once per message, and its closure is measurable.
  try {
    client.channel!.finish(client.id, id);
  } catch (error) {
    if (!(error instanceof NotInFlightError)) throw error;
    throw new V2Error('E_FIN_FAILED', `FIN ${id} failed ${error.message}`, false);
  }
  client.finishedMessage();
  return undefined;
}

function requeue(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  const id = inFlightCommand(client, params, 'REQ', 3);
  const timeoutMs = parseBase10(params[2]!);
  if (timeoutMs === undefined) throw new V2Error('E_INVALID', `REQ could not parse timeout ${params[2]}`);
  // nsqd clamps an out-of-range REQ timeout rather than refusing it.
  const delayMs = Math.min(timeoutMs, broker.options.maxReqTimeoutMs);
  onChannel('REQ', id, () => client.channel!.requeue(client.id, id, delayMs));
  client.requeuedMessage();
  return undefined;
}

function touch(client: CommandClient, params: string[]): CommandResult {
  const id = inFlightCommand(client, params, 'TOUCH', 2);
  onChannel('TOUCH', id, () => client.channel!.touch(client.id, id, client.msgTimeoutMs));
  return undefined;
}

function startClose(client: CommandClient): CommandResult {
  if (client.state !== 'subscribed') throw new V2Error('E_INVALID', 'cannot CLS in current state');
  client.startClose();
  return CLOSE_WAIT_FRAME;
}

function topicParam(params: string[], command: string, minParams: number): string {
  if (params.length < minParams) {
    throw new V2Error('E_INVALID', `${command} insufficient number of parameters`);
  }
  const topicName = params[1]!;
  if (!isValidTopicName(topicName)) {
    // nsqd repeats the code in MPUB's description; kept so the bytes match.
    const prefix = command === 'MPUB' ? 'E_BAD_TOPIC ' : '';
    throw new V2Error(
      'E_BAD_TOPIC',
      `${prefix}${command} topic name ${JSON.stringify(topicName)} is not valid`,
    );
  }
  return topicName;
}

function put(
  client: CommandClient,
  broker: BrokerContext,
  command: string,
  topicName: string,
  bodies: Buffer[],
  deferMs = 0,
) {
  try {
    broker.getTopic(topicName).publish(bodies, deferMs);
  } catch (error) {
    if (!(error instanceof QueueFullError)) throw error;
    throw new V2Error(`E_${command}_FAILED`, `${command} failed ${error.message}`);
  }
  client.countPublished(topicName, bodies.length);
  return OK_FRAME;
}

function publish(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  const topicName = topicParam(params, 'PUB', 2);
  return {
    body: { command: 'PUB', kind: 'message', max: broker.options.maxMsgSize },
    onBody: (body) => put(client, broker, 'PUB', topicName, [body]),
  };
}

function multiPublish(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  const topicName = topicParam(params, 'MPUB', 2);
  return {
    body: { command: 'MPUB', kind: 'body', max: broker.options.maxBodySize },
    onBody: (body) => put(client, broker, 'MPUB', topicName, parseMpubBody(body, broker.options.maxMsgSize)),
  };
}

function deferredPublish(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  const topicName = topicParam(params, 'DPUB', 3);
  const deferMs = parseBase10(params[2]!);
  if (deferMs === undefined) throw new V2Error('E_INVALID', `DPUB could not parse timeout ${params[2]}`);
  const max = broker.options.maxReqTimeoutMs;
  if (deferMs > max) throw new V2Error('E_INVALID', `DPUB timeout ${deferMs} out of range 0-${max}`);
  return {
    body: { command: 'DPUB', kind: 'message', max: broker.options.maxMsgSize },
    onBody: (body) => put(client, broker, 'DPUB', topicName, [body], deferMs),
  };
}

function auth(client: CommandClient, broker: BrokerContext, params: string[]): CommandResult {
  if (client.state !== 'init') throw new V2Error('E_INVALID', 'cannot AUTH in current state');
  if (params.length !== 1) throw new V2Error('E_INVALID', 'AUTH invalid number of parameters');
  return {
    body: { command: 'AUTH', kind: 'body', max: broker.options.maxBodySize },
    onBody() {
      throw new V2Error('E_AUTH_DISABLED', 'AUTH disabled');
    },
  };
}
