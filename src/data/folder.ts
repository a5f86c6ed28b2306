// Image folders. Each image is decoded once with sharp, resized (shorter side
// to `imageSize`, then centre crop) and written as CHW uint8 into a cache
// file; training then reads samples from that file with positional reads, so
// folders larger than RAM stream and later runs skip decoding entirely.
//
// Layout: sub-folders of the root are classes (labelled set, class index =
// position in the sorted folder names); a root with no sub-folders is an
// unlabelled set. Hidden entries (like the .simclr-cache folder) are ignored.

import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { DataError, FileDataset } from './dataset.js';
import { requireDirectory } from './files.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);
const CACHE_FORMAT = 'simclr-folder-cache/1';
/** Decodes in flight at once; sharp runs them on the libuv pool, this only bounds memory. */
const DECODE_WINDOW = 16;

export interface FolderOptions {
  /** Side of the square samples. */
  imageSize: number;
  /** One channel instead of three. */
  grayscale?: boolean;
  /** Throw on the first unreadable image instead of skipping it. */
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

export interface SkippedImage {
  readonly path: string;
  readonly reason: string;
}

/** One listed image: path relative to the root, stat fingerprint, class index (-1 when unlabelled). */
type Source = [rel: string, size: number, mtimeMs: number, label: number];

interface Sidecar {
  format: string;
  root: string;
  imageSize: number;
  channels: number;
  classNames: string[] | null;
  sources: Source[];
  /** Indices into `sources` of the samples in the cache file, in file order. */
  kept: number[];
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

/** `<dir>/.simclr-cache` when it can be created and written, else a folder under the OS temp dir. */
export function defaultCacheDir(dir: string): string {
  const local = join(dir, '.simclr-cache');
  try {
    mkdirSync(local, { recursive: true });
    accessSync(local, constants.W_OK);
    return local;
  } catch {
    return join(tmpdir(), 'simclr-cache');
  }
}

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

/** Directory entries split into visible sub-folders and image files, symlinks resolved, sorted by code unit. */
function scan(dir: string): { dirs: string[]; images: string[] } {
  const dirs: string[] = [];
  const images: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = statSync(join(dir, e.name));
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue; // dangling link
      }
    }
    if (isDir) dirs.push(e.name);
    else if (isFile && isImageFile(e.name)) images.push(e.name);
  }
  const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return { dirs: dirs.sort(byCodeUnit), images: images.sort(byCodeUnit) };
}

/** All images below `dir`, depth first, as paths relative to `root`. */
function walk(root: string, dir: string, out: string[]): void {
  const { dirs, images } = scan(dir);
  for (const f of images) out.push(relative(root, join(dir, f)));
  for (const d of dirs) walk(root, join(dir, d), out);
}

/** The class sub-folders of `root`, sorted; empty for an unlabelled (flat) folder. */
export function listClassFolders(root: string, exclude: readonly string[] = []): string[] {
  return scan(root).dirs.filter((d) => !exclude.includes(d));
}

function listSources(
  root: string,
  exclude: readonly string[],
  fixedClasses: readonly string[] | undefined,
  warn: (msg: string) => void,
): { classNames: string[] | null; sources: Source[] } {
  const top = scan(root);
  const classDirs = top.dirs.filter((d) => !exclude.includes(d));
  const fingerprint = (rel: string, label: number): Source => {
    const st = statSync(join(root, rel));
    return [rel, st.size, st.mtimeMs, label];
  };
  if (classDirs.length === 0) {
    return { classNames: null, sources: top.images.map((f) => fingerprint(f, -1)) };
  }
  if (top.images.length > 0) {
    warn(`ignored ${top.images.length} image${top.images.length === 1 ? '' : 's'} directly in ${root}: it has class sub-folders, so only images inside them are used`);
  }
  const classNames = fixedClasses ? [...fixedClasses] : classDirs;
  const sources: Source[] = [];
  for (const d of classDirs) {
    const label = classNames.indexOf(d);
    if (label < 0) throw new DataError(`class folder ${join(root, d)} is not one of the training classes (${classNames.join(', ')})`);
    const rels: string[] = [];
    walk(root, join(root, d), rels);
    for (const rel of rels) sources.push(fingerprint(rel, label));
  }
  return { classNames, sources };
}

async function decodeImage(path: string, size: number, channels: number): Promise<Uint8Array> {
  // rotate() with no angle applies EXIF orientation; 'cover' is shorter-side resize + centre crop.
  let img = sharp(path, { failOn: 'error' })
    .rotate()
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha();
  img = channels === 1 ? img.greyscale() : img.toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  // The byte count also rules out 16-bit output.
  if (info.width !== size || info.height !== size || info.channels !== channels || data.length !== size * size * channels) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels} in ${data.length} bytes, expected ${size}x${size}x${channels} uint8`);
  }
  // sharp yields interleaved HWC; samples are CHW.
  const plane = size * size;
  const chw = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) chw[c * plane + p] = data[p * channels + c]!;
  }
  return chw;
}

type Decoded = { ok: true; pixels: Uint8Array } | { ok: false; reason: string };

async function tryDecode(path: string, size: number, channels: number): Promise<Decoded> {
  try {
    return { ok: true, pixels: await decodeImage(path, size, channels) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message.split('\n')[0] ?? String(e) };
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
  // Write beside the target and rename, so an interrupted build never looks complete.
  const tmp = `${dataPath}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  const kept: number[] = [];
  const skipped: SkippedImage[] = [];
  try {
    const inflight: Promise<Decoded>[] = [];
    let next = 0;
    const refill = (): void => {
      while (inflight.length < DECODE_WINDOW && next < sources.length) {
        inflight.push(tryDecode(join(root, sources[next++]![0]), size, channels));
      }
    };
    refill();
    let position = 0;
    // Results are consumed in listing order so the cache order is deterministic.
    for (let i = 0; i < sources.length; i++) {
      const r = await inflight.shift()!;
      refill();
      const path = join(root, sources[i]![0]);
      if (!r.ok) {
        if (strict) throw new DataError(`unreadable image ${path}: ${r.reason}`);
        skipped.push({ path, reason: r.reason });
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

function readSidecar(path: string): Sidecar | null {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as Sidecar;
    return s.format === CACHE_FORMAT ? s : null;
  } catch {
    return null; // absent or unreadable: rebuild
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/**
 * Opens (building or reusing its cache) the image folder `root`. The cache is
 * reused only if the listed files, their sizes and mtimes, the image size and
 * the channel count all match what it was built from.
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

  const { classNames, sources } = listSources(root, exclude, opts.classNames, warn);
  if (sources.length === 0) throw new DataError(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) found in ${root}`);

  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir(root));
  try {
    mkdirSync(cacheDir, { recursive: true });
  } catch (e) {
    throw new DataError(`cannot create cache directory ${cacheDir}: ${(e as Error).message}`);
  }
  const key = createHash('sha256').update(JSON.stringify([root, exclude])).digest('hex').slice(0, 12);
  const stem = join(cacheDir, `${basename(root) || 'root'}-${size}px-${channels}ch-${key}`);
  const dataPath = `${stem}.u8`;
  const sidecarPath = `${stem}.json`;
  const bytesPerSample = channels * size * size;

  const old = readSidecar(sidecarPath);
  const reusable =
    old !== null &&
    old.root === root &&
    old.imageSize === size &&
    old.channels === channels &&
    JSON.stringify(old.classNames) === JSON.stringify(classNames) &&
    JSON.stringify(old.sources) === JSON.stringify(sources) &&
    fileSize(dataPath) === old.kept.length * bytesPerSample;

  let kept: number[];
  let skipped: SkippedImage[];
  if (reusable) {
    ({ kept, skipped } = old);
    if (opts.strict && skipped.length > 0) throw new DataError(`unreadable image ${skipped[0]!.path}: ${skipped[0]!.reason}`);
  } else {
    // Remove the old sidecar first: it must never describe a data file it was not written for.
    await rm(sidecarPath, { force: true });
    ({ kept, skipped } = await buildCache(root, sources, size, channels, opts.strict ?? false, dataPath));
    const sidecar: Sidecar = { format: CACHE_FORMAT, root, imageSize: size, channels, classNames, sources, kept, skipped };
    const tmp = `${sidecarPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, sidecarPath);
  }
  if (skipped.length > 0) {
    warn(`skipped ${skipped.length} unreadable image${skipped.length === 1 ? '' : 's'} (first: ${skipped[0]!.path}: ${skipped[0]!.reason})`);
  }
  if (kept.length === 0) throw new DataError(`none of the ${sources.length} images in ${root} could be decoded`);

  const labels = classNames ? Int32Array.from(kept, (i) => sources[i]![3]) : null;
  const fd = openSync(dataPath, 'r');
  return new FolderDataset(
    {
      name,
      channels,
      height: size,
      width: size,
      numClasses: classNames ? classNames.length : 0,
      ...(classNames ? { classNames } : {}),
      labels,
      paths: kept.map((i) => join(root, sources[i]![0])),
    },
    { fd, path: dataPath, offset: 0, length: kept.length },
    dataPath,
    reusable,
    skipped,
  );
}
