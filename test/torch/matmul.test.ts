// Matrix products (matmul with its 1-d and batched broadcasting rules, mm, bmm, addmm, mv, dot, outer), einsum
// and cdist against PyTorch (test/golden/ops_matmul.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { goldenSuite, num, str } from './golden.js';

goldenSuite('matmul', {
  matmul: (x) => x[0]!.matmul(x[1]!),
  mm: (x) => x[0]!.mm(x[1]!),
  mm_t: (x) => x[0]!.mm(x[1]!.t()),
  bmm: (x) => x[0]!.bmm(x[1]!),
  addmm: (x, a) => x[0]!.addmm(x[1]!, x[2]!, num(a.beta), num(a.alpha)),
  mv: (x) => x[0]!.mv(x[1]!),
  dot: (x) => x[0]!.dot(x[1]!),
  outer: (x) => x[0]!.outer(x[1]!),
  t: (x) => x[0]!.t(),
  einsum: (x, a) => torch.einsum(str(a.equation), x),
  cdist: (x, a) => torch.cdist(x[0]!, x[1]!, num(a.p)),
});

test('mm and bmm insist on exact ranks where matmul broadcasts', () => {
  torch.scope(() => {
    const a = torch.ones([2, 3, 4]);
    const b = torch.ones([4, 5]);
    assert.deepEqual(a.matmul(b).shape, [2, 3, 5]);
    assert.throws(() => a.mm(b), /aten::mm/);
    assert.throws(() => a.bmm(b), /aten::bmm/);
  });
});
