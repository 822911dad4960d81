import assert from 'node:assert/strict';
import { parseDuration } from '../../lib/cli/args.js';
import { parseHeartbeatFlags } from '../../lib/cli/heartbeat.js';
import { InvalidArgumentError } from '../../lib/errors.js';

describe('parseDuration (Go syntax)', () => {
  it('parses single units, fractions, combinations and signs into ms', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['0s', 0],
      ['500ms', 500],
      ['1s', 1000],
      ['1.5s', 1500],
      ['.5s', 500],
      ['5.s', 5000],
      ['1m30s', 90_000],
      ['2h45m', 9_900_000],
      ['1h2m3s4ms', 3_723_004],
      ['250us', 0.25],
      ['250µs', 0.25],
      ['250μs', 0.25],
      ['1000000ns', 1],
      ['-1s', -1000],
      ['+15s', 15_000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('rejects what Go rejects, naming the flag when given', () => {
    for (const text of ['', '1', '300', 's', '.s', '1x', '1e3s', '1s2', '-', ' 1s', '1 s', '99999999999h']) {
      assert.throws(() => parseDuration(text), InvalidArgumentError, JSON.stringify(text));
    }
    assert.throws(
      () => parseDuration('10', '--interval'),
      /^InvalidArgumentError: --interval: invalid duration "10": missing unit/,
    );
    assert.throws(
      () => parseDuration('3x'),
      /^InvalidArgumentError: invalid duration "3x": unknown unit "x"/,
    );
  });
});

describe('heartbeat flags', () => {
  it('has nsq-style repeatable address flags and defaults', () => {
    const config = parseHeartbeatFlags([
      '--lookupd-tcp-address',
      '127.0.0.1:4160',
      '--lookupd-tcp-address=127.0.0.1:5160',
      '--lookupd-http-address',
      '127.0.0.1:4161',
    ]);
    assert.deepEqual(config, {
      tcpAddresses: ['127.0.0.1:4160', '127.0.0.1:5160'],
      httpAddresses: ['127.0.0.1:4161'],
      intervalMs: 1000,
      timeoutMs: 1000,
      count: undefined,
      thresholds: { warnMs: 100, critMs: 1000 },
      json: false,
      metricsAddress: undefined,
    });
  });

  it('reads durations, count and --json', () => {
    const config = parseHeartbeatFlags(
      '--lookupd-tcp-address a:1 --interval 100ms --timeout 2s --count 3 --warn 50ms --crit 1m --json'.split(
        ' ',
      ),
    );
    assert.ok(!('show' in config));
    assert.equal(config.intervalMs, 100);
    assert.equal(config.timeoutMs, 2000);
    assert.equal(config.count, 3);
    assert.deepEqual(config.thresholds, { warnMs: 50, critMs: 60_000 });
    assert.equal(config.json, true);
  });

  it('asks to show help for --help, -h, -help and the version for --version, -version', () => {
    for (const flag of ['--help', '-h', '-help'])
      assert.deepEqual(parseHeartbeatFlags([flag]), { show: 'help' });
    for (const flag of ['--version', '-version']) {
      assert.deepEqual(parseHeartbeatFlags([flag]), { show: 'version' });
    }
  });

  it('takes Go-style flags as pasted from an nsqd command line', () => {
    const config = parseHeartbeatFlags(
      '-lookupd-tcp-address a:1 -lookupd-tcp-address=b:2 --lookupd-http-address c:3 -interval=2s -json=true'.split(
        ' ',
      ),
    );
    assert.ok(!('show' in config));
    assert.deepEqual(config.tcpAddresses, ['a:1', 'b:2']);
    assert.deepEqual(config.httpAddresses, ['c:3']);
    assert.equal(config.intervalMs, 2000);
    assert.equal(config.json, true);
    const off = parseHeartbeatFlags(['-lookupd-tcp-address', 'a:1', '-json=false']);
    assert.ok(!('show' in off));
    assert.equal(off.json, false);
  });

  it('names the flag in every mistake', () => {
    const cases: [string, RegExp][] = [
      ['', /at least one --lookupd-tcp-address or --lookupd-http-address/],
      ['--lookupd-tcp-address nope', /--lookupd-tcp-address "nope" is not host:port/],
      ['--lookupd-http-address a:1:2', /--lookupd-http-address "a:1:2"/],
      ['--lookupd-tcp-address a:1 --interval 10', /--interval: invalid duration "10"/],
      ['--lookupd-tcp-address a:1 --timeout 0s', /--timeout must be positive/],
      ['--lookupd-tcp-address a:1 --count 0', /--count must be a whole number/],
      ['--lookupd-tcp-address a:1 --count 1.5', /--count must be a whole number/],
      ['--lookupd-tcp-address a:1 --warn 2s --crit 1s', /--warn \(2s\) must not exceed --crit \(1s\)/],
      ['--lookupd-tcp-address a:1 --bogus', /bogus/],
      ['--lookupd-tcp-address a:1 extra', /extra/],
    ];
    for (const [line, message] of cases) {
      assert.throws(() => parseHeartbeatFlags(line === '' ? [] : line.split(' ')), message, line);
    }
  });
});
