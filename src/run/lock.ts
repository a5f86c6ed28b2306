// The run folder's lock: the process writing a run folder (rank 0 in a distributed run) holds an exclusive flock(2)
// on DIR/run.lock, so a second writer (a resumed run beside an orphaned one, two runs given the same --out) stops
// before it writes anything. The kernel drops the lock when the holder's file is closed, which happens when its
// process ends however it ends (SIGKILL, OOM, a crash), so a lock is never stale and nothing guesses from pids. The
// file itself stays; it names its holder (pid, host, since) for the message a second writer gets, and is emptied on
// release (a process that died without releasing leaves its record, which means nothing without the flock).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { native } from '../torch/native.js';
import { describeFsError } from '../io/files.js';
import { ConfigError } from './config.js';
import { UsageError } from '../errors.js';

export const LOCK_FILE = 'run.lock';

/** What run.lock holds while a process holds the lock. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Another process holds the run folder: a usage problem (exit code 2). */
export class RunInUseError extends UsageError {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner | null,
  ) {
    super(
      owner === null
        ? `run folder ${dir} in use by another process (it is starting up)`
        : `run folder ${dir} in use by pid ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''} ` +
            `(since ${owner.since})`,
    );
    this.name = 'RunInUseError';
  }
}

// The record, read from the open lock file itself (never by path: the path could name something else by now).
function readOwner(fd: number): LockOwner | null {
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const o = JSON.parse(buf.subarray(0, n).toString('utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string' ? o : null;
  } catch {
    // Empty (released, or the holder has not written it yet) or unreadable: no name to give.
    return null;
  }
}

/**
 * Takes the lock of run folder `dir` (which must exist) for this process; returns the function that releases it
 * (idempotent; it never throws, as it also runs in exit handlers). Throws RunInUseError when another process, or
 * another holder in this process, has it; ConfigError when run.lock cannot be opened (unwritable, or a link).
 */
export function acquireRunLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    // No O_TRUNC: the holder's record must survive a second writer's open. O_NOFOLLOW: a link planted at run.lock
    // cannot send the record elsewhere.
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
    } catch (e) {
      const link =
        (e as NodeJS.ErrnoException).code === 'ELOOP'
          ? ' (a symbolic link, which the lock never follows: remove it)'
          : '';
      throw new ConfigError(`cannot take the run folder's lock: ${describeFsError(path, e)}${link}`);
    }
    let held = false;
    try {
      // A FIFO or device planted at run.lock is neither locked nor read (O_NONBLOCK kept the open from waiting).
      if (!fstatSync(fd).isFile())
        throw new ConfigError(`cannot take the run folder's lock: ${path} is not a regular file; remove it`);
      if (!native.flock(fd, 'ex', false)) throw new RunInUseError(dir, readOwner(fd));
      held = true;
      // The file may have been replaced (deleted by hand, or by a tool) between open and flock: the lock must be on
      // the file that is at the path now, or two processes would each hold a lock on a different file.
      let current: ReturnType<typeof statSync> | null = null;
      try {
        current = statSync(path);
      } catch {
        /* deleted: try again */
      }
      const opened = fstatSync(fd);
      if (current === null || current.ino !== opened.ino || current.dev !== opened.dev) {
        held = false; // closed below, then the path is opened again
        if (attempt < 5) continue;
        throw new Error(`could not take the lock ${path}: it is replaced as it is taken`);
      }
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      ftruncateSync(fd, 0);
      writeSync(fd, `${JSON.stringify(owner)}\n`, 0);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // Emptied before it is released. A process that ends without releasing (an abort, SIGKILL) leaves its record:
        // the kernel dropped its lock all the same, and the next holder overwrites it.
        try {
          ftruncateSync(fd, 0);
        } catch {
          /* nothing to do */
        }
        try {
          closeSync(fd);
        } catch {
          /* closing drops the lock */
        }
      };
    } catch (e) {
      held = false;
      throw e;
    } finally {
      // Closing also drops a lock taken on a file that was replaced.
      if (!held)
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
    }
  }
}
