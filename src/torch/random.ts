// Random number generators: torch.manualSeed and explicit Generator objects, so a stream (e.g. data order)
// can be reproducible independently of model initialisation.
import { native, type NativeGenerator } from './native.js';
import { Tensor } from './tensor.js';

export class Generator {
  readonly _h: NativeGenerator;

  /** A new generator on `device` ('cpu' by default), seeded by manualSeed() or left at libtorch's default seed. */
  constructor(device = 'cpu', handle?: NativeGenerator) {
    this._h = handle ?? new native.NativeGenerator(device);
  }
  manualSeed(seed: number | bigint): this {
    this._h.manualSeed(checkSeed(seed, 'Generator.manualSeed'));
    return this;
  }
  initialSeed(): bigint {
    return this._h.seed();
  }
  /** The full generator state as a uint8 tensor (for checkpoints). */
  getState(): Tensor {
    return new Tensor(this._h.getState());
  }
  setState(state: Tensor): this {
    this._h.setState(state._h);
    return this;
  }
  get device(): string {
    return this._h.device();
  }
}

/** Seeds the default generators of all devices, like torch.manual_seed. */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(checkSeed(seed, 'manualSeed'));
}

// Seeds are 64-bit; negative ones wrap modulo 2^64 as in PyTorch. The binding would truncate a fractional number
// and reject anything else with an unhelpful message.
const SEED_MIN = -(2n ** 63n);
const SEED_LIMIT = 2n ** 64n;
function checkSeed(seed: number | bigint, where: string): number | bigint {
  if (typeof seed === 'bigint') {
    if (seed < SEED_MIN || seed >= SEED_LIMIT) throw new RangeError(`${where}: seed ${seed} is outside [-2^63, 2^64)`);
    return seed;
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new TypeError(
      `${where}: seed must be a safe integer or a bigint, got ${typeof seed === 'number' ? seed : typeof seed}`,
    );
  }
  return seed;
}

/** The default generator of a device; random ops without an explicit generator draw from it. */
export function defaultGenerator(device = 'cpu'): Generator {
  return new Generator(device, native.defaultGenerator(device));
}
