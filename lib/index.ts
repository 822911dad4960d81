/**
 * `nsqd-lookup`: the registration SDK. A broker announces its topics and channels to lookupds with a
 * {@link LookupLoop} over a {@link Registry}, or drives one lookupd with a {@link LookupPeer}.
 * The wire codec is `nsqd-lookup/protocol`; the tools (fake producers, heartbeat, snapshots, the
 * lookupd HTTP client) are `nsqd-lookup/tools`; the embedded server is `nsqd-lookup/lookupd`.
 */

export {
  type BroadcastCheckOptions,
  type BroadcastWarning,
  checkBroadcastAddress,
  type Resolver,
} from './diagnostics/broadcast-check.js';
export {
  ConnectionError,
  type ConnectionErrorCode,
  type ErrorCode,
  InvalidArgumentError,
  InvalidNameError,
  LookupdError,
  type LookupdErrorCode,
  type NsqErrorCode,
  NsqLookupError,
  ProtocolError,
  RegistryFileError,
} from './errors.js';
export type { BackoffOptions } from './loop/backoff.js';
export {
  type EventStream,
  type EventStreamOptions,
  LookupLoop,
  type LookupLoopEvents,
  type LookupLoopOptions,
  type LoopEvent,
  type LoopStatus,
  type PeerErrorInfo,
  type PeerPhase,
  type PeerStats,
  type PeerStatusEvent,
  type PingEvent,
} from './loop/lookup-loop.js';
export {
  type ConnectHandle,
  LookupPeer,
  type LookupPeerEvents,
  type LookupPeerOptions,
  type PeerState,
} from './peer/lookup-peer.js';
export type { IdentifyInfo } from './protocol/encoder.js';
export { isEphemeral, isValidChannelName, isValidTopicName } from './protocol/names.js';
export type { LookupdInfo } from './protocol/response.js';
export {
  type Registration,
  Registry,
  type RegistryChange,
  type RegistryEvents,
} from './registry/registry.js';
export { type HostPort, joinHostPort, splitHostPort } from './util/address.js';
export type { LogFn } from './util/debug.js';
