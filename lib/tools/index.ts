/**
 * `nsqd-lookup/tools`: what the command line is built from, for scripts. Simulated brokers, the lookupd
 * heartbeat probe, topology snapshots, the registration health report and lookupd's HTTP API client.
 */
export {
  ClosedError,
  FleetWorkerError,
  HttpCheckError,
  LookupdHttpBodyTooLargeError,
  LookupdHttpError,
  SnapshotFileError,
} from '../errors.js';
export {
  DEFAULT_MAX_HTTP_BODY_BYTES,
  LookupdHttpClient,
  type LookupdHttpClientOptions,
  type LookupProducer,
  type NodeProducer,
} from '../http/lookupd-http-client.js';
export { parseDuration } from '../util/duration.js';
export { normalizeGoFlags } from '../util/go-flags.js';
export { type PortBases, registrationOnlyPorts } from './fake-producer-specs.js';
export {
  FakeProducerFleet,
  type FakeProducerSpec,
  type FakeProducersOptions,
  type FleetEvents,
  type FleetStatus,
  generateProducerSpecs,
  type ProducerShape,
  startFakeProducers,
} from './fake-producers.js';
export { type GeneratedMessage, messageBody } from './fake-traffic.js';
export {
  FLEET_WORKER_ENV,
  FleetWorkers,
  openFilesLimit,
  producersPerProcess,
  serveAsFleetWorker,
  sliceFleet,
  type WorkerFleetOptions,
} from './fleet-workers.js';
export {
  Heartbeat,
  type HeartbeatEvents,
  type HeartbeatOptions,
  type HeartbeatOutage,
  type HeartbeatSample,
  type TargetState,
  type TargetStats,
} from './heartbeat.js';
export type { ErrorInfo, OutageRecord, RttSummary } from './heartbeat-stats.js';
export {
  buildLookupdReport,
  type LookupdReport,
  type ReportDisagreement,
  type ReportOptions,
  type ReportProducer,
  type ReportTombstone,
} from './lookupd-report.js';
export {
  captureSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  loadSnapshot,
  NAME_KEEPER_HOSTNAME,
  recreateUnownedNames,
  type SnapshotProducer,
  type SnapshotTopic,
  saveSnapshot,
  snapshotToSpecs,
  type TopologySnapshot,
} from './snapshot.js';
