import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { FULL_SUITE, noteOnce } from './suite.js';

/**
 * The real NSQ binaries, our test oracle. `.ci/run` builds them from oracle/go.mod and exports
 * NSQLOOKUPD_BIN, NSQD_BIN and NSQADMIN_BIN. Without them the real-server variants are skipped with a
 * note; with NSQD_LOOKUP_FULL=1 (the whole suite, as CI runs it) a missing binary fails the run instead,
 * so those variants can never silently stop running.
 */
export const NSQLOOKUPD_BIN = binary('NSQLOOKUPD_BIN');
export const NSQD_BIN = binary('NSQD_BIN');
export const NSQADMIN_BIN = binary('NSQADMIN_BIN');

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
  const { child, listening, close } = await spawnListening(
    command,
    [
      ...leadingArgs,
      `--tcp-address=127.0.0.1:${options.tcpPort ?? 0}`,
      `--http-address=127.0.0.1:${options.httpPort ?? 0}`,
      ...(options.extraArgs ?? []),
    ],
    ['TCP', 'HTTP'],
  );
  return { tcpAddress: listening.TCP!, httpAddress: listening.HTTP!, process: child, close };
}

export interface RealNsqadmin {
  /** Where its web UI and `/api/...` listen, `host:port`. */
  httpAddress: string;
  process: ChildProcess;
  close(): Promise<void>;
}

/**
 * Starts the real nsqadmin on 127.0.0.1 (any free port), reading the cluster from the given lookupd
 * HTTP addresses, and resolves once it listens. `extraArgs` are passed through.
 */
export async function startRealNsqadmin(options: {
  lookupdHttpAddresses: string[];
  extraArgs?: string[];
}): Promise<RealNsqadmin> {
  if (!NSQADMIN_BIN) throw new Error('NSQADMIN_BIN is not set');
  const { child, listening, close } = await spawnListening(
    NSQADMIN_BIN,
    [
      '--http-address=127.0.0.1:0',
      ...options.lookupdHttpAddresses.map((address) => `--lookupd-http-address=${address}`),
      ...(options.extraArgs ?? []),
    ],
    ['HTTP'],
  );
  return { httpAddress: listening.HTTP!, process: child, close };
}

/**
 * Spawns an NSQ daemon and resolves once its log has said `<label>: listening on <address>` for each
 * label (the daemons log the address they bound, so port 0 works), with those addresses.
 */
async function spawnListening(
  command: string,
  args: string[],
  labels: string[],
): Promise<{ child: ChildProcess; listening: Record<string, string>; close(): Promise<void> }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      return;
    }
    // 'close' (not 'exit') also waits for its stdio pipes, so no handle outlives the test.
    const closed = once(child, 'close');
    child.kill('SIGKILL');
    await closed;
  };
  let log = '';
  const listening = await new Promise<Record<string, string>>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const found: Record<string, string> = {};
      for (const label of labels) {
        const address = new RegExp(`${label}: listening on (\\S+)`).exec(log)?.[1];
        if (!address) return;
        found[label] = address;
      }
      child.stderr?.off('data', onData);
      child.stdout?.off('data', onData);
      resolve(found);
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
  return { child, listening, close };
}
