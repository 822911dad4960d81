import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { FULL_SUITE, noteOnce } from './suite.js';

/**
 * The real NSQ binaries, our test oracle. `.ci/run` builds them from oracle/go.mod and exports
 * NSQLOOKUPD_BIN and NSQD_BIN. Without them the real-server variants are skipped with a note; with
 * NSQD_LOOKUP_FULL=1 (the whole suite, as CI runs it) a missing binary fails the run instead, so those
 * variants can never silently stop running.
 */
export const NSQLOOKUPD_BIN = binary('NSQLOOKUPD_BIN');
export const NSQD_BIN = binary('NSQD_BIN');

function binary(variable: string): string | undefined {
  const path = process.env[variable];
  if (path && existsSync(path)) return path;
  const message = path
    ? `${variable}=${path} does not exist`
    : `${variable} is not set: the real-server variants are skipped (eval "$(scripts/build-oracle.sh)" enables them)`;
  if (FULL_SUITE) throw new Error(`${message}; NSQD_LOOKUP_FULL=1 must run them`);
  noteOnce(message);
  return undefined;
}

export interface RealLookupd {
  tcpAddress: string;
  httpAddress: string;
  process: ChildProcess;
  close(): Promise<void>;
}

/**
 * Starts the real nsqlookupd on 127.0.0.1 with the given ports (0 = any) and resolves once both
 * listeners are up, reading the chosen ports from its log. `extraArgs` are passed through.
 */
export async function startRealLookupd(
  options: { tcpPort?: number; httpPort?: number; extraArgs?: string[] } = {},
): Promise<RealLookupd> {
  if (!NSQLOOKUPD_BIN) throw new Error('NSQLOOKUPD_BIN is not set');
  return startNsqProcess(NSQLOOKUPD_BIN, [], options);
}

/**
 * Starts any NSQ daemon that takes `--tcp-address`/`--http-address` and logs `TCP: listening on` and
 * `HTTP: listening on` (the real nsqlookupd and nsqd, or `nsqd-lookup lookupd` in a process of its
 * own, as the benchmarks run it), and resolves with the addresses it chose.
 */
export async function startNsqProcess(
  command: string,
  leadingArgs: string[],
  options: { tcpPort?: number; httpPort?: number; extraArgs?: string[] } = {},
): Promise<RealLookupd> {
  const child = spawn(
    command,
    [
      ...leadingArgs,
      `--tcp-address=127.0.0.1:${options.tcpPort ?? 0}`,
      `--http-address=127.0.0.1:${options.httpPort ?? 0}`,
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const addresses = await new Promise<{ tcp: string; http: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const tcp = /TCP: listening on (\S+)/.exec(log)?.[1];
      const http = /HTTP: listening on (\S+)/.exec(log)?.[1];
      if (tcp && http) {
        child.stderr?.off('data', onData);
        child.stdout?.off('data', onData);
        resolve({ tcp, http });
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${command} exited with ${code} before listening:\n${log}`)),
    );
    child.once('error', reject);
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stderr?.resume();
  child.stdout?.resume();
  return {
    tcpAddress: addresses.tcp,
    httpAddress: addresses.http,
    process: child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        return;
      }
      // 'close' (not 'exit') also waits for its stdio pipes, so no handle outlives the test.
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    },
  };
}
