import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The CLI from the current sources as one plain JavaScript file, built once per test process with
 * esbuild (tsx's own compiler). Each spawn then starts as fast as the built bin does, instead of
 * paying for tsx's loader every time. Laid out as the package is (help texts beside it, package.json
 * two levels up) so the bin finds what it reads at run time.
 */
let bundled: string | undefined;
export function cliBin(): string {
  if (bundled) return bundled;
  const dir = mkdtempSync(join(tmpdir(), 'nsqd-lookup-cli-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'lib', 'cli', 'bin.js');
  buildSync({
    entryPoints: [join(ROOT, 'lib/cli/bin.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  cpSync(join(ROOT, 'lib/cli/help'), join(dir, 'lib', 'cli', 'help'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  // Bare package imports resolve from the bundle's folder upwards: point it at this repository's.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  bundled = out;
  return out;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  /** Resolves once stdout holds `n` complete lines matching `match`; rejects if the process exits first. */
  lines(n: number, match: (line: string) => boolean): Promise<string[]>;
  done: Promise<Finished>;
  /** Kills the process if it still runs and waits for it; safe to call twice. */
  stop(): Promise<Finished>;
}

/** Runs `nsqd-lookup <args>` from source, as a user would run the built bin. */
export function spawnCli(args: string[]): RunningCli {
  const child = spawn(process.execPath, [cliBin(), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const check of waiters) check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return {
    child,
    done,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return done;
    },
    lines: (n, match) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = stdout.split('\n').slice(0, -1).filter(match);
          if (found.length < n) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        void done.then(({ code }) => {
          if (waiters.delete(check))
            reject(new Error(`exited (${code}) before ${n} lines:\n${stdout}${stderr}`));
        });
        check();
      }),
  };
}
