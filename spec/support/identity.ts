import type { IdentifyInfo } from '../../lib/protocol/index.js';

/**
 * The nsqd identity the specs announce, unless a spec is about identities. lookupd keys a producer on
 * its broadcast address and TCP port, and every spec starts a lookupd of its own, so one identity
 * serves them all.
 */
export const IDENTITY: IdentifyInfo = {
  broadcastAddress: '127.0.0.1',
  hostname: 'nsqd-host',
  tcpPort: 4150,
  httpPort: 4151,
  version: '1.3.0',
};
