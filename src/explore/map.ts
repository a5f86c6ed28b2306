// The 2-D map of the embeddings: UMAP (umap-js, seeded) on the k-nearest-neighbour graph already computed for the
// server, or the first two principal components (libtorch) where UMAP would take too long.
import { UMAP } from 'umap-js';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { KnnGraph } from './search.js';
import { EXPLORE_UMAP_UP_TO as UMAP_UP_TO } from '../run/options/explore.js';

export type MapMethod = 'umap' | 'pca';

/** umap-js's default neighbourhood (15, the point itself included) and seed of the map. */
export const UMAP_NEIGHBOURS = 15;
/**
 * Optimisation epochs: umap-learn's choice for large sets at every size (umap-js takes 500 up to 10,000 points),
 * since the optimisation is nearly all of umap-js's time.
 */
export const UMAP_EPOCHS = 200;
export const MAP_SEED = 42;

export interface Map2d {
  method: MapMethod;
  /** Per sample, scaled into [0, 1] (mapScale). */
  x: Float32Array;
  y: Float32Array;
}

export function chooseMapMethod(count: number, method: MapMethod | 'auto' = 'auto'): MapMethod {
  if (method !== 'auto') return method;
  return count <= UMAP_UP_TO && count > UMAP_NEIGHBOURS ? 'umap' : 'pca';
}

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1) for umap-js (deterministic maps). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scales points into [0, 1] with one factor for both axes (the map keeps its shape) and centres them; a single
 * point, or all points equal, land at 0.5. Non-finite inputs are an error (RangeError).
 */
export function mapScale(x: ArrayLike<number>, y: ArrayLike<number>): { x: Float32Array; y: Float32Array } {
  const n = x.length;
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]!) || !Number.isFinite(y[i]!)) throw new RangeError(`map point ${i} is not finite`);
    x0 = Math.min(x0, x[i]!);
    x1 = Math.max(x1, x[i]!);
    y0 = Math.min(y0, y[i]!);
    y1 = Math.max(y1, y[i]!);
  }
  const range = Math.max(x1 - x0, y1 - y0);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const scaled = (v: ArrayLike<number>, c: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => (range > 0 ? Math.min(1, Math.max(0, (v[i]! - c) / range + 0.5)) : 0.5));
  return { x: scaled(x, cx), y: scaled(y, cy) };
}

/**
 * The first two principal components of the rows (float32 [N, D]): the eigenvectors of the covariance with the
 * two largest eigenvalues (float64, libtorch's linalg_eigh), each signed so its largest-magnitude loading is
 * positive (the same map every time), and the centred rows projected on them.
 */
export function pca2(rows: Tensor): { x: Float32Array; y: Float32Array } {
  const [n, d] = rows.shape as [number, number];
  if (n < 2 || d < 2) {
    const zero = new Float32Array(n);
    return { x: zero, y: zero.slice() };
  }
  return torch.noGrad(() =>
    torch.scope(() => {
      const x = rows.double();
      const centred = x.sub(x.mean(0, true));
      const cov = centred
        .t()
        .mm(centred)
        .div(n - 1);
      const [, vectors] = torch.raw.linalg_eigh(cov);
      // Eigenvalues come ascending: the last two columns, largest first.
      const top = vectors.narrow(1, d - 2, 2).flip([1]);
      const pick = top.abs().argmax(0, true);
      const signs = top.gather(0, pick).sign();
      const projected = centred.mm(top.mul(signs)).float().contiguous().toArray() as Float32Array;
      const px = new Float32Array(n);
      const py = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        px[i] = projected[2 * i]!;
        py[i] = projected[2 * i + 1]!;
      }
      return { x: px, y: py };
    }),
  );
}

/**
 * UMAP of the samples from their neighbour graph (cosine distance 1 - similarity; each point is its own nearest
 * neighbour at distance 0, as UMAP expects), UMAP_EPOCHS epochs, umap-js's defaults otherwise (min_dist 0.1,
 * spread 1, 5 negative samples), seeded: the same graph gives the same map.
 * @throws RangeError when the graph has fewer than UMAP_NEIGHBOURS - 1 neighbours per point or too few points
 */
export function umap2(graph: KnnGraph, seed = MAP_SEED, onEpoch?: (done: number, total: number) => void): Map2d {
  const n = graph.indices.length / graph.k;
  const m = UMAP_NEIGHBOURS - 1;
  if (graph.k < m || n <= UMAP_NEIGHBOURS)
    throw new RangeError(`UMAP needs more than ${UMAP_NEIGHBOURS} points and ${m} neighbours each`);
  const knnIndices: number[][] = [];
  const knnDistances: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ids = [i];
    const ds = [0];
    for (let t = 0; t < m; t++) {
      ids.push(graph.indices[i * graph.k + t]!);
      ds.push(Math.max(0, 1 - graph.similarities[i * graph.k + t]!));
    }
    knnIndices.push(ids);
    knnDistances.push(ds);
  }
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: UMAP_NEIGHBOURS,
    nEpochs: UMAP_EPOCHS,
    random: seededRandom(seed),
  });
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  // umap-js reads only the number of rows of X once the neighbours are given.
  const epochs = umap.initializeFit(Array.from({ length: n }, () => []));
  for (let e = 0; e < epochs; e++) {
    umap.step();
    onEpoch?.(e + 1, epochs);
  }
  const points = umap.getEmbedding();
  const { x, y } = mapScale(
    points.map((p) => p[0]!),
    points.map((p) => p[1]!),
  );
  return { method: 'umap', x, y };
}

/** The map by `method`: UMAP from the graph, or PCA of the unit rows; scaled into [0, 1]. */
export function computeMap(
  method: MapMethod,
  unit: Tensor,
  graph: KnnGraph,
  onProgress?: (done: number, total: number) => void,
): Map2d {
  if (method === 'umap') return umap2(graph, MAP_SEED, onProgress);
  const p = pca2(unit);
  return { method: 'pca', ...mapScale(p.x, p.y) };
}
