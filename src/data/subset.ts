// A fixed sample of a dataset (pretraining's --subset, the studies' --subset): the first n indices of one shuffle
// that depends only on the dataset's length, so every seed, cell and run sees the same images.
import type { ImageDataset } from './dataset.js';
import { epochPermutation } from './loader.js';

/**
 * The shuffle's epoch word: training's data order for (seed, epoch) uses real epochs, which never reach it, so the
 * sample is unrelated to any run's data order.
 */
const SUBSET_EPOCH = 0xffffffff;

/**
 * n sample indices of a dataset of `length`, sorted ascending (reads stay sequential): the first n of the shuffle
 * epochPermutation(length, 0, SUBSET_EPOCH). A larger n keeps the smaller n's samples.
 * @throws RangeError for n that is not an integer in [1, length]
 */
export function subsetIndices(length: number, n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 1 || n > length)
    throw new RangeError(`subset size must be an integer in [1, ${length}], got ${n}`);
  return epochPermutation(length, 0, SUBSET_EPOCH).slice(0, n).sort();
}

/** The samples `indices` of `base`, renumbered 0..n-1; closing it closes `base`. */
export class SubsetDataset implements ImageDataset {
  readonly name: string;
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labels: Int32Array | null;
  readonly paths?: readonly string[];
  private readonly mapped: Uint32Array;

  constructor(
    private readonly base: ImageDataset,
    indices: Uint32Array,
  ) {
    for (const i of indices)
      if (i >= base.length) throw new RangeError(`${base.name}: subset index ${i} out of range [0, ${base.length})`);
    this.mapped = Uint32Array.from(indices);
    this.name = `${base.name} (subset of ${indices.length})`;
    this.length = indices.length;
    this.channels = base.channels;
    this.height = base.height;
    this.width = base.width;
    this.numClasses = base.numClasses;
    if (base.classNames) this.classNames = base.classNames;
    this.labels = base.labels === null ? null : Int32Array.from(this.mapped, (i) => base.labels![i]!);
    if (base.paths) this.paths = Array.from(this.mapped, (i) => base.paths![i]!);
  }

  readBatch(indices: ArrayLike<number>, out: Uint8Array): void {
    const inBase = new Uint32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.length)
        throw new RangeError(`${this.name}: sample index ${i} out of range [0, ${this.length})`);
      inBase[k] = this.mapped[i]!;
    }
    this.base.readBatch(inBase, out);
  }

  close(): void {
    this.base.close();
  }
}

/** `ds` itself when n is null, else its fixed sample of n (subsetIndices). @throws RangeError as subsetIndices */
export function withSubset(ds: ImageDataset, n: number | null): ImageDataset {
  return n === null ? ds : new SubsetDataset(ds, subsetIndices(ds.length, n));
}
