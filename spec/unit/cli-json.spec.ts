import assert from 'node:assert/strict';
import { jsonDocument, ndjsonLine, snakeCaseKeys } from '../../lib/cli/json.js';

describe('the CLI’s JSON conventions', () => {
  it('snake_cases every key, nested and in arrays, and leaves values alone', () => {
    assert.deepEqual(
      snakeCaseKeys({ registrationsAcked: 3, lookupds: [{ httpAddress: 'a:1', seenBy: ['xY'] }], at: 1 }),
      { registrations_acked: 3, lookupds: [{ http_address: 'a:1', seen_by: ['xY'] }], at: 1 },
    );
  });

  it('writes a stream record as one line and a report as one document', () => {
    assert.equal(ndjsonLine({ event: 'stopped', inSync: true }), '{"event":"stopped","in_sync":true}\n');
    assert.equal(jsonDocument({ exitCode: 0 }), '{\n  "exit_code": 0\n}\n');
  });
});
