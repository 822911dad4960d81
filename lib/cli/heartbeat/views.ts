import { stripVTControlCharacters } from 'node:util';
import type { Heartbeat, HeartbeatOutage, HeartbeatSample } from '../../tools/heartbeat.js';
import {
  errorInfo,
  exitCodeOf,
  formatDuration,
  formatMs,
  type HealthThresholds,
  type TargetState,
  type TargetStats,
  type Verdict,
} from '../../tools/heartbeat-stats.js';
import type { HeartbeatConfig } from './flags.js';

/** The view for `out`: JSON lines with --json, the live block on a terminal, plain lines otherwise. */
export function createView(config: HeartbeatConfig, out: NodeJS.WriteStream, hb: Heartbeat): View {
  if (config.json) return new JsonView(out, config.thresholds);
  return out.isTTY ? new LiveView(out, hb, config) : new PlainView(out, config.thresholds);
}

/** What the runner reports to: the probes as they come, then the summary. */
export interface View {
  start(): void;
  sample(target: string, sample: HeartbeatSample): void;
  state(target: string, state: TargetState, previous: TargetState): void;
  outage(target: string, outage: HeartbeatOutage): void;
  end(stats: TargetStats[], verdicts: Verdict[], health: Verdict['health']): void;
}

/** One JSON object per line: `sample`, `outage`, then a `summary` per target and a final `result`. */
class JsonView implements View {
  constructor(
    readonly out: NodeJS.WritableStream,
    readonly thresholds: HealthThresholds,
  ) {}

  start(): void {}

  sample(target: string, sample: HeartbeatSample): void {
    const time = new Date(sample.at).toISOString();
    if (sample.ok) this.#line({ type: 'sample', time, target, ok: true, rtt_ms: round(sample.rttMs) });
    else {
      const { message, code } = errorInfo(sample.error);
      this.#line({ type: 'sample', time, target, ok: false, code, error: message });
    }
  }

  state(): void {}

  outage(target: string, outage: HeartbeatOutage): void {
    this.#line({
      type: 'outage',
      time: new Date(outage.endedAt).toISOString(),
      target,
      started: new Date(outage.startedAt).toISOString(),
      duration_ms: Math.round(outage.durationMs),
      failures: outage.failures,
      code: outage.error.code,
      error: outage.error.message,
    });
  }

  end(stats: TargetStats[], verdicts: Verdict[], health: Verdict['health']): void {
    stats.forEach((s, i) => {
      this.#line({
        type: 'summary',
        target: s.target,
        state: s.state,
        probes: s.probes,
        successes: s.successes,
        failures: s.failures,
        rtt_ms: s.rtt
          ? {
              min: round(s.rtt.minMs),
              median: round(s.rtt.medianMs),
              p99: round(s.rtt.p99Ms),
              max: round(s.rtt.maxMs),
            }
          : null,
        outages: s.outages.map((o) => ({
          started: new Date(o.startedAt).toISOString(),
          duration_ms: Math.round(o.durationMs),
          ongoing: o.endedAt === null,
          failures: o.failures,
          error: o.error.message,
        })),
        status: verdicts[i]!.health,
        reason: verdicts[i]!.reason,
      });
    });
    this.#line({
      type: 'result',
      status: health,
      exit_code: exitCodeOf(health),
      warn_ms: this.thresholds.warnMs,
      crit_ms: this.thresholds.critMs,
    });
  }

  #line(object: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify(object)}\n`);
  }
}

/** Not a terminal: one line per probe and per outage, then the summary. */
class PlainView implements View {
  constructor(
    readonly out: NodeJS.WritableStream,
    readonly thresholds: HealthThresholds,
  ) {}

  start(): void {}

  sample(target: string, sample: HeartbeatSample): void {
    const time = new Date(sample.at).toISOString();
    if (sample.ok) this.out.write(`${time} ${target} up rtt=${formatMs(sample.rttMs)}\n`);
    else {
      const { message, code } = errorInfo(sample.error);
      this.out.write(`${time} ${target} down ${code}: ${message}\n`);
    }
  }

  state(): void {}

  outage(target: string, outage: HeartbeatOutage): void {
    this.out.write(`${new Date(outage.endedAt).toISOString()} ${target} ${describeOutage(outage)}\n`);
  }

  end(stats: TargetStats[], verdicts: Verdict[], health: Verdict['health']): void {
    this.out.write(summaryText(stats, verdicts, health, this.thresholds));
  }
}

/**
 * A terminal: one line per target redrawn in place (state, last RTT, min/median/p99/max, failures,
 * sparkline), with state changes and outages logged above it.
 */
class LiveView implements View {
  readonly #out: NodeJS.WriteStream;
  readonly #hb: Heartbeat;
  readonly #config: HeartbeatConfig;
  #drawn = 0;

  constructor(out: NodeJS.WriteStream, hb: Heartbeat, config: HeartbeatConfig) {
    this.#out = out;
    this.#hb = hb;
    this.#config = config;
  }

  start(): void {
    const { intervalMs, thresholds, count } = this.#config;
    this.#out.write(
      `PING every ${formatDuration(intervalMs)} (warn ${formatDuration(thresholds.warnMs)}, crit ${formatDuration(
        thresholds.critMs,
      )}); ${count === undefined ? 'Ctrl-C to stop' : `${count} probe(s) per target`}\n`,
    );
    this.#redraw();
  }

  sample(): void {
    this.#redraw();
  }

  state(target: string, state: TargetState, previous: TargetState): void {
    if (state !== 'down') return;
    const error = this.#hb.stats().find((s) => s.target === target)?.lastError;
    const from = previous === 'connecting' ? '' : ' (was up)';
    this.#redraw(`${clock()} ${target} down${from}: ${error?.message ?? ''}`);
  }

  outage(target: string, outage: HeartbeatOutage): void {
    this.#redraw(`${clock()} ${target} ${describeOutage(outage)}`);
  }

  end(stats: TargetStats[], verdicts: Verdict[], health: Verdict['health']): void {
    this.#redraw();
    this.#out.write(summaryText(stats, verdicts, health, this.#config.thresholds));
  }

  /** Moves back over the live lines, clears them, writes `log` (if any) and the fresh live lines. */
  #redraw(log?: string): void {
    const columns = this.#out.columns || 80;
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A\r\x1b[J` : '';
    if (log) text += `${clip(log, columns)}\n`;
    const lines = liveLines(this.#hb.stats(), columns, Date.now());
    lines[0] = dim(lines[0]!);
    for (const line of lines) text += `${line}\n`;
    this.#drawn = lines.length;
    this.#out.write(text);
  }
}

const STATE_LABEL: Record<TargetState, string> = { connecting: 'conn', up: 'up', down: 'DOWN' };

/**
 * The live block for a terminal `columns` wide: a header, then per target its state, last RTT (or time
 * down), min/med/p99/max in ms, failures and as much of the sparkline (most recent end) as fits.
 */
export function liveLines(stats: TargetStats[], columns: number, now: number): string[] {
  const rows = stats.map((s) => ({
    target: s.target,
    state: STATE_LABEL[s.state],
    last:
      s.state === 'down'
        ? formatDuration(now - (s.downSince ?? now))
        : s.lastRttMs === null
          ? '-'
          : formatMs(s.lastRttMs),
    figures: s.rtt ? [s.rtt.minMs, s.rtt.medianMs, s.rtt.p99Ms, s.rtt.maxMs].map(compactMs).join('/') : '-',
    fail: String(s.failures),
    spark: s.sparkline,
  }));
  const header = {
    target: 'target',
    state: 'state',
    last: 'last',
    figures: 'min/med/p99/max ms',
    fail: 'fail',
    spark: 'probes',
  };
  const all = [header, ...rows];
  const width = (key: keyof typeof header) => Math.max(...all.map((r) => [...r[key]].length));
  const w = {
    target: width('target'),
    state: width('state'),
    last: width('last'),
    figures: width('figures'),
    fail: width('fail'),
  };
  const fixed = w.target + w.state + w.last + w.figures + w.fail + 5;
  const room = Math.max(0, columns - 1 - fixed);
  return all.map((r, i) => {
    const state = r.state.padEnd(w.state);
    const colored =
      i === 0 ? state : r.state === 'up' ? green(state) : r.state === 'DOWN' ? red(state) : state;
    const spark = room > 0 ? [...r.spark].slice(-room).join('') : '';
    const line = `${r.target.padEnd(w.target)} ${colored} ${r.last.padStart(w.last)} ${r.figures.padEnd(w.figures)} ${r.fail.padStart(w.fail)} ${spark}`;
    return clip(line.trimEnd(), columns);
  });
}

/** ms without a unit, 3 significant-ish digits: `0.41`, `12.3`, `301`. */
function compactMs(ms: number): string {
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

function summaryText(
  stats: TargetStats[],
  verdicts: Verdict[],
  health: Verdict['health'],
  thresholds: HealthThresholds,
): string {
  let text = '';
  stats.forEach((s, i) => {
    text += `\n--- ${s.target} ---\n`;
    text += `${s.probes} probe(s): ${s.successes} answered, ${s.failures} failed; now ${s.state}\n`;
    if (s.rtt) {
      const { minMs, medianMs, p99Ms, maxMs, samples } = s.rtt;
      text += `rtt min/median/p99/max = ${[minMs, medianMs, p99Ms, maxMs].map(formatMs).join('/')}`;
      text += samples < s.successes ? ` (last ${samples})\n` : '\n';
    }
    if (s.outageCount === 0) text += 'outages: none\n';
    else {
      text += `outages: ${s.outageCount}${s.outages.length < s.outageCount ? ` (last ${s.outages.length} shown)` : ''}\n`;
      for (const o of s.outages) {
        const duration =
          o.endedAt === null ? `${formatDuration(o.durationMs)} so far` : formatDuration(o.durationMs);
        text += `  ${new Date(o.startedAt).toISOString()}  ${duration}, ${o.failures} failed probe(s): ${o.error.message}\n`;
      }
    }
    text += `status: ${verdicts[i]!.health} (${verdicts[i]!.reason})\n`;
  });
  const { warnMs, critMs } = thresholds;
  text += `\n${health.toUpperCase()}: exit ${exitCodeOf(health)} (warn ${formatDuration(warnMs)}, crit ${formatDuration(critMs)})\n`;
  return text;
}

function describeOutage(outage: HeartbeatOutage): string {
  return `up again after ${formatDuration(outage.durationMs)} down (since ${new Date(outage.startedAt).toISOString()}, ${
    outage.failures
  } failed probe(s), first: ${outage.error.message})`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Cuts `line` to the terminal width so that it never wraps (wrapping would break the redraw). */
function clip(line: string, columns: number): string {
  const visible = stripVTControlCharacters(line);
  if (visible.length < columns) return line;
  return `${visible.slice(0, Math.max(0, columns - 2))}…`;
}

const useColor = !process.env.NO_COLOR;

function green(text: string): string {
  return useColor ? `\x1b[32m${text}\x1b[0m` : text;
}

function dim(text: string): string {
  return useColor ? `\x1b[2m${text}\x1b[0m` : text;
}

function red(text: string): string {
  return useColor ? `\x1b[31m${text}\x1b[0m` : text;
}
