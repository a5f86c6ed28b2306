// Sampling and batching of sample indices, independent of tensors. All
// randomness comes from a seeded generator so runs are reproducible.

/** MurmurHash3's 32-bit finaliser: a bijective avalanche mix of a uint32. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A Weyl sequence (step: the 32-bit golden ratio) passed through fmix32,
 * i.e. the 32-bit variant of splitmix. Plenty for shuffling; not for crypto.
 */
class SplitMix32 {
  private state: number;

  constructor(...seeds: number[]) {
    let s = 0x2545f491;
    for (const v of seeds) {
      if (!Number.isSafeInteger(v)) throw new RangeError(`seed must be a safe integer, got ${v}`);
      // Both 32-bit halves count, so seeds that differ only above bit 31 differ.
      const hi = Math.floor(v / 0x100000000) >>> 0;
      s = fmix32(s ^ fmix32((v >>> 0) + 0x9e3779b9));
      s = fmix32(s ^ fmix32(hi + 0x7f4a7c15));
    }
    this.state = s;
  }

  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return fmix32(this.state);
  }

  /** Uniform integer in [0, bound), bound <= 2^32, without modulo bias (rejection sampling). */
  below(bound: number): number {
    const limit = 0x100000000 - (0x100000000 % bound);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % bound;
    }
  }
}

function shuffleInPlace(a: Uint32Array, rng: SplitMix32): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`${what} must be an integer in [0, 2^32), got ${n}`);
}

/** The sample order for one epoch: a Fisher-Yates shuffle of 0..n-1 determined by (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  checkCount('dataset size', n);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  shuffleInPlace(perm, new SplitMix32(seed, epoch));
  return perm;
}

/**
 * Consecutive slices of `perm` of `batchSize` indices; the final short batch
 * is yielded unless `dropLast`. Slices are views into `perm`, not copies.
 */
export function* batchIndices(
  perm: Uint32Array,
  batchSize: number,
  dropLast: boolean,
): Generator<Uint32Array, void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  for (let start = 0; start < perm.length; start += batchSize) {
    const end = Math.min(start + batchSize, perm.length);
    if (dropLast && end - start < batchSize) return;
    yield perm.subarray(start, end);
  }
}

/**
 * A reproducible class-balanced subset for few-label fine-tuning: from each
 * class, round(fraction * classSize) samples (at least 1), chosen by a seeded
 * shuffle. Samples labelled -1 are never chosen. Returns sorted indices.
 */
export function classBalancedSubset(labels: Int32Array, fraction: number, seed: number): Uint32Array {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`label fraction must be in (0, 1], got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c < 0) continue;
    let members = byClass.get(c);
    if (!members) {
      members = [];
      byClass.set(c, members);
    }
    members.push(i);
  }
  const chosen: number[] = [];
  // Each class gets its own stream, so one class's size never shifts another's choice.
  for (const [c, members] of byClass) {
    const take = Math.min(members.length, Math.max(1, Math.round(fraction * members.length)));
    const shuffled = Uint32Array.from(members);
    shuffleInPlace(shuffled, new SplitMix32(seed, c, 0x5eed));
    for (let k = 0; k < take; k++) chosen.push(shuffled[k]!);
  }
  return Uint32Array.from(chosen).sort();
}
