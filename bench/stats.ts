import { cpus } from 'node:os';
/** Median and spread of repeated measurements. */
export interface Sample {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

export function summarize(values: number[]): Sample {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: sorted.length };
}

/** One line of the results table. */
export interface Row {
  group: string;
  measure: string;
  value: Sample;
  unit: string;
  /** A ratio measured in the same run, e.g. `0.95x of raw burst`. */
  ratio?: { value: Sample; of: string };
  goal?: string;
  goalMet?: boolean;
}

export function ratioOf(numerator: number[], denominator: number[]): Sample {
  // Pairs rounds taken side by side, so drift between rounds cancels out.
  return summarize(numerator.map((n, i) => n / denominator[i]!));
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function markdownTable(rows: Row[]): string {
  const lines = [
    '| group | measure | median | spread (min-max) | ratio (median, spread) | goal |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.ratio
      ? `${fmt(r.ratio.value.median)}x ${r.ratio.of} (${fmt(r.ratio.value.min)}-${fmt(r.ratio.value.max)})`
      : '';
    const goal = r.goal ? `${r.goal} ${r.goalMet === undefined ? '' : r.goalMet ? '✓' : '✗'}` : '';
    lines.push(
      `| ${r.group} | ${r.measure} | ${fmt(r.value.median)} ${r.unit} | ${fmt(r.value.min)}-${fmt(r.value.max)} | ${ratio} | ${goal} |`,
    );
  }
  return lines.join('\n');
}

/** The rows on stdout: a markdown table with the date, machine and run time, or JSON with `json`. */
export function printRows(rows: Row[], { json, started }: { json: boolean; started: number }): void {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  if (json) {
    process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), machine, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `${markdownTable(rows)}\n\n${new Date().toISOString().slice(0, 10)}, ${machine}, ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
}
