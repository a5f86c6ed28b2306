// The files of a folder: dataset that `simclr explore` may serve: exactly the dataset's images, addressed by their
// path relative to the folder given in --data, and only when the file really lives inside that folder (a link that
// leads out of it is refused). URL paths are checked before any lookup: no `..` or `.` segments, no encoded slashes
// or backslashes, no NUL.
import { closeSync, constants, fstatSync, openSync, realpathSync } from 'node:fs';
import { extname, relative, resolve, sep } from 'node:path';

/** Content types of the image files a folder: dataset reads (src/data/folder.ts). */
export const IMAGE_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
};

/** A refusal: the HTTP status (4xx) and a message naming the problem. */
export interface Refusal {
  status: 400 | 403 | 404;
  error: string;
}

/**
 * The relative path a raw URL tail (what follows `/files/`, still percent-encoded, query cut off) names, or why it
 * names none. Each segment is decoded on its own, so an encoded slash can never join two segments.
 */
export function parseFilesUrl(tail: string): { rel: string } | Refusal {
  if (tail === '') return { status: 400, error: 'no file named after /files/' };
  if (/%2f|%5c/i.test(tail)) return { status: 400, error: 'encoded slashes or backslashes are not allowed in a path' };
  const segments: string[] = [];
  for (const raw of tail.split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return { status: 400, error: `malformed percent-encoding in '${raw}'` };
    }
    if (s === '' || s === '.' || s === '..')
      return { status: 400, error: `path segment '${s}' is not allowed (no empty, '.' or '..' segments)` };
    if (s.includes('\0') || s.includes('\\')) return { status: 400, error: 'NUL or backslash in a path segment' };
    segments.push(s);
  }
  return { rel: segments.join('/') };
}

/** The dataset's files under their folder, for /files/ and for thumbnails made from the originals. */
export class DatasetFiles {
  /** Per sample: the file relative to the root, '/'-separated. */
  readonly relPaths: readonly string[];
  private readonly root: string;
  private readonly rootReal: string;
  private readonly byRel = new Map<string, number>();

  /** `root`: the folder given in --data; `paths`: each sample's file (absolute, as the folder dataset lists them). */
  constructor(root: string, paths: readonly string[]) {
    this.root = resolve(root);
    this.rootReal = realpathSync(this.root);
    this.relPaths = paths.map((p) => relative(this.root, p).split(sep).join('/'));
    this.relPaths.forEach((rel, i) => {
      if (!this.byRel.has(rel)) this.byRel.set(rel, i);
    });
  }

  /** The sample a relative path names, or null. */
  lookup(rel: string): number | null {
    return this.byRel.get(rel) ?? null;
  }

  /**
   * Opens sample i's file for reading when it is a regular file inside the root (its real path, links resolved,
   * is under the root's real path): a descriptor the caller closes, its size and content type. Never blocks on a
   * FIFO (O_NONBLOCK) and never follows a link swapped in for the final component after the check (O_NOFOLLOW).
   */
  open(i: number): { fd: number; size: number; type: string } | Refusal {
    const rel = this.relPaths[i];
    if (rel === undefined) return { status: 404, error: `no sample ${i}` };
    let real: string;
    try {
      real = realpathSync(resolve(this.root, rel));
    } catch {
      return { status: 404, error: `${rel}: no such file now` };
    }
    if (!real.startsWith(this.rootReal + sep))
      return { status: 403, error: `${rel} leads out of the dataset's folder (a link); it is not served` };
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch {
      return { status: 404, error: `${rel}: cannot be opened` };
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return { status: 404, error: `${rel} is not a regular file` };
    }
    return { fd, size: st.size, type: IMAGE_TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream' };
  }
}
