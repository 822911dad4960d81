/**
 * Go's flag package (every nsq binary) takes `-flag` as well as `--flag`, and `-flag=false` for a
 * boolean; parseArgs only `--flag`. Single-dash long flags are rewritten first; one-letter flags (`-h`,
 * `-o`) stay short. `--` ends the flags for both.
 */
export function normalizeGoFlags(argv: string[], booleans: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^-[a-z][a-z0-9-]+(=.*)?$/s.test(arg) ? `-${arg}` : arg;
    const bool = /^--([a-z][a-z0-9-]*)=(true|false|1|0)$/i.exec(long);
    if (bool && booleans.has(bool[1]!)) {
      if (/^(true|1)$/i.test(bool[2]!)) out.push(`--${bool[1]}`);
      continue;
    }
    out.push(long);
  }
  return out;
}
