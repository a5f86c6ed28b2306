// study.json: a study's settings, every cell's runs (per seed: metrics, wall time, loss curve), their mean and spread,
// each cell against the best one, and the paper's findings tested; the report (report.ts) is drawn from it alone.
import { cpus } from 'node:os';
import type { CellPosition, FeatureSet, Finding, StudyContext, StudyDefinition } from './definition.js';
import type { CellRunResult } from './cell.js';
import { summarize, verdictOf, welchTest, type Summary, type Verdict, type WelchTest } from './stats.js';

export const STUDY_FILE = 'study.json';
export const REPORT_FILE = 'report.html';
/** The reference every study records beside its cells: the base model as initialised, never trained. */
export const BASELINE_ID = 'random-init';
/** The metric every study ranks its cells by: kNN top-1 of h on the held-out split. */
export const PRIMARY_METRIC = 'knn_h_top1';

/** What a study's results depend on: a second session must find the same, or it would mix two studies. */
export interface StudySettings {
  study: string;
  data: string;
  /** Steps per cell (cells may scale it, batch-epochs does). */
  budget: number;
  /** Training images per run (null: the whole training split). */
  subset: number | null;
  /** Images of the training data the runs see (the subset's size, or the split's). */
  images: number;
  /** Test images the kNN queries are drawn from (a fixed sample). */
  testSize: number;
  linear: boolean;
  knn: { k: number; temperature: number };
  /** The base pretrain settings every cell starts from (without data, out, seed, epochs, threads and logging). */
  base: Record<string, unknown>;
}

export interface CellRecord {
  id: string;
  label: string;
  position: CellPosition;
  config: Record<string, unknown>;
  features: readonly FeatureSet[];
  steps: number;
  batchSize: number;
  runs: CellRunResult[];
  /** Per metric, over the runs that did not diverge; absent until one did. */
  summary: Record<string, Summary>;
  /** Runs that diverged (no metrics). */
  diverged: number;
  /** This cell's primary metric against the best cell's (null for the best itself, or without runs). */
  vsBest: (WelchTest & { verdict: Verdict }) | { verdict: Verdict } | null;
}

export interface FindingRecord extends Finding {
  metric: string;
  bMetric: string;
  meanA: number | null;
  meanB: number | null;
  test: WelchTest | null;
  verdict: Verdict;
}

export interface StudyRecord {
  format: 1;
  study: string;
  summary: string;
  paper: string;
  chart: StudyDefinition['chart'];
  primary: string;
  settings: StudySettings;
  seeds: number[];
  status: 'complete' | 'partial';
  /** Runs recorded, and the runs the settings ask for. */
  done: number;
  total: number;
  cells: CellRecord[];
  /** The base model at initialisation, evaluated like the cells (null until a seed of it has run). */
  baseline: { runs: CellRunResult[]; summary: Record<string, Summary> } | null;
  best: string | null;
  findings: FindingRecord[];
  machine: { cpu: string; cores: number; libtorch: string; nproc: number; threadsPerProcess: number };
  /** Wall time of the study's sessions, summed (what a user waited), and of the runs themselves, summed. */
  elapsedSeconds: number;
  runSeconds: number;
  created: string;
  updated: string;
}

const noiseVerdict = (t: WelchTest | null): { verdict: Verdict } & Partial<WelchTest> =>
  t === null ? { verdict: 'untested' } : { ...t, verdict: verdictOf(t) };

/** Builds the record from the cells' runs. `runs` holds every result file found, for any seed. */
export function buildRecord(o: {
  def: StudyDefinition;
  ctx: StudyContext;
  cells: ReturnType<StudyDefinition['cells']>;
  settings: StudySettings;
  seeds: number[];
  runs: ReadonlyMap<string, CellRunResult[]>;
  machine: StudyRecord['machine'];
  elapsedSeconds: number;
  created: string;
}): StudyRecord {
  const runsOf = (id: string): CellRunResult[] =>
    (o.runs.get(id) ?? []).filter((r) => o.seeds.includes(r.seed)).sort((a, b) => a.seed - b.seed);
  const cells: CellRecord[] = o.cells.map((c) => {
    const runs = runsOf(c.id);
    const ok = runs.filter((r) => r.diverged === null);
    const summary = summaries(ok);
    const batchSize = (c.config.batchSize as number | undefined) ?? o.ctx.base.batchSize;
    return {
      id: c.id,
      label: c.label,
      position: c.position,
      config: c.config,
      features: c.features ?? ['h'],
      steps: c.steps ?? o.settings.budget,
      batchSize,
      runs,
      summary,
      diverged: runs.length - ok.length,
      vsBest: null,
    };
  });
  const byId = new Map(cells.map((c) => [c.id, c]));
  const stat = (id: string, metric: string): Summary | null => byId.get(id)?.summary[metric] ?? null;
  let best: CellRecord | null = null;
  for (const c of cells) {
    const m = c.summary[PRIMARY_METRIC];
    if (m !== undefined && (best === null || m.mean > best.summary[PRIMARY_METRIC]!.mean)) best = c;
  }
  for (const c of cells) {
    const m = c.summary[PRIMARY_METRIC];
    if (best === null || c === best || m === undefined) continue;
    c.vsBest = noiseVerdict(welchTest(m, best.summary[PRIMARY_METRIC]!)) as CellRecord['vsBest'];
  }
  const findings = o.def
    .findings(o.ctx, (id) => stat(id, PRIMARY_METRIC))
    .map((f): FindingRecord => {
      const metric = f.metric ?? PRIMARY_METRIC;
      const bMetric = f.bMetric ?? metric;
      const a = stat(f.a, metric);
      const b = stat(f.b, bMetric);
      const test = a !== null && b !== null ? welchTest(a, b) : null;
      return { ...f, metric, bMetric, meanA: a?.mean ?? null, meanB: b?.mean ?? null, test, verdict: verdictOf(test) };
    });
  const baselineRuns = runsOf(BASELINE_ID);
  const done = cells.reduce((n, c) => n + c.runs.length, 0) + baselineRuns.length;
  const total = (cells.length + 1) * o.seeds.length;
  return {
    format: 1,
    study: o.def.name,
    summary: o.def.summary,
    paper: o.def.paper,
    chart: o.def.chart,
    primary: PRIMARY_METRIC,
    settings: o.settings,
    seeds: o.seeds,
    status: done === total ? 'complete' : 'partial',
    done,
    total,
    cells,
    baseline: baselineRuns.length === 0 ? null : { runs: baselineRuns, summary: summaries(baselineRuns) },
    best: best?.id ?? null,
    findings,
    machine: o.machine,
    elapsedSeconds: o.elapsedSeconds,
    runSeconds: [...cells.map((c) => c.runs), baselineRuns]
      .flat()
      .reduce((t, r) => t + r.seconds.train + r.seconds.eval, 0),
    created: o.created,
    updated: new Date().toISOString(),
  };
}

/** Per metric, the summary over the runs that have it. */
function summaries(runs: readonly CellRunResult[]): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  for (const key of new Set(runs.flatMap((r) => Object.keys(r.metrics)))) {
    const values = runs
      .map((r) => r.metrics[key])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length > 0) out[key] = summarize(values);
  }
  return out;
}

/** The CPU's model name as the kernel reports it (lscpu's "Model name"). */
export function cpuModel(): string {
  return cpus()[0]?.model.trim() ?? 'unknown';
}
