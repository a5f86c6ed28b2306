// Nearest neighbours by cosine similarity over a set of embeddings: exact search through libtorch (a matrix-vector
// product and top-k, the reference) or an HNSW graph (hnswlib-node, approximate), chosen by size from the
// measurement in the README (Explore). Also the k-nearest-neighbour graph of the whole set, which the duplicate,
// outlier, label-agreement and UMAP computations share.
import { renameSync, rmSync } from 'node:fs';
import hnswlib from 'hnswlib-node';
import { tempPathFor } from '../io/files.js';
import { EXPLORE_HNSW_FROM as HNSW_FROM } from '../run/options/explore.js';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export type IndexKind = 'exact' | 'hnsw';

export interface Neighbour {
  index: number;
  /** Cosine similarity in [-1, 1]. */
  similarity: number;
}

/** HNSW settings: hnswlib's defaults (M 16, efConstruction 200) and a search beam (ef) of 64 or k, if more. */
const HNSW_M = 16;
const HNSW_EF_CONSTRUCTION = 200;
const HNSW_EF = 64;
const HNSW_SEED = 100;

export interface NeighbourIndex {
  readonly kind: IndexKind;
  readonly count: number;
  readonly dim: number;
  /** Milliseconds it took to build. */
  readonly buildMs: number;
  /**
   * The k samples most similar to `query` (float32 [dim], any norm but 0), most similar first; `exclude` (a sample
   * index) is left out of the answer. Fewer than k when the set is smaller.
   */
  search(query: Float32Array, k: number, exclude?: number): Neighbour[];
  dispose(): void;
}

/** Rows scaled to unit L2 norm (float32 [N, D] on the CPU); a zero row stays zero. */
export function normalizeRows(features: Tensor): Tensor {
  return torch.noGrad(() => torch.nn.functional.normalize(features.float(), { dim: 1 }));
}

/** Most similar first; equal similarities by index, so answers do not depend on the order a search found them. */
function byRank(a: Neighbour, b: Neighbour): number {
  return b.similarity - a.similarity || a.index - b.index;
}

/** The first k of candidates after leaving out `exclude`, ranked; similarities clamped to [-1, 1] (rounding). */
function finish(candidates: Neighbour[], k: number, exclude: number | undefined): Neighbour[] {
  return candidates
    .filter((n) => n.index !== exclude)
    .map((n) => ({ index: n.index, similarity: Math.min(1, Math.max(-1, n.similarity)) }))
    .sort(byRank)
    .slice(0, k);
}

/** Exact cosine search: one matrix-vector product against the unit-norm rows and a top-k, in libtorch. */
export class ExactIndex implements NeighbourIndex {
  readonly kind = 'exact' as const;
  readonly count: number;
  readonly dim: number;
  readonly buildMs: number;
  private readonly unit: Tensor;

  /** `unit`: float32 [N, D] rows of unit norm (normalizeRows); the index keeps its own reference. */
  constructor(unit: Tensor) {
    const t0 = performance.now();
    this.unit = torch.raw.alias(unit);
    [this.count, this.dim] = unit.shape as [number, number];
    this.buildMs = performance.now() - t0;
  }

  search(query: Float32Array, k: number, exclude?: number): Neighbour[] {
    const want = Math.min(this.count, k + (exclude === undefined ? 0 : 1));
    if (want <= 0) return [];
    return torch.noGrad(() =>
      torch.scope(() => {
        const q = torch.nn.functional.normalize(torch.tensor(query), { dim: 0 });
        const [values, indices] = this.unit.mv(q).topk(want);
        const sims = values.toArray() as Float32Array;
        const idx = indices.toArray() as BigInt64Array;
        return finish(
          Array.from(sims, (s, i) => ({ index: Number(idx[i]), similarity: s })),
          k,
          exclude,
        );
      }),
    );
  }

  dispose(): void {
    this.unit.dispose();
  }
}

/** Approximate cosine search through an HNSW graph (hnswlib-node): built from the rows, or read from a file. */
export class HnswIndex implements NeighbourIndex {
  readonly kind = 'hnsw' as const;

  private constructor(
    private readonly index: hnswlib.HierarchicalNSW,
    readonly count: number,
    readonly dim: number,
    readonly buildMs: number,
  ) {}

  /** Builds the graph from float32 [N, D] rows (normalised by hnswlib's cosine space), one row at a time. */
  static build(features: Tensor, onProgress?: (done: number, total: number) => void): HnswIndex {
    const t0 = performance.now();
    const [count, dim] = features.shape as [number, number];
    const rows = features.contiguous().toArray() as Float32Array;
    const index = new hnswlib.HierarchicalNSW('cosine', dim);
    index.initIndex(count, HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_SEED);
    const step = Math.max(1, Math.floor(count / 100));
    for (let i = 0; i < count; i++) {
      index.addPoint(Array.from(rows.subarray(i * dim, (i + 1) * dim)), i);
      if (onProgress && ((i + 1) % step === 0 || i + 1 === count)) onProgress(i + 1, count);
    }
    index.setEf(HNSW_EF);
    return new HnswIndex(index, count, dim, performance.now() - t0);
  }

  /**
   * An index save() wrote; null when the file does not hold one of `count` points of `dim` (hnswlib's own checks,
   * then the counts).
   */
  static load(path: string, count: number, dim: number): HnswIndex | null {
    const t0 = performance.now();
    const index = new hnswlib.HierarchicalNSW('cosine', dim);
    try {
      index.readIndexSync(path);
    } catch {
      return null;
    }
    if (index.getCurrentCount() !== count || index.getNumDimensions() !== dim) return null;
    index.setEf(HNSW_EF);
    return new HnswIndex(index, count, dim, performance.now() - t0);
  }

  /** Writes the graph to `path` atomically (a temporary file beside it, then a rename). */
  save(path: string): void {
    const tmp = tempPathFor(path);
    try {
      this.index.writeIndexSync(tmp);
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  search(query: Float32Array, k: number, exclude?: number): Neighbour[] {
    const want = Math.min(this.count, k + (exclude === undefined ? 0 : 1));
    if (want <= 0) return [];
    this.index.setEf(Math.max(HNSW_EF, want));
    const r = this.index.searchKnn(Array.from(query), want);
    // hnswlib's cosine distance is 1 - cosine similarity.
    return finish(
      r.neighbors.map((index, i) => ({ index, similarity: 1 - r.distances[i]! })),
      k,
      exclude,
    );
  }

  dispose(): void {
    // hnswlib-node frees the graph with the object; nothing to release by hand.
  }
}

/** The index for `count` samples: exact below HNSW_FROM, HNSW from there, unless `kind` says which. */
export function chooseIndexKind(count: number, kind: IndexKind | 'auto' = 'auto'): IndexKind {
  if (kind !== 'auto') return kind;
  return count >= HNSW_FROM ? 'hnsw' : 'exact';
}

/**
 * The k nearest neighbours of every sample, itself left out: indices [N * k] (int32, row i at i * k) and their
 * cosine similarities, most similar first. Exact: the unit rows against all rows in chunks of about 16M
 * similarities (a matrix product and a top-k of k + 1 per chunk); with an HNSW index, one search per sample.
 * A sample with k or more exact copies may list copies instead of itself at k + 1, so the own index is dropped by
 * value, not by position.
 */
export interface KnnGraph {
  k: number;
  indices: Int32Array;
  similarities: Float32Array;
}

export function knnGraph(
  unit: Tensor,
  k: number,
  index?: NeighbourIndex,
  onProgress?: (done: number, total: number) => void,
): KnnGraph {
  const [n, d] = unit.shape as [number, number];
  const kk = Math.min(k, n - 1);
  if (kk < 1) throw new RangeError(`knnGraph: needs at least 2 samples, got ${n}`);
  const indices = new Int32Array(n * kk);
  const similarities = new Float32Array(n * kk);
  const put = (i: number, list: Neighbour[]): void => {
    list.forEach((nb, j) => {
      indices[i * kk + j] = nb.index;
      similarities[i * kk + j] = nb.similarity;
    });
  };
  if (index && index.kind === 'hnsw') {
    const rows = unit.contiguous().toArray() as Float32Array;
    const step = Math.max(1, Math.floor(n / 100));
    for (let i = 0; i < n; i++) {
      put(i, index.search(rows.subarray(i * d, (i + 1) * d), kk, i));
      if (onProgress && ((i + 1) % step === 0 || i + 1 === n)) onProgress(i + 1, n);
    }
    return { k: kk, indices, similarities };
  }
  const chunk = Math.max(1, Math.floor((1 << 24) / n));
  torch.noGrad(() => {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      torch.scope(() => {
        const [values, idx] = unit
          .narrow(0, start, rows)
          .mm(unit.t())
          .topk(kk + 1, 1);
        const sims = values.toArray() as Float32Array;
        const ids = idx.toArray() as BigInt64Array;
        for (let r = 0; r < rows; r++) {
          const i = start + r;
          const list: Neighbour[] = [];
          for (let j = 0; j <= kk; j++)
            list.push({ index: Number(ids[r * (kk + 1) + j]), similarity: sims[r * (kk + 1) + j]! });
          put(i, finish(list, kk, i));
        }
      });
      onProgress?.(Math.min(n, start + rows), n);
    }
  });
  return { k: kk, indices, similarities };
}
