import { strict as assert } from 'node:assert';
import { loadScenarios, lookupdFixtureFiles } from '../support/fixtures.js';
import { replayScenario } from '../support/replay-runner.js';
import { REPLAY_TARGETS } from '../support/replay-targets.js';

/**
 * Every recorded nsqlookupd v1.3.0 scenario, replayed byte for byte on a fresh server per scenario:
 * the embedded lookupd always, the real binary too when NSQLOOKUPD_BIN is set (which checks the
 * replayer itself). See spec/fixtures/lookupd-v1.3.0/README.md for the format and rules.
 */

/**
 * Recorded scenarios where the embedded server deliberately answers instead of waiting or dying
 * (lib/lookupd/README.md), with what its answer must say. Any other scenario of these files must
 * replay with no difference at all.
 */
const DELIBERATE_DIFFERENCES: Record<string, RegExp> = {
  // nsqlookupd allocates the announced 2 GiB and waits for it; the embedded server refuses the size.
  'identify-huge-size-truncated':
    /"E_BAD_BODY IDENTIFY failed to read body size" and closes; nsqlookupd waited/,
};
const PUBLIC_FILES = new Set(['v1-tcp.json', 'http.json']);

for (const target of REPLAY_TARGETS) {
  describe(`lookupd v1.3.0 recordings, replayed on the ${target.name}`, function () {
    this.timeout(30_000);
    for (const file of lookupdFixtureFiles()) {
      describe(file, () => {
        for (const scenario of loadScenarios(file)) {
          it(`${scenario.name}: ${scenario.description}`, async () => {
            const report = await replayScenario(scenario, target);
            const deliberate = DELIBERATE_DIFFERENCES[scenario.name];
            if (!target.embedded) {
              assert.deepEqual(report.differences, [], 'the real server is replayed as recorded');
            } else if (deliberate) {
              assert.equal(
                report.differences.length,
                1,
                `one deliberate difference, got ${report.differences.join('; ')}`,
              );
              assert.match(report.differences[0]!, deliberate);
            } else if (PUBLIC_FILES.has(file)) {
              assert.deepEqual(report.differences, [], 'no deliberate difference expected in this scenario');
            } else if (report.differences.length > 0) {
              process.stderr.write(`      note: ${scenario.name}: ${report.differences.join('; ')}\n`);
            }
          });
        }
      });
    }
  });
}
