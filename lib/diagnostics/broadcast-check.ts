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
  /**
   * Cuts the check short: it rejects with the signal's reason, and a verification dial in progress is
   * dropped with its timer. (A DNS lookup already asked of the system is left to finish unobserved.)
   */
  signal?: AbortSignal;
}

const FLAG =
  'set identity.broadcastAddress (nsqd: --broadcast-address) to a name or IP that consumers can reach';

/**
 * nsqd advertises whatever `--broadcast-address` says (by default the hostname) and lookupd passes it to
 * consumers unchecked: a container hostname or a loopback address makes the broker undiscoverable with
 * no error anywhere. This finds those mistakes at start-up.
 */
export async function checkBroadcastAddress(options: BroadcastCheckOptions): Promise<BroadcastWarning[]> {
  const { signal } = options;
  signal?.throwIfAborted();
  const resolver = options.resolve ?? systemResolver;
  const resolve: Resolver = (host) => abortable(resolver(host), signal);
  const { broadcastAddress, tcpPort, httpPort } = options.identity;
  const warnings: BroadcastWarning[] = [];
  let addresses: string[];
  try {
    addresses = await resolveHost(broadcastAddress, resolve);
  } catch (error) {
    signal?.throwIfAborted();
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
    const remote = await remoteLookupds(options.lookupdAddresses, resolve, signal);
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
      const failure = await dial(host, port, timeoutMs, signal);
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
async function remoteLookupds(
  addresses: string[],
  resolve: Resolver,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const remote: string[] = [];
  for (const address of addresses) {
    try {
      const resolved = await resolveHost(splitHostPort(address).host, resolve);
      if (resolved.some((ip) => !isLoopback(ip))) remote.push(address);
    } catch {
      signal?.throwIfAborted();
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

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves to why `host:port` could not be dialled, or undefined when it answered. */
function dial(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    // The timer alone never holds the process. The pending connect does, whatever is unref'd (libuv
    // counts its request), until the timer or the signal ends it: close() on the loop lets go at once.
    timer.unref();
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
    };
    const finish = (failure: string | undefined) => {
      stop();
      resolve(failure);
    };
    const onAbort = () => {
      stop();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
}
