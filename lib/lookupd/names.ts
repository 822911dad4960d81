// nsq's validTopicChannelNameRegex (internal/protocol/names.go). Names arrive as byte strings, so
// `[.a-zA-Z0-9_-]` only ever matches ASCII bytes, and `$` without the m flag is the very end, as in Go.
const VALID_NAME = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/;

/** Whether nsq accepts `name` as a topic or channel name: 1-64 bytes, `#ephemeral` suffix included. */
export function isValidName(name: string): boolean {
  return name.length >= 1 && name.length <= 64 && VALID_NAME.test(name);
}
