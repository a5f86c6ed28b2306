// Small filesystem helpers shared by the readers; every failure a user can
// cause (missing directory, missing file) surfaces as a DataError naming the path.

import { existsSync, openSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

export function requireFile(path: string): void {
  if (!isFile(path)) throw new DataError(`missing file: ${path}`);
}

export async function readWholeFile(path: string): Promise<Buffer> {
  requireFile(path);
  return readFile(path);
}

export function openForReading(path: string): { fd: number; size: number } {
  requireFile(path);
  const fd = openSync(path, 'r');
  return { fd, size: statSync(path).size };
}

/** Non-empty trimmed lines of an optional text file (class-name lists); undefined when absent. */
export async function readNameList(path: string): Promise<string[] | undefined> {
  if (!isFile(path)) return undefined;
  const text = await readFile(path, 'utf8');
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}
