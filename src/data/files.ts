// Small filesystem helpers shared by the readers; every failure a user can
// cause (missing directory, missing file) surfaces as a DataError naming the path.

import { existsSync, statSync } from 'node:fs';
import { checkRegularFile, openChecked, readChecked, type FileExpectation, type MakeError } from '../io/files.js';
import { join } from 'node:path';
import { DataError } from './dataset.js';

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function requireDirectory(path: string): void {
  if (!existsSync(path)) throw new DataError(`directory not found: ${path}`);
  if (!isDirectory(path)) throw new DataError(`not a directory: ${path}`);
}

/**
 * Archives unpack into a named sub-folder (cifar-10-batches-bin, stl10_binary);
 * accept either that sub-folder or the directory holding the files directly.
 */
export function dataRoot(dir: string, archiveFolder: string): string {
  requireDirectory(dir);
  const nested = join(dir, archiveFolder);
  return isDirectory(nested) ? nested : dir;
}

// Data-file errors: "missing file: PATH" as before, other problems as the check words them.
function dataError(path: string): MakeError {
  return (message, cause) =>
    new DataError((cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? `missing file: ${path}` : message);
}

/** Checks `path` is a regular file of a plausible size for `expect` (see openChecked); throws DataError naming it. */
export function requireFile(path: string, expect: FileExpectation = { what: 'a data file' }): number {
  return checkRegularFile(path, expect, dataError(path));
}

/** A data file's bytes, checked first (see requireFile): a FIFO or device is refused, not read. */
export async function readWholeFile(path: string, expect: FileExpectation = { what: 'a data file' }): Promise<Buffer> {
  return readChecked(path, expect, dataError(path));
}

/** Opens a checked data file (see requireFile) for positional reads; the caller closes `fd`. */
export function openForReading(
  path: string,
  expect: FileExpectation = { what: 'a data file' },
): { fd: number; size: number } {
  return openChecked(path, expect, dataError(path));
}

/** Non-empty trimmed lines of an optional text file (class-name lists); undefined when absent. */
export async function readNameList(path: string): Promise<string[] | undefined> {
  if (!isFile(path)) return undefined;
  const text = (await readWholeFile(path, { what: 'a class-name list', maxBytes: 1 << 20 })).toString('utf8');
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
