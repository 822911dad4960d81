export { type HostPort, joinHostPort, splitHostPort } from './address.js';
export type { LogFn } from './debug.js';
export {
  ClosedError,
  ConnectionError,
  type ConnectionErrorCode,
  InvalidArgumentError,
  InvalidNameError,
  LookupdError,
  NsqLookupError,
  ProtocolError,
} from './errors.js';
export {
  DEFAULT_MAX_HTTP_BODY_BYTES,
  LookupdHttpBodyTooLargeError,
  LookupdHttpClient,
  type LookupdHttpClientOptions,
  LookupdHttpError,
  type LookupProducer,
  type NodeProducer,
} from './lookupd-http.js';
export type { BackoffOptions } from './loop/backoff.js';
export {
  type BroadcastCheckOptions,
  type BroadcastWarning,
  checkBroadcastAddress,
  type Resolver,
} from './loop/broadcast-check.js';
export {
  LookupLoop,
  type LookupLoopEvents,
  type LookupLoopOptions,
  type LoopStatus,
  type PeerErrorInfo,
  type PeerPhase,
  type PeerStats,
  type PeerStatusEvent,
} from './loop/lookup-loop.js';
export {
  type Registration,
  Registry,
  type RegistryChange,
  type RegistryEvents,
  RegistryFileError,
} from './loop/registry.js';
export {
  LookupPeer,
  type LookupPeerEvents,
  type LookupPeerOptions,
  type PeerState,
} from './peer/lookup-peer.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  encodeIdentify,
  encodeIdentifyBody,
  encodeRegister,
  encodeRegistrations,
  encodeUnregister,
  type IdentifyInfo,
  identifyJson,
  isValidChannelName,
  isValidTopicName,
  type LookupdInfo,
  MAGIC_V1,
  PING,
  parseIdentifyResponse,
  ResponseDecoder,
} from './protocol/index.js';
export {
  FakeProducerFleet,
  type FakeProducerSpec,
  type FakeProducersOptions,
  type FleetEvents,
  type FleetStatus,
  generateProducerSpecs,
  startFakeProducers,
} from './tools/fake-producers.js';
export {
  Heartbeat,
  type HeartbeatEvents,
  type HeartbeatOptions,
  type HeartbeatOutage,
  type HeartbeatSample,
  HttpCheckError,
  type TargetState,
  type TargetStats,
} from './tools/heartbeat.js';
export {
  captureSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  loadSnapshot,
  SnapshotFileError,
  type SnapshotProducer,
  saveSnapshot,
  snapshotToSpecs,
  type TopologySnapshot,
} from './tools/snapshot.js';
