// Modules that pass data through or only reshape it.
import * as torch from '../torch/index.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;

/** Returns its input unchanged, as a fresh handle (an alias), so the caller may dispose the result freely. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return torch.raw.alias(x);
  }
}

/** Flattens dims startDim..endDim into one (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}
