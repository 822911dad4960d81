import { lookup as dnsLookup } from 'node:dns/promises';
import * as net from 'node:net';
import { isIP } from 'node:net';
import type { IdentifyInfo } from '../protocol/encoder.js';
import { splitHostPort } from '../util/address.js';

/** Something wrong with what a broker advertises, found before consumers trip over it. */
export interface BroadcastWarning {
  code:
    | 'BROADCAST_UNRESOLVABLE'
    | 'BROADCAST_LOOPBACK'
    | 'BROADCAST_UNSPECIFIED'
    | 'BROADCAST_TCP_UNREACHABLE'
    | 'BROADCAST_HTTP_UNREACHABLE';
  message: string;
}

/** Resolves a name to its addresses (dns.lookup with `all: true`); replaceable for tests. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export interface BroadcastCheckOptions {
  identity: IdentifyInfo;
  /** The lookupd TCP addresses the broker registers with. */
  lookupdAddresses: string[];
  /** Also dial the advertised TCP and HTTP ports (default false). */
  verifyReachable?: boolean;
  /** Dial timeout for `verifyReachable`, in ms (default 1000). */
  dialTimeoutMs?: number;
  resolve?: Resolver;
}

const FLAG =
  'set identity.broadcastAddress (nsqd: --broadcast-address) to a name or IP that consumers can reach';

/**
 * nsqd advertises whatever `--broadcast-address` says (by default the hostname) and lookupd passes it to
 * consumers unchecked: a container hostname or a loopback address makes the broker undiscoverable with
 * no error anywhere. This finds those mistakes at start-up.
 */
export async function checkBroadcastAddress(options: BroadcastCheckOptions): Promise<BroadcastWarning[]> {
  const resolve = options.resolve ?? systemResolver;
  const { broadcastAddress, tcpPort, httpPort } = options.identity;
  const warnings: BroadcastWarning[] = [];
  let addresses: string[];
  try {
    addresses = await resolveHost(broadcastAddress, resolve);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return [
      {
        code: 'BROADCAST_UNRESOLVABLE',
        message: `broadcast address "${broadcastAddress}" does not resolve (${code}): consumers given it by lookupd cannot connect; ${FLAG}`,
      },
    ];
  }
  if (addresses.some(isUnspecified)) {
    warnings.push({
      code: 'BROADCAST_UNSPECIFIED',
      message: `broadcast address "${broadcastAddress}" is the unspecified address ${addresses.find(isUnspecified)}, which no consumer can dial; ${FLAG}`,
    });
  } else if (addresses.length > 0 && addresses.every(isLoopback)) {
    const remote = await remoteLookupds(options.lookupdAddresses, resolve);
    if (remote.length > 0) {
      warnings.push({
        code: 'BROADCAST_LOOPBACK',
        message: `broadcast address "${broadcastAddress}" is loopback (${addresses.join(', ')}) but lookupd ${remote.join(', ')} is on another host: its consumers would dial themselves; ${FLAG}`,
      });
    }
  }
  if (options.verifyReachable && addresses.length > 0 && !addresses.some(isUnspecified)) {
    const timeoutMs = options.dialTimeoutMs ?? 1000;
    const host = addresses[0]!;
    for (const [port, code, what] of [
      [tcpPort, 'BROADCAST_TCP_UNREACHABLE', 'TCP'],
      [httpPort, 'BROADCAST_HTTP_UNREACHABLE', 'HTTP'],
    ] as const) {
      const failure = await dial(host, port, timeoutMs);
      if (failure) {
        warnings.push({
          code,
          message: `advertised ${what} port ${broadcastAddress}:${port} does not answer (${failure}); check identity.${what === 'TCP' ? 'tcpPort' : 'httpPort'} (nsqd: --broadcast-${what.toLowerCase()}-port) and that the broker listens there`,
        });
      }
    }
  }
  return warnings;
}

async function resolveHost(host: string, resolve: Resolver): Promise<string[]> {
  if (isIP(host)) return [host];
  return resolve(host);
}

/** lookupd addresses whose host resolves to something other than loopback. */
async function remoteLookupds(addresses: string[], resolve: Resolver): Promise<string[]> {
  const remote: string[] = [];
  for (const address of addresses) {
    try {
      const resolved = await resolveHost(splitHostPort(address).host, resolve);
      if (resolved.some((ip) => !isLoopback(ip))) remote.push(address);
    } catch {
      // An unresolvable lookupd is the loop's problem to report, not the broadcast address's.
    }
  }
  return remote;
}

export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  const normalized = ip.toLowerCase();
  return normalized === '::1' || normalized.startsWith('::ffff:127.');
}

export function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip.toLowerCase() === '::ffff:0.0.0.0';
}

function dial(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    const finish = (failure: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(failure);
    };
    socket.once('connect', () => finish(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
}
