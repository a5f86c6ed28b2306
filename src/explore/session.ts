// `simclr explore`'s data: a run's encoder over a dataset, prepared once (embeddings, neighbour index, the
// k-nearest-neighbour graph, the 2-D map, duplicates, outliers, label agreement, the encoder as ONNX) and then
// queried by the server (src/explore/server.ts). What takes time is cached in the run folder (EXPLORE_FILES) and
// reused while the run's checkpoint and the data are unchanged.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { DataError } from '../errors.js';
import type { ImageDataset } from '../data/dataset.js';
import { parseDataSpec, type Split } from '../data/spec.js';
import { openForEncoder } from '../features/extract.js';
import { removeStaleTemps, writeFileAtomic } from '../io/files.js';
import { EXPLORE_FILES, loadRunModel, runPaths, type CheckpointMeta, type RunConfigFile } from '../run/folder.js';
import type { SimCLRModel } from '../models/simclr.js';
import { embeddingSource, type EmbeddingSource } from '../eval/embed.js';
import { encoderToOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../eval/onnx.js';
import { describeEncoder } from '../eval/export.js';
import { exploreEmbeddings } from './embeddings.js';
import {
  chooseIndexKind,
  ExactIndex,
  HnswIndex,
  knnGraph,
  normalizeRows,
  type IndexKind,
  type KnnGraph,
  type NeighbourIndex,
} from './search.js';
import {
  chooseMapMethod,
  computeMap,
  MAP_SEED,
  UMAP_EPOCHS,
  UMAP_NEIGHBOURS,
  type Map2d,
  type MapMethod,
} from './map.js';
import {
  DuplicatePairs,
  knnVoteAccuracy,
  LABEL_K,
  lowestScores,
  mapNeighbours,
  OUTLIER_K,
  outlierScores,
  type DuplicatePair,
} from './analysis.js';
import { identityNormalisation, preprocess } from './preprocess.js';
import { DatasetFiles } from './files.js';
import { Thumbnails } from './thumbs.js';
import type { ExploreInfo } from './web/api.js';

/** Neighbours per sample in the graph behind duplicates, outliers, label agreement and UMAP. */
export const GRAPH_K = 15;

export type ExplorePhase = 'embeddings' | 'index' | 'graph' | 'map';

export interface ExploreOptions {
  run: string;
  /** A data spec (src/data/spec.ts). */
  data: string;
  /** Split to explore (default 'train'); one named in the spec (stl10:DIR:SPLIT) wins. */
  split?: Split;
  /** A checkpoint other than the run's last one. */
  checkpoint?: string;
  /** Only the first `limit` samples. */
  limit?: number;
  device?: string;
  batchSize?: number;
  index?: IndexKind | 'auto';
  map?: MapMethod | 'auto';
  /** A `simclr embed` output to use instead of computing (refused unless current). */
  embeddings?: string;
  /** Read and write the run folder's caches (default true). */
  cache?: boolean;
  /** A phase finished: what it did, in words, and how long it took. */
  onPhase?: (phase: ExplorePhase, summary: string, ms: number) => void;
  onProgress?: (phase: ExplorePhase, done: number, total: number) => void;
  onWarning?: (msg: string) => void;
}

// GET /api/info's reply: its shape is declared once, with the page's other reply types (web/api.ts).
export type { ExploreInfo };

export interface NeighbourAnswer {
  index: number;
  similarity: number;
  label: number | null;
}

function keyOf(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Metadata under which explore's cache files record what they were made from. */
const CACHE_KEY = 'simclr_explore';

/** The tensors and metadata of a cache file made for `key`; null when absent, unreadable or made for another. */
function readCached(
  path: string,
  key: string,
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } | null {
  if (!existsSync(path)) return null;
  try {
    const file = torch.safetensors.loadFile(path);
    if (file.metadata[CACHE_KEY] === key) return file;
    for (const t of file.tensors.values()) t.dispose();
  } catch {
    // Unreadable: recomputed and rewritten below.
  }
  return null;
}

type LabelAgreement = ExploreInfo['labelAgreement'];

/** Leave-one-out LABEL_K-NN votes with neighbours in embedding space (the graph) and on the map; null unlabelled. */
function labelAgreementOf(graph: KnnGraph, map: Map2d, labels: Int32Array | null): LabelAgreement {
  if (labels === null) return null;
  const near = mapNeighbours(map.x, map.y, graph.k);
  const embeddingTop1 = knnVoteAccuracy(graph.indices, graph.k, labels, LABEL_K);
  const mapTop1 = knnVoteAccuracy(near.indices, near.width, labels, LABEL_K);
  return embeddingTop1 === null || mapTop1 === null ? null : { k: LABEL_K, embeddingTop1, mapTop1 };
}

/** The encoder's ONNX bytes: the run folder's copy when it was exported from this checkpoint, else a new export. */
function onnxModel(
  model: SimCLRModel,
  run: RunConfigFile,
  meta: CheckpointMeta,
  source: EmbeddingSource,
  runDir: string | null,
  warn: (msg: string) => void,
): Uint8Array {
  const stamp = JSON.stringify(source.checkpoint);
  if (runDir !== null) {
    try {
      if (readFileSync(join(runDir, EXPLORE_FILES.onnxSource), 'utf8') === stamp)
        return readFileSync(join(runDir, EXPLORE_FILES.onnx));
    } catch {
      // Absent or unreadable: exported again.
    }
  }
  const d = describeEncoder(model.encoder, { height: run.input.height, width: run.input.width }, meta.step);
  const bytes = encoderToOnnx(model.encoder, {
    inputSize: d.input,
    metadata: { simclr_encoder: JSON.stringify(d) },
  });
  if (runDir !== null) {
    try {
      writeNoted(join(runDir, EXPLORE_FILES.onnx), join(runDir, EXPLORE_FILES.onnxSource), stamp, (path) =>
        writeFileAtomic(path, bytes),
      );
    } catch (e) {
      warn(`ONNX model not cached in ${runDir}: ${(e as Error).message}`);
    }
  }
  return bytes;
}

/**
 * Writes a cache file with `write`, then the note beside it saying what the file was made from. The old note goes
 * first: a write cut short (an error, a kill) between the file and its note leaves no note vouching for a file
 * that was made from something else, and the next start rebuilds instead of trusting it.
 */
export function writeNoted(path: string, note: string, stamp: string, write: (path: string) => void): void {
  rmSync(note, { force: true });
  write(path);
  writeFileAtomic(note, stamp);
}

/** What a session is built from (prepareExplore makes it). */
interface SessionParts {
  info: ExploreInfo;
  map: Map2d;
  labels: Int32Array | null;
  files: DatasetFiles | null;
  ds: ImageDataset;
  model: SimCLRModel;
  device: string;
  index: NeighbourIndex;
  /** The unit-norm embeddings, row-major [count * dim]. */
  unitRows: Float32Array;
  graph: KnnGraph;
  onnx: Uint8Array;
}

/** A run's encoder over a dataset, ready to answer the server's queries. Close it to free the tensors. */
export class ExploreSession {
  readonly info: ExploreInfo;
  readonly map: Map2d;
  /** Per sample (-1: unlabelled), or null for unlabelled data. */
  readonly labels: Int32Array | null;
  /** folder: data: each sample's file relative to the --data folder; else null. */
  readonly paths: readonly string[] | null;
  readonly files: DatasetFiles | null;
  readonly thumbnails: Thumbnails;
  readonly onnx: Uint8Array;
  readonly graph: KnnGraph;
  private readonly parts: SessionParts;
  private readonly pairs: DuplicatePairs;
  private readonly scores: Float32Array;
  private outlierOrder: { index: number; score: number }[] | null = null;

  constructor(parts: SessionParts) {
    this.parts = parts;
    this.info = parts.info;
    this.map = parts.map;
    this.labels = parts.labels;
    this.files = parts.files;
    this.paths = parts.files ? parts.files.relPaths : null;
    this.thumbnails = new Thumbnails(parts.ds, parts.files);
    this.onnx = parts.onnx;
    this.graph = parts.graph;
    this.pairs = new DuplicatePairs(parts.graph);
    this.scores = outlierScores(parts.graph, OUTLIER_K);
  }

  private answer(list: { index: number; similarity: number }[]): NeighbourAnswer[] {
    return list.map((n) => ({
      index: n.index,
      similarity: n.similarity,
      label: this.labels ? this.labels[n.index]! : null,
    }));
  }

  /** The k samples most similar to sample i, i left out (0 <= i < count, checked by the caller). */
  neighboursOf(i: number, k: number): NeighbourAnswer[] {
    const d = this.info.dim;
    return this.answer(this.parts.index.search(this.parts.unitRows.subarray(i * d, (i + 1) * d), k, i));
  }

  /** The k samples most similar to an embedding (float32 [dim], finite, not all zero; checked by the caller). */
  neighboursOfEmbedding(embedding: Float32Array, k: number): NeighbourAnswer[] {
    return this.answer(this.parts.index.search(embedding, k));
  }

  /** The encoder's features h [dim] of an RGBA image, preprocessed as the page does (preprocess.ts). */
  embedRgba(rgba: Uint8Array, width: number, height: number): Float32Array {
    const x = preprocess(rgba, width, height, this.info.input);
    const { channels, height: h, width: w } = this.info.input;
    return torch.noGrad(() =>
      torch.scope(() => {
        const input = torch.tensor(x, { shape: [1, channels, h, w], device: this.parts.device });
        return this.parts.model.encoder.call(input).float().cpu().contiguous().toArray() as Float32Array;
      }),
    );
  }

  /** Pairs with cosine similarity >= threshold, most similar first, at most limit (DuplicatePairs.above). */
  duplicates(threshold: number, limit: number): DuplicatePair[] {
    return this.pairs.above(threshold, limit);
  }

  /** The `limit` samples of lowest mean similarity to their OUTLIER_K neighbours, lowest first. */
  outliers(limit: number): { index: number; score: number }[] {
    this.outlierOrder ??= lowestScores(this.scores, this.scores.length);
    return this.outlierOrder.slice(0, limit);
  }

  close(): void {
    this.parts.index.dispose();
    this.parts.model.dispose();
    this.parts.ds.close();
  }
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

/** The HNSW index from the run folder's cache when it was built from these embeddings, else built (and cached). */
function hnswFor(
  unit: Tensor,
  key: string,
  runDir: string | null,
  o: ExploreOptions,
  warn: (msg: string) => void,
): { index: HnswIndex; cached: boolean } {
  const [count, dim] = unit.shape as [number, number];
  const path = runDir === null ? null : join(runDir, EXPLORE_FILES.hnsw);
  const note = runDir === null ? null : join(runDir, EXPLORE_FILES.hnswSource);
  if (path !== null && note !== null && existsSync(path)) {
    let stamp: string | null = null;
    try {
      stamp = readFileSync(note, 'utf8');
    } catch {
      // No note: built again.
    }
    const loaded = stamp === key ? HnswIndex.load(path, count, dim) : null;
    if (loaded) return { index: loaded, cached: true };
  }
  const index = HnswIndex.build(unit, (d, t) => o.onProgress?.('index', d, t));
  if (path !== null && note !== null) {
    try {
      writeNoted(path, note, key, (p) => index.save(p));
    } catch (e) {
      warn(`HNSW index not cached in ${path}: ${(e as Error).message}`);
    }
  }
  return { index, cached: false };
}

/** The graph from the run folder's cache when it was made from these embeddings, else computed (and cached). */
function graphFor(
  unit: Tensor,
  index: NeighbourIndex,
  key: string,
  path: string | null,
  o: ExploreOptions,
  warn: (msg: string) => void,
): { graph: KnnGraph; cached: boolean } {
  const count = unit.shape[0]!;
  const cached = path === null ? null : readCached(path, key)?.tensors;
  if (cached) {
    const ids = cached.get('indices');
    const sims = cached.get('similarities');
    const k = ids?.shape[1];
    const ok = ids && sims && ids.dtype === 'int32' && sims.dtype === 'float32' && ids.shape[0] === count;
    const graph =
      ok && k !== undefined && sims.shape[0] === count && sims.shape[1] === k
        ? { k, indices: ids.toArray() as Int32Array, similarities: sims.toArray() as Float32Array }
        : null;
    for (const t of cached.values()) t.dispose();
    if (graph) return { graph, cached: true };
  }
  const graph = knnGraph(unit, GRAPH_K, index, (d, t) => o.onProgress?.('graph', d, t));
  if (path !== null) {
    try {
      torch.scope(() =>
        torch.safetensors.saveFile(
          path,
          {
            indices: torch.tensor(graph.indices, { shape: [count, graph.k] }),
            similarities: torch.tensor(graph.similarities, { shape: [count, graph.k] }),
          },
          { [CACHE_KEY]: key },
        ),
      );
    } catch (e) {
      warn(`neighbour graph not cached in ${path}: ${(e as Error).message}`);
    }
  }
  return { graph, cached: false };
}

/**
 * The map and the label agreement from the run folder's cache when they were made from this graph (and so these
 * embeddings and labels) by this method; else computed (and cached: the agreement in the file's metadata).
 */
function mapFor(
  method: MapMethod,
  unit: Tensor,
  graph: KnnGraph,
  labels: Int32Array | null,
  key: string,
  path: string | null,
  o: ExploreOptions,
  warn: (msg: string) => void,
): { map: Map2d; labelAgreement: LabelAgreement; cached: boolean } {
  const count = unit.shape[0]!;
  const cached = path === null ? null : readCached(path, key);
  if (cached) {
    const xy = cached.tensors.get('xy');
    const ok = xy && xy.dtype === 'float32' && xy.ndim === 2 && xy.shape[0] === count && xy.shape[1] === 2;
    const flat = ok ? (xy.toArray() as Float32Array) : null;
    for (const t of cached.tensors.values()) t.dispose();
    let agreement: LabelAgreement | undefined;
    try {
      agreement = JSON.parse(cached.metadata.label_agreement ?? '') as LabelAgreement;
    } catch {
      agreement = undefined;
    }
    if (flat?.every((v) => v >= 0 && v <= 1) && agreement !== undefined) {
      const x = Float32Array.from({ length: count }, (_, i) => flat[2 * i]!);
      const y = Float32Array.from({ length: count }, (_, i) => flat[2 * i + 1]!);
      return { map: { method, x, y }, labelAgreement: agreement, cached: true };
    }
  }
  const map = computeMap(method, unit, graph, (d, t) => o.onProgress?.('map', d, t));
  const labelAgreement = labelAgreementOf(graph, map, labels);
  if (path !== null) {
    const flat = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) {
      flat[2 * i] = map.x[i]!;
      flat[2 * i + 1] = map.y[i]!;
    }
    try {
      torch.scope(() =>
        torch.safetensors.saveFile(
          path,
          { xy: torch.tensor(flat, { shape: [count, 2] }) },
          { [CACHE_KEY]: key, label_agreement: JSON.stringify(labelAgreement) },
        ),
      );
    } catch (e) {
      warn(`map not cached in ${path}: ${(e as Error).message}`);
    }
  }
  return { map, labelAgreement, cached: false };
}

/** The explore cache folder of a run (created), or null when caching is off or the run folder is not writable. */
function cacheDir(o: ExploreOptions, warn: (msg: string) => void): string | null {
  if (o.cache === false) return null;
  const dir = join(o.run, 'explore');
  try {
    mkdirSync(dir, { recursive: true });
    removeStaleTemps(dir);
    return dir;
  } catch (e) {
    warn(`not caching in ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return null;
  }
}

/**
 * Loads the run, opens the data and prepares everything the server answers from (see the file comment).
 * Throws ConfigError/DataError (exit 2) for a bad run, checkpoint, data spec, --embeddings file or a dataset of fewer
 * than 2 samples, and DataError when the encoder gives non-finite features.
 */
export async function prepareExplore(o: ExploreOptions): Promise<ExploreSession> {
  const warn = o.onWarning ?? ((msg: string) => process.stderr.write(`warning: ${msg}\n`));
  const device = o.device ?? 'cpu';
  const checkpointPath = o.checkpoint ?? runPaths(o.run).checkpoint;
  const { model, run, meta } = loadRunModel(o.run, checkpointPath);
  let ds: ImageDataset | null = null;
  try {
    if (device !== 'cpu') model.to(device);
    const spec = parseDataSpec(o.data);
    const split = spec.split ?? o.split ?? 'train';
    ds = await openForEncoder(o.data, split, run.input);
    const count = o.limit === undefined ? ds.length : Math.min(ds.length, o.limit);
    if (count < 2) throw new DataError(`data spec '${o.data}': explore needs at least 2 samples, got ${count}`);
    const source = embeddingSource({
      run: o.run,
      checkpointPath,
      step: meta.step,
      data: o.data,
      split,
      ds,
      input: run.input,
      count,
    });
    const dir = cacheDir(o, warn);
    const at = (rel: string): string | null => (dir === null ? null : join(o.run, rel));

    const e = timed(() =>
      exploreEmbeddings({
        encoder: model.encoder,
        ds: ds!,
        source,
        cachePath: at(EXPLORE_FILES.embeddings),
        ...(o.embeddings !== undefined ? { given: o.embeddings } : {}),
        inputSize: run.input.height,
        batchSize: o.batchSize ?? 256,
        device,
        onProgress: (d, t) => o.onProgress?.('embeddings', d, t),
        onWarning: warn,
      }),
    );
    const { features, labels } = e.value;
    o.onPhase?.(
      'embeddings',
      `${count} x ${features.shape[1]} ${e.value.from === 'computed' ? 'computed' : `read from ${e.value.from}`}`,
      e.ms,
    );
    const bad = torch.scope(() => Number(features.isfinite().all(1).logicalNot().sum().item()));
    if (bad > 0)
      throw new DataError(`the encoder gave non-finite features for ${bad} of ${count} samples; nothing to explore`);
    const unit = normalizeRows(features);
    features.dispose();
    const dim = unit.shape[1]!;

    const kind = chooseIndexKind(count, o.index ?? 'auto');
    const h = kind === 'hnsw' ? hnswFor(unit, keyOf(source, 'hnsw'), dir === null ? null : o.run, o, warn) : null;
    const index: NeighbourIndex = h?.index ?? new ExactIndex(unit);
    o.onPhase?.(
      'index',
      kind === 'exact' ? 'exact (libtorch)' : `HNSW (hnswlib)${h?.cached ? ' (cached)' : ''}`,
      index.buildMs,
    );

    const graphKey = keyOf(source, 'graph', kind, GRAPH_K);
    const g = timed(() => graphFor(unit, index, graphKey, at(EXPLORE_FILES.graph), o, warn));
    o.onPhase?.('graph', `${g.value.graph.k} neighbours a sample${g.value.cached ? ' (cached)' : ''}`, g.ms);

    const method = chooseMapMethod(count, o.map ?? 'auto');
    const mapKey = keyOf(graphKey, 'map', method, MAP_SEED, UMAP_NEIGHBOURS, UMAP_EPOCHS, LABEL_K);
    const m = timed(() => mapFor(method, unit, g.value.graph, labels, mapKey, at(EXPLORE_FILES.map), o, warn));
    o.onPhase?.('map', `${method}${m.value.cached ? ' (cached)' : ''}`, m.ms);

    const unitRows = unit.contiguous().toArray() as Float32Array;
    unit.dispose(); // the exact index holds its own reference
    const graph = g.value.graph;
    const labelAgreement = m.value.labelAgreement;
    const files =
      spec.kind === 'folder' && ds.paths ? new DatasetFiles(resolve(spec.dir), ds.paths.slice(0, count)) : null;
    const onnx = onnxModel(model, run, meta, source, dir === null ? null : o.run, warn);
    const info: ExploreInfo = {
      run: o.run,
      checkpointStep: meta.step,
      dataset: ds.name,
      count,
      dim,
      labelled: labels !== null,
      classNames: ds.classNames ? [...ds.classNames] : null,
      input: { ...run.input, ...identityNormalisation(run.input.channels) },
      onnx: { url: '/model.onnx', inputName: ONNX_INPUT_NAME, outputName: ONNX_OUTPUT_NAME },
      labelAgreement,
      index: { kind, buildMs: index.buildMs },
      folder: files !== null,
    };
    return new ExploreSession({
      info,
      map: m.value.map,
      labels,
      files,
      ds,
      model,
      device,
      index,
      unitRows,
      graph,
      onnx,
    });
  } catch (e) {
    ds?.close();
    model.dispose();
    throw e;
  }
}
