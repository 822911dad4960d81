import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FIXTURES_DIR } from '../support/fixtures.js';
import {
  compareNsqdTraces,
  describeDifference,
  type NsqdTraceFile,
  type TraceFrame,
  type TraceStep,
} from '../support/nsqd-trace-compare.js';

const committed = JSON.parse(readFileSync(`${FIXTURES_DIR}nsqd-v1.3.0/trace.json`, 'utf8')) as NsqdTraceFile;
const copy = (): NsqdTraceFile => structuredClone(committed);
const step = (trace: NsqdTraceFile, name: string): TraceStep => {
  const found = trace.steps.find((s) => s.name === name);
  assert.ok(found, `the committed trace has a step "${name}"`);
  return found;
};
const withoutTopology = (body: string) => body.replace(/,"topology_(?:region|zone)":""/g, '');

/** Swaps the round trips (command + response) that start at frames a and b. */
function swapRoundTrips(frames: TraceFrame[], a: number, b: number): void {
  const first = frames.slice(a, a + 2);
  const second = frames.slice(b, b + 2);
  assert.equal(first[0]!.kind, 'command');
  assert.equal(second[0]!.kind, 'command');
  frames.splice(b, 2, ...first);
  frames.splice(a, 2, ...second);
}

describe('nsqd trace comparison (re-recording spec/fixtures/nsqd-v1.3.0/trace.json)', () => {
  it('finds nothing between the committed trace and itself', () => {
    assert.deepEqual(compareNsqdTraces(committed, copy()), []);
  });

  it('finds nothing in what may differ: topology, times, map-order REGISTERs, log-line order', () => {
    const fresh = copy();
    // What the v1.3.0 tag sends: no topology fields.
    fresh.identify.body_template = withoutTopology(fresh.identify.body_template);
    fresh.identify.fields_in_order = fresh.identify.fields_in_order.filter(
      (f) => !f.name.startsWith('topology'),
    );
    for (const s of fresh.steps) {
      for (const frame of s.frames) {
        if (frame.body !== undefined) frame.body = withoutTopology(frame.body);
        frame.at_ms += 1234.5;
      }
      if (s.timing) s.timing.kill_to_reconnect_ms = 1;
      if (s.ping_interval_ms) s.ping_interval_ms = [14999];
    }
    fresh.heartbeat = [14999];
    fresh.reconnect_after_lookupd_restart.runs[0]!.lookupd_down_ms = 5;
    fresh.reconnect_after_lookupd_restart.summary_ms.kill_to_reconnect!.median = 1;
    // Restart #1 re-registers t_plain, t_pub tail, t_multi c1, c2 (frames 5..12): reverse them.
    const restart = step(fresh, 'lookupd restart #1');
    assert.equal(restart.frames[5]!.line, 'REGISTER t_plain');
    swapRoundTrips(restart.frames, 5, 11);
    swapRoundTrips(restart.frames, 7, 9);
    restart.nsqd_log.reverse();
    // Pre-created channels (c2 then c1) the other way round, and the topic's own REGISTER last.
    const recreate = step(fresh, 'recreate topic lookupd knows channels of');
    swapRoundTrips(recreate.frames, 2, 4);
    swapRoundTrips(recreate.frames, 0, 4);
    // A deleted topic's UNREGISTERs raced the other way.
    swapRoundTrips(step(fresh, 'delete topic with 2 channels').frames, 0, 4);
    assert.notDeepEqual(fresh, committed);
    assert.deepEqual(compareNsqdTraces(committed, fresh).map(describeDifference), []);
  });

  it('reports a changed command once, where it is', () => {
    const fresh = copy();
    const frame = step(fresh, 'delete channel').frames[0]!;
    assert.equal(frame.line, 'UNREGISTER t_plain c1');
    frame.line = 'UNREGISTER t_plain c2';
    const differences = compareNsqdTraces(committed, fresh);
    assert.equal(differences.length, 1, differences.map(describeDifference).join('\n'));
    assert.equal(differences[0]!.what, 'changed');
    assert.match(differences[0]!.where, /"delete channel" frames/);
    assert.equal((differences[0]!.fresh as TraceFrame).line, 'UNREGISTER t_plain c2');
  });

  it('reports a missing frame once, where it is', () => {
    const fresh = copy();
    const idle = step(fresh, 'idle (heartbeats)');
    const [gone] = idle.frames.splice(2, 1);
    const differences = compareNsqdTraces(committed, fresh);
    assert.equal(differences.length, 1, differences.map(describeDifference).join('\n'));
    assert.equal(differences[0]!.what, 'missing');
    assert.match(differences[0]!.where, /"idle \(heartbeats\)" frames/);
    const { at_ms: _at, ...frame } = gone!;
    assert.deepEqual(differences[0]!.committed, frame);
  });

  it('still checks the order that is fixed: the PING comes after the re-REGISTERs', () => {
    const fresh = copy();
    const frames = step(fresh, 'lookupd restart #2').frames;
    const ping = frames.splice(frames.length - 2, 2);
    frames.splice(5, 0, ...ping);
    assert.notEqual(compareNsqdTraces(committed, fresh).length, 0);
  });

  it('reports a literal port where the committed trace has a placeholder, and a topology field with a value', () => {
    const fresh = copy();
    const startup = step(fresh, 'startup');
    startup.frames[3]!.body = startup.frames[3]!.body!.replace(`\${lookupd_tcp_port}`, '4160');
    fresh.identify.body_template = fresh.identify.body_template.replace(
      '"topology_zone":""',
      '"topology_zone":"z1"',
    );
    const differences = compareNsqdTraces(committed, fresh);
    assert.deepEqual(
      differences.map((d) => d.where),
      ['identify.body_template', 'steps[0] "startup" frames[3]'],
    );
  });

  it('reports a log line that is gone, and a timing figure that is gone', () => {
    const fresh = copy();
    step(fresh, 'nsqd shutdown').nsqd_log = [];
    delete (step(fresh, 'lookupd restart #3').timing as Partial<TraceStep['timing']>)!.lookupd_down_ms;
    const differences = compareNsqdTraces(committed, fresh);
    assert.deepEqual(
      differences.map((d) => `${d.where} ${d.what}`),
      [
        'steps[21] "lookupd restart #3" timing.lookupd_down_ms missing',
        'steps[22] "nsqd shutdown" nsqd_log[0] missing',
      ],
    );
  });
});
