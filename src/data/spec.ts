// Dataset specs, the strings users pass on the command line:
//   fashion-mnist[:DIR]   mnist:DIR   cifar10:DIR   cifar100:DIR
//   stl10:DIR[:SPLIT]     folder:DIR
// A leading '~' in DIR means the home directory.

import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { openCifar10, openCifar100 } from './cifar.js';
import { DataError, type ImageDataset } from './dataset.js';
import { isDirectory, requireDirectory } from './files.js';
import { defaultCacheDir, listClassFolders, openImageFolder } from './folder.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES, openIdx } from './idx.js';
import { openStl10, STL10_SPLITS, type Stl10Split } from './stl10.js';

export type Split = Stl10Split;
export type DataKind = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'stl10' | 'folder';

export interface DataSpec {
  readonly kind: DataKind;
  readonly dir: string;
  /** Only from `stl10:DIR:SPLIT`; overrides the split asked for when opening. */
  readonly split?: Split;
}

export interface OpenOptions {
  split: Split;
  /** Folder datasets only: side of the square samples (default DEFAULT_FOLDER_IMAGE_SIZE); other datasets have fixed
   * sizes. */
  imageSize?: number;
  /** Folder datasets only: decode to one channel instead of three (the luma of data/colour.ts, as PIL's convert('L')).
   */
  grayscale?: boolean;
  /** Folder datasets only: fail on the first unreadable image instead of skipping it. */
  strict?: boolean;
  /**
   * Folder datasets only: where the decoded-sample cache lives (default DIR/.simclr-cache when this user owns it or
   * can create it, else the per-user $XDG_CACHE_HOME/simclr or ~/.cache/simclr; folder.ts defaultCacheDir).
   */
  cacheDir?: string;
  /** Receives warnings without a 'warning:' prefix; default prints 'warning: ...' to stderr. */
  onWarning?: (msg: string) => void;
}

/** Debian's dataset-fashion-mnist package installs the gzipped IDX files here. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const DEFAULT_FOLDER_IMAGE_SIZE = 64;

const KINDS: readonly DataKind[] = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'stl10', 'folder'];

function expandHome(dir: string): string {
  if (dir === '~') return homedir();
  if (dir.startsWith('~/')) return join(homedir(), dir.slice(2));
  return dir;
}

export function parseDataSpec(spec: string): DataSpec {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  let rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new DataError(`data spec '${spec}': unknown dataset kind '${kind}' (expected one of: ${KINDS.join(', ')})`);
  }
  let split: Split | undefined;
  if (kind === 'stl10') {
    // Only a recognised split name after the last colon is a split; anything else belongs to DIR.
    const last = rest.lastIndexOf(':');
    const tail = rest.slice(last + 1);
    if (last >= 0 && (STL10_SPLITS as readonly string[]).includes(tail)) {
      split = tail as Split;
      rest = rest.slice(0, last);
    }
  }
  if (rest === '') {
    if (kind !== 'fashion-mnist') throw new DataError(`data spec '${spec}': missing directory, expected ${kind}:DIR`);
    rest = DEFAULT_FASHION_MNIST_DIR;
  }
  return { kind: kind as DataKind, dir: expandHome(rest), ...(split ? { split } : {}) };
}

/** The side (px) of the images of each kind with a fixed size; folder data is decoded at --image-size. */
const FIXED_IMAGE_SIZE: Readonly<Record<Exclude<DataKind, 'folder'>, number>> = {
  'fashion-mnist': 28,
  mnist: 28,
  cifar10: 32,
  cifar100: 32,
  stl10: 96,
};

/**
 * The side (px) of the square images a spec gives, known without opening it: the dataset's own size, or for
 * `folder:` data `imageSize` (default DEFAULT_FOLDER_IMAGE_SIZE). Null for a spec parseDataSpec refuses.
 */
export function specImageSize(spec: string, imageSize: number | null = null): number | null {
  let kind: DataKind;
  try {
    kind = parseDataSpec(spec).kind;
  } catch {
    return null;
  }
  return kind === 'folder' ? (imageSize ?? DEFAULT_FOLDER_IMAGE_SIZE) : FIXED_IMAGE_SIZE[kind];
}

/**
 * The spec without a split, so the caller's split applies: 'stl10:DIR:train+unlabeled' gives 'stl10:DIR'. The kNN
 * monitor opens its train and test splits from it. Other specs come back as given.
 * @throws DataError for a spec parseDataSpec refuses.
 */
export function specWithoutSplit(spec: string): string {
  const s = parseDataSpec(spec);
  return s.split === undefined ? spec : spec.slice(0, spec.length - s.split.length - 1);
}

/** Only STL-10 has an unlabelled part; elsewhere 'train+unlabeled' is just the training set. */
function labelledSplit(kind: DataKind, split: Split): 'train' | 'test' {
  if (split === 'unlabeled') throw new DataError(`${kind} has no unlabeled split (only stl10 does); use train or test`);
  return split === 'train+unlabeled' ? 'train' : split;
}

/**
 * Folder splits: 'test' reads DIR/test, else DIR/val. 'train' (and
 * 'train+unlabeled') reads DIR/train when it exists, else DIR itself, leaving
 * out DIR/test or DIR/val so test images never count as a training class.
 * A labelled test split uses the training split's class list, so both agree
 * on label numbers even when the test split lacks a class.
 */
async function openFolderSplit(dir: string, split: 'train' | 'test', opts: OpenOptions): Promise<ImageDataset> {
  requireDirectory(dir);
  const testName = ['test', 'val'].find((d) => isDirectory(join(dir, d)));
  const trainRoot = isDirectory(join(dir, 'train')) ? join(dir, 'train') : dir;
  const trainExclude = trainRoot === dir && testName ? [testName] : [];
  let root = trainRoot;
  let exclude = trainExclude;
  let classNames: string[] | undefined;
  if (split === 'test') {
    if (!testName)
      throw new DataError(`no test split: neither ${join(dir, 'test')} nor ${join(dir, 'val')} is a directory`);
    root = join(dir, testName);
    exclude = [];
    const trainClasses = listClassFolders(trainRoot, trainExclude);
    if (trainClasses.length > 0) classNames = trainClasses;
  }
  return openImageFolder(root, {
    imageSize: opts.imageSize ?? DEFAULT_FOLDER_IMAGE_SIZE,
    grayscale: opts.grayscale ?? false,
    strict: opts.strict ?? false,
    cacheDir: opts.cacheDir ?? defaultCacheDir(dir),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    exclude,
    ...(classNames ? { classNames } : {}),
    name: `${basename(resolve(dir))}/${split}`,
  });
}

async function openParsed(s: DataSpec, opts: OpenOptions): Promise<ImageDataset> {
  const split = s.split ?? opts.split;
  switch (s.kind) {
    case 'fashion-mnist':
      return openIdx(s.dir, {
        family: 'fashion-mnist',
        split: labelledSplit(s.kind, split),
        classNames: FASHION_MNIST_CLASSES,
      });
    case 'mnist':
      return openIdx(s.dir, { family: 'mnist', split: labelledSplit(s.kind, split), classNames: MNIST_CLASSES });
    case 'cifar10':
      return openCifar10(s.dir, labelledSplit(s.kind, split));
    case 'cifar100':
      return openCifar100(s.dir, labelledSplit(s.kind, split));
    case 'stl10':
      return openStl10(s.dir, split);
    case 'folder':
      return openFolderSplit(s.dir, labelledSplit(s.kind, split), opts);
  }
}

/** Opens the dataset a spec names; every data problem becomes a one-line DataError that names the spec. */
export async function openDataset(spec: string, opts: OpenOptions): Promise<ImageDataset> {
  const parsed = parseDataSpec(spec);
  try {
    return await openParsed(parsed, opts);
  } catch (e) {
    if (e instanceof DataError) throw new DataError(`data spec '${spec}': ${e.message}`, { cause: e });
    throw e;
  }
}
