import type { CommandMain } from './command.js';
import { MONITORING_EXIT } from './exit-codes.js';
import { type HeartbeatConfig, parseHeartbeatFlags } from './heartbeat/flags.js';
import { run } from './heartbeat/run.js';
import { helpText } from './help.js';
import { UsageError } from './usage.js';

/**
 * `nsqd-lookup heartbeat`: the command line (heartbeat/flags.ts), the runner (heartbeat/run.ts) and its
 * three views, JSON lines, plain lines and a live terminal block (heartbeat/views.ts).
 */

// The parts the unit specs drive directly.
export { type HeartbeatConfig, parseHeartbeatFlags } from './heartbeat/flags.js';
export { liveLines } from './heartbeat/views.js';

const heartbeat: CommandMain = async (argv) => {
  let config: HeartbeatConfig | null;
  try {
    config = parseHeartbeatFlags(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`nsqd-lookup heartbeat: ${error.message}\nsee nsqd-lookup heartbeat --help\n`);
    return MONITORING_EXIT.usage;
  }
  if (!config) {
    process.stdout.write(helpText('heartbeat'));
    return MONITORING_EXIT.ok;
  }
  return run(config, process.stdout);
};

export default heartbeat;
