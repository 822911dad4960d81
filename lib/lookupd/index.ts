export { Lookupd, type LookupdState, startLookupd } from './lookupd.js';
export {
  DEFAULT_HTTP_ADDRESS,
  DEFAULT_INACTIVE_PRODUCER_TIMEOUT_MS,
  DEFAULT_MAX_IDENTIFY_BODY_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_TCP_ADDRESS,
  DEFAULT_TOMBSTONE_LIFETIME_MS,
  LOOKUPD_VERSION,
  type LookupdLogFn,
  type LookupdLogLevel,
  type LookupdOptions,
} from './options.js';
export {
  type Category,
  filterByActive,
  type PeerInfo,
  Producer,
  Registration,
  RegistrationDB,
} from './registration-db.js';
