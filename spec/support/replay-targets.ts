import { hostname as osHostname } from 'node:os';
import { NSQLOOKUPD_BIN, startRealLookupd } from '../../harness/oracle.js';
import { startLookupd } from '../../lib/lookupd/index.js';

/**
 * The servers the nsqlookupd v1.3.0 recordings are replayed on: the embedded lookupd always, the real
 * binary too when NSQLOOKUPD_BIN is set. Each start() is a fresh server for one scenario.
 */

export interface ReplayServer {
  tcpAddress: string;
  httpAddress: string;
  hostname: string;
  broadcastAddress: string;
  version: string;
  /** Resolves with the exit code if the server process dies; undefined for an in-process server. */
  exited?: Promise<number | null>;
  close(): Promise<void>;
}

export interface ReplayTarget {
  name: string;
  /** The embedded server answers what nsqlookupd would wait on or die of; see deliberate-differences.ts. */
  embedded: boolean;
  /** Producers carry topology_zone/topology_region (the recording server did, the v1.3.0 tag does not). */
  topology: boolean;
  start(): Promise<ReplayServer>;
}

export const EMBEDDED_TARGET: ReplayTarget = {
  name: 'embedded lookupd',
  embedded: true,
  topology: true,
  async start() {
    // Values unlike the defaults, so the placeholders prove the server reports its own configuration.
    const hostname = 'replay-host.example';
    const broadcastAddress = 'replay-broadcast.example';
    const server = await startLookupd({
      tcpAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      hostname,
      broadcastAddress,
    });
    return {
      tcpAddress: server.tcpAddress,
      httpAddress: server.httpAddress,
      hostname,
      broadcastAddress,
      version: server.version,
      close: () => server.close(),
    };
  },
};

/** The real nsqlookupd, built from the v1.3.0 tag: no topology fields (see the fixtures README). */
export const REAL_TARGET: ReplayTarget = {
  name: 'real nsqlookupd',
  embedded: false,
  topology: false,
  async start() {
    const real = await startRealLookupd();
    const exited = new Promise<number | null>((resolve) =>
      real.process.once('exit', (code) => resolve(code)),
    );
    return {
      tcpAddress: real.tcpAddress,
      httpAddress: real.httpAddress,
      // nsqlookupd reports os.Hostname(), which is also its default --broadcast-address.
      hostname: osHostname(),
      broadcastAddress: osHostname(),
      version: '1.3.0',
      exited,
      close: () => real.close(),
    };
  },
};

export const REPLAY_TARGETS: ReplayTarget[] = NSQLOOKUPD_BIN
  ? [EMBEDDED_TARGET, REAL_TARGET]
  : [EMBEDDED_TARGET];
