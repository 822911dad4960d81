import { LookupdError, ProtocolError } from '../errors.js';
import { OK } from './constants.js';

/** lookupd's answer to IDENTIFY: its own addresses and version (nsqd keeps it as `lp.Info`). */
export interface LookupdInfo {
  /** The port lookupd listens on for brokers (its `--tcp-address`). */
  tcpPort: number;
  /** The port of lookupd's HTTP API (its `--http-address`), where consumers look topics up. */
  httpPort: number;
  /** lookupd's version, e.g. `1.3.0`. */
  version: string;
  /**
   * lookupd's `--broadcast-address` (default its hostname); with {@link httpPort}, the HTTP address
   * `lookupdHttpAddresses()` lists, as nsqd's `lookupdHTTPAddrs`. Empty if lookupd sent none.
   */
  broadcastAddress: string;
  /** The name of lookupd's host. */
  hostname: string;
}

const OK_BYTES = Buffer.from(OK, 'ascii');

/** True when the body is exactly `OK`, lookupd's answer to PING, REGISTER and UNREGISTER. */
export function isOk(body: Buffer): boolean {
  return body.equals(OK_BYTES);
}

/** True when the body starts with `E_`, the prefix of every lookupd error answer. */
export function isErrorBody(body: Buffer): boolean {
  return body.length >= 2 && body[0] === ERROR_PREFIX[0] && body[1] === ERROR_PREFIX[1];
}

/** `E_`, as bytes. */
const ERROR_PREFIX = Buffer.from('E_', 'ascii');

/**
 * Parses lookupd's IDENTIFY answer. Like nsqd, a body that is not a JSON object is an error and a missing
 * field reads as Go's zero value (0 or ""); unlike nsqd, a field of the wrong type is an error rather than
 * a half-filled answer, since `lookupdHttpAddresses()` depends on these fields.
 */
export function parseIdentifyResponse(body: Buffer | string, address?: string): LookupdInfo {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const error = LookupdError.parse(text, address);
  if (error) throw error;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError(`IDENTIFY answer is not JSON: ${JSON.stringify(text.slice(0, 200))}`, { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProtocolError(`IDENTIFY answer is not a JSON object: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const o = raw as Record<string, unknown>;
  return {
    tcpPort: numberField(o, 'tcp_port'),
    httpPort: numberField(o, 'http_port'),
    version: stringField(o, 'version'),
    broadcastAddress: stringField(o, 'broadcast_address'),
    hostname: stringField(o, 'hostname'),
  };
}

function numberField(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new ProtocolError(`IDENTIFY answer field ${key} is not an integer: ${JSON.stringify(v)}`);
  }
  return v;
}

function stringField(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined) return '';
  if (typeof v !== 'string') {
    throw new ProtocolError(`IDENTIFY answer field ${key} is not a string: ${JSON.stringify(v)}`);
  }
  return v;
}
