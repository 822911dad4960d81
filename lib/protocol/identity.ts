import { InvalidArgumentError } from '../errors.js';
import { nonEmptyText, optionalText, port } from '../util/validate.js';

/** What a broker tells lookupd about itself in IDENTIFY. */
export interface IdentifyInfo {
  /** Address consumers should dial, nsqd's `--broadcast-address`. Required, non-empty. */
  broadcastAddress: string;
  /** The broker's TCP port for consumers (nsqd's `--broadcast-tcp-port`), 1-65535. */
  tcpPort: number;
  /** The broker's HTTP port (nsqd's `--broadcast-http-port`), 1-65535. */
  httpPort: number;
  /** Version string lookupd shows in `/nodes`, e.g. `1.3.0`. Required, non-empty. */
  version: string;
  /** The broker host's name; written as `""` when omitted. */
  hostname?: string;
  /** nsqd's `--topology-zone`; written as `""` when omitted, as nsqd does. */
  topologyZone?: string;
  /** nsqd's `--topology-region`; written as `""` when omitted, as nsqd does. */
  topologyRegion?: string;
}

/**
 * What IDENTIFY needs, as nsqlookupd checks it (it refuses an empty broadcast address or version and
 * a port outside 1-65535). `option` names where the identity came from, e.g. `identity`.
 */
export function checkIdentity(info: IdentifyInfo, option = 'identity'): IdentifyInfo {
  if (info === null || typeof info !== 'object') {
    throw new InvalidArgumentError(`${option} must be an object, got ${String(info)}`);
  }
  nonEmptyText(`${option}.broadcastAddress`, info.broadcastAddress);
  nonEmptyText(`${option}.version`, info.version);
  port(`${option}.tcpPort`, info.tcpPort);
  port(`${option}.httpPort`, info.httpPort);
  optionalText(`${option}.hostname`, info.hostname);
  optionalText(`${option}.topologyZone`, info.topologyZone);
  optionalText(`${option}.topologyRegion`, info.topologyRegion);
  return info;
}
