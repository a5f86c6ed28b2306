// The dataset contract shared by every reader, plus the building blocks they
// have in common: in-memory storage, positional reads from a file, and
// concatenation of splits. Pure TypeScript; no tensor types on purpose, so the
// training code decides how uint8 pixels become tensors.

import { closeSync, readSync } from 'node:fs';
import { DataError } from '../errors.js';

export interface ImageDataset {
  /** e.g. 'fashion-mnist/train'. */
  readonly name: string;
  readonly length: number;
  /** 1 or 3. */
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** 0 when unlabelled. */
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /** Per sample; -1 for unlabelled samples inside a labelled set (STL-10 train+unlabeled). */
  readonly labels: Int32Array | null;
  /** Image folders: the source file of each sample. */
  readonly paths?: readonly string[];
  /** Copies uint8 pixels of the given samples into `out`, NCHW order; out.length == indices.length*C*H*W. */
  readBatch(indices: ArrayLike<number>, out: Uint8Array): void;
  close(): void;
}

// Bad spec, missing files or corrupt data (exit code 2); defined with the other typed errors in src/errors.ts.
export { DataError };

/** Image geometry plus labelling, the part of a dataset that is plain data. */
export interface DatasetInfo {
  readonly name: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labels: Int32Array | null;
  readonly paths?: readonly string[];
}

export function sampleSize(ds: { channels: number; height: number; width: number }): number {
  return ds.channels * ds.height * ds.width;
}

/**
 * Validates a readBatch call. Bad indices or a wrongly sized buffer are caller
 * bugs, not data problems, hence RangeError rather than DataError.
 */
export function checkBatchArgs(
  name: string,
  length: number,
  bytesPerSample: number,
  indices: ArrayLike<number>,
  out: Uint8Array,
): void {
  if (out.length !== indices.length * bytesPerSample) {
    throw new RangeError(
      `${name}: readBatch output has ${out.length} bytes, expected ${indices.length} x ${bytesPerSample} = ` +
        `${indices.length * bytesPerSample}`,
    );
  }
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= length) {
      throw new RangeError(`${name}: sample index ${idx} out of range [0, ${length})`);
    }
  }
}

/** A dataset whose pixels (NCHW, uint8) are held in one buffer. */
export class MemoryDataset implements ImageDataset {
  readonly name: string;
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labels: Int32Array | null;
  readonly paths?: readonly string[];
  private pixels: Uint8Array | null;
  private readonly bytesPerSample: number;

  constructor(info: DatasetInfo, pixels: Uint8Array) {
    this.name = info.name;
    this.channels = info.channels;
    this.height = info.height;
    this.width = info.width;
    this.numClasses = info.numClasses;
    if (info.classNames) this.classNames = info.classNames;
    this.labels = info.labels;
    if (info.paths) this.paths = info.paths;
    this.bytesPerSample = sampleSize(info);
    if (pixels.length % this.bytesPerSample !== 0) {
      throw new DataError(
        `${info.name}: ${pixels.length} pixel bytes is not a whole number of ${this.bytesPerSample}-byte images`,
      );
    }
    this.length = pixels.length / this.bytesPerSample;
    if (this.labels && this.labels.length !== this.length) {
      throw new DataError(`${info.name}: ${this.labels.length} labels for ${this.length} images`);
    }
    this.pixels = pixels;
  }

  readBatch(indices: ArrayLike<number>, out: Uint8Array): void {
    const pixels = this.pixels;
    if (!pixels) throw new Error(`${this.name}: dataset is closed`);
    const s = this.bytesPerSample;
    checkBatchArgs(this.name, this.length, s, indices, out);
    for (let i = 0; i < indices.length; i++) {
      const src = indices[i]! * s;
      out.set(pixels.subarray(src, src + s), i * s);
    }
  }

  close(): void {
    // Drop the reference so a long-lived handle does not pin the pixels.
    this.pixels = null;
  }
}

/**
 * A dataset whose samples are fixed-size records in a file, read on demand
 * with positional reads so files larger than RAM (or than a Buffer) work.
 * `decode`, when given, turns one stored record into the NCHW sample; without
 * it the record already is the sample.
 */
export class FileDataset implements ImageDataset {
  readonly name: string;
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labels: Int32Array | null;
  readonly paths?: readonly string[];
  private fd: number | null;
  private readonly bytesPerSample: number;
  private readonly scratch: Uint8Array | null;

  constructor(
    info: DatasetInfo,
    private readonly file: { fd: number; path: string; offset: number; length: number },
    private readonly decode?: (record: Uint8Array, out: Uint8Array) => void,
  ) {
    this.name = info.name;
    this.channels = info.channels;
    this.height = info.height;
    this.width = info.width;
    this.numClasses = info.numClasses;
    if (info.classNames) this.classNames = info.classNames;
    this.labels = info.labels;
    if (info.paths) this.paths = info.paths;
    this.length = file.length;
    this.bytesPerSample = sampleSize(info);
    if (this.labels && this.labels.length !== this.length) {
      throw new DataError(`${info.name}: ${this.labels.length} labels for ${this.length} images`);
    }
    this.fd = file.fd;
    this.scratch = decode ? new Uint8Array(this.bytesPerSample) : null;
  }

  readBatch(indices: ArrayLike<number>, out: Uint8Array): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`${this.name}: dataset is closed`);
    const s = this.bytesPerSample;
    checkBatchArgs(this.name, this.length, s, indices, out);
    if (this.scratch) {
      for (let i = 0; i < indices.length; i++) {
        this.readExactly(fd, this.scratch, indices[i]!, 1);
        this.decode!(this.scratch, out.subarray(i * s, (i + 1) * s));
      }
      return;
    }
    // Runs of consecutive indices (sequential evaluation) become one read each.
    let i = 0;
    while (i < indices.length) {
      const first = indices[i]!;
      let run = 1;
      while (i + run < indices.length && indices[i + run] === first + run) run++;
      this.readExactly(fd, out.subarray(i * s, (i + run) * s), first, run);
      i += run;
    }
  }

  private readExactly(fd: number, dst: Uint8Array, first: number, count: number): void {
    const want = count * this.bytesPerSample;
    let done = 0;
    while (done < want) {
      const n = readSync(fd, dst, done, want - done, this.file.offset + first * this.bytesPerSample + done);
      if (n === 0)
        throw new DataError(
          `${this.file.path}: file ended early while reading sample ${first + Math.floor(done / this.bytesPerSample)}`,
        );
      done += n;
    }
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/**
 * Concatenation of datasets with equal geometry (STL-10 train+unlabeled).
 * Parts without labels contribute -1 labels when any part is labelled.
 */
export class ConcatDataset implements ImageDataset {
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labels: Int32Array | null;
  private readonly starts: number[];
  private readonly bytesPerSample: number;

  constructor(
    readonly name: string,
    private readonly parts: readonly ImageDataset[],
  ) {
    if (parts.length === 0) throw new Error(`${name}: nothing to concatenate`);
    const first = parts[0]!;
    for (const p of parts) {
      if (p.channels !== first.channels || p.height !== first.height || p.width !== first.width) {
        throw new DataError(
          `${name}: cannot concatenate ${p.name} (${p.channels}x${p.height}x${p.width}) with ${first.name} ` +
            `(${first.channels}x${first.height}x${first.width})`,
        );
      }
    }
    this.channels = first.channels;
    this.height = first.height;
    this.width = first.width;
    this.bytesPerSample = sampleSize(first);
    this.starts = [];
    let total = 0;
    for (const p of parts) {
      this.starts.push(total);
      total += p.length;
    }
    this.length = total;
    const labelled = parts.find((p) => p.labels !== null);
    this.numClasses = labelled ? labelled.numClasses : 0;
    if (labelled?.classNames) this.classNames = labelled.classNames;
    if (labelled) {
      const labels = new Int32Array(total).fill(-1);
      parts.forEach((p, k) => {
        if (p.labels) labels.set(p.labels, this.starts[k]!);
      });
      this.labels = labels;
    } else {
      this.labels = null;
    }
  }

  readBatch(indices: ArrayLike<number>, out: Uint8Array): void {
    const s = this.bytesPerSample;
    checkBatchArgs(this.name, this.length, s, indices, out);
    // Group by part so each part gets a single readBatch call, then scatter.
    const local: number[][] = this.parts.map(() => []);
    const slot: number[][] = this.parts.map(() => []);
    for (let i = 0; i < indices.length; i++) {
      const idx = indices[i]!;
      let k = this.starts.length - 1;
      while (this.starts[k]! > idx) k--;
      local[k]!.push(idx - this.starts[k]!);
      slot[k]!.push(i);
    }
    this.parts.forEach((p, k) => {
      const idx = local[k]!;
      if (idx.length === 0) return;
      const buf = new Uint8Array(idx.length * s);
      p.readBatch(idx, buf);
      slot[k]!.forEach((i, j) => {
        out.set(buf.subarray(j * s, (j + 1) * s), i * s);
      });
    });
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}
