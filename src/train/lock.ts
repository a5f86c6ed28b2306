// The run folder's lock: the process writing a run folder (rank 0 in a distributed run) holds DIR/run.lock, so a
// second writer (a resumed run beside an orphaned one, two runs given the same --out) stops before it writes anything.
// Node has no flock(2): the lock is a file created with O_EXCL holding the holder's pid, its start time (defeats pid
// reuse) and host. A lock whose process is gone is stale and taken over with a note.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'run.lock';

/** What run.lock holds. */
export interface LockOwner {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks after boot); null where /proc is not there. */
  startTime: string | null;
  host: string;
  since: string;
}

/** Another live process holds the run folder. The CLI exits with code 2. */
export class RunInUseError extends Error {
  override name = 'RunInUseError';
  constructor(readonly dir: string, readonly owner: LockOwner) {
    super(`run folder ${dir} in use by pid ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''} (since ${owner.since}); `
      + `if no such process is running there, delete ${join(dir, LOCK_FILE)}`);
  }
}

/** A process's start time from /proc/PID/stat, or null (no /proc, or no such process). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields from the last ')', which ends it; field 3 follows.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3] ?? null;
  } catch {
    return null;
  }
}

function alive(owner: LockOwner): boolean {
  // Another host's process cannot be checked from here: it is taken to be alive.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid lives; it is the same process only if it started when the lock says (pids are reused).
  const started = processStartTime(owner.pid);
  return owner.startTime === null || started === null || started === owner.startTime;
}

function me(): LockOwner {
  return { pid: process.pid, startTime: processStartTime(process.pid), host: hostname(), since: new Date().toISOString() };
}

function readOwner(path: string): { text: string; owner: LockOwner | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    return { text, owner: typeof o.pid === 'number' && typeof o.host === 'string' ? o : null };
  } catch {
    // A lock torn by a crash while being written: no owner to wait for.
    return { text, owner: null };
  }
}

/**
 * Takes the lock of run folder `dir` (which must exist) for this process; returns the function that releases it.
 * A stale lock (its process gone, or the pid now another process) is taken over and `onNote` told.
 * Throws RunInUseError when a live process holds it.
 */
export function acquireRunLock(dir: string, onNote?: (msg: string) => void): () => void {
  const path = join(dir, LOCK_FILE);
  const mine = me();
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readOwner(path);
      if (held === null) continue; // released in between: try again
      if (held.owner !== null && alive(held.owner)) throw new RunInUseError(dir, held.owner);
      // Remove the stale lock only if it is still the one judged stale (another process may have taken it over since).
      const again = readOwner(path);
      if (again !== null && again.text === held.text) {
        try { unlinkSync(path); } catch { /* taken over by another process: the next attempt sees its lock */ }
        onNote?.(held.owner !== null
          ? `took over the lock of ${dir} left by pid ${held.owner.pid} (no longer running, since ${held.owner.since})`
          : `took over an unreadable lock file in ${dir}`);
      }
      continue;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return () => releaseRunLock(dir, mine);
  }
  throw new Error(`could not take the lock ${path} (it changed hands repeatedly)`);
}

/** Removes dir's lock if `owner` (default: this process) holds it; anything else is left alone. */
export function releaseRunLock(dir: string, owner: Pick<LockOwner, 'pid' | 'startTime'> = { pid: process.pid, startTime: processStartTime(process.pid) }): void {
  const path = join(dir, LOCK_FILE);
  let held: ReturnType<typeof readOwner>;
  try {
    held = readOwner(path);
  } catch {
    return; // unreadable: not provably ours (this also runs in exit handlers, which must not throw)
  }
  if (held?.owner?.pid !== owner.pid || held.owner.startTime !== owner.startTime) return;
  try { unlinkSync(path); } catch { /* already gone */ }
}
