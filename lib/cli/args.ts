/** Go's duration syntax for flags; it lives in lib/util so that the examples' command lines share it. */
export { parseDuration } from '../util/duration.js';
