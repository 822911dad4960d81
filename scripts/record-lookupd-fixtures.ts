/**
 * `npm run fixtures:record [-- --out DIR]`: records the lookupd scenarios afresh from the real
 * nsqlookupd that NSQLOOKUPD_BIN names (scripts/build-oracle.sh builds it), writes one file per
 * committed recording to DIR (default .scratch/fixtures/lookupd-v<version>/), and says which scenarios
 * differ from the committed ones beyond the listed differences. To refresh the fixtures after an nsq
 * release, review that list, then copy the files over spec/fixtures/lookupd-v1.3.0/ (or a new folder
 * named for the new version) and update its README.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLookupdFixture, lookupdFixtureFiles } from '../spec/support/fixtures.js';
import { comparableScenario, lookupdVersionLine, recordFile } from '../spec/support/lookupd-recorder.js';

const binary = process.env.NSQLOOKUPD_BIN;
if (!binary) {
  process.stderr.write('NSQLOOKUPD_BIN is not set: eval "$(scripts/build-oracle.sh)" first\n');
  process.exit(2);
}
const versionLine = await lookupdVersionLine(binary);
const version = /v(\d+\.\d+\.\d+\S*)/.exec(versionLine)?.[1] ?? 'unknown';
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1]! : join('.scratch', 'fixtures', `lookupd-v${version}`);
mkdirSync(out, { recursive: true });
// The v1.3.0 tag has no topology fields; a build that reports them is compared with them.
const topology = !/^1\.3\.0$/.test(version);

let differing = 0;
for (const file of lookupdFixtureFiles()) {
  const committed = loadLookupdFixture(file);
  const fresh = await recordFile(committed, { binary, recordedAt: new Date().toISOString() });
  writeFileSync(join(out, file), `${JSON.stringify(fresh, null, 2)}\n`);
  for (const [i, scenario] of committed.scenarios.entries()) {
    try {
      assert.deepStrictEqual(
        comparableScenario(fresh.scenarios[i]!, { topology }),
        comparableScenario(scenario, { topology }),
      );
    } catch (error) {
      differing++;
      process.stdout.write(`${file} ${scenario.name} differs:\n${(error as Error).message}\n\n`);
    }
  }
  process.stdout.write(`${file}: ${fresh.scenarios.length} scenarios recorded from ${versionLine}\n`);
}
process.stdout.write(`written to ${out}; ${differing} scenario(s) differ from the committed recordings\n`);
process.exitCode = differing === 0 ? 0 : 1;
