// What a run folder allows: starting a run where one exists (only with overwrite), and resuming with changed settings
// (per field: never, only when forced, or with a warning). config.json keeps the run's original settings; every resume
// appends what it changed to config-history.jsonl.
import { appendJsonLine, readJsonLines, type JsonLinesSpec } from '../io/jsonl.js';
import { join } from 'node:path';
import { LOSSES, type LossSettings } from '../loss/index.js';
import { ConfigError, kebab, PIPELINE_SETTINGS, type PretrainConfig } from './config.js';

/** How a resumed run starts; a boolean is `{ resume }`. */
export interface RunStart {
  /** Continue the run in cfg.out from its last checkpoint. */
  resume?: boolean;
  /** Start a new run where one exists, deleting what simclr wrote there (RUN_OUTPUTS). Not with resume. */
  overwrite?: boolean;
  /** Resume even where the settings change the step counter, data order, schedule or objective ('refuse' fields). */
  forceResume?: boolean;
}

export function normalizeStart(start: boolean | RunStart): RunStart {
  const s = typeof start === 'boolean' ? { resume: start } : start;
  if (s.resume === true && s.overwrite === true)
    throw new ConfigError('--resume and --overwrite exclude each other: continue the run, or replace it');
  return s;
}

/**
 * What a change of each setting does to a resumed run:
 * - fixed: the checkpoint cannot be loaded (weight or optimizer-state shapes); refused, even when forced.
 * - refuse: the resumed run would no longer continue the recorded one (step counter, data order, lr schedule, loss or
 *   augmentations change mid-run); refused unless forced (--force-resume).
 * - warn: how the run executes or reports, not what it computes (or not beyond rounding); allowed with a warning.
 * - free: expected to change on resume (how far to train; where the folder is now); recorded without a warning.
 *   A loss setting that neither the recorded nor the resumed loss reads (LOSSES' `settings`) is free too.
 * Every setting must be listed: a new one fails to compile until it is classified.
 */
export type ResumeRule = 'fixed' | 'refuse' | 'warn' | 'free';

export const RESUME_RULES: { readonly [K in keyof PretrainConfig]-?: ResumeRule } = {
  arch: 'fixed',
  width: 'fixed',
  stem: 'fixed',
  projLayers: 'fixed',
  projDim: 'fixed',
  optimizer: 'fixed',
  // What a preset sets is compared field by field below: a --preset given on a resume re-resolves those of its
  // settings not given on that command line (src/cli/pretrain.ts), so a change shows there.
  preset: 'free',
  data: 'refuse',
  subset: 'refuse',
  imageSize: 'refuse',
  epochs: 'refuse',
  batchSize: 'refuse',
  seed: 'refuse',
  lr: 'refuse',
  lrScaling: 'refuse',
  warmupEpochs: 'refuse',
  weightDecay: 'refuse',
  loss: 'refuse',
  temperature: 'refuse',
  margin: 'refuse',
  l2Normalize: 'refuse',
  colorStrength: 'refuse',
  cropMinScale: 'refuse',
  blur: 'refuse',
  augment: 'refuse',
  augment2: 'refuse',
  precision: 'warn',
  device: 'warn',
  threads: 'warn',
  syncBn: 'warn',
  strict: 'warn',
  logSteps: 'warn',
  checkpointSteps: 'warn',
  knnEvery: 'warn',
  maxSteps: 'free',
  out: 'free',
};

// 'warn' settings that change what the run reports or when it checkpoints, never its numbers.
const REPORTING_ONLY = new Set(['logSteps', 'checkpointSteps', 'knnEvery', 'strict']);

const LOSS_SETTINGS: ReadonlySet<string> = new Set<keyof LossSettings>(['temperature', 'margin']);

const PIPELINE: ReadonlySet<string> = new Set(PIPELINE_SETTINGS);

/**
 * The rule for one setting of this resume: a setting nothing reads before or after changes nothing, so it is free: a
 * loss setting that neither the recorded loss nor the resumed one reads (--margin of an NT-Xent run), or a default
 * pipeline setting of a run whose views both segments make from augment lists; otherwise RESUME_RULES.
 */
function ruleFor(key: keyof PretrainConfig, recorded: PretrainConfig, cfg: PretrainConfig): ResumeRule {
  if (PIPELINE.has(key)) return recorded.augment !== null && cfg.augment !== null ? 'free' : RESUME_RULES[key];
  if (!LOSS_SETTINGS.has(key)) return RESUME_RULES[key];
  const reads = (loss: PretrainConfig['loss']): boolean =>
    (LOSSES[loss]?.settings as readonly string[] | undefined)?.includes(key) ?? true;
  return reads(recorded.loss) || reads(cfg.loss) ? RESUME_RULES[key] : 'free';
}

/** Run facts that are not settings but change between segments: compared like 'warn' settings. */
export interface RunFacts {
  worldSize: number;
  /** The resolved device ('cpu', 'cuda:0'). */
  device: string;
}

export type Changes = Record<string, { from: unknown; to: unknown }>;

/** One line of config-history.jsonl: a resume, the step it resumed from and what it changed. */
export interface HistoryEntry {
  time: string;
  step: number;
  forced: boolean;
  changes: Changes;
  /** The settings from this resume on (what readRunConfig reports). */
  config: PretrainConfig;
  facts: RunFacts;
  /**
   * A forced resume that changed the steps per epoch continues at the next epoch boundary (src/train/setup.ts,
   * resumePosition): the step it continues from, in the new numbering, and the steps per epoch before (null where an
   * old checkpoint did not tell) and after.
   */
  renumbered?: { step: number; stepsPerEpoch: { from: number | null; to: number } };
}

export const HISTORY_FILE = 'config-history.jsonl';

const show = (v: unknown): string => (v === null ? 'default' : typeof v === 'string' ? v : JSON.stringify(v));
const list = (c: Changes): string =>
  Object.entries(c)
    .map(([k, v]) => `${kebab(k)} ${show(v.from)} -> ${show(v.to)}`)
    .join(', ');

/**
 * Compares a resume's settings and facts with the run's current ones (config.json plus history). Returns the changes
 * and a warning for the 'warn' ones (null if none). Throws ConfigError naming each field, old -> new: for any 'fixed'
 * change, and for 'refuse' changes unless `force`.
 */
export function checkResume(
  dir: string,
  recorded: PretrainConfig,
  cfg: PretrainConfig,
  facts: { before: Partial<RunFacts>; now: RunFacts },
  force: boolean,
): { changes: Changes; warning: string | null } {
  const changes: Changes = {};
  const byRule: Record<'fixed' | 'refuse' | 'warn', Changes> = { fixed: {}, refuse: {}, warn: {} };
  for (const key of Object.keys(RESUME_RULES) as (keyof PretrainConfig)[]) {
    const [from, to] = [recorded[key], cfg[key]];
    // Lists (augment) compare by value.
    if (from === to || (typeof from === 'object' && from !== null && JSON.stringify(from) === JSON.stringify(to)))
      continue;
    changes[key] = { from, to };
    const rule = ruleFor(key, recorded, cfg);
    if (rule !== 'free') byRule[rule][key] = { from, to };
  }
  for (const key of ['worldSize', 'device'] as const) {
    const [from, to] = [facts.before[key], facts.now[key]];
    // Runs made before these were recorded: nothing to compare with.
    if (from === undefined || from === to) continue;
    const name = key === 'device' ? 'trainingDevice' : key;
    changes[name] = byRule.warn[name] = { from, to };
  }
  if (Object.keys(byRule.fixed).length > 0) {
    throw new ConfigError(
      `--resume cannot change ${list(byRule.fixed)} of the run in ${dir}: its checkpoint holds weights and ` +
        `optimizer state of another shape (start a new run in another --out)`,
    );
  }
  if (Object.keys(byRule.refuse).length > 0 && !force) {
    throw new ConfigError(
      `--resume would change ${list(byRule.refuse)} of the run in ${dir}, which changes its step counter, data ` +
        `order, schedule or objective mid-run; pass --force-resume to resume with them anyway (recorded in ` +
        `${HISTORY_FILE}), or start a new run in another --out`,
    );
  }
  const warned = { ...byRule.refuse, ...byRule.warn };
  const differs = Object.keys(warned).some((k) => !REPORTING_ONLY.has(k));
  const warning =
    Object.keys(warned).length === 0
      ? null
      : `resuming ${dir} with ${list(warned)}${
          differs ? ': the result will differ from an uninterrupted ' + "run's" : ''
        } (recorded in ${HISTORY_FILE}; config.json keeps the original settings)`;
  return { changes, warning };
}

// config-history.jsonl as a JSON-lines log. Resumes are rare: a history over 64 MiB is not one simclr wrote.
const HISTORY_LOG: JsonLinesSpec = {
  what: 'a run history',
  maxBytes: 64 * 1024 * 1024,
  problem: (v: unknown): string | null => {
    const e = v as Partial<HistoryEntry>;
    if (e.config === null || typeof e.config !== 'object' || Array.isArray(e.config))
      return "field 'config' is not an object";
    if (!Number.isSafeInteger(e.step) || (e.step as number) < 0) return "field 'step' is not a non-negative integer";
    return null;
  },
};

/**
 * The last complete entry of a run's history, or null (no resumes yet, or a run made before the history existed).
 * A torn last line is left out; throws ConfigError naming the file and line for a damaged line before it.
 */
export function lastHistoryEntry(dir: string): HistoryEntry | null {
  const { values } = readJsonLines<HistoryEntry>(join(dir, HISTORY_FILE), HISTORY_LOG, (m) => new ConfigError(m));
  return values.at(-1) ?? null;
}

/** Appends a resume to the run's history (after cutting a torn last line a killed writer left). */
export function appendHistory(dir: string, entry: HistoryEntry): void {
  appendJsonLine(join(dir, HISTORY_FILE), entry, HISTORY_LOG);
}

/**
 * Refuses to start a new run over an existing one unless `overwrite`, and over files simclr did not write at all.
 * Deletes nothing: pretrain() removes the old run's files (removeRunOutputs) only once every check that can fail
 * before training has passed. `contents` is inspectRunFolder's (src/run/folder.ts).
 */
export function checkNewRun(
  dir: string,
  contents: { kind: 'empty' } | { kind: 'run'; checkpoint: boolean } | { kind: 'foreign'; file: string; why: string },
  overwrite: boolean,
): void {
  if (contents.kind === 'foreign') {
    throw new ConfigError(
      `${dir} holds files simclr did not write (${contents.why}); it replaces or removes only its own runs, ` +
        `--overwrite included: choose another --out`,
    );
  }
  if (contents.kind === 'empty' || overwrite) return;
  // Without a checkpoint there is nothing --resume could continue from.
  const [held, advice] = contents.checkpoint
    ? ['a run with a checkpoint', 'pass --resume to continue it or --overwrite to replace it']
    : ['a run that never wrote a checkpoint', 'there is nothing to resume; pass --overwrite to start again'];
  throw new ConfigError(`${dir} holds ${held}: ${advice} (or choose another --out)`);
}
