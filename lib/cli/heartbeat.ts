import type { CommandMain } from './command.js';
import { MONITORING_EXIT } from './exit-codes.js';
import { printShown } from './flags.js';
import { parseHeartbeatFlags } from './heartbeat/flags.js';
import { run } from './heartbeat/run.js';
import { UsageError, usageMessage } from './usage.js';

/**
 * `nsqd-lookup heartbeat`: the command line (heartbeat/flags.ts), the runner (heartbeat/run.ts) and its
 * three views, JSON lines, plain lines and a live terminal block (heartbeat/views.ts).
 */

// The parts the unit specs drive directly.
export { type HeartbeatConfig, parseHeartbeatFlags } from './heartbeat/flags.js';
export { liveLines } from './heartbeat/views.js';

const heartbeat: CommandMain = async (argv) => {
  let config: ReturnType<typeof parseHeartbeatFlags>;
  try {
    config = parseHeartbeatFlags(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(usageMessage('heartbeat', error.message));
    return MONITORING_EXIT.usage;
  }
  if ('show' in config) {
    printShown('heartbeat', config);
    return MONITORING_EXIT.ok;
  }
  return run(config, process.stdout);
};

export default heartbeat;
