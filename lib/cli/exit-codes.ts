/** Every exit code the CLI returns, by kind of command. */

/** broker, demo, fake-producers, snapshot, lookupd, and the `nsqd-lookup` entry itself. */
export const EXIT = {
  ok: 0,
  /**
   * The work failed: a lookupd did not answer, a file could not be read, the server did not start, the
   * fake producers were not in sync at the end, the broker could not listen, or the command crashed.
   */
  failed: 1,
  /** A command-line mistake (see usage.ts), or no command given. */
  usage: 2,
} as const;

/**
 * heartbeat and status, read as Nagios reads a check: 1 and 2 already mean warning and critical, so a
 * command-line mistake is 3 (UNKNOWN).
 */
export const MONITORING_EXIT = {
  ok: 0,
  warning: 1,
  critical: 2,
  usage: 3,
} as const;
