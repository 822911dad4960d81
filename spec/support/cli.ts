import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/bin.ts', ...args], {
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
