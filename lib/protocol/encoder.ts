import { InvalidNameError } from '../errors.js';
import { Command, SIZE_PREFIX_LENGTH } from './constants.js';
import { checkIdentity, type IdentifyInfo } from './identity.js';

export type { IdentifyInfo };

import { isValidChannelName, isValidTopicName } from './names.js';

/** `PING\n`, the whole command: nsqd sends it every 15 s, and lookupd answers `OK`. */
export const PING = Buffer.from(`${Command.PING}\n`, 'ascii');
const IDENTIFY_LINE = Buffer.from(`${Command.IDENTIFY}\n`, 'ascii');

/**
 * `REGISTER topic [channel]\n`. Throws {@link InvalidNameError} for a name nsq would refuse, so that no
 * name can smuggle a space or a newline (and with it a second command) onto the wire.
 */
export function encodeRegister(topic: string, channel?: string): Buffer {
  return encodeTopicCommand(Command.REGISTER, topic, channel);
}

/** `UNREGISTER topic [channel]\n`, validated like {@link encodeRegister}. */
export function encodeUnregister(topic: string, channel?: string): Buffer {
  return encodeTopicCommand(Command.UNREGISTER, topic, channel);
}

function encodeTopicCommand(name: string, topic: string, channel: string | undefined): Buffer {
  return Buffer.from(topicCommandLine(name, topic, channel), 'latin1');
}

/** `NAME topic [channel]\n` once both names are checked; an empty channel means none. */
function topicCommandLine(name: string, topic: string, channel: string | undefined): string {
  if (!isValidTopicName(topic)) throw new InvalidNameError('topic', topic);
  if (channel === undefined || channel === '') return `${name} ${topic}\n`;
  if (!isValidChannelName(channel)) throw new InvalidNameError('channel', channel);
  return `${name} ${topic} ${channel}\n`;
}

/**
 * `REGISTER topic [channel]\n` for each registration, back to back in one buffer, with their count:
 * a whole re-registration burst for `LookupPeer.commandBatch`. Validated like {@link encodeRegister}.
 */
export function encodeRegistrations(registrations: Iterable<{ topic: string; channel?: string }>): {
  /** Every command, back to back. */
  bytes: Buffer;
  /** How many commands, so how many answers to wait for. */
  count: number;
} {
  let text = '';
  let count = 0;
  for (const { topic, channel } of registrations) {
    text += topicCommandLine(Command.REGISTER, topic, channel);
    count++;
  }
  return { bytes: Buffer.from(text, 'latin1'), count };
}

/**
 * `IDENTIFY\n`, the body's 4-byte big-endian length, then the JSON body exactly as nsqd v1.3.0 writes
 * it: Go's `json.Marshal` of a map, so keys sorted, compact, HTML characters escaped.
 */
export function encodeIdentify(info: IdentifyInfo): Buffer {
  return encodeIdentifyBody(identifyJson(info));
}

/** IDENTIFY with a caller-supplied body, for tools that must send what nsqd would not. */
export function encodeIdentifyBody(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const out = Buffer.allocUnsafe(IDENTIFY_LINE.length + SIZE_PREFIX_LENGTH + bytes.length);
  IDENTIFY_LINE.copy(out, 0);
  out.writeInt32BE(bytes.length, IDENTIFY_LINE.length);
  bytes.copy(out, IDENTIFY_LINE.length + SIZE_PREFIX_LENGTH);
  return out;
}

/** The IDENTIFY JSON text for `info`, byte for byte what nsqd sends. */
export function identifyJson(info: IdentifyInfo): string {
  checkIdentity(info, 'IDENTIFY');
  return (
    `{"broadcast_address":${goString(info.broadcastAddress)},` +
    `"hostname":${goString(info.hostname ?? '')},` +
    `"http_port":${info.httpPort},` +
    `"tcp_port":${info.tcpPort},` +
    `"topology_region":${goString(info.topologyRegion ?? '')},` +
    `"topology_zone":${goString(info.topologyZone ?? '')},` +
    `"version":${goString(info.version)}}`
  );
}

const GO_HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * A JSON string as Go's encoding/json writes it (it escapes <, >, & and the JS line separators); the
 * input holds no lone surrogates.
 */
export function goString(value: string): string {
  const json = JSON.stringify(value);
  return /[<>&\u2028\u2029]/.test(json)
    ? json.replace(/[<>&\u2028\u2029]/g, (c) => GO_HTML_ESCAPES[c]!)
    : json;
}
