import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsqLookupError, ThrownValueError, TimeoutError } from '../../lib/errors.js';

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Lines of lib/ matching `pattern`, as `file:line: text`, comments left out. */
function find(pattern: RegExp, except: string[] = []): string[] {
  const hits: string[] = [];
  for (const path of sources(LIB)) {
    const file = relative(LIB, path);
    if (except.includes(file)) continue;
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (!/^\s*\*/.test(code) && pattern.test(code)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

describe('the error catalogue', () => {
  it('lib/ throws no bare Error, TypeError or RangeError', () => {
    assert.deepEqual(
      find(/\bnew (Error|TypeError|RangeError)\(|\b(throw|reject\() ?(Error|TypeError|RangeError)\(/),
      [],
    );
  });

  it("error classes live in lib/errors.ts, apart from the CLI's own UsageError", () => {
    assert.deepEqual(find(/\bclass \w+ extends \w*Error\b/, ['errors.ts', 'cli/usage.ts']), []);
  });

  it('wraps a thrown non-Error with a code, a readable message and the value as cause', () => {
    const wrapped = ThrownValueError.wrap('boom');
    assert.ok(wrapped instanceof NsqLookupError);
    assert.equal((wrapped as ThrownValueError).code, 'NSQ_ERR_THROWN_VALUE');
    assert.match(wrapped.message, /boom/);
    assert.equal(wrapped.cause, 'boom');
    const error = new Error('already an error');
    assert.equal(ThrownValueError.wrap(error), error);
    assert.match(ThrownValueError.wrap(Object.create(null)).message, /object/);
  });

  it('a deadline that passed is a TimeoutError with its code and deadline', () => {
    const error = new TimeoutError('no lookupd answered within 10 s', 10_000);
    assert.equal(error.code, 'NSQ_ERR_TIMEOUT');
    assert.equal(error.timeoutMs, 10_000);
    assert.equal(error.name, 'TimeoutError');
  });
});
