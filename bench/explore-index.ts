// `simclr explore`'s neighbour index: exact search through libtorch against hnswlib's HNSW graph, at 1k, 10k and
// 100k samples of 128-D embeddings (the size of ResNet-18 x0.25's features). Synthetic clustered data: 100 Gaussian
// clusters, non-negative like post-ReLU features. Prints, per size and index: build time, query latency p50/p99
// (k = 10, one query at a time, as the server answers them), recall@10 of HNSW against exact search, and the time of
// the whole k-nearest-neighbour graph (k = 15) the server computes once.
// Run: node dist/bench/explore-index.js [sizes, default 1000,10000,100000]   (BENCH_QUERIES, default 300)
import * as torch from '../src/torch/index.js';
import { ExactIndex, HnswIndex, knnGraph, normalizeRows, type NeighbourIndex } from '../src/explore/search.js';

const sizes = (process.argv[2] ?? '1000,10000,100000').split(',').map(Number);
const queries = Number(process.env.BENCH_QUERIES ?? 300);
const DIM = 128;
const K = 10;
const GRAPH_K = 15;

function clustered(n: number, seed: number): torch.Tensor {
  torch.manualSeed(seed);
  return torch.scope(() => {
    const centres = torch.randn([100, DIM]).mul(2);
    const which = torch.randint(0, 100, [n]);
    return centres
      .indexSelect(0, which)
      .add(torch.randn([n, DIM]))
      .relu();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function latency(index: NeighbourIndex, rows: Float32Array, picks: number[]): { p50: number; p99: number } {
  const times: number[] = [];
  for (const i of picks) {
    const t0 = performance.now();
    index.search(rows.subarray(i * DIM, (i + 1) * DIM), K, i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(0));
console.log(`threads ${torch.getNumThreads()}, ${queries} queries, k ${K}, graph k ${GRAPH_K}, dim ${DIM}`);
console.log('| samples | index | build ms | query p50 ms | query p99 ms | recall@10 | graph (k=15) s |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const n of sizes) {
  const features = clustered(n, n).keep();
  const unit = normalizeRows(features).keep();
  const rows = unit.contiguous().toArray() as Float32Array;
  const picks = Array.from({ length: queries }, (_, q) => Math.floor(((q + 0.5) * n) / queries));

  let t0 = performance.now();
  const exact = new ExactIndex(unit);
  const exactBuild = performance.now() - t0;
  const e = latency(exact, rows, picks);
  t0 = performance.now();
  knnGraph(unit, GRAPH_K);
  const exactGraph = (performance.now() - t0) / 1000;
  console.log(`| ${n} | exact | ${ms(exactBuild)} | ${ms(e.p50)} | ${ms(e.p99)} | 1 | ${exactGraph.toFixed(1)} |`);

  const hnsw = HnswIndex.build(features);
  const h = latency(hnsw, rows, picks);
  let hits = 0;
  for (const i of picks) {
    const truth = new Set(exact.search(rows.subarray(i * DIM, (i + 1) * DIM), K, i).map((x) => x.index));
    for (const x of hnsw.search(rows.subarray(i * DIM, (i + 1) * DIM), K, i)) if (truth.has(x.index)) hits++;
  }
  t0 = performance.now();
  knnGraph(unit, GRAPH_K, hnsw);
  const hnswGraph = (performance.now() - t0) / 1000;
  const recall = hits / (picks.length * K);
  console.log(
    `| ${n} | hnsw | ${ms(hnsw.buildMs)} | ${ms(h.p50)} | ${ms(h.p99)} | ${recall.toFixed(3)} | ` +
      `${hnswGraph.toFixed(1)} |`,
  );
  exact.dispose();
  hnsw.dispose();
  unit.dispose();
  features.dispose();
}
