import { startLookupd } from '../lib/lookupd/index.js';
import { NSQLOOKUPD_BIN, startRealLookupd } from './oracle.js';

/** A running lookupd, embedded or real. */
export interface RunningLookupd {
  tcpAddress: string;
  httpAddress: string;
  close(): Promise<void>;
}

/** A kind of lookupd the integration specs run against. */
export interface LookupdTarget {
  name: string;
  /** Starts one on 127.0.0.1; the given ports (e.g. to restart on the same ones) or any free ones. */
  start(ports?: { tcpPort?: number; httpPort?: number }): Promise<RunningLookupd>;
}

const embedded: LookupdTarget = {
  name: 'embedded lookupd',
  async start(ports = {}) {
    const server = await startLookupd({
      tcpAddress: `127.0.0.1:${ports.tcpPort ?? 0}`,
      httpAddress: `127.0.0.1:${ports.httpPort ?? 0}`,
      broadcastAddress: '127.0.0.1',
    });
    return { tcpAddress: server.tcpAddress, httpAddress: server.httpAddress, close: () => server.close() };
  },
};

const real: LookupdTarget = {
  name: 'real nsqlookupd',
  async start(ports = {}) {
    const server = await startRealLookupd({ ...ports, extraArgs: ['--broadcast-address=127.0.0.1'] });
    return { tcpAddress: server.tcpAddress, httpAddress: server.httpAddress, close: () => server.close() };
  },
};

/** The embedded lookupd always; the real nsqlookupd too when NSQLOOKUPD_BIN is set. */
export const LOOKUPD_TARGETS: LookupdTarget[] = NSQLOOKUPD_BIN ? [embedded, real] : [embedded];

export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
