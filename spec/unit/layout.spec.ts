import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The README's "Layout" table, checked: which folder may import which, and no import cycle in lib/
 * (static, type-only and dynamic imports all count). A new import that breaks a rule fails here.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(folder: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, folder))) {
    const path = join(folder, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every relative import of `file`, as a repository path of the .ts it names. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)) {
    found.push(normalize(join(dirname(file), match[2]!)).replace(/\.js$/, '.ts'));
  }
  return found;
}

/** The layout group of a path: `lib/<folder>` (or the file, for lib/*.ts), or the top-level folder. */
function group(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'lib') return parts.length > 2 ? `lib/${parts[1]}` : path;
  return parts[0]!;
}

const MAY_IMPORT: Record<string, string[]> = {
  'lib/errors.ts': [],
  'lib/util': ['lib/errors.ts'],
  'lib/protocol': ['lib/util', 'lib/errors.ts'],
  'lib/peer': ['lib/protocol', 'lib/util', 'lib/errors.ts'],
  'lib/registry': ['lib/protocol', 'lib/util', 'lib/errors.ts'],
  'lib/diagnostics': ['lib/protocol', 'lib/util', 'lib/errors.ts'],
  'lib/http': ['lib/util', 'lib/errors.ts'],
  'lib/loop': ['lib/peer', 'lib/registry', 'lib/diagnostics', 'lib/protocol', 'lib/util', 'lib/errors.ts'],
  'lib/lookupd': ['lib/protocol', 'lib/util', 'lib/errors.ts'],
  'lib/broker': ['lib/loop', 'lib/registry', 'lib/protocol', 'lib/util', 'lib/errors.ts', 'lib/diagnostics'],
  'lib/metrics.ts': ['lib/loop', 'lib/peer', 'lib/util', 'lib/errors.ts'],
  'lib/tools': [
    'lib/broker',
    'lib/loop',
    'lib/peer',
    'lib/registry',
    'lib/diagnostics',
    'lib/http',
    'lib/protocol',
    'lib/util',
    'lib/errors.ts',
  ],
  'lib/index.ts': [
    'lib/loop',
    'lib/peer',
    'lib/registry',
    'lib/diagnostics',
    'lib/protocol',
    'lib/util',
    'lib/errors.ts',
  ],
  'lib/cli': ['lib/*'],
  harness: ['lib/*'],
  bench: ['lib/*', 'harness'],
};

function allowed(from: string, to: string): boolean {
  if (from === to) return true;
  const rules = MAY_IMPORT[from];
  assert.ok(rules, `${from} has no row in the layout table`);
  return rules.some((rule) => rule === to || (rule === 'lib/*' && to.startsWith('lib')));
}

describe('layout', () => {
  const files = [...sources('lib'), ...sources('harness'), ...sources('bench')];

  it('every import follows the README layout table', () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file)) {
        if (!allowed(group(file), group(target))) broken.push(`${file} imports ${relative('.', target)}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('lib/ has no import cycle, dynamic and type-only imports included', () => {
    const graph = new Map(sources('lib').map((file) => [file, importsOf(file)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  it('the checker sees imports: it finds the ones a known file has', () => {
    assert.ok(importsOf('lib/cli/commands.ts').includes('lib/cli/demo.ts'), 'a dynamic import');
    assert.ok(importsOf('lib/loop/lookup-loop.ts').includes('lib/loop/peer-slot.ts'), 'a static import');
  });
});
