// What a study is: a named grid of short pretraining runs (cells) over one base configuration, how its chart lays
// them out, and the paper's findings it checks. One file per study under studies/, one line in registry.ts.
import type { Summary } from './stats.js';

/** Features a cell is evaluated on: the encoder's h, or the projection z = g(h). */
export type FeatureSet = 'h' | 'z';

/** Where a cell is drawn: a heatmap square (row op then column op), or a point/bar at x in a series. */
export type CellPosition = { row: string; col: string } | { x: string; series: string };

export interface StudyCell {
  /** Folder-safe id, unique in the study: [a-z0-9_.-]+. */
  id: string;
  /** What the cell is, for people. */
  label: string;
  position: CellPosition;
  /** Pretrain settings over the study's base (src/run/options/pretrain.ts keys). */
  config: Record<string, unknown>;
  /** Features evaluated (default ['h']). */
  features?: readonly FeatureSet[];
  /** Training steps (default: the study's --budget). */
  steps?: number;
}

/** What a study's cells and findings may depend on. */
export interface StudyContext {
  /** Steps per cell (--budget). */
  budget: number;
  /** Training images (--subset, or the whole training split). */
  images: number;
  /** The base configuration (study defaults < --config < flags), resolved. */
  base: Readonly<Record<string, unknown>> & {
    batchSize: number;
    colorStrength: number;
    cropMinScale: number;
    temperature: number;
  };
  /** One-channel data: colour jitter is brightness and contrast only, grayscale does nothing. */
  grayscale: boolean;
}

/**
 * A claim of the paper as a comparison of two cells on one metric: the paper found `a` better than `b`. The report
 * says whether our runs agree (a > b beyond noise), disagree, or cannot tell.
 */
export interface Finding {
  claim: string;
  /** Where the paper says it. */
  source: string;
  a: string;
  b: string;
  /** a's metric; default the study's primary metric. */
  metric?: string;
  /** b's metric, when it differs from a's (h against z of the same runs). */
  bMetric?: string;
  /** How a or b was chosen when it depends on the results (e.g. "the best other pair"). */
  note?: string;
}

export interface StudyDefinition {
  name: string;
  /** One line: what it varies and the paper's figure or table. */
  summary: string;
  /** The paper's figure or table it reproduces. */
  paper: string;
  chart: {
    kind: 'heatmap' | 'line' | 'bar';
    /** Line and bar charts: the x axis' title. */
    xLabel?: string;
    /** 'features': one series per evaluated feature set (h, z) instead of the cells' own series. */
    seriesBy?: 'position' | 'features';
  };
  cells(ctx: StudyContext): StudyCell[];
  /** The comparisons to test; `means` gives a cell's primary-metric summary (null until it has a run). */
  findings(ctx: StudyContext, means: (id: string) => Summary | null): Finding[];
}
