import { strict as assert } from 'node:assert';
import type { FixtureScenario, FixtureStep } from '../support/fixtures.js';
import { replayScenario } from '../support/replay-runner.js';
import { REPLAY_TARGETS } from '../support/replay-targets.js';

/**
 * The replayer's handling of what the recordings in spec/fixtures do not show but the format
 * allows: a server crash (`serverExit`) and an input nsqlookupd waits on forever. The scenarios are
 * written here in the recordings' format, as nsqlookupd v1.3.0 behaves; replaying them on the real
 * binary (NSQLOOKUPD_BIN) checks that, on the embedded server that its deliberate differences are
 * recognized and asserted instead.
 */

const CONNECT: FixtureStep = { op: 'connect', conn: 'a', expect: { frames: [], closed: false } };
const MAGIC: FixtureStep = {
  op: 'write',
  conn: 'a',
  data: [{ text: '  V1' }],
  expect: { frames: [], closed: false },
};

const SCENARIOS: { scenario: FixtureScenario; embedded: RegExp[]; realExits: boolean }[] = [
  {
    scenario: {
      name: 'identify-negative-size',
      description: 'a negative IDENTIFY size: nsqlookupd panics (makeslice: len out of range) and exits',
      steps: [
        CONNECT,
        MAGIC,
        {
          op: 'write',
          conn: 'a',
          data: [{ text: 'IDENTIFY\n' }, { int32be: -1 }],
          expect: {
            frames: [],
            closed: true,
            serverExit: { code: 2, panic: 'panic: runtime error: makeslice: len out of range' },
          },
        },
      ],
    },
    embedded: [/"E_BAD_BODY IDENTIFY failed to read body size" and closes; nsqlookupd crashed/],
    realExits: true,
  },
  {
    scenario: {
      name: 'line-without-end',
      description: 'a 2 MiB line and no newline: nsqlookupd keeps reading; on FIN it drops the line silently',
      steps: [
        CONNECT,
        MAGIC,
        {
          op: 'write',
          conn: 'a',
          data: [{ text: 'PING\nREGISTER ' }, { hex: '61'.repeat(2 * 1024 * 1024) }],
          expect: { frames: [{ size: 2, body: 'OK' }], closed: false },
        },
        { op: 'end', conn: 'a', expect: { frames: [], closed: true } },
        {
          op: 'http',
          method: 'GET',
          path: '/topics',
          expect: {
            status: 200,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              'x-nsq-content-type': 'nsq; version=1.0',
            },
            body: '{"topics":[]}',
          },
        },
      ],
    },
    embedded: [/"E_INVALID line longer than 1048576 bytes" and closes; nsqlookupd waited/],
    realExits: false,
  },
];

for (const target of REPLAY_TARGETS) {
  describe(`replayer: crashes and endless input, on the ${target.name}`, function () {
    this.timeout(30_000);
    for (const { scenario, embedded, realExits } of SCENARIOS) {
      it(`${scenario.name}: ${scenario.description}`, async () => {
        const report = await replayScenario(scenario, target);
        if (target.embedded) {
          assert.equal(report.differences.length, embedded.length, report.differences.join('; '));
          for (const [i, pattern] of embedded.entries()) assert.match(report.differences[i]!, pattern);
        } else {
          assert.deepEqual(report.differences, []);
        }
        assert.equal(report.stoppedAtServerExit, realExits);
      });
    }
  });
}
