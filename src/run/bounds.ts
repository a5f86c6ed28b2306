// The bounds of the numeric command-line options, written in each command's option schema (src/run/options/), those
// several commands share here; used by both the commander parsers (src/cli/options.ts) and config files/library
// configs (resolveConfig, commandOptions), so a value is refused with the same one-line message either way, before any
// work starts. The limits are the ones past which a run cannot do what the option promises:
//   --threads        at most 1024 (100000 started thousands of OS threads and no step finished); a fixed cap, not
//                    one of this machine's cores, so a run folder made on a bigger machine still opens here
//   --batch-size     pretraining: at least 2, NT-Xent needs negatives (a batch of 1 has a loss of exactly 0)
//   --width          [1/16, 8]: every ResNet stage keeps at least 4 channels (64/16) instead of rounding to 1
//   --lr             (0, 100]: a finite base rate; scaled by batch/256 it must stay finite
//   --seed           a safe integer in [0, 2^53): the augmentation RNG's key range (src/augment/rng.ts)
//   --image-size     [8, 1024] px: the decoded folder images are held in memory as bytes
//   --proj-dim       [1, 16384]; --proj-layers [0, 16]
//   --margin         [0, 2]: cosine similarities differ by at most 2, so a larger margin keeps every negative active
//   --epochs         (0, 1e6]; pretrain() also refuses epochs that give zero steps on the data

import { MAX_COLOR_STRENGTH } from '../augment/ops/color-jitter.js';

export interface NumberBound {
  /** 'int' values must be safe integers. */
  kind: 'int' | 'number';
  min: number;
  max: number;
  /** The lower end is excluded: (min, max]. */
  minExclusive?: boolean;
  /** The upper end is excluded: [min, max). */
  maxExclusive?: boolean;
  /** Why the bound is there, appended to the message. */
  why?: string;
}

/** Largest --threads accepted: a fixed cap (not this machine's), so a run's config.json is valid on any machine. */
export const MAX_THREADS = 1024;
const SAFE = Number.MAX_SAFE_INTEGER;

const threads: NumberBound = {
  kind: 'int',
  min: 1,
  max: MAX_THREADS,
  why: 'more threads than any CPU has cores only oversubscribes them',
};
const seed: NumberBound = { kind: 'int', min: 0, max: SAFE, why: 'the range of the seeded generators, [0, 2^53)' };
const positiveCount: NumberBound = { kind: 'int', min: 1, max: SAFE };
const lr: NumberBound = { kind: 'number', min: 0, minExclusive: true, max: 100 };
const weightDecay: NumberBound = { kind: 'number', min: 0, max: 1 };
const imageSize: NumberBound = { kind: 'int', min: 8, max: 1024 };
const colorStrength: NumberBound = { kind: 'number', min: 0, max: MAX_COLOR_STRENGTH };
/** A share of something, more than none of it: (0, 1]. */
const share: NumberBound = { kind: 'number', min: 0, minExclusive: true, max: 1 };

/** Bounds shared by several commands' options; the others are written in their field (src/run/options/). */
export const SHARED_BOUNDS = {
  threads,
  seed,
  positiveCount,
  lr,
  weightDecay,
  imageSize,
  colorStrength,
  share,
} as const satisfies Record<string, NumberBound>;

/** How a value is named in a message: strings are quoted and called strings, so "32" never reads as 32. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function fmt(x: number): string {
  if (x === Number.MAX_SAFE_INTEGER) return '2^53-1';
  if (x === 1 / 16) return '1/16';
  return String(x);
}

/** The bound in words: 'an integer in [2, 1048576] (why)'. */
export function describeBound(b: NumberBound): string {
  const range = `${b.minExclusive ? '(' : '['}${fmt(b.min)}, ${fmt(b.max)}${b.maxExclusive ? ')' : ']'}`;
  return `${b.kind === 'int' ? 'an integer' : 'a number'} in ${range}${b.why ? ` (${b.why})` : ''}`;
}

/** Whether v is a number (not a numeric string) within the bound. */
export function withinBound(v: unknown, b: NumberBound): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (b.kind === 'int' && !Number.isSafeInteger(v)) return false;
  if (b.minExclusive ? !(v > b.min) : !(v >= b.min)) return false;
  return b.maxExclusive ? v < b.max : v <= b.max;
}

/** The message for a value outside its bound, naming the flag: '--threads must be an integer in [1, 8] (...), got
 * 100000'. */
export function boundMessage(flag: string, v: unknown, b: NumberBound): string {
  return `${flag} must be ${describeBound(b)}, got ${describeValue(v)}`;
}
