import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** The newest bytes given for one file and not yet being written, with everyone waiting on them. */
interface PendingWrite {
  path: string;
  bytes: Uint8Array;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Per absolute path. Two writes of one file racing through open/write/fsync/rename would leave whichever
// renames last, not whichever was asked for last; so one write per file runs at a time, and only the
// newest of the writes asked for meanwhile follows it (the ones it replaces would be overwritten anyway).
const pending = new Map<string, PendingWrite>();
const writing = new Set<string>();
/** Absolute paths of the temporary files this process is writing now. */
const temporariesInUse = new Set<string>();

// `<file>.<pid>.<12 hex>.tmp`: the writer's pid tells a crashed save's leftover from one in progress.
const TEMPORARY_SUFFIX = /^(\d{1,10})\.[0-9a-f]{12}\.tmp$/;
const MAX_PID = 2 ** 31 - 1;

/**
 * Replaces `path` with `bytes` so that a reader sees the old file or the new one, never a mix, even
 * across a crash: temporary file beside it, fsync, rename, fsync of the directory (as nsqd's
 * PersistMetadata does). The temporary file is `<path>.<pid>.<random>.tmp`; each write first removes
 * the ones that crashed writers of the same file left behind.
 *
 * Writes of the same file from this process are serialised: when they have all settled, the file holds
 * the bytes of the last call. A call resolves once its bytes, or those of a later call that replaced
 * them before they were written, are durable.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const key = resolve(path);
  let write = pending.get(key);
  if (write) {
    write.path = path;
    write.bytes = bytes;
  } else {
    let settle!: Pick<PendingWrite, 'resolve' | 'reject'>;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    write = { path, bytes, done, ...settle };
    pending.set(key, write);
  }
  if (!writing.has(key)) void drain(key);
  return write.done;
}

async function drain(key: string): Promise<void> {
  writing.add(key);
  try {
    for (let write = pending.get(key); write; write = pending.get(key)) {
      pending.delete(key);
      try {
        await replaceFile(write.path, write.bytes);
        write.resolve();
      } catch (error) {
        write.reject(error);
      }
    }
  } finally {
    writing.delete(key);
  }
}

async function replaceFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await removeStaleTemporaries(path);
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const inUse = resolve(temporary);
  temporariesInUse.add(inUse);
  try {
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  } finally {
    temporariesInUse.delete(inUse);
  }
  await syncDirectory(dirname(path));
}

/**
 * Removes the temporary files that saves of `path` left behind when their process died (or, in this
 * process, when a write failed before it could clean up): those named for a pid that is not running,
 * or for this process's pid but not being written now. Files without a pid (from earlier versions) are
 * left alone: they cannot be told from another process's save in progress. Best effort: a file that
 * cannot be listed or removed is left for the next save.
 */
async function removeStaleTemporaries(path: string): Promise<void> {
  const directory = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = TEMPORARY_SUFFIX.exec(name.slice(prefix.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid < 1 || pid > MAX_PID) continue;
    const temporary = join(directory, name);
    const stale = pid === process.pid ? !temporariesInUse.has(resolve(temporary)) : !isRunning(pid);
    if (stale) await rm(temporary, { force: true }).catch(() => undefined);
  }
}

/** True when a process with this pid exists (a recycled pid counts as running: its file is kept). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function syncDirectory(path: string): Promise<void> {
  // Makes the rename itself durable; not every platform lets a directory be opened and synced.
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort, as in nsqd.
  }
}
