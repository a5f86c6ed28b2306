// Sequential: runs its children in order; they are named '0', '1', ... as in PyTorch.
import * as torch from '../torch/index.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;
type Layer = Module<Tensor, Tensor>;

export class Sequential extends Module {
  private readonly layers: Layer[] = [];

  constructor(...layers: Layer[]) {
    super();
    for (const layer of layers) this.append(layer);
  }

  append(layer: Layer): this {
    this.registerModule(String(this.layers.length), layer);
    this.layers.push(layer);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  /** The i-th layer; negative i counts from the end. */
  at(i: number): Layer {
    const layer = this.layers.at(i);
    if (layer === undefined) throw new RangeError(`Sequential.at(${i}): there are ${this.layers.length} layers`);
    return layer;
  }

  forward(x: Tensor): Tensor {
    // Intermediate handles are released as soon as the next layer has consumed them; autograd keeps what it
    // saved for backward on its own, so this only lowers peak memory.
    let out = torch.raw.alias(x);
    for (const layer of this.layers) {
      const next = layer.call(out);
      out.dispose();
      out = next;
    }
    return out;
  }
}
