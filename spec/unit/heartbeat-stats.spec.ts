import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { liveLines } from '../../lib/cli/heartbeat.js';
import { ConnectionError, InvalidArgumentError } from '../../lib/errors.js';
import {
  exitCodeOf,
  formatDuration,
  formatMs,
  judge,
  MAX_OUTAGES_KEPT,
  percentile,
  Ring,
  SPARK_FAILURE,
  SPARKLINE_LENGTH,
  sparkline,
  summarize,
  TargetTracker,
  worst,
} from '../../lib/tools/heartbeat-stats.js';

const refused = () => new ConnectionError('NSQ_ERR_CONNECT', '127.0.0.1:1', 'cannot connect: ECONNREFUSED');

describe('heartbeat statistics', () => {
  describe('percentile (nearest rank)', () => {
    it('picks observed values', () => {
      const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
      assert.equal(percentile(sorted, 50), 50);
      assert.equal(percentile(sorted, 99), 99);
      assert.equal(percentile(sorted, 100), 100);
      assert.equal(percentile(sorted, 1), 1);
    });

    it('handles small and empty sets', () => {
      assert.equal(percentile([7], 50), 7);
      assert.equal(percentile([7], 99), 7);
      assert.equal(percentile([1, 2], 50), 1);
      assert.equal(percentile([1, 2, 3], 50), 2);
      assert.equal(percentile([1, 2, 3], 99), 3);
      assert.ok(Number.isNaN(percentile([], 50)));
    });

    it('summarize sorts its input and reports min/median/p99/max', () => {
      const values = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) + 1);
      assert.deepEqual(summarize(values), {
        minMs: 1,
        medianMs: 500,
        p99Ms: 990,
        maxMs: 1000,
        samples: 1000,
      });
      assert.equal(summarize([]), null);
    });
  });

  describe('Ring', () => {
    it('keeps the last `capacity` items, oldest first', () => {
      const ring = new Ring<number>(3);
      assert.deepEqual(ring.toArray(), []);
      for (let i = 1; i <= 7; i++) ring.push(i);
      assert.equal(ring.size, 3);
      assert.deepEqual(ring.toArray(), [5, 6, 7]);
    });

    it('refuses a capacity below 1', () => {
      assert.throws(() => new Ring(0), InvalidArgumentError);
    });
  });

  describe('the RTT window of a target', () => {
    it('is bounded: statistics cover only the last windowSize answers', () => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160', 1000);
      for (let i = 0; i < 5000; i++) tracker.success(i < 4000 ? 1000 : 1 + (i % 10), i);
      const stats = tracker.snapshot(5000);
      assert.equal(stats.rtt?.samples, 1000);
      assert.equal(stats.rtt?.maxMs, 10);
      assert.equal(stats.rtt?.minMs, 1);
      assert.equal(stats.successes, 5000);
      assert.equal(stats.probes, 5000);
    });

    it('keeps a bounded list of outages but counts them all', () => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160');
      for (let i = 0; i < MAX_OUTAGES_KEPT + 20; i++) {
        tracker.failure(refused(), i * 10);
        tracker.success(1, i * 10 + 5);
      }
      const stats = tracker.snapshot(10_000);
      assert.equal(stats.outageCount, MAX_OUTAGES_KEPT + 20);
      assert.equal(stats.outages.length, MAX_OUTAGES_KEPT);
      assert.equal(stats.outages.at(-1)?.startedAt, (MAX_OUTAGES_KEPT + 19) * 10);
    });
  });

  describe('TargetTracker', () => {
    it('starts connecting, goes down on a failure and up again, reporting the outage with its duration', () => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160');
      assert.equal(tracker.target, 'tcp://127.0.0.1:4160');
      assert.equal(tracker.snapshot(0).state, 'connecting');
      assert.deepEqual(tracker.success(0.5, 1000), { previous: 'connecting', state: 'up' });
      assert.deepEqual(tracker.failure(refused(), 2000), { previous: 'up', state: 'down' });
      assert.deepEqual(tracker.failure(new Error('again'), 2100), { previous: 'down', state: 'down' });
      assert.equal(tracker.consecutiveFailures, 2);

      const during = tracker.snapshot(2500);
      assert.equal(during.state, 'down');
      assert.equal(during.downSince, 2000);
      assert.equal(during.outageCount, 1);
      assert.deepEqual(during.outages, [
        {
          startedAt: 2000,
          endedAt: null,
          durationMs: 500,
          failures: 2,
          error: { code: 'NSQ_ERR_CONNECT', message: 'lookupd 127.0.0.1:1: cannot connect: ECONNREFUSED' },
        },
      ]);
      assert.equal(during.lastError?.message, 'again');
      assert.equal(during.lastError?.code, 'ERROR');

      const back = tracker.success(0.7, 3250);
      assert.equal(back.previous, 'down');
      assert.equal(back.endedOutage?.durationMs, 1250);
      assert.equal(back.endedOutage?.failures, 2);
      assert.equal(tracker.consecutiveFailures, 0);
      const after = tracker.snapshot(4000);
      assert.equal(after.downSince, null);
      assert.equal(after.outages[0]?.endedAt, 3250);
      assert.equal(after.outages[0]?.durationMs, 1250);
      assert.equal(after.sparkline.length, 4);
      assert.equal(after.sparkline[1], SPARK_FAILURE);
    });

    it('names HTTP targets by their /ping URL', () => {
      assert.equal(new TargetTracker('http', '[::1]:4161').target, 'http://[::1]:4161/ping');
    });
  });

  describe('sparkline', () => {
    it('scales from 0 to the largest RTT shown and marks failures', () => {
      assert.equal(sparkline([1, 2, 4, 8]), '▁▂▄█');
      assert.equal(sparkline([8, null, 8]), `█${SPARK_FAILURE}█`);
      assert.equal(sparkline([0, 0]), '▁▁');
      assert.equal(sparkline([]), '');
      assert.equal(sparkline([null]), SPARK_FAILURE);
    });

    it('shows the last SPARKLINE_LENGTH probes of a target', () => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160');
      for (let i = 0; i < 50; i++) tracker.success(i < 45 ? 100 : 1, i);
      tracker.failure(refused(), 50);
      const line = tracker.snapshot(51).sparkline;
      assert.equal([...line].length, SPARKLINE_LENGTH);
      assert.ok(line.endsWith(`▁▁▁▁▁${SPARK_FAILURE}`), line);
      assert.ok(line.startsWith('█'), line);
    });
  });

  describe('judge (the exit-code rule)', () => {
    const thresholds = { warnMs: 50, critMs: 1000 };
    const answers = (rtts: number[]) => (t: TargetTracker) => {
      for (const [i, rtt] of rtts.entries()) t.success(rtt, i);
    };
    const judged = (feed: (t: TargetTracker) => void) => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160');
      feed(tracker);
      return judge(tracker.snapshot(10_000), thresholds);
    };

    it('ok when the last probe answered and the median is within --warn', () => {
      assert.equal(judged(answers([1, 2, 3])).health, 'ok');
      assert.equal(judged(answers([50, 50, 50])).health, 'ok');
    });

    it('warn when the median is above --warn', () => {
      const verdict = judged(answers([300, 300, 1]));
      assert.equal(verdict.health, 'warn');
      assert.equal(verdict.reason, 'median 300ms > warn 50ms');
    });

    it('warn when the p99 is above --crit though the median is fine', () => {
      const verdict = judged(answers([1, 1, 1500]));
      assert.equal(verdict.health, 'warn');
      assert.match(verdict.reason, /p99/);
    });

    it('warn when it failed during the run but answered last', () => {
      const verdict = judged((t) => {
        t.success(1, 0);
        t.failure(refused(), 1);
        t.success(1, 2);
      });
      assert.equal(verdict.health, 'warn');
    });

    it('crit when the median is above --crit, the last probe failed, or nothing answered', () => {
      assert.equal(judged(answers([1500, 1500, 1])).health, 'crit');
      assert.equal(
        judged((t) => {
          t.success(1, 0);
          t.failure(refused(), 1);
        }).health,
        'crit',
      );
      assert.equal(judged((t) => t.failure(refused(), 0)).health, 'crit');
      assert.equal(judged(() => {}).health, 'crit');
    });

    it('the worst target sets the exit code', () => {
      assert.equal(worst([]), 'ok');
      assert.equal(worst(['ok', 'warn', 'ok']), 'warn');
      assert.equal(worst(['warn', 'crit', 'ok']), 'crit');
      assert.deepEqual((['ok', 'warn', 'crit'] as const).map(exitCodeOf), [0, 1, 2]);
    });
  });

  describe('formatting', () => {
    it('formats RTTs and durations', () => {
      assert.equal(formatMs(0.4123), '0.412ms');
      assert.equal(formatMs(12.34), '12.3ms');
      assert.equal(formatMs(301.4), '301ms');
      assert.equal(formatMs(1250), '1.25s');
      assert.equal(formatDuration(350), '350ms');
      assert.equal(formatDuration(2310), '2.31s');
      assert.equal(formatDuration(65_200), '1m5.2s');
      assert.equal(formatDuration(7_203_000), '2h0m3s');
      assert.equal(formatDuration(0.25), '0.250ms');
      assert.equal(formatDuration(0), '0ms');
    });

    it('fits the live lines to the terminal width', () => {
      const tracker = new TargetTracker('tcp', '127.0.0.1:4160');
      for (let i = 0; i < 30; i++) tracker.success(1 + i, i);
      const down = new TargetTracker('http', '127.0.0.1:4161');
      down.failure(refused(), 0);
      const stats = [tracker.snapshot(100), down.snapshot(2500)];
      for (const columns of [60, 80, 200]) {
        const lines = liveLines(stats, columns, 2500).map((l) => stripVTControlCharacters(l));
        assert.equal(lines.length, 3);
        for (const line of lines) assert.ok([...line].length < columns, `${columns}: ${line}`);
        assert.match(lines[2]!, /DOWN +2\.5s/);
      }
      // The fixed columns and their separators take 65 characters here: at 66 the sparkline has no room, at 70 it has 4.
      const noRoom = liveLines(stats, 66, 2500).map((l) => stripVTControlCharacters(l));
      assert.match(noRoom[1]!, / 0$/);
      assert.ok(
        noRoom.every((line) => !line.endsWith('…')),
        noRoom.join('\n'),
      );
      const someRoom = liveLines(stats, 70, 2500).map((l) => stripVTControlCharacters(l));
      assert.match(someRoom[1]!, / 0 [▁-█]{4}$/);
      const wide = liveLines(stats, 200, 2500).map((l) => stripVTControlCharacters(l));
      assert.match(
        wide[1]!,
        /^tcp:\/\/127\.0\.0\.1:4160 +up +30\.0ms 1\.00\/15\.0\/30\.0\/30\.0 +0 [▁-█]{20}$/,
      );
    });
  });
});
