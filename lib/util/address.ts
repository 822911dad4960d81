import { InvalidArgumentError } from '../errors.js';

/** An address split by {@link splitHostPort}. */
export interface HostPort {
  /** Host name or IP literal, without the brackets of an IPv6 one; may be empty (`:4160`). */
  host: string;
  /** The port number, 0-65535. */
  port: number;
}

/** Splits `host:port` or `[v6]:port` as Go's net.SplitHostPort does; throws on a malformed address. */
export function splitHostPort(address: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new InvalidArgumentError(`address ${JSON.stringify(address)} is not host:port`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

/** Joins a host and port as Go's net.JoinHostPort does (brackets around IPv6 literals). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
