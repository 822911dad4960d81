import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

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

/**
 * Replaces `path` with `bytes` so that a reader sees the old file or the new one, never a mix, even
 * across a crash: temporary file beside it, fsync, rename, fsync of the directory (as nsqd's
 * PersistMetadata does).
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
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
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
  }
  await syncDirectory(dirname(path));
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
