/**
 * `nsqd-lookup/protocol`: the lookup protocol's wire codec, for tools that speak it themselves. Pure
 * functions and one stateful decoder; no sockets.
 */
export { DEFAULT_MAX_BODY_BYTES, MAGIC_V1 } from './constants.js';
export { ResponseDecoder } from './decoder.js';
export {
  encodeIdentify,
  encodeIdentifyBody,
  encodeRegister,
  encodeRegistrations,
  encodeUnregister,
  type IdentifyInfo,
  identifyJson,
  PING,
} from './encoder.js';
export { isEphemeral, isValidChannelName, isValidTopicName } from './names.js';
export { isErrorBody, isOk, type LookupdInfo, parseIdentifyResponse } from './response.js';
