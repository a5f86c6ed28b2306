// Checked file access for everything simclr reads, and the temporary files its atomic writers leave behind.
// Readers open without blocking and check what they opened (fstat), so a FIFO, a device such as /dev/zero or a
// directory in a file's place gives one line instead of a hang or an unbounded read.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What a file is expected to be, for the checks and for the messages ("FILE is a directory, not a checkpoint"). */
export interface FileExpectation {
  /** What the file should be, with its article: 'a checkpoint', 'a CIFAR batch'. */
  what: string;
  /** Smallest plausible size in bytes. */
  minBytes?: number;
  /** Largest plausible size in bytes. */
  maxBytes?: number;
  /** The exact size the format implies, when it implies one. */
  expectBytes?: number;
}

/** Builds the error a check throws; `cause` is the fs error, when one caused it. */
export type MakeError = (message: string, cause?: unknown) => Error;

/** A regular file opened for reading: its descriptor (the caller closes it) and its size. */
export interface OpenedFile {
  fd: number;
  size: number;
}

function kindOf(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a parent of the path is not a directory',
  ELOOP: 'too many symbolic links',
  EISDIR: 'is a directory',
};

/** One line for an fs error on `path`, e.g. "runs/x/config.json: no such file (ENOENT)". */
export function describeFsError(path: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const reason =
    code !== undefined && Object.hasOwn(FS_REASONS, code)
      ? `${FS_REASONS[code]} (${code})`
      : String((e as Error)?.message ?? e);
  return `${path}: ${reason}`;
}

/** Why a file of `size` bytes cannot be what `expect` says, or null when it can. */
function sizeProblem(path: string, size: number, expect: FileExpectation): string | null {
  if (expect.expectBytes !== undefined && size !== expect.expectBytes)
    return `${path} is ${size} bytes; ${expect.what} is ${expect.expectBytes}`;
  if (expect.minBytes !== undefined && size < expect.minBytes)
    return `${path} is ${size} bytes; ${expect.what} is at least ${expect.minBytes}`;
  if (expect.maxBytes !== undefined && size > expect.maxBytes)
    return `${path} is ${size} bytes; ${expect.what} is at most ${expect.maxBytes}`;
  return null;
}

/**
 * Opens `path` for reading after checking it is a regular file of a plausible size. Opens with O_NONBLOCK, so a
 * FIFO never blocks the open, and checks the opened descriptor, so the file checked is the file read.
 * Throws `makeError(line)` with one line naming the file: missing or unreadable, "is a directory, not a checkpoint",
 * "is 12 bytes; a CIFAR batch is at least 3073".
 */
export function openChecked(path: string, expect: FileExpectation, makeError: MakeError): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw makeError(`${path} is a directory, not ${expect.what}`);
    throw makeError(describeFsError(path, e), e);
  }
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw makeError(`${path} is ${kindOf(s)}, not ${expect.what}`);
    const problem = sizeProblem(path, s.size, expect);
    if (problem !== null) throw makeError(problem);
    return { fd, size: s.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The same checks as openChecked without keeping the file open; returns its size. */
export function checkRegularFile(path: string, expect: FileExpectation, makeError: MakeError): number {
  const { fd, size } = openChecked(path, expect, makeError);
  closeSync(fd);
  return size;
}

/**
 * Reads exactly `length` bytes at `position` into `into` (at `offset`), looping over short reads; returns false when
 * the file ended first (it shrank since it was checked). Large reads go in chunks below the kernel's per-call limit.
 */
export function readFullyAt(fd: number, into: Uint8Array, offset: number, length: number, position: number): boolean {
  const CHUNK = 1 << 30;
  for (let done = 0; done < length; ) {
    const n = readSync(fd, into, offset + done, Math.min(CHUNK, length - done), position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/** A checked file's bytes; see openChecked for the checks and errors. */
export function readChecked(path: string, expect: FileExpectation, makeError: MakeError): Buffer {
  const { fd, size } = openChecked(path, expect, makeError);
  let complete: boolean;
  const buf = Buffer.allocUnsafe(size);
  try {
    complete = readFullyAt(fd, buf, 0, size, 0);
  } catch (e) {
    throw makeError(describeFsError(path, e), e);
  } finally {
    closeSync(fd);
  }
  if (!complete) throw makeError(`${path} shrank while it was read`);
  return buf;
}

/** A checked file's text as UTF-8; see openChecked for the checks and errors. */
export function readTextChecked(path: string, expect: FileExpectation, makeError: MakeError): string {
  return readChecked(path, expect, makeError).toString('utf8');
}

// ------------------------------------------------------------------------------------------------ temporary files

// `.<name>.<pid>.<hex>.tmp`: the pid of the writer is in the name, so a later process can tell whose it is.
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/;
// The name writeFileAtomic used before the owner's pid came second: `.<epoch ms>.<pid>.tmp`.
const OLD_TEMP_NAME = /^\.\d+\.(\d+)\.tmp$/;

/** Where an atomic writer of `path` writes first: the same folder, so the rename is atomic, with its pid in the name.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temporary files that killed writers left in `dir` (see tempPathFor); returns the names removed.
 * A temp is stale when its writer's process is gone and it has not been written for `minAgeMs` (a writer in
 * another pid namespace on a shared folder would look dead, but keeps its temp fresh while it writes). This
 * process's own temps are never touched. Missing folders and files that vanish meanwhile are no error.
 */
export function removeStaleTemps(dir: string, minAgeMs = 60_000, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name) ?? OLD_TEMP_NAME.exec(name);
    if (m === null) continue;
    const pid = Number(m[m.length - 1]);
    if (pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const s = statSync(path);
      if (!s.isFile() || now - s.mtimeMs < minAgeMs) continue;
      rmSync(path, { force: true });
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove: nothing to clean.
    }
  }
  return removed;
}

/**
 * Writes a file atomically: a temporary file in the same folder (named by tempPathFor, created exclusively), fsynced,
 * then renamed over `path`, so a crash or a full disk never leaves half a file and the previous one stays. The
 * temporary file is removed if anything fails; the fs error is thrown.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
