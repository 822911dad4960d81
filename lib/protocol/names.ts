import { EPHEMERAL_SUFFIX, MAX_NAME_LENGTH } from './constants.js';

// Same pattern as nsq's validTopicChannelNameRegex. JavaScript's `$` without the m flag matches only at
// the very end, as Go's does, so "a\n" is rejected. It admits ASCII alone, so `name.length` (UTF-16
// units) is the byte length nsq limits to 64 whenever the pattern matches.
const VALID_NAME = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/;

/** True when `name` is a valid nsq topic name: 1-64 bytes of `[.a-zA-Z0-9_-]`, optional `#ephemeral`. */
export function isValidTopicName(name: string): boolean {
  return isValidName(name);
}

/** Channel names follow the same rule as topic names. */
export function isValidChannelName(name: string): boolean {
  return isValidName(name);
}

/** Topic and channel names follow one rule; the embedded lookupd checks names (byte strings) with it. */
export function isValidName(name: string): boolean {
  return (
    typeof name === 'string' && name.length >= 1 && name.length <= MAX_NAME_LENGTH && VALID_NAME.test(name)
  );
}

/**
 * True for a name ending in `#ephemeral`: nsqd keeps such a topic or channel in memory only, never
 * persists it, and deletes it once unused.
 */
export function isEphemeral(name: string): boolean {
  return name.endsWith(EPHEMERAL_SUFFIX);
}
