// The fixed SyncBatchNorm case shared by the ranks and the single-process reference.
import * as torch from '../../src/torch/index.js';
import { BatchNorm1d, BatchNorm2d } from '../../src/nn/index.js';

/** Rows of the global batch held by rank 0 and rank 1 (unequal on purpose). */
export const ROWS = [3, 5];

export function syncBnCase(kind: '2d' | '1d'): { bn: BatchNorm1d | BatchNorm2d; x: torch.Tensor; c: torch.Tensor } {
  const g = new torch.Generator();
  g.manualSeed(7);
  const shape = kind === '2d' ? [8, 3, 4, 4] : [8, 3];
  const x = torch.randn(shape, { generator: g }).mul(2).add(0.5);
  const c = torch.randn(shape, { generator: g });
  const bn = kind === '2d' ? new BatchNorm2d(3, { momentum: 0.3 }) : new BatchNorm1d(3, { momentum: null });
  torch.noGrad(() => {
    bn.weight!.copy_(torch.tensor([1, 2, 0.5]));
    bn.bias!.copy_(torch.tensor([0.1, -0.2, 0.3]));
  });
  return { bn, x, c };
}
