// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011 / Random123): a draw is a pure function of
// (key, counter), so each augmented view can own a stream addressed by (seed, epoch, sample, view) and comes out
// the same whatever batch, order or process it is produced in.

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * High 32 bits of the 64-bit product of two unsigned 32-bit integers (the low half is `Math.imul(a, b) >>> 0`).
 * A double holds only 53 bits, so the product is assembled from 16-bit halves whose partial sums stay exact.
 */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff,
    aHi = a >>> 16;
  const bLo = b & 0xffff,
    bHi = b >>> 16;
  const cross1 = aHi * bLo,
    cross2 = aLo * bHi;
  const mid = ((aLo * bLo) >>> 16) + (cross1 & 0xffff) + (cross2 & 0xffff);
  return (aHi * bHi + (cross1 >>> 16) + (cross2 >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32 with 10 rounds, bit-compatible with Random123's `philox4x32_R(10, ctr, key)`. */
export function philox4x32(counter: Uint32Array, key: Uint32Array): Uint32Array {
  if (counter.length !== 4 || key.length !== 2)
    throw new RangeError('philox4x32 takes a 4-word counter and a 2-word key');
  let c0 = counter[0]!,
    c1 = counter[1]!,
    c2 = counter[2]!,
    c3 = counter[3]!;
  let k0 = key[0]!,
    k1 = key[1]!;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0),
      lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2),
      lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

function checkWord(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_POW_32)
    throw new RangeError(`${name} must be an integer in [0, 2^32), got ${v}`);
}

/**
 * One independent random stream per (seed, epoch, sampleIndex, view).
 *
 * Mapping onto Philox (injective, so distinct tuples never share a block):
 *   key     = [seed mod 2^32, floor(seed / 2^32)]          seed: integer in [0, 2^53)
 *   counter = [block, view, sampleIndex, epoch]            each in [0, 2^32); block = 0, 1, 2, ...
 * Words are consumed in order: block 0 words 0..3, then block 1, and so on.
 */
export class CounterRng {
  private readonly key: Uint32Array;
  private readonly counter: Uint32Array;
  private block: Uint32Array = new Uint32Array(4);
  private used = 4;
  private nextBlock = 0;

  constructor(seed: number, epoch: number, sampleIndex: number, view: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`seed must be an integer in [0, 2^53), got ${seed}`);
    checkWord('epoch', epoch);
    checkWord('sampleIndex', sampleIndex);
    checkWord('view', view);
    this.key = Uint32Array.of(seed % TWO_POW_32, Math.floor(seed / TWO_POW_32));
    this.counter = Uint32Array.of(0, view, sampleIndex, epoch);
  }

  /** The next raw 32-bit word of the stream. */
  nextUint32(): number {
    if (this.used === 4) {
      if (this.nextBlock === TWO_POW_32) throw new RangeError('CounterRng stream exhausted (2^32 blocks)');
      this.counter[0] = this.nextBlock++;
      this.block = philox4x32(this.counter, this.key);
      this.used = 0;
    }
    return this.block[this.used++]!;
  }

  /** Uniform in [0, 1) from one 32-bit word: k / 2^32, exact in a double and never 1. */
  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** lo + (hi - lo) * uniform(); one word. */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** True with probability p (uniform() < p, so p = 0 never and p = 1 always); one word. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Unbiased integer in [0, n) for 1 <= n <= 2^32, by rejecting the top 2^32 mod n words (usually one word). */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
      throw new RangeError(`below(n) needs an integer n in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let w = this.nextUint32();
    while (w >= limit) w = this.nextUint32();
    return w % n;
  }

  /** Uniform random permutation of 0..n-1 (Fisher-Yates from the top, drawing below(i + 1) for i = n-1 .. 1). */
  permutation(n: number): number[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`permutation(n) needs a non-negative integer, got ${n}`);
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
