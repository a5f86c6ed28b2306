// torch.* functions that take several tensors (the single-tensor ones are Tensor methods).
import * as ops from './generated/ops.js';
import { Tensor, type TensorOrScalar } from './tensor.js';
import { scalarTensor } from './creation.js';

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return ops.cat(tensors, dim);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return ops.stack(tensors, dim);
}
/** Elementwise choice: condition ? input : other. */
export function where(condition: Tensor, input: TensorOrScalar, other: TensorOrScalar): Tensor {
  const like = input instanceof Tensor ? input : other instanceof Tensor ? other : null;
  const a = input instanceof Tensor ? input : scalarTensor(input, { dtype: like?.dtype ?? 'float32' });
  const b = other instanceof Tensor ? other : scalarTensor(other, { dtype: like?.dtype ?? 'float32' });
  const out = ops.where$self(condition, a, b);
  if (a !== input) a.dispose();
  if (b !== other) b.dispose();
  return out;
}
export function einsum(equation: string, operands: readonly Tensor[]): Tensor {
  return ops.einsum(equation, operands);
}
export function broadcastTensors(tensors: readonly Tensor[]): Tensor[] {
  return ops.broadcast_tensors(tensors);
}
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  return ops.cdist(x1, x2, p);
}
