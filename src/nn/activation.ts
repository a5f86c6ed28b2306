// Activation modules.
import * as torch from '../torch/index.js';
import { Module } from './module.js';

type Tensor = torch.Tensor;

/** max(x, 0) elementwise; out of place, so the input is never modified. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return torch.nn.functional.relu(x);
  }
}
