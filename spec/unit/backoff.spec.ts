import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../lib/errors.js';
import { Backoff } from '../../lib/loop/backoff.js';
import { mulberry32 } from '../../lib/util/random.js';

describe('Backoff', () => {
  it('without jitter: initialDelayMs, growing by factor, capped at maxDelayMs; reset starts over', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 3, jitter: false });
    assert.deepEqual(
      Array.from({ length: 6 }, () => backoff.next()),
      [100, 300, 900, 1000, 1000, 1000],
    );
    assert.equal(backoff.failures, 6);
    backoff.reset();
    assert.equal(backoff.failures, 0);
    assert.equal(backoff.next(), 100);
  });

  it('with jitter: every delay within [d/2, d] of its unjittered value, never above maxDelayMs', () => {
    const seed = 0x5eed;
    const random = mulberry32(seed);
    const extremes = [0, 0.999_999_999];
    let i = 0;
    const draw = () => (i++ % 7 === 0 ? extremes[i % 2]! : random());
    const backoff = new Backoff({ initialDelayMs: 200, maxDelayMs: 2000, factor: 2, random: draw });
    const plain = new Backoff({ initialDelayMs: 200, maxDelayMs: 2000, factor: 2, jitter: false });
    let atCap = 0;
    for (let n = 0; n < 2000; n++) {
      if (n % 20 === 0) {
        backoff.reset();
        plain.reset();
      }
      const ceiling = plain.next();
      const delay = backoff.next();
      assert.ok(delay <= 2000, `delay ${delay} above the cap (seed ${seed})`);
      assert.ok(
        delay <= ceiling && delay >= Math.floor(ceiling / 2),
        `delay ${delay} outside [${ceiling / 2}, ${ceiling}]`,
      );
      if (ceiling === 2000) atCap++;
    }
    assert.ok(atCap > 1000, 'the cap was reached and held');
  });

  it('refuses options that would make no schedule, naming the option', () => {
    assert.throws(
      () => new Backoff({ initialDelayMs: 0 }),
      /reconnect\.initialDelayMs must be a positive number/,
    );
    assert.throws(() => new Backoff({ maxDelayMs: Number.NaN }), InvalidArgumentError);
    assert.throws(() => new Backoff({ factor: 0.5 }), /reconnect\.factor must be a number >= 1/);
    assert.throws(
      () => new Backoff({ initialDelayMs: 500, maxDelayMs: 100 }),
      /reconnect\.maxDelayMs \(100\) must be at least reconnect\.initialDelayMs \(500\)/,
    );
  });
});
