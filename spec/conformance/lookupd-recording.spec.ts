import { strict as assert } from 'node:assert';
import { NSQLOOKUPD_BIN } from '../../harness/oracle.js';
import { describeSlow } from '../../harness/suite.js';
import { type FixtureFile, loadLookupdFixture, lookupdFixtureFiles } from '../support/fixtures.js';
import { comparableScenario, recordFile } from '../support/lookupd-recorder.js';

/**
 * The committed recordings are still what the oracle does: every lookupd scenario is recorded afresh
 * from the real nsqlookupd (as `npm run fixtures:record` does) and compared with the committed file,
 * apart from the differences listed in spec/fixtures/lookupd-v1.3.0/README.md (the oracle, the v1.3.0
 * tag, predates the topology fields the recording build had).
 */
describeSlow('lookupd recordings, re-recorded from the real nsqlookupd', function () {
  this.timeout(120_000);
  this.slow(30_000);
  for (const file of lookupdFixtureFiles()) {
    describe(file, () => {
      let committed: FixtureFile;
      let fresh: FixtureFile;
      before(async function () {
        if (!NSQLOOKUPD_BIN) this.skip();
        committed = loadLookupdFixture(file);
        fresh = await recordFile(committed, { binary: NSQLOOKUPD_BIN, parallel: 4 });
      });

      it('records every scenario the committed file has, in order, with the same actions', () => {
        assert.deepEqual(
          fresh.scenarios.map((s) => s.name),
          committed.scenarios.map((s) => s.name),
        );
        for (const [i, scenario] of fresh.scenarios.entries()) {
          assert.equal(scenario.steps.length, committed.scenarios[i]!.steps.length, scenario.name);
        }
      });

      it('matches the committed answers, apart from the listed differences', () => {
        const differing: string[] = [];
        for (const [i, scenario] of committed.scenarios.entries()) {
          try {
            assert.deepStrictEqual(
              comparableScenario(fresh.scenarios[i]!, { topology: false }),
              comparableScenario(scenario, { topology: false }),
            );
          } catch (error) {
            differing.push(`${scenario.name}: ${(error as Error).message.slice(0, 2000)}`);
          }
        }
        assert.deepEqual(differing, []);
      });

      it('tells a changed answer from the listed differences', () => {
        const scenario = fresh.scenarios.find((s) =>
          s.steps.some((step) => step.op !== 'http' && (step.expect?.frames?.length ?? 0) > 0),
        )!;
        const tampered = structuredClone(scenario);
        const step = tampered.steps.find((s) => s.op !== 'http' && (s.expect?.frames?.length ?? 0) > 0)!;
        if (step.op === 'http') throw new Error('unreachable');
        step.expect!.frames![0]!.body += ' ';
        assert.notDeepStrictEqual(
          comparableScenario(tampered, { topology: false }),
          comparableScenario(scenario, { topology: false }),
        );
      });
    });
  }
});
