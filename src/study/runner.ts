// `simclr study`: runs a study's grid of short pretraining runs (cells x seeds) in worker processes, each run a run
// folder under DIR/cells/<cell>/seed-<s>/ with its result beside it (seed-<s>.json, written once it is evaluated), so
// a killed study continues where it stopped: finished runs are read back, a run cut short resumes from its checkpoint.
// After every run, DIR/study.json and DIR/report.html are rewritten from all results found.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import { ConfigError, resolveConfig, type PretrainConfig } from '../run/config.js';
import { writeFileAtomic } from '../run/folder.js';
import { acquireRunLock } from '../run/lock.js';
import { readTextChecked } from '../io/files.js';
import { STUDY_DEFAULTS } from '../run/options/study.js';
import { openDataset } from '../data/spec.js';
import { UsageError } from '../errors.js';
import type { StudyCell, StudyContext, StudyDefinition } from './definition.js';
import { STUDIES, STUDY_NAMES } from './registry.js';
import { STUDY_KNN, type CellJob, type CellRunResult } from './cell.js';
import { WorkerPool } from './pool.js';
import {
  BASELINE_ID,
  buildRecord,
  cpuModel,
  REPORT_FILE,
  STUDY_FILE,
  type StudyRecord,
  type StudySettings,
} from './record.js';
import { renderStudyHtml } from './report.js';

/**
 * The base every study starts from, before --config and flags: a small ResNet-18 and the settings that learnt fastest
 * in short budgets when the studies were built (colour strength 0.5, crops of at least 25%, no blur, temperature 0.2,
 * square-root lr scaling, the paper's MLP head). Written out rather than taken from a preset, so a study's cells stay
 * what docs/STUDY.md measured when the presets change (`auto` has since moved to temperature 0.1, from the temperature
 * study, and to a linear head for small images in short runs, from the head study).
 */
export const STUDY_BASE: Readonly<Record<string, unknown>> = {
  arch: 'resnet18',
  width: 0.125,
  batchSize: 128,
  colorStrength: 0.5,
  cropMinScale: 0.25,
  blur: false,
  temperature: 0.2,
  lrScaling: 'sqrt',
  projLayers: 2,
};

/** Pretrain settings the study sets for each run itself; a base naming one is refused. */
export const STUDY_CONTROLLED = [
  'data',
  'out',
  'seed',
  'epochs',
  'maxSteps',
  'subset',
  'threads',
  'logSteps',
  'checkpointSteps',
  'knnEvery',
] as const;

// The study's own defaults are written with its flags (src/run/options/study.ts).
export { STUDY_DEFAULTS };

export interface StudyOptions {
  study: string;
  /** Data spec (src/data/spec.ts); it needs labelled train and test splits. */
  data: string;
  /** The study folder. */
  out: string;
  /** Training steps per cell (default 200). */
  budget?: number;
  /** Training images: a fixed sample of this many (default 10000, or the whole split when smaller); null: all. */
  subset?: number | null;
  /** Seeds 0..seeds-1 for every cell (default 3). */
  seeds?: number;
  /** Held-out test images used as kNN queries (default 2000). */
  testSize?: number;
  /** Also linear evaluation (logistic regression on frozen features). */
  linear?: boolean;
  /** Runs side by side, each in its own process (default: the cores, at most 4). */
  nproc?: number;
  /** libtorch threads per run (default: the cores divided among nproc). */
  threads?: number;
  /** Pretrain settings over STUDY_BASE (not the STUDY_CONTROLLED ones). */
  base?: Record<string, unknown>;
}

/** A run in progress. */
export interface RunningRun {
  cell: string;
  seed: number;
  step: number;
  totalSteps: number;
  loss: number;
}

export interface StudyProgress {
  /** Runs recorded (earlier sessions' included) and the study's total. */
  done: number;
  total: number;
  running: RunningRun[];
  /** Seconds since this session started, and the estimated seconds left (null until a run has made progress). */
  elapsed: number;
  eta: number | null;
}

export interface StudyHooks {
  onStart?: (info: {
    total: number;
    seeds: number;
    todo: number;
    nproc: number;
    threads: number;
    images: number;
    cells: number;
  }) => void;
  onProgress?: (p: StudyProgress) => void;
  onRunDone?: (r: CellRunResult, p: StudyProgress) => void;
  /** Each distinct warning once. */
  onWarning?: (msg: string) => void;
}

export interface StudyResult {
  record: StudyRecord;
  /** True when a stop request ended the session before every run was done. */
  stopped: boolean;
  studyPath: string;
  reportPath: string;
}

export interface StudySession {
  /** Asks every run in progress to checkpoint and stop, and starts no more. */
  stop(): void;
  result: Promise<StudyResult>;
}

function positiveInt(v: number, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new UsageError(`${flag} must be an integer in [1, ${max}], got ${v}`);
  return v;
}

// JSON with sorted keys, so two settings objects compare by value.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The differing top-level (and base.*) settings of two studies, as 'key: old -> new'. */
function settingsChanges(before: StudySettings, now: StudySettings): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  for (const k of keys) {
    const a = (before as unknown as Record<string, unknown>)[k];
    const b = (now as unknown as Record<string, unknown>)[k];
    if (k === 'base') {
      // A study made before presets recorded no preset: its runs resolved as `auto` does (STUDY_BASE sets the rest).
      const ba: Record<string, unknown> = { preset: 'auto', ...((a ?? {}) as Record<string, unknown>) };
      const bb: Record<string, unknown> = { preset: 'auto', ...((b ?? {}) as Record<string, unknown>) };
      for (const bk of new Set([...Object.keys(ba), ...Object.keys(bb)]))
        if (canonical(ba[bk]) !== canonical(bb[bk])) out.push(`${bk}: ${canonical(ba[bk])} -> ${canonical(bb[bk])}`);
    } else if (canonical(a) !== canonical(b)) out.push(`${k}: ${canonical(a)} -> ${canonical(b)}`);
  }
  return out;
}

function readRecord(path: string): StudyRecord {
  const text = readTextChecked(
    path,
    { what: 'a study file', minBytes: 2, maxBytes: 1 << 30 },
    (m) => new ConfigError(m),
  );
  let rec: StudyRecord;
  try {
    rec = JSON.parse(text) as StudyRecord;
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (rec === null || typeof rec !== 'object' || rec.format !== 1 || typeof rec.settings !== 'object')
    throw new ConfigError(`${path}: not a study.json this simclr wrote (format 1)`);
  return rec;
}

/** Every run result found under DIR/cells/, by cell. A damaged file is an error naming it. */
function readResults(dir: string, cells: readonly Pick<StudyCell, 'id'>[]): Map<string, CellRunResult[]> {
  const out = new Map<string, CellRunResult[]>();
  for (const c of cells) {
    const cellDir = join(dir, 'cells', c.id);
    if (!existsSync(cellDir)) continue;
    const runs: CellRunResult[] = [];
    for (const name of readdirSync(cellDir)) {
      if (!/^seed-\d+\.json$/.test(name)) continue;
      const path = join(cellDir, name);
      const text = readTextChecked(
        path,
        { what: 'a run result', minBytes: 2, maxBytes: 64 << 20 },
        (m) => new ConfigError(m),
      );
      let r: CellRunResult;
      try {
        r = JSON.parse(text) as CellRunResult;
      } catch (e) {
        throw new ConfigError(`${path}: not valid JSON (${(e as Error).message}); delete it to rerun that run`);
      }
      if (r?.format !== 1 || r.cell !== c.id || typeof r.seed !== 'number' || typeof r.metrics !== 'object')
        throw new ConfigError(`${path}: not a run result of cell ${c.id}; delete it to rerun that run`);
      runs.push(r);
    }
    out.set(c.id, runs);
  }
  return out;
}

/** Relative cost of a run, for the ETA: training images seen, plus the forward passes of evaluation. */
function cost(job: { steps: number; batchSize: number; evalImages: number }): number {
  return job.steps * job.batchSize + 0.2 * job.evalImages;
}

interface Planned {
  job: CellJob;
  steps: number;
  batchSize: number;
  evalImages: number;
}

/**
 * Runs a study (or continues it in the same folder). Settings are checked, and the data opened, before any run
 * starts; a folder holding a study with other settings is refused (it would mix two studies).
 * @throws UsageError / ConfigError for bad options, a busy or mismatched folder; DataError for the data; a run's
 *   error other than a divergence (a diverged run is recorded as such)
 */
export function startStudy(o: StudyOptions, hooks: StudyHooks = {}): StudySession {
  let pool: WorkerPool | null = null;
  let stopRequested = false;
  const result = runStudy(
    o,
    hooks,
    (p) => {
      pool = p;
      if (stopRequested) p.stop();
    },
    () => stopRequested,
  );
  return {
    stop: () => {
      stopRequested = true;
      (pool as WorkerPool | null)?.stop();
    },
    result,
  };
}

async function runStudy(
  o: StudyOptions,
  hooks: StudyHooks,
  onPool: (p: WorkerPool) => void,
  stopRequested: () => boolean,
): Promise<StudyResult> {
  const started = performance.now();
  const def: StudyDefinition | undefined = Object.hasOwn(STUDIES, o.study) ? STUDIES[o.study] : undefined;
  if (def === undefined) throw new UsageError(`unknown study '${o.study}'; one of ${STUDY_NAMES.join(', ')}`);
  const budget = positiveInt(o.budget ?? STUDY_DEFAULTS.budget, '--budget');
  const seedCount = positiveInt(o.seeds ?? STUDY_DEFAULTS.seeds, '--seeds', 100);
  const testSize = positiveInt(o.testSize ?? STUDY_DEFAULTS.testSize, '--test-size');
  const cores = Math.max(1, cpus().length);
  // Processes rather than threads by default: the studies' small models gain little from a second libtorch thread.
  // On 2 cores, two runs at one thread each did 1.6x the work of one run at two threads (1.2x with the CIFAR stem,
  // 1.09x on a busy machine; docs/STUDY.md, Using both cores).
  const nproc = positiveInt(o.nproc ?? Math.min(cores, 4), '--nproc', 256);
  const threads = positiveInt(o.threads ?? Math.max(1, Math.floor(cores / nproc)), '--threads', 1024);
  const given = o.base ?? {};
  const controlled = STUDY_CONTROLLED.filter((k) => k in given);
  if (controlled.length > 0)
    throw new UsageError(`the study sets ${controlled.join(', ')} for each run itself; leave them out of its settings`);
  const base = resolveConfig({ ...STUDY_BASE, ...given, data: o.data, out: '-' });

  // The data: labelled train and test splits, and the sample the runs train on.
  const openOpts = { ...(base.imageSize !== null ? { imageSize: base.imageSize } : {}) };
  const train = await openDataset(o.data, { split: 'train', ...openOpts });
  const { length, channels } = train;
  const labelled = train.labels?.some((y) => y >= 0) === true;
  train.close();
  if (!labelled) throw new ConfigError(`${o.data}: a study evaluates with labels, and its training split has none`);
  (await openDataset(o.data, { split: 'test', ...openOpts })).close();
  const subset = o.subset === null ? null : Math.min(o.subset ?? STUDY_DEFAULTS.subset, length);
  if (subset !== null) positiveInt(subset, '--subset', length);
  const images = subset ?? length;

  const ctx: StudyContext = {
    budget,
    images,
    base: base as unknown as StudyContext['base'],
    grayscale: channels === 1,
  };
  const cells = def.cells(ctx);
  const settings: StudySettings = {
    study: def.name,
    data: o.data,
    budget,
    subset,
    images,
    testSize,
    linear: o.linear === true,
    knn: { ...STUDY_KNN },
    base: Object.fromEntries(
      Object.entries(base).filter(([k]) => !(STUDY_CONTROLLED as readonly string[]).includes(k) && k !== 'device'),
    ),
  };

  const dir = resolve(o.out);
  const studyPath = join(dir, STUDY_FILE);
  const reportPath = join(dir, REPORT_FILE);
  let previous: StudyRecord | null = null;
  if (existsSync(studyPath)) {
    previous = readRecord(studyPath);
    const changes = settingsChanges(previous.settings, settings);
    if (changes.length > 0)
      throw new ConfigError(
        `${dir} holds a study with other settings (${changes.join('; ')}); ` +
          `use another --out, or remove ${dir} to start over`,
      );
  } else if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new ConfigError(`${dir} is not empty and holds no ${STUDY_FILE}: give a new or empty folder as --out`);
  }
  mkdirSync(dir, { recursive: true });
  const release = acquireRunLock(dir);
  const seeds = Array.from({ length: seedCount }, (_, i) => i);

  // Every run's settings, checked before any process starts; seed-major, so a partial study has every cell at seed 0.
  const runs = readResults(dir, [...cells, { id: BASELINE_ID }]);
  const planned: Planned[] = [];
  for (const seed of seeds) {
    // The untrained reference first: cheap, and what every cell's number is read against.
    if (!(runs.get(BASELINE_ID) ?? []).some((r) => r.seed === seed)) {
      const cellDir = join(dir, 'cells', BASELINE_ID);
      const config = resolveConfig({ ...STUDY_BASE, ...given, data: o.data, out: cellDir, seed, subset, threads });
      planned.push({
        job: {
          cell: BASELINE_ID,
          seed,
          runDir: cellDir,
          resultPath: join(cellDir, `seed-${seed}.json`),
          config,
          features: ['h'],
          testSize,
          linear: settings.linear,
          baseline: true,
        },
        steps: 0,
        batchSize: 0,
        evalImages: images + testSize,
      });
    }
    for (const c of cells) {
      const cellDir = join(dir, 'cells', c.id);
      const resultPath = join(cellDir, `seed-${seed}.json`);
      if ((runs.get(c.id) ?? []).some((r) => r.seed === seed)) continue;
      const batchSize = (c.config.batchSize as number | undefined) ?? base.batchSize;
      const steps = c.steps ?? budget;
      const perEpoch = Math.floor(images / batchSize);
      if (perEpoch < 1)
        throw new ConfigError(`cell ${c.id}: batch size ${batchSize} exceeds the study's ${images} training images`);
      let config: PretrainConfig;
      try {
        config = resolveConfig({
          ...STUDY_BASE,
          ...given,
          ...c.config,
          data: o.data,
          out: join(cellDir, `seed-${seed}`),
          seed,
          subset,
          epochs: steps / perEpoch,
          threads,
          logSteps: Math.max(1, Math.floor(steps / 100)),
          checkpointSteps: Math.max(1, Math.ceil(steps / 4)),
        });
      } catch (e) {
        throw new ConfigError(`cell ${c.id}: ${(e as Error).message}`);
      }
      const features = c.features ?? ['h'];
      planned.push({
        job: { cell: c.id, seed, runDir: config.out, resultPath, config, features, testSize, linear: settings.linear },
        steps,
        batchSize,
        evalImages: (images + testSize) * features.length,
      });
    }
  }

  const machine = {
    cpu: cpuModel(),
    cores,
    libtorch: torch.version(),
    nproc: Math.min(nproc, Math.max(1, planned.length)),
    threadsPerProcess: threads,
  };
  const created = previous?.created ?? new Date().toISOString();
  const elapsedBefore = previous?.elapsedSeconds ?? 0;
  const total = (cells.length + 1) * seeds.length;
  const record = (): StudyRecord =>
    buildRecord({
      def,
      ctx,
      cells,
      settings,
      seeds,
      runs,
      machine,
      elapsedSeconds: elapsedBefore + (performance.now() - started) / 1000,
      created,
    });
  const write = (): StudyRecord => {
    const r = record();
    writeFileAtomic(studyPath, `${JSON.stringify(r, null, 1)}\n`);
    writeFileAtomic(reportPath, renderStudyHtml(r));
    return r;
  };

  let stopped = false;
  try {
    write();
    hooks.onStart?.({
      total,
      seeds: seeds.length,
      todo: planned.length,
      nproc: machine.nproc,
      threads,
      images,
      cells: cells.length,
    });
    if (planned.length > 0 && !stopRequested()) {
      const p = new WorkerPool(machine.nproc);
      onPool(p);
      try {
        stopped = await runPlanned(p, planned, runs, hooks, total, started, write);
      } finally {
        p.close();
      }
    }
    stopped ||= stopRequested() && planned.length > 0;
    return { record: write(), stopped, studyPath, reportPath };
  } finally {
    release();
  }
}

/** Runs the planned jobs on the pool; true when a stop request left some undone. */
async function runPlanned(
  pool: WorkerPool,
  planned: readonly Planned[],
  runs: Map<string, CellRunResult[]>,
  hooks: StudyHooks,
  total: number,
  started: number,
  write: () => StudyRecord,
): Promise<boolean> {
  const running = new Map<Planned, RunningRun>();
  const totalCost = planned.reduce((s, p) => s + cost(p), 0);
  let doneCost = 0;
  let done = total - planned.length;
  const warned = new Set<string>();
  let firstStart: number | null = null;
  const progress = (): StudyProgress => {
    const now = performance.now();
    let partial = doneCost;
    for (const [p, r] of running) partial += (r.step / Math.max(1, r.totalSteps)) * p.steps * p.batchSize;
    const spent = firstStart === null ? 0 : (now - firstStart) / 1000;
    return {
      done,
      total,
      running: [...running.values()],
      elapsed: (now - started) / 1000,
      eta: partial > 0 && spent > 0 ? ((totalCost - partial) * spent) / partial : null,
    };
  };
  let failure: unknown = null;
  let stopped = false;
  await Promise.all(
    planned.map(async (p) => {
      const r = await pool
        .run(p.job, {
          onProgress: (m) => {
            firstStart ??= performance.now();
            running.set(p, { cell: p.job.cell, seed: p.job.seed, ...m });
            hooks.onProgress?.(progress());
          },
          onWarning: (msg) => {
            if (warned.has(msg)) return;
            warned.add(msg);
            hooks.onWarning?.(msg);
          },
        })
        .catch((e: unknown) => {
          // The first error ends the study: the other runs checkpoint and stop.
          if (e instanceof Error) e.message = `cell ${p.job.cell}, seed ${p.job.seed}: ${e.message}`;
          if (failure === null) {
            failure = e;
            pool.stop();
          }
          return null;
        });
      running.delete(p);
      if (r === null) {
        stopped = true;
        return;
      }
      const list = runs.get(p.job.cell) ?? [];
      list.push(r);
      runs.set(p.job.cell, list);
      done += 1;
      doneCost += cost(p);
      write();
      hooks.onRunDone?.(r, progress());
    }),
  );
  if (failure !== null) throw failure;
  return stopped;
}
