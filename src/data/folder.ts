// Image folders. Each image is decoded once with sharp, resized (shorter side
// to `imageSize`, then centre crop) and written as CHW uint8 into a cache
// file; training then reads samples from that file with positional reads, so
// folders larger than RAM stream and later runs skip decoding entirely.
//
// Layout: sub-folders of the root are classes (labelled set, class index =
// position in the sorted folder names); a root with no sub-folders is an
// unlabelled set. Hidden entries (like the .simclr-cache folder) are ignored.
//
// The walk follows links but lists every folder and file once, by device and
// inode: a link to `.` or to a parent adds nothing and cannot loop, and a file
// reached both directly and through a link counts where it really lives. Names
// are handled as bytes, so a name that is not UTF-8 still opens. What cannot be
// used (no permission, not an image, not a regular file, a broken link, a
// duplicate) is skipped with its real reason and counted in one warning.
//
// The cache is trusted only when it is this user's own: files are opened
// without following links and used only when owned by the user and writable by
// nobody else; new files are created exclusively (O_EXCL | O_NOFOLLOW) under a
// random name and renamed into place. Its default folder is DIR/.simclr-cache
// when the user owns it (or can create it), else the per-user cache folder.

import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import sharp from 'sharp';
import { rgbToGray } from './colour.js';
import { DataError, FileDataset } from './dataset.js';
import { requireDirectory } from './files.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);
const CACHE_FORMAT = 'simclr-folder-cache/2';
/** Decodes in flight at once; sharp runs them on the libuv pool, this only bounds memory. */
const DECODE_WINDOW = 16;

export interface FolderOptions {
  /** Side of the square samples. */
  imageSize: number;
  /** One channel instead of three: the luma of the decoded RGB (data/colour.ts, as PIL's convert('L')). */
  grayscale?: boolean;
  /** Throw on the first image that cannot be used (anything skipped but a duplicate) instead of skipping it. */
  strict?: boolean;
  /** Where the cache lives; default: defaultCacheDir(root). */
  cacheDir?: string;
  /** Receives warnings (without a 'warning:' prefix); default: a 'warning: ...' line on stderr. */
  onWarning?: (msg: string) => void;
  /** Names of root sub-folders that are not classes (a test split living inside the train root). */
  exclude?: readonly string[];
  /**
   * Fixes the class list (a test split takes the training split's), so a
   * class folder missing here does not shift the labels of the others.
   */
  classNames?: readonly string[];
  /** Dataset name; default 'folder:<root>'. */
  name?: string;
}

/** Why an entry was left out, the key of the summary warning's counts. */
export type SkipKind =
  | 'permission denied'
  | 'not an image'
  | 'not a regular file'
  | 'broken link'
  | 'duplicate'
  | 'read error';

export interface SkippedImage {
  /** The entry's path (a name that is not UTF-8 shows U+FFFD where its bytes do not decode). */
  readonly path: string;
  readonly kind: SkipKind;
  /** The full reason, e.g. the decoder's message for 'not an image'. */
  readonly reason: string;
}

/** A path relative to the root: a string when its bytes are UTF-8, else the bytes in base64. */
type RelPath = string | { b64: string };

/** One listed image: path relative to the root, stat fingerprint, class index (-1 when unlabelled). */
type Source = [rel: RelPath, size: number, mtimeMs: number, label: number];

interface Sidecar {
  format: string;
  root: string;
  imageSize: number;
  channels: number;
  classNames: string[] | null;
  sources: Source[];
  /** Indices into `sources` of the samples in the cache file, in file order. */
  kept: number[];
  /** Sources that did not decode (the walk's skips are found again each time). */
  skipped: SkippedImage[];
}

export class FolderDataset extends FileDataset {
  constructor(
    info: ConstructorParameters<typeof FileDataset>[0],
    file: ConstructorParameters<typeof FileDataset>[1],
    /** The uint8 sample cache backing this dataset. */
    readonly cachePath: string,
    /** True when the cache was reused and nothing was decoded. */
    readonly fromCache: boolean,
    readonly skipped: readonly SkippedImage[],
  ) {
    super(info, file);
  }
}

/** The current user's id, or -1 where the platform has none (ownership is then not checked). */
function currentUid(): number {
  return process.getuid?.() ?? -1;
}

/** Null when `dir` may hold this user's cache: a directory owned by the user (through a link only if the link is
 * theirs). */
function cacheDirProblem(dir: string): string | null {
  const uid = currentUid();
  const link = lstatSync(dir);
  if (link.isSymbolicLink() && uid >= 0 && link.uid !== uid) return `a link owned by uid ${link.uid}`;
  const st = statSync(dir);
  if (!st.isDirectory()) return 'not a directory';
  if (uid >= 0 && st.uid !== uid) return `owned by uid ${st.uid}, not ${uid}`;
  return null;
}

/**
 * The per-user cache folder: $XDG_CACHE_HOME/simclr (when that is an absolute path, as the XDG spec asks), else
 * ~/.cache/simclr. Not created here.
 */
export function userCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'simclr');
}

/**
 * `<dir>/.simclr-cache` when the user owns it (creating it if need be) and can write it; else userCacheDir(). A
 * `.simclr-cache` that another user made is never used: its files could be rewritten by them. Never throws.
 */
export function defaultCacheDir(dir: string): string {
  const local = join(dir, '.simclr-cache');
  try {
    try {
      mkdirSync(local, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (cacheDirProblem(local) !== null) return userCacheDir();
    accessSync(local, constants.W_OK);
    return local;
  } catch {
    return userCacheDir();
  }
}

/** Creates `dir` (private to the user) if missing; throws a DataError when it cannot hold this user's cache. */
function prepareCacheDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DataError(`cannot create cache directory ${dir}: ${(e as Error).message}`);
  }
  let problem: string | null;
  try {
    problem = cacheDirProblem(dir);
  } catch (e) {
    throw new DataError(`cannot use cache directory ${dir}: ${(e as Error).message}`);
  }
  // A shared folder chosen on purpose (cacheDir /tmp) is allowed: each file in it is checked on its own.
  if (problem === 'not a directory' || (problem !== null && dir === userCacheDir())) {
    throw new DataError(`cache directory ${dir} is ${problem}`);
  }
}

/** Null when an opened cache file may be trusted: a regular file owned by the user that nobody else can write. */
function cacheFileProblem(st: Stats): string | null {
  const uid = currentUid();
  if (!st.isFile()) return 'not a regular file';
  if (uid >= 0 && st.uid !== uid) return `owned by uid ${st.uid}, not by this user (uid ${uid})`;
  if ((st.mode & 0o022) !== 0) return `writable by other users (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

type Opened = { fd: number; size: number } | { absent: true } | { refused: string };

/** Opens a cache file for reading without following a link, and checks it on the open descriptor. */
function openCacheFile(path: string): Opened {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { absent: true };
    return { refused: code === 'ELOOP' ? 'a symbolic link' : (e as Error).message };
  }
  const st = fstatSync(fd);
  const problem = cacheFileProblem(st);
  if (problem !== null) {
    closeSync(fd);
    return { refused: problem };
  }
  return { fd, size: st.size };
}

/**
 * Creates `${finalPath}.<pid>.<random>.tmp` exclusively, never through a link, readable by the user only; the
 * caller renames it into place, so an interrupted write never looks complete.
 */
async function createTemp(finalPath: string): Promise<{ path: string; fh: Awaited<ReturnType<typeof open>> }> {
  const path = `${finalPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  return { path, fh: await open(path, flags, 0o600) };
}

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

const SLASH = Buffer.from('/');
const joinBytes = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, SLASH, name]);

function relPath(bytes: Buffer): RelPath {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : { b64: bytes.toString('base64') };
}
function relBytes(rel: RelPath): Buffer {
  return typeof rel === 'string' ? Buffer.from(rel, 'utf8') : Buffer.from(rel.b64, 'base64');
}

/** What the walk needs of one entry: its name, where it is, and the stat of what it names (links followed). */
interface Entry {
  /** The name as text, for sorting, class names and messages. */
  text: string;
  /** Path relative to the root, as bytes. */
  rel: Buffer;
  st: Stats;
  /** Reached through a symbolic link (the entry itself or a folder above it). */
  viaLink: boolean;
}

/** Shared by one listing: the root as bytes, everything skipped so far, folders already walked by dev:ino. */
interface WalkState {
  root: string;
  rootBytes: Buffer;
  skipped: SkippedImage[];
  visited: Set<string>;
}

const identity = (st: Stats): string => `${st.dev}:${st.ino}`;
const display = (state: WalkState, rel: Buffer): string => join(state.root, rel.toString('utf8'));

function newWalk(root: string): WalkState {
  const st = statSync(root);
  return { root, rootBytes: Buffer.from(root), skipped: [], visited: new Set([identity(st)]) };
}

function errorKind(e: unknown, isLink: boolean): { kind: SkipKind; reason: string } {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return { kind: 'permission denied', reason: 'permission denied' };
  if (isLink && (code === 'ENOENT' || code === 'ELOOP'))
    return { kind: 'broken link', reason: code === 'ELOOP' ? 'a link loop' : 'a link to nothing' };
  return { kind: 'read error', reason: `${code ?? 'error'}: ${((e as Error).message ?? String(e)).split('\n')[0]}` };
}

const byCodeUnit = (a: Entry, b: Entry): number =>
  a.text < b.text ? -1 : a.text > b.text ? 1 : Buffer.compare(a.rel, b.rel);

/**
 * The visible sub-folders and image files of one folder, sorted by name (code units), links resolved. Entries
 * that cannot be used are added to state.skipped; a folder that cannot be listed gives nothing and is skipped.
 */
function scan(state: WalkState, rel: Buffer | null, viaLink: boolean): { dirs: Entry[]; images: Entry[] } {
  const dirs: Entry[] = [];
  const images: Entry[] = [];
  const dirPath = rel === null ? state.rootBytes : joinBytes(state.rootBytes, rel);
  let entries: Dirent<Buffer>[];
  try {
    entries = readdirSync(dirPath, { withFileTypes: true, encoding: 'buffer' });
  } catch (e) {
    const { kind, reason } = errorKind(e, false);
    state.skipped.push({
      path: rel === null ? state.root : display(state, rel),
      kind,
      reason: `cannot list the folder: ${reason}`,
    });
    return { dirs, images };
  }
  for (const e of entries) {
    if (e.name[0] === 0x2e) continue; // hidden
    const text = e.name.toString('utf8');
    const image = isImageFile(text);
    const isLink = e.isSymbolicLink();
    // Plain files of other types are not ours to judge; anything else is looked at through stat.
    if (!image && e.isFile()) continue;
    const entryRel = rel === null ? e.name : joinBytes(rel, e.name);
    let st: Stats;
    try {
      st = statSync(joinBytes(state.rootBytes, entryRel));
    } catch (err) {
      // A vanished plain entry is no loss; a link that leads nowhere is reported whatever its name.
      if (!isLink && !image) continue;
      state.skipped.push({ path: display(state, entryRel), ...errorKind(err, isLink) });
      continue;
    }
    const entry: Entry = { text, rel: entryRel, st, viaLink: viaLink || isLink };
    if (st.isDirectory()) dirs.push(entry);
    else if (image && st.isFile()) images.push(entry);
    else if (image)
      state.skipped.push({ path: display(state, entryRel), kind: 'not a regular file', reason: 'not a regular file' });
  }
  return { dirs: dirs.sort(byCodeUnit), images: images.sort(byCodeUnit) };
}

/**
 * All images below the folder `start`, depth first (a folder's images, then its sub-folders in order), each folder
 * once: one already walked (a link to `.`, to a parent, or a second link to the same folder) is skipped as a
 * duplicate. Iterative, so deep trees cannot overflow the stack.
 */
function walk(state: WalkState, start: Entry, out: Entry[]): void {
  const stack: Entry[] = [start];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    if (dir !== start) {
      if (state.visited.has(identity(dir.st))) {
        state.skipped.push({
          path: display(state, dir.rel),
          kind: 'duplicate',
          reason: 'a folder already listed (through a link)',
        });
        continue;
      }
      state.visited.add(identity(dir.st));
    }
    const { dirs, images } = scan(state, dir.rel, dir.viaLink);
    out.push(...images);
    for (let i = dirs.length - 1; i >= 0; i--) stack.push(dirs[i]!);
  }
}

/**
 * Keeps one entry per file (dev:ino): the first reached without a link if any, else the first; the others are
 * skipped as duplicates. Order is kept.
 */
function dedupeFiles(
  state: WalkState,
  found: readonly { entry: Entry; label: number }[],
): { entry: Entry; label: number }[] {
  const chosen = new Map<string, number>();
  found.forEach(({ entry }, i) => {
    const key = identity(entry.st);
    const prev = chosen.get(key);
    if (prev === undefined || (found[prev]!.entry.viaLink && !entry.viaLink)) chosen.set(key, i);
  });
  const kept = new Set(chosen.values());
  found.forEach(({ entry }, i) => {
    if (!kept.has(i))
      state.skipped.push({
        path: display(state, entry.rel),
        kind: 'duplicate',
        reason: 'a file already listed (through a link)',
      });
  });
  return found.filter((_, i) => kept.has(i));
}

/**
 * The root's listing: its class folders (visible sub-folders not excluded), each folder once, and its own images.
 * Excluded folders (a test split) and the root itself are claimed first, so a link to one of them is never a class;
 * of two entries naming one folder a real one wins over a link. Duplicates are skipped.
 */
function topLevel(state: WalkState, exclude: readonly string[]): { classDirs: Entry[]; images: Entry[] } {
  const top = scan(state, null, false);
  const candidates: Entry[] = [];
  for (const d of top.dirs) {
    if (exclude.includes(d.text)) state.visited.add(identity(d.st));
    else candidates.push(d);
  }
  const claimed = new Set<Entry>();
  for (const d of [...candidates.filter((c) => !c.viaLink), ...candidates.filter((c) => c.viaLink)]) {
    if (state.visited.has(identity(d.st))) {
      state.skipped.push({
        path: display(state, d.rel),
        kind: 'duplicate',
        reason: 'a folder already listed (through a link)',
      });
      continue;
    }
    state.visited.add(identity(d.st));
    claimed.add(d);
  }
  return { classDirs: candidates.filter((d) => claimed.has(d)), images: top.images };
}

/** The class sub-folders of `root`, sorted; empty for an unlabelled (flat) folder. */
export function listClassFolders(root: string, exclude: readonly string[] = []): string[] {
  return topLevel(newWalk(root), exclude).classDirs.map((d) => d.text);
}

function listSources(
  root: string,
  exclude: readonly string[],
  fixedClasses: readonly string[] | undefined,
  warn: (msg: string) => void,
): { classNames: string[] | null; sources: Source[]; walkSkipped: SkippedImage[] } {
  const state = newWalk(root);
  const top = topLevel(state, exclude);
  const source = (e: Entry, label: number): Source => [relPath(e.rel), e.st.size, e.st.mtimeMs, label];
  if (top.classDirs.length === 0) {
    const images = dedupeFiles(
      state,
      top.images.map((entry) => ({ entry, label: -1 })),
    );
    return { classNames: null, sources: images.map(({ entry }) => source(entry, -1)), walkSkipped: state.skipped };
  }
  if (top.images.length > 0) {
    warn(
      `ignored ${top.images.length} image${top.images.length === 1 ? '' : 's'} directly in ${root}: it has class ` +
        `sub-folders, so only images inside them are used`,
    );
  }
  const classNames = fixedClasses ? [...fixedClasses] : top.classDirs.map((d) => d.text);
  const found: { entry: Entry; label: number }[] = [];
  for (const d of top.classDirs) {
    const label = classNames.indexOf(d.text);
    if (label < 0)
      throw new DataError(
        `class folder ${join(root, d.text)} is not one of the training classes (${classNames.join(', ')})`,
      );
    const images: Entry[] = [];
    walk(state, d, images);
    for (const entry of images) found.push({ entry, label });
  }
  const images = dedupeFiles(state, found);
  return { classNames, sources: images.map(({ entry, label }) => source(entry, label)), walkSkipped: state.skipped };
}

/** Why an image was not decoded, with the kind the summary counts. */
class DecodeFailure extends Error {
  constructor(
    readonly kind: SkipKind,
    reason: string,
  ) {
    super(reason);
  }
}

/** The file's bytes, read from a descriptor opened without blocking (a FIFO cannot hang the read) and checked regular.
 */
async function readImageBytes(path: Buffer): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const { kind, reason } = errorKind(e, false);
    throw new DecodeFailure(kind, reason);
  }
  try {
    if (!(await fh.stat()).isFile()) throw new DecodeFailure('not a regular file', 'not a regular file');
    return await fh.readFile();
  } catch (e) {
    if (e instanceof DecodeFailure) throw e;
    const { kind, reason } = errorKind(e, false);
    throw new DecodeFailure(kind, reason);
  } finally {
    await fh.close();
  }
}

async function decodeImage(path: Buffer, size: number, channels: number): Promise<Uint8Array> {
  const bytes = await readImageBytes(path);
  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    // rotate() with no angle applies EXIF orientation; 'cover' is shorter-side resize + centre crop. Always sRGB:
    // one channel is made from it below with the one luma formula, not with libvips' own grey conversion.
    ({ data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new DecodeFailure('not an image', ((e as Error).message ?? String(e)).split('\n')[0]!);
  }
  // The byte count also rules out 16-bit output.
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new DecodeFailure(
      'not an image',
      `decoded to ${info.width}x${info.height}x${info.channels} in ${data.length} bytes, expected ${size}x${size}x3 ` +
        `uint8`,
    );
  }
  const plane = size * size;
  if (channels === 1) return rgbToGray(data, plane);
  // sharp yields interleaved HWC; samples are CHW.
  const chw = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) chw[c * plane + p] = data[p * 3 + c]!;
  }
  return chw;
}

type Decoded = { ok: true; pixels: Uint8Array } | { ok: false; kind: SkipKind; reason: string };

async function tryDecode(path: Buffer, size: number, channels: number): Promise<Decoded> {
  try {
    return { ok: true, pixels: await decodeImage(path, size, channels) };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, kind: e.kind, reason: e.message };
    return { ok: false, kind: 'read error', reason: (e as Error).message?.split('\n')[0] ?? String(e) };
  }
}

/** Decodes every source in order into `dataPath`; returns which sources were kept and which skipped. */
async function buildCache(
  root: string,
  sources: readonly Source[],
  size: number,
  channels: number,
  strict: boolean,
  dataPath: string,
): Promise<{ kept: number[]; skipped: SkippedImage[] }> {
  const { path: tmp, fh } = await createTemp(dataPath);
  const kept: number[] = [];
  const skipped: SkippedImage[] = [];
  const rootBytes = Buffer.from(root);
  try {
    const inflight: Promise<Decoded>[] = [];
    let next = 0;
    const refill = (): void => {
      while (inflight.length < DECODE_WINDOW && next < sources.length) {
        inflight.push(tryDecode(joinBytes(rootBytes, relBytes(sources[next++]![0])), size, channels));
      }
    };
    refill();
    let position = 0;
    // Results are consumed in listing order so the cache order is deterministic.
    for (let i = 0; i < sources.length; i++) {
      const r = await inflight.shift()!;
      refill();
      const path = join(root, relBytes(sources[i]![0]).toString('utf8'));
      if (!r.ok) {
        if (strict) throw new DataError(`unreadable image ${path}: ${r.reason}`);
        skipped.push({ path, kind: r.kind, reason: r.reason });
        continue;
      }
      await fh.write(r.pixels, 0, r.pixels.length, position);
      position += r.pixels.length;
      kept.push(i);
    }
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, dataPath);
  return { kept, skipped };
}

/** The sidecar at `path` when it is present, trusted and of this format; null otherwise (a refusal is noted). */
function readSidecar(path: string, note: (msg: string) => void): Sidecar | null {
  const opened = openCacheFile(path);
  if ('absent' in opened) return null;
  if ('refused' in opened) {
    note(`not using the cache file ${path}: ${opened.refused}; rebuilding the cache`);
    return null;
  }
  try {
    const s = JSON.parse(readFileSync(opened.fd, 'utf8')) as Sidecar;
    return s.format === CACHE_FORMAT ? s : null;
  } catch {
    return null; // unreadable: rebuild
  } finally {
    closeSync(opened.fd);
  }
}

/** One line for everything skipped: a count per kind, each with its first entry and reason. */
function skipSummary(skipped: readonly SkippedImage[]): string {
  const byKind = new Map<SkipKind, SkippedImage[]>();
  for (const s of skipped) {
    const list = byKind.get(s.kind);
    if (list) list.push(s);
    else byKind.set(s.kind, [s]);
  }
  const parts = [...byKind].map(([kind, list]) => {
    const first = list[0]!;
    return `${list.length} ${kind} (first: ${first.path}${first.reason === kind ? '' : `: ${first.reason}`})`;
  });
  return `skipped ${skipped.length} entr${skipped.length === 1 ? 'y' : 'ies'}: ${parts.join(', ')}`;
}

/**
 * Opens (building or reusing its cache) the image folder `root`. The cache is
 * reused only if it is this user's own (see the file comment) and the listed
 * files, their sizes and mtimes, the image size and the channel count all
 * match what it was built from.
 *
 * Throws DataError when `root` is not a directory, holds no usable image, the
 * cache folder cannot be created or is not the user's, or (strict) on the first
 * entry that cannot be used.
 */
export async function openImageFolder(rootDir: string, opts: FolderOptions): Promise<FolderDataset> {
  const root = resolve(rootDir);
  requireDirectory(root);
  const size = opts.imageSize;
  if (!Number.isInteger(size) || size < 1) throw new DataError(`image size must be a positive integer, got ${size}`);
  const channels = opts.grayscale ? 1 : 3;
  const warn = opts.onWarning ?? ((msg: string) => process.stderr.write(`warning: ${msg}\n`));
  const exclude = opts.exclude ?? [];
  const name = opts.name ?? `folder:${root}`;
  const strict = opts.strict ?? false;

  const { classNames, sources, walkSkipped } = listSources(root, exclude, opts.classNames, warn);
  const unusable = walkSkipped.find((s) => s.kind !== 'duplicate');
  if (strict && unusable) throw new DataError(`unreadable image ${unusable.path}: ${unusable.reason}`);
  if (sources.length === 0) {
    throw new DataError(
      `no images (${[...IMAGE_EXTENSIONS].join(' ')}) found in ` +
        `${root}${walkSkipped.length > 0 ? `; ${skipSummary(walkSkipped)}` : ''}`,
    );
  }

  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir(root));
  prepareCacheDir(cacheDir);
  const key = createHash('sha256')
    .update(JSON.stringify([root, exclude]))
    .digest('hex')
    .slice(0, 12);
  const stem = join(cacheDir, `${basename(root) || 'root'}-${size}px-${channels}ch-${key}`);
  const dataPath = `${stem}.u8`;
  const sidecarPath = `${stem}.json`;
  const bytesPerSample = channels * size * size;

  const old = readSidecar(sidecarPath, warn);
  let data: Opened = { absent: true };
  const matches =
    old !== null &&
    old.root === root &&
    old.imageSize === size &&
    old.channels === channels &&
    JSON.stringify(old.classNames) === JSON.stringify(classNames) &&
    JSON.stringify(old.sources) === JSON.stringify(sources);
  if (matches) {
    data = openCacheFile(dataPath);
    if ('refused' in data) warn(`not using the cache file ${dataPath}: ${data.refused}; rebuilding the cache`);
  }
  const reusable = matches && 'fd' in data && data.size === old.kept.length * bytesPerSample;
  if (!reusable && 'fd' in data) closeSync(data.fd);

  let kept: number[];
  let decodeSkipped: SkippedImage[];
  let fd: number;
  if (reusable) {
    ({ kept, skipped: decodeSkipped } = old);
    if (strict && decodeSkipped.length > 0) {
      closeSync((data as { fd: number }).fd);
      throw new DataError(`unreadable image ${decodeSkipped[0]!.path}: ${decodeSkipped[0]!.reason}`);
    }
    fd = (data as { fd: number }).fd;
  } else {
    // Remove the old sidecar first: it must never describe a data file it was not written for.
    await rm(sidecarPath, { force: true });
    ({ kept, skipped: decodeSkipped } = await buildCache(root, sources, size, channels, strict, dataPath));
    const sidecar: Sidecar = {
      format: CACHE_FORMAT,
      root,
      imageSize: size,
      channels,
      classNames,
      sources,
      kept,
      skipped: decodeSkipped,
    };
    const tmp = await createTemp(sidecarPath);
    try {
      await tmp.fh.writeFile(JSON.stringify(sidecar));
    } finally {
      await tmp.fh.close();
    }
    await rename(tmp.path, sidecarPath);
    const written = openCacheFile(dataPath);
    if (!('fd' in written))
      throw new DataError(
        `cache file ${dataPath} changed under this process: ${'refused' in written ? written.refused : 'gone'}`,
      );
    fd = written.fd;
  }
  const skipped = [...walkSkipped, ...decodeSkipped];
  if (skipped.length > 0) warn(skipSummary(skipped));
  if (kept.length === 0) {
    closeSync(fd);
    throw new DataError(`none of the ${sources.length} images in ${root} could be decoded`);
  }

  const labels = classNames ? Int32Array.from(kept, (i) => sources[i]![3]) : null;
  return new FolderDataset(
    {
      name,
      channels,
      height: size,
      width: size,
      numClasses: classNames ? classNames.length : 0,
      ...(classNames ? { classNames } : {}),
      labels,
      paths: kept.map((i) => join(root, relBytes(sources[i]![0]).toString('utf8'))),
    },
    { fd, path: dataPath, offset: 0, length: kept.length },
    dataPath,
    reusable,
    skipped,
  );
}
