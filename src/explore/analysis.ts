// What `simclr explore` reads off the k-nearest-neighbour graph of the embeddings: near-duplicate pairs, outliers,
// and how well neighbourhoods (in embedding space and on the 2-D map) agree with the labels.
import type { KnnGraph } from './search.js';

/** Neighbours whose mean similarity is a sample's outlier score, and the vote size of the label agreement. */
export const OUTLIER_K = 10;
export const LABEL_K = 10;
export const DEFAULT_DUPLICATE_THRESHOLD = 0.99;

export interface DuplicatePair {
  a: number;
  b: number;
  similarity: number;
}

/**
 * Every pair of the graph once (a < b), most similar first, equal similarities in the order their edges come in
 * the graph: [N * k] entries at most, in typed arrays, so a threshold query is a binary search and a slice. Sorted
 * natively on 64-bit keys (similarity bits, edge position), as a comparator sort of 1.5M pairs took seconds.
 */
export class DuplicatePairs {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly similarity: Float32Array;

  constructor(graph: KnnGraph) {
    const { k, indices, similarities } = graph;
    const n = indices.length / k;
    // An edge i -> j with i > j is the same pair as j -> i, already taken from j's row when j lists i.
    const kept = new Uint8Array(n * k);
    let count = 0;
    for (let i = 0; i < n; i++)
      for (let t = 0; t < k; t++) {
        const j = indices[i * k + t]!;
        let listed = false;
        if (i > j) for (let u = 0; u < k && !listed; u++) listed = indices[j * k + u] === i;
        if (!listed) {
          kept[i * k + t] = 1;
          count++;
        }
      }
    // Keys that sort ascending by descending similarity, then by edge position: the float's bits made orderable
    // (negatives flipped whole, positives their sign bit set), inverted for descending, above the edge's position.
    const bits = new Uint32Array(Float32Array.from(similarities).buffer);
    const keys = new BigUint64Array(count);
    let c = 0;
    for (let e = 0; e < n * k; e++) {
      if (!kept[e]) continue;
      const u = bits[e]!;
      const orderable = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
      keys[c++] = (BigInt(~orderable >>> 0) << 32n) | BigInt(e);
    }
    keys.sort();
    this.a = new Int32Array(count);
    this.b = new Int32Array(count);
    this.similarity = new Float32Array(count);
    for (let r = 0; r < count; r++) {
      const e = Number(keys[r]! & 0xffffffffn);
      const i = Math.floor(e / k);
      const j = indices[e]!;
      this.a[r] = Math.min(i, j);
      this.b[r] = Math.max(i, j);
      this.similarity[r] = similarities[e]!;
    }
  }

  /** The pairs with similarity >= threshold, most similar first, at most `limit`. */
  above(threshold: number, limit: number): DuplicatePair[] {
    // The first position whose similarity is below the threshold (the list is sorted descending).
    let lo = 0;
    let hi = this.similarity.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.similarity[mid]! >= threshold) lo = mid + 1;
      else hi = mid;
    }
    const count = Math.min(lo, limit);
    return Array.from({ length: count }, (_, i) => ({
      a: this.a[i]!,
      b: this.b[i]!,
      similarity: this.similarity[i]!,
    }));
  }
}

/** Each sample's mean cosine similarity to its first k graph neighbours (k <= graph.k). */
export function outlierScores(graph: KnnGraph, k = OUTLIER_K): Float32Array {
  const kk = Math.min(k, graph.k);
  const n = graph.indices.length / graph.k;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let t = 0; t < kk; t++) sum += graph.similarities[i * graph.k + t]!;
    scores[i] = sum / kk;
  }
  return scores;
}

/** The `limit` lowest scores, lowest first (equal scores by index). */
export function lowestScores(scores: Float32Array, limit: number): { index: number; score: number }[] {
  const order = Uint32Array.from(scores, (_, i) => i).sort((x, y) => scores[x]! - scores[y]! || x - y);
  return Array.from(order.subarray(0, Math.min(limit, order.length)), (index) => ({ index, score: scores[index]! }));
}

/**
 * Leave-one-out kNN top-1 accuracy: each labelled sample (label >= 0) is predicted by the majority label of its
 * first k labelled neighbours in `neighbours` (rows of `width` indices, nearest first, the sample itself absent);
 * a tie goes to the label whose nearest voter is nearer. A sample with no labelled neighbour counts as a miss.
 * Null when no sample is labelled.
 */
export function knnVoteAccuracy(neighbours: Int32Array, width: number, labels: Int32Array, k = LABEL_K): number | null {
  let total = 0;
  let hits = 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0) continue;
    total++;
    counts.clear();
    const voters: number[] = [];
    for (let t = 0; t < width && voters.length < k; t++) {
      const v = labels[neighbours[i * width + t]!]!;
      if (v < 0) continue;
      voters.push(v);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    if (voters.length === 0) continue;
    const most = Math.max(...counts.values());
    if (voters.find((v) => counts.get(v) === most) === y) hits++;
  }
  return total === 0 ? null : hits / total;
}

/**
 * The k nearest other points of every point of a 2-D map by Euclidean distance, exactly: [N * k] indices, nearest
 * first, equal distances by index. Points are bucketed in a uniform grid of about two points a cell, and each
 * query visits rings of cells outwards until no unvisited cell can hold a nearer point. Coordinates in [0, 1].
 */
export function mapNeighbours(x: Float32Array, y: Float32Array, k: number): { width: number; indices: Int32Array } {
  const n = x.length;
  const kk = Math.min(k, n - 1);
  const out = new Int32Array(n * Math.max(kk, 0));
  if (kk < 1) return { width: 0, indices: out };
  const g = Math.max(1, Math.floor(Math.sqrt(n / 2)));
  const cellOf = (v: number): number => Math.min(g - 1, Math.max(0, Math.floor(v * g)));
  const cell = new Int32Array(n);
  const start = new Int32Array(g * g + 1);
  for (let i = 0; i < n; i++) {
    cell[i] = cellOf(y[i]!) * g + cellOf(x[i]!);
    start[cell[i]! + 1]!++;
  }
  for (let c = 0; c < g * g; c++) start[c + 1]! += start[c]!;
  const members = new Int32Array(n);
  const fill = start.slice(0, g * g);
  for (let i = 0; i < n; i++) members[fill[cell[i]!]!++] = i;

  const bestD = new Float64Array(kk);
  const bestI = new Int32Array(kk);
  for (let i = 0; i < n; i++) {
    let found = 0;
    const cx = cell[i]! % g;
    const cy = Math.floor(cell[i]! / g);
    const consider = (j: number): void => {
      if (j === i) return;
      const dx = x[j]! - x[i]!;
      const dy = y[j]! - y[i]!;
      const d = dx * dx + dy * dy;
      if (found === kk && (d > bestD[kk - 1]! || (d === bestD[kk - 1]! && j > bestI[kk - 1]!))) return;
      let p = found < kk ? found++ : kk - 1;
      while (p > 0 && (bestD[p - 1]! > d || (bestD[p - 1]! === d && bestI[p - 1]! > j))) {
        bestD[p] = bestD[p - 1]!;
        bestI[p] = bestI[p - 1]!;
        p--;
      }
      bestD[p] = d;
      bestI[p] = j;
    };
    for (let r = 0; r < g; r++) {
      for (let yy = cy - r; yy <= cy + r; yy++) {
        if (yy < 0 || yy >= g) continue;
        const ring = yy === cy - r || yy === cy + r;
        for (let xx = cx - r; xx <= cx + r; xx += ring || r === 0 ? 1 : 2 * r) {
          if (xx < 0 || xx >= g) continue;
          const c = yy * g + xx;
          for (let m = start[c]!; m < start[c + 1]!; m++) consider(members[m]!);
        }
      }
      // Every point in a cell outside ring r is at least r cells' width away.
      const reach = r / g;
      if (found === kk && bestD[kk - 1]! < reach * reach) break;
    }
    out.set(bestI, i * kk);
  }
  return { width: kk, indices: out };
}
