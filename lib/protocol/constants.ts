/**
 * Wire constants of nsqlookupd's V1 protocol (nsqio/nsq `nsqlookupd/lookup_protocol_v1.go`).
 *
 * Client → lookupd: the 4-byte magic `"  V1"` once, then newline-terminated text commands.
 * `IDENTIFY` is followed by a 4-byte big-endian body length and a JSON body.
 * lookupd → client: every command is answered by one frame, a 4-byte big-endian size and that many
 * bytes: `OK`, a JSON object (IDENTIFY), or `E_<CODE> description` (after which lookupd hangs up).
 */

/** The 4 bytes `"  V1"` a client writes once, first, to pick the V1 protocol. */
export const MAGIC_V1 = Buffer.from('  V1', 'ascii');

/** nsqd's `--max-body-size` default (5 MiB), which also bounds what nsqd reads from lookupd. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** Bytes of the big-endian size prefix on every response frame and on the IDENTIFY body. */
export const SIZE_PREFIX_LENGTH = 4;

export const Command = {
  IDENTIFY: 'IDENTIFY',
  REGISTER: 'REGISTER',
  UNREGISTER: 'UNREGISTER',
  PING: 'PING',
} as const;
export type CommandName = (typeof Command)[keyof typeof Command];

export const NEWLINE = 0x0a;

/** The body lookupd answers to PING, REGISTER and UNREGISTER. */
export const OK = 'OK';

/** Topic and channel names (nsq `internal/protocol/names.go`): 1-64 bytes, `#ephemeral` included. */
export const MAX_NAME_LENGTH = 64;
export const EPHEMERAL_SUFFIX = '#ephemeral';
