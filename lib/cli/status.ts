import { buildLookupdReport, type LookupdReport } from '../tools/lookupd-report.js';
import { parseDuration } from './args.js';
import type { CommandMain } from './command.js';
import { MONITORING_EXIT } from './exit-codes.js';
import { addressList, parseFlags, runCommand } from './flags.js';
import { jsonDocument } from './json.js';
import { UsageError } from './usage.js';

/** Every flag of `status` (the help text lists each; a spec checks). */
export const FLAGS = {
  'lookupd-http-address': { type: 'string', multiple: true },
  'tombstone-lifetime': { type: 'string' },
  stale: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const main: CommandMain = (argv) =>
  runCommand(
    'status',
    async () => {
      const parsed = parseFlags('status', argv, FLAGS);
      if (!parsed) return MONITORING_EXIT.ok;
      const { values } = parsed;
      const httpAddresses = addressList(values['lookupd-http-address'], 'lookupd-http-address');
      if (httpAddresses.length === 0) throw new UsageError('at least one --lookupd-http-address is required');
      const report = await buildLookupdReport({
        httpAddresses,
        tombstoneLifetimeMs: values['tombstone-lifetime']
          ? parseDuration(values['tombstone-lifetime'], '--tombstone-lifetime')
          : undefined,
        staleAfterMs: values.stale ? parseDuration(values.stale, '--stale') : undefined,
        timeoutMs: values.timeout ? parseDuration(values.timeout, '--timeout') : undefined,
      });
      process.stdout.write(values.json ? jsonDocument(report) : render(report));
      return report.exitCode;
    },
    MONITORING_EXIT.usage,
  );

export default main;

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

/** Columns padded to their widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

function render(report: LookupdReport): string {
  const out: string[] = [];
  const verdict = ['healthy', 'warnings', 'problems'][report.exitCode];
  out.push(`lookupd status: ${verdict}`);
  out.push('');
  out.push('lookupds');
  out.push(
    ...table(
      ['address', 'state', 'producers', 'topics'],
      report.lookupds.map((l) => [
        l.httpAddress,
        l.reachable ? 'up' : `DOWN (${l.error})`,
        String(l.producers),
        String(l.topics),
      ]),
    ),
  );
  out.push('');
  out.push(`producers (${report.producers.length})`);
  if (report.producers.length > 0) {
    out.push(
      ...table(
        ['producer', 'hostname', 'version', 'last heartbeat', 'seen by', 'problems'],
        report.producers.map((p) => [
          p.key,
          p.hostname,
          p.version,
          `${seconds(p.lastHeartbeatAgeMs)} ago${report.staleProducers.includes(p.key) ? ' (stale)' : ''}`,
          `${p.seenBy.length}/${report.lookupds.length}`,
          p.broadcastWarnings.map((w) => w.code).join(', '),
        ]),
      ),
    );
  }
  const section = (title: string, lines: string[]) => {
    if (lines.length === 0) return;
    out.push('', title, ...lines.map((l) => `  ${l}`));
  };
  section(
    'ghost topics and channels (no producer left; delete them with POST /topic/delete or /channel/delete)',
    [
      ...report.ghostTopics.map((g) => `${g.lookupd}  topic ${g.topic}`),
      ...report.ghostChannels.map((g) => `${g.lookupd}  channel ${g.topic}/${g.channel}`),
    ],
  );
  section(
    'tombstoned producers (hidden from /lookup)',
    report.tombstones.map(
      (t) => `${t.lookupd}  ${t.producer} topic ${t.topic}, ${seconds(t.remainingMs)} left`,
    ),
  );
  section(
    'advertised addresses consumers cannot use',
    report.producers.flatMap((p) => p.broadcastWarnings.map((w) => `${p.key}: ${w.message}`)),
  );
  const differ = (severity: 'critical' | 'warning') =>
    report.disagreements
      .filter((d) => d.severity === severity)
      .map(
        (d) => `${d.kind} ${d.name}: on ${d.presentOn.join(', ')}; missing from ${d.missingFrom.join(', ')}`,
      );
  section('lookupds differ in producers or registrations (critical)', differ('critical'));
  section('names without producers that only some lookupds list (warning)', differ('warning'));
  return `${out.join('\n')}\n`;
}
