// The fixed SyncBatchNorm cases shared by the ranks and the single-process reference.
import * as torch from '../../src/torch/index.js';
import { BatchNorm1d, BatchNorm2d } from '../../src/nn/index.js';

/** Rows of the global batch held by rank 0 and rank 1 (unequal on purpose). */
export const ROWS = [3, 5];

/** 2d: momentum 0.3; 1d: cumulative running average; bare: no affine parameters, no running statistics. */
export const KINDS = ['2d', '1d', 'bare'] as const;
export type Kind = (typeof KINDS)[number];

export function syncBnCase(kind: Kind): { bn: BatchNorm1d | BatchNorm2d; x: torch.Tensor; c: torch.Tensor } {
  const g = new torch.Generator();
  g.manualSeed(7);
  const shape = kind === '1d' ? [8, 3] : [8, 3, 4, 4];
  const x = torch.randn(shape, { generator: g }).mul(2).add(0.5);
  const c = torch.randn(shape, { generator: g });
  const bn =
    kind === '2d'
      ? new BatchNorm2d(3, { momentum: 0.3 })
      : kind === '1d'
        ? new BatchNorm1d(3, { momentum: null })
        : new BatchNorm2d(3, { affine: false, trackRunningStats: false });
  if (bn.affine) {
    torch.noGrad(() => {
      bn.weight!.copy_(torch.tensor([1, 2, 0.5]));
      bn.bias!.copy_(torch.tensor([0.1, -0.2, 0.3]));
    });
  }
  return { bn, x, c };
}

/** A float tensor's values as plain numbers (null stays null). */
export function floats(t: torch.Tensor | null | undefined): number[] | null {
  return t === null || t === undefined ? null : Array.from(t.toArray() as Float32Array);
}
