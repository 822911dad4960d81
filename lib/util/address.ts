import { InvalidArgumentError } from '../errors.js';

export interface HostPort {
  host: string;
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
