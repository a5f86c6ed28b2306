#!/usr/bin/python3
"""Golden values for the tensor API tests (test/torch/*.test.ts), computed with Debian's python3-torch 1.13.

Each family file test/golden/ops_<family>.json holds cases: the inputs (drawn from a fixed per-family seed and
stored in full, so the tests rebuild them without any RNG), the named op with its keyword arguments, PyTorch's
outputs and, for differentiable outputs, a random upstream gradient and the resulting input gradients of
sum(out * upstream). Every op key used here has a twin of the same name in the TypeScript test for that family.

Run from the repository root:  /usr/bin/python3 test/golden/gen_ops.py
"""
import json
import math
import os
import warnings

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {
    torch.float64: 'float64', torch.float32: 'float32', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
    torch.int64: 'int64', torch.int32: 'int32', torch.int16: 'int16', torch.int8: 'int8', torch.uint8: 'uint8',
    torch.bool: 'bool',
}
BY_NAME = {v: k for k, v in DTYPES.items()}
f64 = torch.float64


def num(v):
    """JSON has no NaN or infinities; the TS side decodes these strings back."""
    if isinstance(v, float):
        if math.isnan(v):
            return 'nan'
        if math.isinf(v):
            return 'inf' if v > 0 else '-inf'
    return v


def enc_args(v):
    if isinstance(v, dict):
        return {k: enc_args(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc_args(x) for x in v]
    return num(v)


def sc(v):
    """A JS number that is integral reaches libtorch as an integer Scalar; mirror that for Python floats."""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return v


def dt(name):
    return None if name is None else BY_NAME[name]


def enc(t):
    t = t.detach()
    flat = t.reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    if t.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return {'shape': list(t.shape), 'dtype': DTYPES[t.dtype], 'data': [num(v) for v in flat.tolist()]}


class Family:
    def __init__(self, name, seed):
        self.name = name
        self.cases = []
        self.gen = torch.Generator().manual_seed(seed)

    # Input builders: all draws come from this family's generator, so the file is reproducible.
    def randn(self, *shape, dtype=f64, scale=1.0):
        return (torch.randn(shape, generator=self.gen, dtype=f64) * scale).to(dtype)

    def pos(self, *shape, dtype=f64, low=0.5, high=2.0):
        return (low + (high - low) * torch.rand(shape, generator=self.gen, dtype=f64)).to(dtype)

    def randint(self, low, high, *shape, dtype=torch.int64):
        return torch.randint(low, high, shape, generator=self.gen, dtype=dtype)

    def perm(self, n):
        return torch.randperm(n, generator=self.gen)

    def mask(self, *shape):
        return torch.rand(shape, generator=self.gen) < 0.5

    def case(self, name, op, fn, inputs=(), args=None, grad=None, tol=None):
        """grad: None differentiates every floating input, a list names the input positions to differentiate."""
        args = args or {}
        xs = []
        for i, x in enumerate(inputs):
            want = x.is_floating_point() if grad is None else i in grad
            xs.append(x.detach().clone().requires_grad_(want))
        # Encoded before the op runs: in-place ops (batch norm's running stats) mutate their inputs.
        specs = [dict(enc(x), grad=x.requires_grad) for x in xs]
        out = fn(xs, args)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        ups, loss = [], None
        for o in outs:
            if o.requires_grad:
                u = torch.randn(o.shape, generator=self.gen, dtype=f64).to(o.dtype)
                term = (o * u).sum()
                loss = term if loss is None else loss + term
                ups.append(enc(u)['data'])
            else:
                ups.append(None)
        grads = [None] * len(xs)
        wanted = [i for i, x in enumerate(xs) if x.requires_grad]
        if loss is not None and wanted:
            gs = torch.autograd.grad(loss, [xs[i] for i in wanted], allow_unused=True)
            for i, g in zip(wanted, gs):
                grads[i] = None if g is None else enc(g)['data']
        c = {
            'name': f'{self.name}/{name}', 'op': op, 'args': enc_args(args),
            'inputs': specs,
            'outputs': [enc(o) for o in outs], 'upstream': ups, 'grads': grads,
        }
        if tol is not None:
            c['tol'] = tol
        self.cases.append(c)

    def write(self):
        path = os.path.join(HERE, f'ops_{self.name}.json')
        with open(path, 'w') as f:
            json.dump({'generator': 'test/golden/gen_ops.py', 'torch': torch.__version__, 'cases': self.cases},
                      f, allow_nan=False, separators=(',', ':'))
            f.write('\n')
        print(f'{path}: {len(self.cases)} cases')


# ---------------------------------------------------------------------------------------------------- creation
def creation():
    C = Family('creation', 100)
    for shape, d in (([2, 3], 'float32'), ([4], 'int64'), ([2, 0, 3], 'float64'), ([], 'bool')):
        C.case(f'zeros{shape}/{d}', 'zeros', lambda x, a: torch.zeros(a['shape'], dtype=dt(a['dtype'])),
               args={'shape': shape, 'dtype': d})
        C.case(f'ones{shape}/{d}', 'ones', lambda x, a: torch.ones(a['shape'], dtype=dt(a['dtype'])),
               args={'shape': shape, 'dtype': d})
    C.case('zeros/default', 'zeros', lambda x, a: torch.zeros(a['shape']), args={'shape': [3, 1]})
    for value, d in ((3.5, 'float32'), (-2.0, 'float64'), (7.0, 'int32'), (1.0, 'bool'), (0.1, 'float16'), (0.1, 'bfloat16')):
        C.case(f'full/{value}/{d}', 'full', lambda x, a: torch.full(a['shape'], sc(a['value']), dtype=dt(a['dtype'])),
               args={'shape': [2, 2], 'value': value, 'dtype': d})
    C.case('full/bool-value', 'full_bool', lambda x, a: torch.full(a['shape'], True), args={'shape': [3]})
    # torch.arange infers int64 from integer arguments and float32 otherwise.
    for start, end, step, d in ((0, 5, 1, None), (1, 4, 0.5, None), (0, 1, 0.1, None), (10, 0, -3, None),
                                (-1, 1, 0.25, 'float64'), (0, 6, 2, 'float32'), (0.5, 3, 1, None)):
        C.case(f'arange/{start},{end},{step}/{d}', 'arange',
               lambda x, a: torch.arange(sc(a['start']), sc(a['end']), sc(a['step']), dtype=dt(a['dtype'])),
               args={'start': start, 'end': end, 'step': step, 'dtype': d})
    C.case('arange/end-only', 'arange_end', lambda x, a: torch.arange(a['end']), args={'end': 6})
    for start, end, steps, d in ((0, 1, 5, None), (-2, 3, 7, 'float64'), (0, 1, 1, None), (3, -3, 4, None)):
        C.case(f'linspace/{start},{end},{steps}/{d}', 'linspace',
               lambda x, a: torch.linspace(a['start'], a['end'], a['steps'], dtype=dt(a['dtype'])),
               args={'start': start, 'end': end, 'steps': steps, 'dtype': d})
    for n, m, d in ((3, None, None), (2, 4, None), (4, 2, 'int32'), (3, 3, 'float64')):
        C.case(f'eye/{n},{m}/{d}', 'eye',
               lambda x, a: torch.eye(a['n'], a['m'] if a['m'] is not None else a['n'], dtype=dt(a['dtype'])),
               args={'n': n, 'm': m, 'dtype': d})
    base = C.randn(2, 3)
    ibase = C.randint(-5, 5, 2, 3)
    for d in (None, 'float64', 'int64', 'bool'):
        C.case(f'zerosLike/{d}', 'zerosLike', lambda x, a: torch.zeros_like(x[0], dtype=dt(a['dtype'])), [ibase], {'dtype': d})
        C.case(f'onesLike/{d}', 'onesLike', lambda x, a: torch.ones_like(x[0], dtype=dt(a['dtype'])), [ibase], {'dtype': d})
    C.case('fullLike/float', 'fullLike', lambda x, a: torch.full_like(x[0], sc(a['value'])), [base], {'value': -1.25}, grad=[])
    C.case('fullLike/int', 'fullLike', lambda x, a: torch.full_like(x[0], sc(a['value'])), [ibase], {'value': 4})

    # torch.tensor from nested lists: float32 unless a dtype is given (JS numbers carry no int/float split).
    nested = [[0.1, -1.7, 2.5], [3.9, -0.5, 1e-3]]
    for d in ('float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool'):
        C.case(f'tensor/nested/{d}', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
               args={'data': nested, 'dtype': d})
    C.case('tensor/nested/uint8', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': [[0.0, 1.9], [200.5, 255.0]], 'dtype': 'uint8'})
    C.case('tensor/nested/bool-values', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': [[True, False], [False, True]], 'dtype': None})
    C.case('tensor/nested/bool-to-float', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': [True, False, True], 'dtype': 'float32'})
    C.case('tensor/nested/fractions-to-bool', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': [0.5, 0.0, -2.0, 1e-30], 'dtype': 'bool'})
    C.case('tensor/nested/mixed-bool-number', 'tensor_nested', lambda x, a: torch.tensor([float(v) for v in a['data']]),
           args={'data': [True, 2.5, False], 'dtype': None})
    C.case('tensor/nested/scalar', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': 2.75, 'dtype': None})
    C.case('tensor/nested/empty-rows', 'tensor_nested', lambda x, a: torch.tensor(a['data'], dtype=dt(a['dtype'])),
           args={'data': [[], []], 'dtype': None})
    # From typed arrays: the array's own dtype, reshaped, then optionally converted.
    typed = {'Float32Array': torch.float32, 'Float64Array': torch.float64, 'Int32Array': torch.int32,
             'BigInt64Array': torch.int64, 'Uint8Array': torch.uint8, 'Int16Array': torch.int16, 'Int8Array': torch.int8}
    for arr, natural, data, to in (
            ('Float32Array', torch.float32, [0.1, -2.5, 3.25, 1e-8, 7.0, -0.0], None),
            ('Float64Array', torch.float64, [0.1, -2.5, 3.25, 1e-8, 7.0, -0.0], None),
            ('Float32Array', torch.float32, [0.1, -2.5, 3.25, 1e-8, 7.0, 65504.0], 'float16'),
            ('Float32Array', torch.float32, [0.1, -2.5, 3.25, 1e-8, 7.0, 3.0e38], 'bfloat16'),
            ('Int32Array', torch.int32, [1, -2, 3, 2147483647, -2147483648, 0], None),
            ('BigInt64Array', torch.int64, [1, -2, 3, 2 ** 40, -(2 ** 40), 0], None),
            ('Uint8Array', torch.uint8, [0, 1, 2, 128, 255, 7], None),
            ('Uint8Array', torch.uint8, [0, 1, 2, 128, 255, 0], 'bool'),
            ('Int16Array', torch.int16, [0, -1, 2, 32767, -32768, 5], None),
            ('Int8Array', torch.int8, [0, -1, 2, 127, -128, 5], 'float64'),
            ('Float64Array', torch.float64, [0.5, -1.5, 2.5, -2.7, 300.9, 1e-3], 'int64')):
        C.case(f'tensor/{arr}->{to}', 'tensor_typed',
               lambda x, a: torch.tensor(a['data'], dtype=typed[a['array']]).reshape(a['shape']).to(dt(a['dtype']) or typed[a['array']]),
               args={'array': arr, 'data': data, 'shape': [2, 3], 'dtype': to})

    # Conversions with to(): rounding, truncation toward zero, and nonzero-is-true.
    src = torch.tensor([-2.7, -0.5, 0.0, 0.5, 1.5, 2.5, 100.7, 1e-3], dtype=f64)
    for d in ('float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'bool'):
        C.case(f'to/{d}', 'to', lambda x, a: x[0].to(dt(a['dtype'])), [src], {'dtype': d},
               grad=[0] if d in ('float32', 'float16', 'bfloat16') else [])
    C.case('to/uint8-from-positive', 'to', lambda x, a: x[0].to(dt(a['dtype'])), [src.abs()], {'dtype': 'uint8'}, grad=[])
    C.case('to/bool-to-float', 'to', lambda x, a: x[0].to(dt(a['dtype'])), [C.mask(2, 3)], {'dtype': 'float32'})
    C.case('to/int-to-float64', 'to', lambda x, a: x[0].to(dt(a['dtype'])), [ibase], {'dtype': 'float64'})
    for m in ('float', 'double', 'half', 'long', 'int', 'bool', 'byte'):
        C.case(f'method/{m}', 'convert_method', lambda x, a: getattr(x[0], a['method'])(), [src.abs()], {'method': m},
               grad=[])
    C.case('contiguous/transposed', 'contiguous', lambda x, a: x[0].t().contiguous(), [C.randn(3, 4)])
    C.case('clone', 'clone', lambda x, a: x[0].clone(), [C.randn(2, 3)])
    C.case('detach', 'detach', lambda x, a: x[0].detach().mul(2), [C.randn(2, 3)])
    C.case('item/float64', 'item', lambda x, a: x[0].reshape(-1)[a['i']], [C.randn(5)], {'i': 3}, grad=[])
    return C


# ---------------------------------------------------------------------------------------------------- elementwise
def elementwise():
    E = Family('elementwise', 200)
    A, B = (2, 3), (3,)

    def binary(name, op, fn, x, y, args=None, **kw):
        E.case(name, op, fn, [x, y], args, **kw)

    binary('add/broadcast', 'add', lambda x, a: x[0].add(x[1]), E.randn(*A), E.randn(*B))
    binary('add/broadcast-both', 'add', lambda x, a: x[0].add(x[1]), E.randn(2, 1, 4), E.randn(3, 1))
    binary('add/alpha', 'add', lambda x, a: x[0].add(x[1], alpha=sc(a['alpha'])), E.randn(*A), E.randn(*A), {'alpha': 2.5})
    binary('add/float32', 'add', lambda x, a: x[0].add(x[1]), E.randn(*A, dtype=torch.float32), E.randn(*B, dtype=torch.float32))
    binary('add/float16', 'add', lambda x, a: x[0].add(x[1]), E.randn(*A, dtype=torch.float16), E.randn(*A, dtype=torch.float16))
    binary('add/bfloat16', 'add', lambda x, a: x[0].add(x[1]), E.randn(*A, dtype=torch.bfloat16), E.randn(*A, dtype=torch.bfloat16))
    binary('add/int64', 'add', lambda x, a: x[0].add(x[1]), E.randint(-9, 9, *A), E.randint(-9, 9, *B))
    binary('add/int32+float32-promotes', 'add', lambda x, a: x[0].add(x[1]), E.randint(-9, 9, *A, dtype=torch.int32),
           E.randn(*A, dtype=torch.float32))
    binary('add/uint8+bool', 'add', lambda x, a: x[0].add(x[1]), E.randint(0, 9, *A, dtype=torch.uint8), E.mask(*A))
    binary('add/float64+float32-promotes', 'add', lambda x, a: x[0].add(x[1]), E.randn(*A), E.randn(*B, dtype=torch.float32))
    for other, alpha in ((1.5, None), (2.0, None), (2.0, 3.0)):
        E.case(f'addScalar/{other},{alpha}', 'add_scalar',
               lambda x, a: x[0].add(sc(a['other']), alpha=sc(a['alpha']) if a['alpha'] is not None else 1),
               [E.randn(*A)], {'other': other, 'alpha': alpha})
    E.case('addScalar/int64+float-promotes', 'add_scalar', lambda x, a: x[0].add(sc(a['other'])), [E.randint(-5, 5, *A)],
           {'other': 2.5, 'alpha': None})
    E.case('addScalar/int64+int-stays', 'add_scalar', lambda x, a: x[0].add(sc(a['other'])), [E.randint(-5, 5, *A)],
           {'other': 2.0, 'alpha': None})
    binary('sub/broadcast', 'sub', lambda x, a: x[0].sub(x[1]), E.randn(*A), E.randn(*B))
    binary('sub/alpha', 'sub', lambda x, a: x[0].sub(x[1], alpha=sc(a['alpha'])), E.randn(*A), E.randn(*B), {'alpha': -0.5})
    E.case('subScalar', 'sub_scalar', lambda x, a: x[0].sub(sc(a['other'])), [E.randn(*A)], {'other': 0.75})
    E.case('rsubScalar', 'rsub_scalar', lambda x, a: torch.rsub(x[0], sc(a['other'])), [E.randn(*A)], {'other': 4.0})
    binary('rsub/tensor', 'rsub', lambda x, a: torch.rsub(x[0], x[1]), E.randn(*A), E.randn(*B))
    binary('mul/broadcast', 'mul', lambda x, a: x[0].mul(x[1]), E.randn(*A), E.randn(*B))
    binary('mul/broadcast-both', 'mul', lambda x, a: x[0].mul(x[1]), E.randn(4, 1), E.randn(1, 5))
    binary('mul/float32', 'mul', lambda x, a: x[0].mul(x[1]), E.randn(*A, dtype=torch.float32), E.randn(*A, dtype=torch.float32))
    binary('mul/float16', 'mul', lambda x, a: x[0].mul(x[1]), E.randn(*A, dtype=torch.float16), E.randn(*B, dtype=torch.float16))
    binary('mul/int32', 'mul', lambda x, a: x[0].mul(x[1]), E.randint(-9, 9, *A, dtype=torch.int32), E.randint(-9, 9, *B, dtype=torch.int32))
    binary('mul/bool', 'mul', lambda x, a: x[0].mul(x[1]), E.mask(*A), E.mask(*A))
    E.case('mulScalar', 'mul_scalar', lambda x, a: x[0].mul(sc(a['other'])), [E.randn(*A)], {'other': -3.0})
    E.case('mulScalar/float', 'mul_scalar', lambda x, a: x[0].mul(sc(a['other'])), [E.randn(*A)], {'other': 0.3})
    binary('div/broadcast', 'div', lambda x, a: x[0].div(x[1]), E.randn(*A), E.pos(*B))
    binary('div/int64-true-division', 'div', lambda x, a: x[0].div(x[1]), E.randint(-9, 9, *A), E.randint(1, 5, *A))
    binary('div/float32', 'div', lambda x, a: x[0].div(x[1]), E.randn(*A, dtype=torch.float32), E.pos(*A, dtype=torch.float32))
    for mode in ('trunc', 'floor'):
        binary(f'div/{mode}', 'div_mode', lambda x, a: x[0].div(x[1], rounding_mode=a['mode']), E.randn(*A, scale=5),
               E.pos(*B), {'mode': mode})
        binary(f'div/{mode}/int64', 'div_mode', lambda x, a: x[0].div(x[1], rounding_mode=a['mode']), E.randint(-20, 20, *A),
               E.randint(1, 6, *B), {'mode': mode})
        E.case(f'divScalar/{mode}', 'div_scalar_mode', lambda x, a: x[0].div(sc(a['other']), rounding_mode=a['mode']),
               [E.randn(*A, scale=5)], {'other': 1.5, 'mode': mode})
    E.case('divScalar', 'div_scalar', lambda x, a: x[0].div(sc(a['other'])), [E.randn(*A)], {'other': 4.0})
    binary('remainder', 'remainder', lambda x, a: x[0].remainder(x[1]), E.randn(*A, scale=5), E.pos(*B))
    binary('fmod', 'fmod', lambda x, a: x[0].fmod(x[1]), E.randn(*A, scale=5), E.pos(*B))
    E.case('remainderScalar', 'remainder_scalar', lambda x, a: x[0].remainder(sc(a['other'])), [E.randn(*A, scale=5)], {'other': 1.5})

    unary = {
        'neg': (E.randn, {}), 'abs': (E.randn, {}), 'exp': (E.randn, {}), 'expm1': (E.randn, {}),
        'log': (E.pos, {}), 'log1p': (E.pos, {}), 'log2': (E.pos, {}), 'sqrt': (E.pos, {}), 'rsqrt': (E.pos, {}),
        'square': (E.randn, {}), 'reciprocal': (E.pos, {}), 'sign': (E.randn, {}), 'floor': (E.randn, {'scale': 3}),
        'ceil': (E.randn, {'scale': 3}), 'round': (E.randn, {'scale': 3}), 'trunc': (E.randn, {'scale': 3}),
        'frac': (E.randn, {'scale': 3}), 'sin': (E.randn, {}), 'cos': (E.randn, {}), 'sigmoid': (E.randn, {}),
        'tanh': (E.randn, {}), 'relu': (E.randn, {}),
    }
    for name, (maker, kw) in unary.items():
        E.case(name, name, lambda x, a, n=name: getattr(x[0], n)(), [maker(3, 4, **kw)])
    for name in ('exp', 'sigmoid', 'tanh', 'sqrt', 'log'):
        E.case(f'{name}/float32', name, lambda x, a, n=name: getattr(x[0], n)(), [E.pos(3, 4, dtype=torch.float32)])
    for name in ('exp', 'sigmoid', 'relu', 'tanh'):
        E.case(f'{name}/bfloat16', name, lambda x, a, n=name: getattr(x[0], n)(), [E.randn(3, 4, dtype=torch.bfloat16)])
    E.case('abs/float16', 'abs', lambda x, a: x[0].abs(), [E.randn(3, 4, dtype=torch.float16)])
    E.case('abs/zero', 'abs', lambda x, a: x[0].abs(), [torch.tensor([-1.5, 0.0, 2.0], dtype=f64)])
    E.case('relu/zero', 'relu', lambda x, a: x[0].relu(), [torch.tensor([-1.5, 0.0, 2.0], dtype=f64)])
    E.case('round/half-even', 'round', lambda x, a: x[0].round(), [torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], dtype=f64)])
    E.case('abs/int32', 'abs', lambda x, a: x[0].abs(), [E.randint(-9, 9, *A, dtype=torch.int32)])
    E.case('neg/int64', 'neg', lambda x, a: x[0].neg(), [E.randint(-9, 9, *A)])
    E.case('round/decimals', 'round_decimals', lambda x, a: x[0].round(decimals=a['decimals']), [E.randn(3, 4, scale=10)], {'decimals': 2})
    for e in (2.0, 0.5, -1.5, 3.0, 0.0):
        E.case(f'pow/{e}', 'pow_scalar', lambda x, a: x[0].pow(sc(a['exponent'])), [E.pos(3, 4)], {'exponent': e})
    E.case('pow/3/negative-base', 'pow_scalar', lambda x, a: x[0].pow(sc(a['exponent'])), [E.randn(3, 4)], {'exponent': 3.0})
    binary('pow/tensor', 'pow', lambda x, a: x[0].pow(x[1]), E.pos(*A), E.randn(*B))
    for lo, hi in ((-0.5, 0.5), (-0.5, None), (None, 0.25)):
        E.case(f'clamp/{lo},{hi}', 'clamp', lambda x, a: x[0].clamp(a['min'], a['max']), [E.randn(4, 5)], {'min': lo, 'max': hi})
    E.case('clamp/tensor-bounds', 'clamp_tensor', lambda x, a: x[0].clamp(x[1], x[2]),
           [E.randn(4, 5), E.randn(5, scale=0.3).sub(0.5), E.randn(4, 1, scale=0.3).add(0.5)])
    # PyTorch wants both bounds as tensors here; our clamp wraps the number, as a 0-d tensor of the input's dtype.
    E.case('clamp/tensor-min-number-max', 'clamp_mixed',
           lambda x, a: torch.clamp(x[0], min=x[1], max=torch.tensor(a['max'], dtype=x[0].dtype)),
           [E.randn(4, 5), E.randn(5, scale=0.3).sub(0.5)], {'max': 0.4})
    E.case('clampMin', 'clampMin', lambda x, a: x[0].clamp_min(a['min']), [E.randn(4, 5)], {'min': 0.1})
    E.case('clampMax', 'clampMax', lambda x, a: x[0].clamp_max(a['max']), [E.randn(4, 5)], {'max': -0.1})
    binary('maximum', 'maximum', lambda x, a: x[0].maximum(x[1]), E.randn(*A), E.randn(*B))
    binary('minimum', 'minimum', lambda x, a: x[0].minimum(x[1]), E.randn(*A), E.randn(*B))
    binary('maximum/ties', 'maximum', lambda x, a: x[0].maximum(x[1]), torch.tensor([1.0, 2.0, 3.0], dtype=f64),
           torch.tensor([1.0, 0.0, 3.0], dtype=f64))
    binary('max/other', 'max_other', lambda x, a: x[0].max(x[1]), E.randn(*A), E.randn(*A))
    binary('min/other', 'min_other', lambda x, a: x[0].min(x[1]), E.randn(*A), E.randn(*A))
    binary('lerp/scalar', 'lerp_scalar', lambda x, a: x[0].lerp(x[1], a['weight']), E.randn(*A), E.randn(*B), {'weight': 0.3})
    E.case('lerp/tensor', 'lerp', lambda x, a: x[0].lerp(x[1], x[2]), [E.randn(*A), E.randn(*A), E.pos(*B, low=0, high=1)])
    E.case('where/tensor', 'where', lambda x, a: torch.where(x[0], x[1], x[2]), [E.mask(*A), E.randn(*A), E.randn(*B)])
    E.case('where/scalar-other', 'where_scalar_other', lambda x, a: torch.where(x[0], x[1], sc(a['other'])),
           [E.mask(*A), E.randn(*A)], {'other': 0.5})
    E.case('where/scalar-input', 'where_scalar_input', lambda x, a: torch.where(x[0], sc(a['input']), x[1]),
           [E.mask(*A), E.randn(*B)], {'input': -2.0})
    E.case('Tensor.where', 'tensor_where', lambda x, a: torch.where(x[0], x[1], sc(a['other'])), [E.mask(*A), E.randn(*A)], {'other': 1.5})
    special = torch.tensor([float('nan'), float('inf'), float('-inf'), 1.5, -0.0, 3e38], dtype=f64)
    E.case('nanToNum', 'nanToNum', lambda x, a: x[0].nan_to_num(a['nan'], a['posinf'], a['neginf']), [special],
           {'nan': 0.5, 'posinf': 100.0, 'neginf': -100.0}, grad=[])
    E.case('exp/specials', 'exp', lambda x, a: x[0].exp(), [special], grad=[])

    # Comparisons and logical ops (integer-valued floats give exact ties).
    cmp_a, cmp_b = E.randint(-2, 3, *A).to(f64), E.randint(-2, 3, *B).to(f64)
    for op in ('eq', 'ne', 'lt', 'le', 'gt', 'ge'):
        E.case(f'{op}/tensor', op, lambda x, a, o=op: getattr(x[0], o)(x[1]), [cmp_a, cmp_b])
        E.case(f'{op}/scalar', f'{op}_scalar', lambda x, a, o=op: getattr(x[0], o)(sc(a['other'])), [cmp_a], {'other': 1.0})
    E.case('eq/int64-vs-float', 'eq', lambda x, a: x[0].eq(x[1]), [E.randint(-2, 3, *A), cmp_b])
    for name, fn in (('equal', torch.equal), ('allclose', torch.allclose)):
        E.case(f'{name}/same', name, lambda x, a, f=fn: torch.tensor(f(x[0], x[1])), [cmp_a, cmp_a.clone()])
        E.case(f'{name}/different', name, lambda x, a, f=fn: torch.tensor(f(x[0], x[1])), [cmp_a, cmp_a + 1e-3])
    E.case('allclose/within-tolerance', 'allclose', lambda x, a: torch.tensor(torch.allclose(x[0], x[1])),
           [cmp_a, cmp_a + 1e-9])
    near = E.randn(*A)
    E.case('isclose', 'isclose', lambda x, a: x[0].isclose(x[1], rtol=a['rtol'], atol=a['atol']),
           [near, near + torch.tensor([0.0, 1e-3, 1e-7], dtype=f64)], {'rtol': 1e-5, 'atol': 1e-6})
    for op in ('logical_and', 'logical_or', 'logical_xor'):
        E.case(f'{op}/bool', op, lambda x, a, o=op: getattr(x[0], o)(x[1]), [E.mask(*A), E.mask(*B)])
        E.case(f'{op}/float', op, lambda x, a, o=op: getattr(x[0], o)(x[1]), [cmp_a, cmp_b])
    E.case('logical_not/bool', 'logical_not', lambda x, a: x[0].logical_not(), [E.mask(*A)])
    E.case('logical_not/float', 'logical_not', lambda x, a: x[0].logical_not(), [cmp_a])
    for op in ('isnan', 'isinf', 'isfinite'):
        E.case(op, op, lambda x, a, o=op: getattr(x[0], o)(), [special])

    # In-place ops, applied to a clone so that gradients flow back to the leaf inputs.
    def inplace(name, op, fn, inputs, args=None):
        E.case(name, op, lambda x, a: fn(x[0].clone(), x, a), inputs, args)

    inplace('add_/tensor', 'add_', lambda y, x, a: y.add_(x[1], alpha=sc(a['alpha'])), [E.randn(*A), E.randn(*B)], {'alpha': 2.0})
    inplace('add_/scalar', 'add_scalar_', lambda y, x, a: y.add_(sc(a['other'])), [E.randn(*A)], {'other': 1.25})
    inplace('sub_/tensor', 'sub_', lambda y, x, a: y.sub_(x[1], alpha=sc(a['alpha'])), [E.randn(*A), E.randn(*B)], {'alpha': 0.5})
    inplace('sub_/scalar', 'sub_scalar_', lambda y, x, a: y.sub_(sc(a['other'])), [E.randn(*A)], {'other': 3.0})
    inplace('mul_/tensor', 'mul_', lambda y, x, a: y.mul_(x[1]), [E.randn(*A), E.randn(*B)])
    inplace('mul_/scalar', 'mul_scalar_', lambda y, x, a: y.mul_(sc(a['other'])), [E.randn(*A)], {'other': -0.5})
    inplace('div_/tensor', 'div_', lambda y, x, a: y.div_(x[1]), [E.randn(*A), E.pos(*B)])
    inplace('div_/scalar', 'div_scalar_', lambda y, x, a: y.div_(sc(a['other'])), [E.randn(*A)], {'other': 8.0})
    inplace('addcmul_', 'addcmul_', lambda y, x, a: y.addcmul_(x[1], x[2], value=sc(a['value'])),
            [E.randn(*A), E.randn(*A), E.randn(*B)], {'value': 0.5})
    inplace('addcdiv_', 'addcdiv_', lambda y, x, a: y.addcdiv_(x[1], x[2], value=sc(a['value'])),
            [E.randn(*A), E.randn(*A), E.pos(*B)], {'value': -2.0})
    inplace('copy_/broadcast', 'copy_', lambda y, x, a: y.copy_(x[1]), [E.randn(*A), E.randn(*B)])
    inplace('copy_/from-float32', 'copy_', lambda y, x, a: y.copy_(x[1]), [E.randn(*A), E.randn(*A, dtype=torch.float32)])
    inplace('zero_', 'zero_', lambda y, x, a: y.zero_(), [E.randn(*A)])
    inplace('fill_/scalar', 'fill_scalar_', lambda y, x, a: y.fill_(sc(a['value'])), [E.randn(*A)], {'value': 2.5})
    inplace('fill_/tensor', 'fill_', lambda y, x, a: y.fill_(x[1]), [E.randn(*A), E.randn()])
    inplace('clamp_', 'clamp_', lambda y, x, a: y.clamp_(a['min'], a['max']), [E.randn(4, 5)], {'min': -0.3, 'max': 0.6})
    inplace('lerp_/scalar', 'lerp_scalar_', lambda y, x, a: y.lerp_(x[1], a['weight']), [E.randn(*A), E.randn(*B)], {'weight': 0.75})
    inplace('lerp_/tensor', 'lerp_', lambda y, x, a: y.lerp_(x[1], x[2]), [E.randn(*A), E.randn(*A), E.pos(*A, low=0, high=1)])
    inplace('sqrt_', 'sqrt_', lambda y, x, a: y.sqrt_(), [E.pos(*A)])
    inplace('neg_', 'neg_', lambda y, x, a: y.neg_(), [E.randn(*A)])
    inplace('exp_', 'exp_', lambda y, x, a: y.exp_(), [E.randn(*A)])
    inplace('relu_', 'relu_', lambda y, x, a: y.relu_(), [E.randn(*A)])
    inplace('pow_', 'pow_', lambda y, x, a: y.pow_(sc(a['exponent'])), [E.pos(*A)], {'exponent': 1.5})
    inplace('maskedFill_', 'maskedFill_', lambda y, x, a: y.masked_fill_(x[1], sc(a['value'])), [E.randn(*A), E.mask(*B)], {'value': -1.0})
    return E


# ---------------------------------------------------------------------------------------------------- reductions
def reduction():
    R = Family('reduction', 300)
    X = lambda: R.randn(3, 4, 5)
    R.case('sum/all', 'sum', lambda x, a: x[0].sum(), [X()], {'dim': None, 'keepdim': False})
    for dim, keep in ((1, False), (-1, True), ([0, 2], False), ([0, 2], True)):
        R.case(f'sum/{dim}/{keep}', 'sum', lambda x, a: x[0].sum(a['dim'], keepdim=a['keepdim']), [X()], {'dim': dim, 'keepdim': keep})
        R.case(f'mean/{dim}/{keep}', 'mean', lambda x, a: x[0].mean(a['dim'], keepdim=a['keepdim']), [X()], {'dim': dim, 'keepdim': keep})
    R.case('sum/dtype', 'sum_dtype', lambda x, a: x[0].sum(a['dim'], dtype=dt(a['dtype'])), [R.randn(4, 5, dtype=torch.float32)],
           {'dim': 0, 'dtype': 'float64'})
    R.case('sum/float32', 'sum', lambda x, a: x[0].sum(a['dim'], keepdim=a['keepdim']), [R.randn(40, 30, dtype=torch.float32)],
           {'dim': 1, 'keepdim': False})
    R.case('sum/int64', 'sum', lambda x, a: x[0].sum(), [R.randint(-9, 9, 4, 5)], {'dim': None, 'keepdim': False})
    R.case('sum/bool-counts', 'sum', lambda x, a: x[0].sum(a['dim'], keepdim=a['keepdim']), [R.mask(4, 5)], {'dim': 1, 'keepdim': False})
    for d in (torch.float16, torch.bfloat16):
        R.case(f'sum/{DTYPES[d]}', 'sum', lambda x, a: x[0].sum(a['dim'], keepdim=a['keepdim']), [R.randn(4, 6, dtype=d)],
               {'dim': 1, 'keepdim': False})
        R.case(f'mean/{DTYPES[d]}', 'mean', lambda x, a: x[0].mean(), [R.randn(4, 6, dtype=d)], {'dim': None, 'keepdim': False})
        R.case(f'max/{DTYPES[d]}', 'max_dim', lambda x, a: tuple(x[0].max(a['dim'], keepdim=a['keepdim'])), [R.randn(4, 6, dtype=d)],
               {'dim': 0, 'keepdim': False})
        R.case(f'sort/{DTYPES[d]}', 'sort', lambda x, a: tuple(x[0].sort(a['dim'], descending=a['descending'])),
               [R.perm(12).reshape(3, 4).to(d)], {'dim': 1, 'descending': False})
    R.case('cumsum/bfloat16', 'cumsum', lambda x, a: x[0].cumsum(a['dim']), [R.randn(3, 4, dtype=torch.bfloat16)], {'dim': 1})
    R.case('mean/all', 'mean', lambda x, a: x[0].mean(), [X()], {'dim': None, 'keepdim': False})
    R.case('mean/float32', 'mean', lambda x, a: x[0].mean(), [R.randn(7, 9, dtype=torch.float32)], {'dim': None, 'keepdim': False})
    R.case('prod/all', 'prod', lambda x, a: x[0].prod(), [R.pos(2, 3)], {'dim': None, 'keepdim': False})
    R.case('prod/dim', 'prod', lambda x, a: x[0].prod(a['dim'], keepdim=a['keepdim']), [R.randn(3, 4)], {'dim': 1, 'keepdim': True})
    for name in ('var', 'std'):
        R.case(f'{name}/all', name, lambda x, a, n=name: getattr(x[0], n)(), [X()], {'dim': None, 'unbiased': True, 'keepdim': False})
        R.case(f'{name}/all/biased', name, lambda x, a, n=name: getattr(x[0], n)(unbiased=False), [X()],
               {'dim': None, 'unbiased': False, 'keepdim': False})
        for dim, unb, keep in ((1, True, False), ([0, 2], False, True), (-1, True, True)):
            R.case(f'{name}/{dim}/{unb}/{keep}', name,
                   lambda x, a, n=name: getattr(x[0], n)(a['dim'], unbiased=a['unbiased'], keepdim=a['keepdim']), [X()],
                   {'dim': dim, 'unbiased': unb, 'keepdim': keep})
    for name in ('max', 'min'):
        R.case(f'{name}/all', f'{name}_all', lambda x, a, n=name: getattr(x[0], n)(), [X()])
        for dim, keep in ((1, False), (-1, True), (0, False)):
            R.case(f'{name}/dim{dim}/{keep}', f'{name}_dim', lambda x, a, n=name: tuple(getattr(x[0], n)(a['dim'], keepdim=a['keepdim'])),
                   [X()], {'dim': dim, 'keepdim': keep})
        R.case(f'a{name}/dims', f'a{name}', lambda x, a, n=name: getattr(x[0], f'a{n}')(a['dim'], keepdim=a['keepdim']), [X()],
               {'dim': [0, 2], 'keepdim': True})
        R.case(f'{name}/int32', f'{name}_all', lambda x, a, n=name: getattr(x[0], n)(), [R.randint(-50, 50, 4, 5, dtype=torch.int32)])
    for name in ('argmax', 'argmin'):
        R.case(f'{name}/all', name, lambda x, a, n=name: getattr(x[0], n)(), [X()], {'dim': None, 'keepdim': False})
        for dim, keep in ((1, False), (-1, True)):
            R.case(f'{name}/{dim}/{keep}', name, lambda x, a, n=name: getattr(x[0], n)(a['dim'], keepdim=a['keepdim']), [X()],
                   {'dim': dim, 'keepdim': keep})
    for dim, keep in ((1, False), ([0, 2], True), (-1, False)):
        R.case(f'logsumexp/{dim}/{keep}', 'logsumexp', lambda x, a: x[0].logsumexp(a['dim'], keepdim=a['keepdim']), [X()],
               {'dim': dim, 'keepdim': keep})
    R.case('logsumexp/large', 'logsumexp', lambda x, a: x[0].logsumexp(a['dim'], keepdim=a['keepdim']), [R.randn(3, 4, scale=300)],
           {'dim': 1, 'keepdim': False})
    R.case('norm/2/all', 'norm', lambda x, a: x[0].norm(), [X()], {'p': 2.0, 'dim': None, 'keepdim': False})
    for p, dim, keep in ((1.0, 1, False), (2.0, -1, True), (float('inf'), 1, False), (3.0, [0, 2], True), (0.5, 0, False)):
        R.case(f'norm/{p}/{dim}/{keep}', 'norm', lambda x, a: x[0].norm(a['p'], a['dim'], keepdim=a['keepdim']), [X()],
               {'p': p, 'dim': dim, 'keepdim': keep})
    R.case('norm/1/all', 'norm', lambda x, a: x[0].norm(a['p']), [X()], {'p': 1.0, 'dim': None, 'keepdim': False})
    bools = R.mask(4, 5)
    bools[0] = True
    for name in ('all', 'any'):
        R.case(f'{name}/all', name, lambda x, a, n=name: getattr(x[0], n)(), [bools], {'dim': None, 'keepdim': False})
        R.case(f'{name}/dim', name, lambda x, a, n=name: getattr(x[0], n)(a['dim'], keepdim=a['keepdim']), [bools],
               {'dim': 1, 'keepdim': False})
        R.case(f'{name}/dim0/keepdim', name, lambda x, a, n=name: getattr(x[0], n)(a['dim'], keepdim=a['keepdim']), [bools],
               {'dim': 0, 'keepdim': True})
        R.case(f'{name}/float', name, lambda x, a, n=name: getattr(x[0], n)(a['dim'], keepdim=a['keepdim']),
               [R.randint(0, 2, 3, 4).to(f64)], {'dim': 1, 'keepdim': False})
    for k, dim, largest in ((2, -1, True), (3, -1, False), (2, 0, True), (1, 1, False)):
        R.case(f'topk/{k}/{dim}/{largest}', 'topk', lambda x, a: tuple(x[0].topk(a['k'], a['dim'], largest=a['largest'])), [X()],
               {'k': k, 'dim': dim, 'largest': largest})
    for dim, desc in ((-1, False), (0, True), (1, False)):
        R.case(f'sort/{dim}/{desc}', 'sort', lambda x, a: tuple(x[0].sort(a['dim'], descending=a['descending'])), [X()],
               {'dim': dim, 'descending': desc})
        R.case(f'argsort/{dim}/{desc}', 'argsort', lambda x, a: x[0].argsort(a['dim'], descending=a['descending']), [X()],
               {'dim': dim, 'descending': desc})
    R.case('sort/int64', 'sort', lambda x, a: tuple(x[0].sort(a['dim'], descending=a['descending'])), [R.perm(12).reshape(3, 4)],
           {'dim': 1, 'descending': True})
    for dim in (0, 1, -1):
        R.case(f'cumsum/{dim}', 'cumsum', lambda x, a: x[0].cumsum(a['dim']), [X()], {'dim': dim})
        R.case(f'cumprod/{dim}', 'cumprod', lambda x, a: x[0].cumprod(a['dim']), [R.randn(3, 4)], {'dim': dim})
    R.case('cumsum/int64-to-float64', 'cumsum_dtype', lambda x, a: x[0].cumsum(a['dim'], dtype=dt(a['dtype'])),
           [R.randint(-9, 9, 3, 4)], {'dim': 1, 'dtype': 'float64'})
    R.case('cumsum/bool-to-int64', 'cumsum', lambda x, a: x[0].cumsum(a['dim']), [R.mask(3, 4)], {'dim': 1})
    return R


# ---------------------------------------------------------------------------------------------------- matmul
def matmul():
    M = Family('matmul', 400)
    for sa, sb in (((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                   ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))):
        M.case(f'matmul/{sa}@{sb}', 'matmul', lambda x, a: x[0].matmul(x[1]), [M.randn(*sa), M.randn(*sb)])
    M.case('matmul/float32', 'matmul', lambda x, a: x[0].matmul(x[1]), [M.randn(16, 32, dtype=torch.float32),
                                                                          M.randn(32, 8, dtype=torch.float32)])
    M.case('mm/bfloat16', 'mm', lambda x, a: x[0].mm(x[1]), [M.randn(3, 8, dtype=torch.bfloat16), M.randn(8, 2, dtype=torch.bfloat16)],
           tol={'rtol': 2e-2, 'atol': 2e-2})
    M.case('mm', 'mm', lambda x, a: x[0].mm(x[1]), [M.randn(3, 4), M.randn(4, 2)])
    M.case('mm/transposed-operand', 'mm_t', lambda x, a: x[0].mm(x[1].t()), [M.randn(3, 4), M.randn(2, 4)])
    M.case('bmm', 'bmm', lambda x, a: x[0].bmm(x[1]), [M.randn(2, 3, 4), M.randn(2, 4, 5)])
    M.case('addmm', 'addmm', lambda x, a: x[0].addmm(x[1], x[2]), [M.randn(3, 5), M.randn(3, 4), M.randn(4, 5)],
           {'beta': 1.0, 'alpha': 1.0})
    M.case('addmm/beta-alpha-broadcast', 'addmm', lambda x, a: x[0].addmm(x[1], x[2], beta=sc(a['beta']), alpha=sc(a['alpha'])),
           [M.randn(5), M.randn(3, 4), M.randn(4, 5)], {'beta': 0.5, 'alpha': -2.0})
    M.case('mv', 'mv', lambda x, a: x[0].mv(x[1]), [M.randn(3, 4), M.randn(4)])
    M.case('dot', 'dot', lambda x, a: x[0].dot(x[1]), [M.randn(6), M.randn(6)])
    M.case('outer', 'outer', lambda x, a: x[0].outer(x[1]), [M.randn(3), M.randn(4)])
    M.case('t', 't', lambda x, a: x[0].t(), [M.randn(3, 4)])
    for eq, shapes in (('ij,jk->ik', ((3, 4), (4, 2))), ('bij,bjk->bik', ((2, 3, 4), (2, 4, 5))), ('ii->i', ((3, 3),)),
                       ('nc,mc->nm', ((3, 4), (5, 4)))):
        M.case(f'einsum/{eq}', 'einsum', lambda x, a: torch.einsum(a['equation'], *x), [M.randn(*s) for s in shapes],
               {'equation': eq})
    M.case('cdist', 'cdist', lambda x, a: torch.cdist(x[0], x[1], p=a['p']), [M.randn(4, 3), M.randn(5, 3)], {'p': 2.0})
    M.case('cdist/p1', 'cdist', lambda x, a: torch.cdist(x[0], x[1], p=a['p']), [M.randn(2, 4, 3), M.randn(2, 5, 3)], {'p': 1.0})
    return M


# ---------------------------------------------------------------------------------------------------- shape and indexing
def to_index(spec, x):
    out = []
    for s in spec:
        if s == '...':
            out.append(Ellipsis)
        elif s is None:
            out.append(None)
        elif 'int' in s:
            out.append(s['int'])
        elif 'slice' in s:
            out.append(slice(*s['slice']))
        else:
            out.append(x[s['tensor']])
    return tuple(out)


def shape():
    S = Family('shape', 500)
    X = lambda: S.randn(2, 3, 4)
    for sh in ([4, -1], [24], [3, 2, 4], [-1]):
        S.case(f'reshape/{sh}', 'reshape', lambda x, a: x[0].reshape(a['shape']), [X()], {'shape': sh})
    S.case('reshape/transposed', 'reshape_t', lambda x, a: x[0].t().reshape(a['shape']), [S.randn(3, 4)], {'shape': [2, 6]})
    S.case('view', 'view', lambda x, a: x[0].view(a['shape']), [X()], {'shape': [6, 4]})
    S.case('viewAs', 'viewAs', lambda x, a: x[0].view_as(x[1]), [X(), S.randn(4, 6)], grad=[0])
    S.case('reshapeAs', 'reshapeAs', lambda x, a: x[0].reshape_as(x[1]), [X(), S.randn(8, 3)], grad=[0])
    for s, e in ((0, -1), (1, -1), (0, 1)):
        S.case(f'flatten/{s},{e}', 'flatten', lambda x, a: x[0].flatten(a['start'], a['end']), [X()], {'start': s, 'end': e})
    S.case('unflatten', 'unflatten', lambda x, a: x[0].unflatten(a['dim'], a['sizes']), [X()], {'dim': 2, 'sizes': [2, 2]})
    ones = lambda: S.randn(2, 1, 3, 1)
    S.case('squeeze/all', 'squeeze', lambda x, a: x[0].squeeze(), [ones()], {'dim': None})
    for d in (1, -1, 0):
        S.case(f'squeeze/{d}', 'squeeze', lambda x, a: x[0].squeeze(a['dim']), [ones()], {'dim': d})
    for d in (0, 2, -1):
        S.case(f'unsqueeze/{d}', 'unsqueeze', lambda x, a: x[0].unsqueeze(a['dim']), [X()], {'dim': d})
    S.case('permute', 'permute', lambda x, a: x[0].permute(a['dims']), [X()], {'dims': [2, 0, 1]})
    S.case('permute/negative', 'permute', lambda x, a: x[0].permute(a['dims']), [X()], {'dims': [-1, -3, -2]})
    S.case('transpose', 'transpose', lambda x, a: x[0].transpose(a['dim0'], a['dim1']), [X()], {'dim0': 0, 'dim1': 2})
    S.case('transpose/negative', 'transpose', lambda x, a: x[0].transpose(a['dim0'], a['dim1']), [X()], {'dim0': -1, 'dim1': 1})
    S.case('movedim', 'movedim', lambda x, a: x[0].movedim(a['source'], a['destination']), [X()], {'source': 0, 'destination': -1})
    S.case('expand', 'expand', lambda x, a: x[0].expand(a['shape']), [S.randn(3, 1)], {'shape': [2, 3, 4]})
    S.case('expand/keep-dim', 'expand', lambda x, a: x[0].expand(a['shape']), [S.randn(3, 1)], {'shape': [-1, 5]})
    S.case('expandAs', 'expandAs', lambda x, a: x[0].expand_as(x[1]), [S.randn(1, 4), S.randn(3, 4)], grad=[0])
    S.case('repeat', 'repeat', lambda x, a: x[0].repeat(a['repeats']), [S.randn(2, 3)], {'repeats': [2, 1, 3]})
    S.case('repeatInterleave/dim', 'repeatInterleave', lambda x, a: x[0].repeat_interleave(a['repeats'], a['dim']),
           [S.randn(2, 3)], {'repeats': 2, 'dim': 1})
    S.case('repeatInterleave/flat', 'repeatInterleave', lambda x, a: x[0].repeat_interleave(a['repeats']), [S.randn(2, 3)],
           {'repeats': 3, 'dim': None})
    for d in (0, 1, -1):
        S.case(f'cat/{d}', 'cat', lambda x, a: torch.cat(x, a['dim']),
               [S.randn(*[2 if i != d % 3 else 1 for i in range(3)]), S.randn(*[2 if i != d % 3 else 3 for i in range(3)]),
                S.randn(2, 2, 2)], {'dim': d})
    S.case('cat/promotes', 'cat', lambda x, a: torch.cat(x, a['dim']), [S.randn(2, 3, dtype=torch.float32), S.randn(1, 3)], {'dim': 0})
    for d in (0, 2, -1):
        S.case(f'stack/{d}', 'stack', lambda x, a: torch.stack(x, a['dim']), [S.randn(2, 3), S.randn(2, 3), S.randn(2, 3)], {'dim': d})
    S.case('broadcastTensors', 'broadcastTensors', lambda x, a: torch.broadcast_tensors(*x), [S.randn(3, 1), S.randn(4), S.randn(2, 1, 1)])
    S.case('split/size', 'split', lambda x, a: x[0].split(a['size'], a['dim']), [S.randn(2, 5, 3)], {'size': 2, 'dim': 1})
    S.case('split/sizes', 'split', lambda x, a: x[0].split(a['size'], a['dim']), [S.randn(2, 5, 3)], {'size': [1, 4], 'dim': 1})
    S.case('split/default-dim', 'split', lambda x, a: x[0].split(a['size']), [S.randn(5, 2)], {'size': 3, 'dim': 0})
    S.case('chunk', 'chunk', lambda x, a: x[0].chunk(a['chunks'], a['dim']), [S.randn(2, 7)], {'chunks': 3, 'dim': 1})
    S.case('chunk/default-dim', 'chunk', lambda x, a: x[0].chunk(a['chunks']), [S.randn(4, 2)], {'chunks': 2, 'dim': 0})
    S.case('unbind', 'unbind', lambda x, a: x[0].unbind(a['dim']), [X()], {'dim': 1})
    S.case('narrow', 'narrow', lambda x, a: x[0].narrow(a['dim'], a['start'], a['length']), [X()], {'dim': 2, 'start': 1, 'length': 2})
    S.case('narrow/negative-start', 'narrow', lambda x, a: x[0].narrow(a['dim'], a['start'], a['length']), [X()],
           {'dim': 1, 'start': -2, 'length': 2})
    S.case('select', 'select', lambda x, a: x[0].select(a['dim'], a['index']), [X()], {'dim': 1, 'index': -1})

    # Basic and advanced indexing through t.index(...), with PyTorch's placement rules for advanced dims.
    Y = lambda: S.randn(4, 5, 6)
    idx = lambda *v: torch.tensor(v, dtype=torch.int64)
    index_cases = [
        ('int', [{'int': 1}], []),
        ('negative-int+slice', [{'int': -1}, {'slice': [1, 4, 1]}], []),
        ('step-slice,None,ellipsis,int', [{'slice': [None, None, 2]}, None, '...', {'int': 0}], []),
        ('ellipsis,open-slice', ['...', {'slice': [1, None, 1]}], []),
        ('negative-slice', [{'slice': [-3, -1, 1]}], []),
        ('slice-past-end', [{'slice': [2, 100, 1]}, {'slice': [None, None, 3]}], []),
        ('tensor-duplicates', [{'tensor': 1}], [idx(3, 0, 3, -1)]),
        ('slice,tensor', [{'slice': [None, None, 1]}, {'tensor': 1}], [idx(4, 0, 2)]),
        ('adjacent-tensors-broadcast', [{'tensor': 1}, {'tensor': 2}], [idx(0, 3, 1, 1).reshape(2, 2), idx(4, 0)]),
        ('split-tensors', [{'tensor': 1}, {'slice': [None, None, 1]}, {'tensor': 2}], [idx(0, 3, 2), idx(5, 0, 1)]),
        ('int,tensor', [{'int': 2}, {'tensor': 1}], [idx(1, 4)]),
        ('tensor,int', [{'tensor': 1}, {'int': -2}], [idx(1, 3)]),
        ('None,tensor', [None, {'tensor': 1}], [idx(2, 2)]),
        ('bool-mask-2d', [{'tensor': 1}], [S.mask(4, 5)]),
        ('slice,bool-mask', [{'slice': [None, None, 1]}, {'tensor': 1}], [torch.tensor([True, False, True, True, False])]),
        ('ellipsis,tensor', ['...', {'tensor': 1}], [idx(5, 0)]),
    ]
    for name, spec, extra in index_cases:
        S.case(f'index/{name}', 'index', lambda x, a: x[0][to_index(a['spec'], x)], [Y()] + extra, {'spec': spec})
    S.case('indexSelect', 'indexSelect', lambda x, a: x[0].index_select(a['dim'], x[1]), [X(), idx(2, 0, 2)], {'dim': 1})
    S.case('indexSelect/dim0', 'indexSelect', lambda x, a: x[0].index_select(a['dim'], x[1]), [X(), idx(1)], {'dim': 0})
    S.case('gather', 'gather', lambda x, a: x[0].gather(a['dim'], x[1]), [S.randn(3, 4), S.randint(0, 4, 3, 6)], {'dim': 1})
    S.case('gather/dim0', 'gather', lambda x, a: x[0].gather(a['dim'], x[1]), [S.randn(3, 4), S.randint(0, 3, 2, 4)], {'dim': 0})
    perm_idx = torch.stack([S.perm(5)[:3] for _ in range(3)])
    S.case('scatter/src', 'scatter', lambda x, a: x[0].scatter(a['dim'], x[1], x[2]), [S.randn(3, 5), perm_idx, S.randn(3, 3)], {'dim': 1})
    S.case('scatter/value', 'scatter_value', lambda x, a: x[0].scatter(a['dim'], x[1], sc(a['value'])), [S.randn(3, 5), perm_idx],
           {'dim': 1, 'value': 7.5})
    S.case('scatter/reduce-add', 'scatter_reduce', lambda x, a: x[0].scatter(a['dim'], x[1], x[2], reduce=a['reduce']),
           [S.randn(3, 5), S.randint(0, 5, 3, 4), S.randn(3, 4)], {'dim': 1, 'reduce': 'add'}, grad=[])
    S.case('scatter/reduce-multiply', 'scatter_reduce', lambda x, a: x[0].scatter(a['dim'], x[1], x[2], reduce=a['reduce']),
           [S.randn(3, 5), S.randint(0, 5, 3, 4), S.randn(3, 4)], {'dim': 1, 'reduce': 'multiply'}, grad=[])
    S.case('scatterAdd/duplicates', 'scatterAdd', lambda x, a: x[0].scatter_add(a['dim'], x[1], x[2]),
           [S.randn(3, 5), S.randint(0, 5, 3, 4), S.randn(3, 4)], {'dim': 1})
    S.case('scatterAdd/dim0', 'scatterAdd', lambda x, a: x[0].scatter_add(a['dim'], x[1], x[2]),
           [S.randn(3, 5), S.randint(0, 3, 4, 5), S.randn(4, 5)], {'dim': 0})
    S.case('maskedFill/scalar', 'maskedFill', lambda x, a: x[0].masked_fill(x[1], sc(a['value'])), [X(), S.mask(3, 4)], {'value': -9.0})
    S.case('maskedFill/tensor', 'maskedFill_tensor', lambda x, a: x[0].masked_fill(x[1], x[2]), [X(), S.mask(4), S.randn()])
    S.case('maskedSelect', 'maskedSelect', lambda x, a: x[0].masked_select(x[1]), [X(), S.mask(3, 4)])
    for dims in ([0], [0, 2], [-1]):
        S.case(f'flip/{dims}', 'flip', lambda x, a: x[0].flip(a['dims']), [X()], {'dims': dims})
    for shifts, dims in ((1, [1]), ([1, -2], [0, 2]), (5, [])):
        S.case(f'roll/{shifts}/{dims}', 'roll', lambda x, a: x[0].roll(a['shifts'], a['dims']), [X()], {'shifts': shifts, 'dims': dims})
    for d in (0, 1, -1):
        S.case(f'tril/{d}', 'tril', lambda x, a: x[0].tril(a['diagonal']), [S.randn(4, 5)], {'diagonal': d})
        S.case(f'triu/{d}', 'triu', lambda x, a: x[0].triu(a['diagonal']), [S.randn(4, 5)], {'diagonal': d})
    S.case('diag/matrix', 'diag', lambda x, a: x[0].diag(a['diagonal']), [S.randn(4, 5)], {'diagonal': 1})
    S.case('diag/vector', 'diag', lambda x, a: x[0].diag(a['diagonal']), [S.randn(3)], {'diagonal': -1})
    S.case('nonzero', 'nonzero', lambda x, a: x[0].nonzero(), [S.randint(0, 2, 3, 4)])
    S.case('indexPut_', 'indexPut_', lambda x, a: x[0].clone().index_put_((x[1],), x[2], accumulate=a['accumulate']),
           [S.randn(5, 3), idx(4, 0), S.randn(2, 3)], {'accumulate': False})
    S.case('indexPut_/accumulate', 'indexPut_', lambda x, a: x[0].clone().index_put_((x[1],), x[2], accumulate=a['accumulate']),
           [S.randn(5, 3), idx(4, 0, 4), S.randn(3, 3)], {'accumulate': True})
    S.case('indexAdd_', 'indexAdd_', lambda x, a: x[0].clone().index_add_(a['dim'], x[1], x[2], alpha=sc(a['alpha'])),
           [S.randn(5, 3), idx(4, 0, 4), S.randn(3, 3)], {'dim': 0, 'alpha': 2.0})
    S.case('indexFill_', 'indexFill_', lambda x, a: x[0].clone().index_fill_(a['dim'], x[1], sc(a['value'])),
           [S.randn(5, 3), idx(2, 0)], {'dim': 1, 'value': -1.5})
    return S


# ---------------------------------------------------------------------------------------------------- nn.functional
def nn():
    N = Family('nn', 600)
    x = lambda: N.randn(2, 4, 5, 5)
    for name, args, wshape in (
            ('basic', {}, (6, 4, 3, 3)),
            ('stride2-pad1', {'stride': 2, 'padding': 1}, (6, 4, 3, 3)),
            ('dilation2-pad2', {'dilation': 2, 'padding': 2}, (6, 4, 3, 3)),
            ('groups2', {'groups': 2, 'padding': 1}, (6, 2, 3, 3)),
            ('depthwise', {'groups': 4}, (8, 1, 3, 3)),
            ('pairs', {'stride': [2, 1], 'padding': [1, 0], 'dilation': [1, 2]}, (6, 4, 3, 2)),
            ('same', {'padding': 'same', 'dilation': 2}, (6, 4, 3, 3)),
            ('valid', {'padding': 'valid'}, (6, 4, 2, 2)),
            ('1x1', {}, (3, 4, 1, 1))):
        N.case(f'conv2d/{name}', 'conv2d', lambda x, a: F.conv2d(x[0], x[1], x[2], **a), [x(), N.randn(*wshape), N.randn(wshape[0])], args)
    N.case('conv2d/no-bias', 'conv2d_nobias', lambda x, a: F.conv2d(x[0], x[1], stride=a['stride']), [x(), N.randn(5, 4, 3, 3)],
           {'stride': 2})
    N.case('conv2d/float32', 'conv2d', lambda x, a: F.conv2d(x[0], x[1], x[2], **a),
           [N.randn(2, 3, 8, 8, dtype=torch.float32), N.randn(4, 3, 3, 3, dtype=torch.float32), N.randn(4, dtype=torch.float32)],
           {'padding': 1}, tol={'rtol': 1e-4, 'atol': 1e-5})
    N.case('conv2d/bfloat16', 'conv2d', lambda x, a: F.conv2d(x[0], x[1], x[2], **a),
           [N.randn(1, 2, 5, 5, dtype=torch.bfloat16), N.randn(3, 2, 3, 3, dtype=torch.bfloat16), N.randn(3, dtype=torch.bfloat16)],
           {'padding': 1}, tol={'rtol': 2e-2, 'atol': 2e-2})
    N.case('linear', 'linear', lambda x, a: F.linear(x[0], x[1], x[2]), [N.randn(3, 5), N.randn(4, 5), N.randn(4)])
    N.case('linear/no-bias', 'linear_nobias', lambda x, a: F.linear(x[0], x[1]), [N.randn(3, 5), N.randn(4, 5)])
    N.case('linear/3d', 'linear', lambda x, a: F.linear(x[0], x[1], x[2]), [N.randn(2, 3, 5), N.randn(4, 5), N.randn(4)])

    # batch_norm: outputs are (y, running_mean, running_var) so the in-place running-stat update is checked too.
    def bn(x, a):
        rm, rv = x[3], x[4]
        y = F.batch_norm(x[0], rm, rv, x[1], x[2], training=a['training'], momentum=a['momentum'], eps=a['eps'])
        return y, rm, rv
    for name, shp, training, momentum, eps in (('train', (4, 3, 3, 3), True, 0.1, 1e-5), ('train-2d', (6, 3), True, 0.3, 1e-3),
                                               ('eval', (4, 3, 3, 3), False, 0.1, 1e-5)):
        N.case(f'batchNorm/{name}', 'batchNorm', bn,
               [N.randn(*shp, scale=2).add(1), N.pos(3), N.randn(3), N.randn(3, scale=0.1), N.pos(3)],
               {'training': training, 'momentum': momentum, 'eps': eps}, grad=[0, 1, 2])
    N.case('batchNorm/train-no-stats-no-affine', 'batchNorm_bare', lambda x, a: F.batch_norm(x[0], None, None, training=True),
           [N.randn(5, 2, 3)])
    N.case('layerNorm/affine', 'layerNorm', lambda x, a: F.layer_norm(x[0], a['shape'], x[1], x[2], eps=a['eps']),
           [N.randn(2, 3, 4), N.pos(4), N.randn(4)], {'shape': [4], 'eps': 1e-5})
    N.case('layerNorm/two-dims-eps', 'layerNorm', lambda x, a: F.layer_norm(x[0], a['shape'], x[1], x[2], eps=a['eps']),
           [N.randn(2, 3, 4), N.pos(3, 4), N.randn(3, 4)], {'shape': [3, 4], 'eps': 1e-2})
    N.case('layerNorm/plain', 'layerNorm_plain', lambda x, a: F.layer_norm(x[0], a['shape']), [N.randn(3, 5)], {'shape': [5]})

    p = lambda: N.randn(2, 3, 6, 6)
    for name, k, args in (('k2', 2, {}), ('k3-s2-p1', 3, {'stride': 2, 'padding': 1}), ('ceil', 4, {'stride': 3, 'ceil_mode': True}),
                          ('dilation', 2, {'stride': 1, 'dilation': 2}), ('rect', [2, 3], {'stride': [2, 1]})):
        N.case(f'maxPool2d/{name}', 'maxPool2d', lambda x, a: F.max_pool2d(x[0], a['kernel'], **a['opts']), [p()], {'kernel': k, 'opts': args})
    for name, k, args in (('k2', 2, {}), ('k3-s2-p1', 3, {'stride': 2, 'padding': 1}),
                          ('exclude-pad', 3, {'stride': 2, 'padding': 1, 'count_include_pad': False}),
                          ('ceil', 4, {'stride': 3, 'ceil_mode': True}), ('divisor', 2, {'divisor_override': 3})):
        N.case(f'avgPool2d/{name}', 'avgPool2d', lambda x, a: F.avg_pool2d(x[0], a['kernel'], **a['opts']), [p()], {'kernel': k, 'opts': args})
    for size in ([1, 1], [3, 2], 4):
        N.case(f'adaptiveAvgPool2d/{size}', 'adaptiveAvgPool2d', lambda x, a: F.adaptive_avg_pool2d(x[0], a['size']),
               [N.randn(2, 3, 5, 7)], {'size': size})

    for dim in (1, -1, 0):
        N.case(f'softmax/{dim}', 'softmax', lambda x, a: F.softmax(x[0], a['dim']), [N.randn(3, 4, 5)], {'dim': dim})
        N.case(f'logSoftmax/{dim}', 'logSoftmax', lambda x, a: F.log_softmax(x[0], a['dim']), [N.randn(3, 4, 5)], {'dim': dim})
    N.case('softmax/float32', 'softmax', lambda x, a: F.softmax(x[0], a['dim']), [N.randn(4, 10, dtype=torch.float32, scale=5)], {'dim': 1})
    N.case('softmax/bfloat16', 'softmax', lambda x, a: F.softmax(x[0], a['dim']), [N.randn(3, 8, dtype=torch.bfloat16)], {'dim': 1})
    N.case('layerNorm/bfloat16', 'layerNorm', lambda x, a: F.layer_norm(x[0], a['shape'], x[1], x[2], eps=a['eps']),
           [N.randn(2, 8, dtype=torch.bfloat16), N.pos(8, dtype=torch.bfloat16), N.randn(8, dtype=torch.bfloat16)],
           {'shape': [8], 'eps': 1e-5}, tol={'rtol': 2e-2, 'atol': 2e-2})
    N.case('softmax/large-logits', 'softmax', lambda x, a: F.softmax(x[0], a['dim']), [N.randn(3, 4, scale=500)], {'dim': 1})
    N.case('softmax/float32-to-float64', 'softmax_dtype', lambda x, a: F.softmax(x[0], a['dim'], dtype=dt(a['dtype'])),
           [N.randn(3, 4, dtype=torch.float32)], {'dim': 1, 'dtype': 'float64'})

    # Classification losses (class-index targets unless stated).
    logits = lambda: N.randn(6, 4, scale=2)
    tgt = lambda: N.randint(0, 4, 6)
    ce = lambda x, a: F.cross_entropy(x[0], x[1], weight=x[2] if len(x) > 2 else None, **a)
    for name, args in (('mean', {}), ('sum', {'reduction': 'sum'}), ('none', {'reduction': 'none'}),
                       ('smoothing', {'label_smoothing': 0.1}), ('smoothing-sum', {'label_smoothing': 0.25, 'reduction': 'sum'}),
                       ('smoothing-none', {'label_smoothing': 0.2, 'reduction': 'none'})):
        N.case(f'crossEntropy/{name}', 'crossEntropy', ce, [logits(), tgt()], args)
    N.case('crossEntropy/weight', 'crossEntropy', ce, [logits(), tgt(), N.pos(4)], {}, grad=[0])
    N.case('crossEntropy/weight-smoothing', 'crossEntropy', ce, [logits(), tgt(), N.pos(4)], {'label_smoothing': 0.1}, grad=[0])
    ignored = tgt()
    ignored[[1, 4]] = -100
    N.case('crossEntropy/ignore-default', 'crossEntropy', ce, [logits(), ignored], {})
    ignored2 = tgt()
    ignored2[[0, 2]] = 3
    N.case('crossEntropy/ignoreIndex', 'crossEntropy', ce, [logits(), ignored2], {'ignore_index': 3, 'label_smoothing': 0.1})
    N.case('crossEntropy/probabilities', 'crossEntropy', ce, [logits(), N.randn(6, 4).softmax(1)], {}, grad=[0, 1])
    N.case('crossEntropy/probabilities-smoothing', 'crossEntropy', ce, [logits(), N.randn(6, 4).softmax(1)],
           {'label_smoothing': 0.3}, grad=[0])
    N.case('crossEntropy/spatial', 'crossEntropy', ce, [N.randn(2, 3, 2, 2), N.randint(0, 3, 2, 2, 2)], {})
    N.case('crossEntropy/float32', 'crossEntropy', ce, [N.randn(8, 5, dtype=torch.float32), N.randint(0, 5, 8)], {'label_smoothing': 0.1})
    nll = lambda x, a: F.nll_loss(x[0], x[1], weight=x[2] if len(x) > 2 else None, **a)
    logp = lambda: N.randn(6, 4).log_softmax(1)
    N.case('nllLoss/mean', 'nllLoss', nll, [logp(), tgt()], {})
    N.case('nllLoss/sum', 'nllLoss', nll, [logp(), tgt()], {'reduction': 'sum'})
    N.case('nllLoss/none-ignore', 'nllLoss', nll, [logp(), ignored2], {'reduction': 'none', 'ignore_index': 3})
    N.case('nllLoss/weight', 'nllLoss', nll, [logp(), tgt(), N.pos(4)], {}, grad=[0])
    for red in ('mean', 'sum', 'none'):
        N.case(f'mseLoss/{red}', 'mseLoss', lambda x, a: F.mse_loss(x[0], x[1], reduction=a['reduction']), [N.randn(3, 4), N.randn(3, 4)],
               {'reduction': red})
        N.case(f'l1Loss/{red}', 'l1Loss', lambda x, a: F.l1_loss(x[0], x[1], reduction=a['reduction']), [N.randn(3, 4), N.randn(3, 4)],
               {'reduction': red})
    # F.mse_loss warns about, but broadcasts, a target of another shape; the aten op broadcasts silently.
    N.case('mseLoss/broadcast-target', 'mseLoss', lambda x, a: F.mse_loss(x[0], x[1], reduction=a['reduction']),
           [N.randn(3, 4), N.randn(4)], {'reduction': 'mean'})
    N.case('l1Loss/broadcast-target', 'l1Loss', lambda x, a: F.l1_loss(x[0], x[1], reduction=a['reduction']),
           [N.randn(3, 4), N.randn(4)], {'reduction': 'mean'})
    N.case('mseLoss/broadcast-input', 'mseLoss', lambda x, a: F.mse_loss(x[0], x[1], reduction=a['reduction']),
           [N.randn(2, 1), N.randn(2, 5)], {'reduction': 'sum'})
    N.case('bceWithLogits', 'bceWithLogits', lambda x, a: F.binary_cross_entropy_with_logits(x[0], x[1]),
           [N.randn(3, 4, scale=3), N.pos(3, 4, low=0, high=1)])
    N.case('bceWithLogits/weights', 'bceWithLogits_weighted',
           lambda x, a: F.binary_cross_entropy_with_logits(x[0], x[1], weight=x[2], pos_weight=x[3], reduction=a['reduction']),
           [N.randn(3, 4, scale=3), N.pos(3, 4, low=0, high=1), N.pos(4), N.pos(4)], {'reduction': 'sum'}, grad=[0, 1])

    zero_row = N.randn(3, 4)
    zero_row[1] = 0
    for name, inp, args in (('default', N.randn(3, 4), {}), ('p1-dim0', N.randn(3, 4), {'p': 1.0, 'dim': 0}),
                            ('zero-row', zero_row, {}), ('eps', N.randn(3, 4, scale=1e-3), {'eps': 0.1}),
                            ('3d-last', N.randn(2, 3, 4), {'dim': -1})):
        N.case(f'normalize/{name}', 'normalize', lambda x, a: F.normalize(x[0], **a), [inp], args)
    N.case('cosineSimilarity', 'cosineSimilarity', lambda x, a: F.cosine_similarity(x[0], x[1], dim=a['dim']),
           [N.randn(3, 5), N.randn(3, 5)], {'dim': 1})
    N.case('oneHot/inferred', 'oneHot', lambda x, a: F.one_hot(x[0], a['numClasses']), [torch.tensor([2, 0, 3, 2])], {'numClasses': -1})
    N.case('oneHot/given', 'oneHot', lambda x, a: F.one_hot(x[0], a['numClasses']), [N.randint(0, 3, 2, 3)], {'numClasses': 5})
    for name, inp, pad, mode, value in (('constant-1d', N.randn(2, 3, 4), [1, 2], 'constant', 0.5),
                                        ('constant-2d', N.randn(1, 2, 3, 4), [1, 1, 2, 0], 'constant', 0.0),
                                        ('constant-negative-crops', N.randn(1, 2, 3, 4), [-1, 1, 0, -1], 'constant', 0.0),
                                        ('reflect', N.randn(1, 2, 4, 5), [2, 1, 1, 2], 'reflect', 0.0),
                                        ('replicate', N.randn(1, 2, 3, 4), [2, 1, 1, 3], 'replicate', 0.0),
                                        ('circular', N.randn(1, 2, 3, 4), [2, 1, 1, 2], 'circular', 0.0)):
        N.case(f'pad/{name}', 'pad', lambda x, a: F.pad(x[0], a['pad'], mode=a['mode'], value=a['value']) if a['mode'] == 'constant'
               else F.pad(x[0], a['pad'], mode=a['mode']), [inp], {'pad': pad, 'mode': mode, 'value': value})

    img = lambda: N.randn(1, 2, 3, 4)
    for name, args in (('nearest/size', {'size': [5, 7], 'mode': 'nearest'}), ('nearest/scale2', {'scale_factor': 2.0, 'mode': 'nearest'}),
                       ('nearest/scale1.5', {'scale_factor': 1.5, 'mode': 'nearest'}),
                       ('nearest/down', {'size': [2, 3], 'mode': 'nearest'}),
                       ('bilinear/size', {'size': [5, 7], 'mode': 'bilinear', 'align_corners': False}),
                       ('bilinear/align', {'size': [5, 7], 'mode': 'bilinear', 'align_corners': True}),
                       ('bilinear/scale2', {'scale_factor': 2.0, 'mode': 'bilinear', 'align_corners': False}),
                       ('bilinear/scale-pair', {'scale_factor': [1.5, 0.5], 'mode': 'bilinear', 'align_corners': False}),
                       ('bilinear/down', {'size': [2, 2], 'mode': 'bilinear', 'align_corners': False})):
        N.case(f'interpolate/{name}', 'interpolate', lambda x, a: F.interpolate(x[0], **a), [img()], args)
    grid = lambda: N.randn(2, 3, 4, 2, scale=0.7)
    for name, args in (('bilinear-zeros', {'mode': 'bilinear', 'padding_mode': 'zeros', 'align_corners': False}),
                       ('bilinear-border-align', {'mode': 'bilinear', 'padding_mode': 'border', 'align_corners': True}),
                       ('bilinear-reflection', {'mode': 'bilinear', 'padding_mode': 'reflection', 'align_corners': False}),
                       ('nearest-zeros', {'mode': 'nearest', 'padding_mode': 'zeros', 'align_corners': False})):
        N.case(f'gridSample/{name}', 'gridSample', lambda x, a: F.grid_sample(x[0], x[1], **a), [N.randn(2, 3, 4, 5), grid()], args)
    for align in (False, True):
        N.case(f'affineGrid/{align}', 'affineGrid', lambda x, a: F.affine_grid(x[0], a['size'], align_corners=a['alignCorners']),
               [N.randn(2, 2, 3)], {'size': [2, 3, 4, 5], 'alignCorners': align})
    N.case('affineGrid+gridSample', 'affineGridSample',
           lambda x, a: F.grid_sample(x[1], F.affine_grid(x[0], list(x[1].shape), align_corners=False), align_corners=False),
           [torch.tensor([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.05]]], dtype=f64), N.randn(1, 2, 5, 6)])

    for name, fn, args in (('relu', 'relu', {}), ('sigmoid', 'sigmoid', {}), ('tanh', 'tanh', {}), ('silu', 'silu', {}),
                           ('gelu', 'gelu', {'approximate': 'none'}), ('gelu/tanh', 'gelu', {'approximate': 'tanh'}),
                           ('leakyRelu', 'leaky_relu', {'negative_slope': 0.2})):
        N.case(f'act/{name}', f'act_{fn}', lambda x, a, f=fn: getattr(torch if f in ('sigmoid', 'tanh') else F, f)(x[0], **a), [N.randn(3, 4)], args)
    # dropout's deterministic edges: p=0 and eval mode are the identity, p=1 zeroes everything.
    for name, p_, training in (('p0', 0.0, True), ('eval', 0.5, False), ('p1', 1.0, True)):
        N.case(f'dropout/{name}', 'dropout', lambda x, a: F.dropout(x[0], a['p'], a['training']), [N.randn(3, 4)],
               {'p': p_, 'training': training})
    return N


# ---------------------------------------------------------------------------------------------------- autograd
def autograd():
    G = Family('autograd', 700)

    def second_derivative(x, a):
        y = (x[0].pow(3) * x[0].sin()).sum()
        (g,) = torch.autograd.grad(y, x[0], create_graph=True)
        return g
    # The runner back-propagates through g, so the stored input gradient is a second derivative.
    G.case('createGraph/second-derivative', 'second_derivative', second_derivative, [G.randn(5)])

    def hvp(x, a):
        w, inp = x
        loss = torch.tanh(inp.matmul(w)).pow(2).sum()
        (gw,) = torch.autograd.grad(loss, w, create_graph=True)
        return gw
    G.case('createGraph/mixed-second-derivative', 'hvp', hvp, [G.randn(3, 2), G.randn(4, 3)])

    def grad_of_grad(x, a):
        y = x[0].exp().mul(x[1]).sum()
        gx, gy = torch.autograd.grad(y, [x[0], x[1]], create_graph=True)
        (ggx,) = torch.autograd.grad(gx.pow(2).sum(), x[0], create_graph=True)
        return gx, gy, ggx
    G.case('createGraph/third-order', 'grad_of_grad', grad_of_grad, [G.randn(4), G.randn(4)])
    G.case('chain/softplus', 'softplus_chain', lambda x, a: x[0].exp().add(1).log().mul(x[1]).sum(1), [G.randn(3, 4), G.randn(4)])
    G.case('reuse/same-input-twice', 'reuse', lambda x, a: x[0].mul(x[0]).add(x[0].sin()), [G.randn(2, 3)])
    G.case('detach/blocks-gradient', 'detach_block', lambda x, a: x[0].mul(x[0].detach()), [G.randn(2, 3)])
    G.case('noGrad/blocks-gradient', 'nograd_block', lambda x, a: x[0].mul(_nograd(lambda: x[0].exp())), [G.randn(2, 3)])
    G.case('unused-input', 'unused', lambda x, a: x[0].mul(2), [G.randn(3), G.randn(3)])
    return G


def _nograd(fn):
    with torch.no_grad():
        return fn()


# ---------------------------------------------------------------------------------------------------- random
def random():
    Q = Family('random', 800)

    def seeded(name, op, fn, args):
        def run(x, a):
            torch.manual_seed(a['seed'])
            return fn(a)
        Q.case(name, op, run, [], args)

    for seed, shape, d in ((0, [5], None), (42, [3, 4], 'float64'), (7, [40], None), (-1, [4], None)):
        seeded(f'rand/{seed}/{shape}/{d}', 'rand', lambda a: torch.rand(a['shape'], dtype=dt(a['dtype'])),
               {'seed': seed, 'shape': shape, 'dtype': d})
    for seed, shape, d in ((1, [7], None), (1, [20], None), (3, [4, 5], 'float64'), (2 ** 40 + 3, [6], None)):
        seeded(f'randn/{seed}/{shape}/{d}', 'randn', lambda a: torch.randn(a['shape'], dtype=dt(a['dtype'])),
               {'seed': seed, 'shape': shape, 'dtype': d})
    for seed, n in ((0, 5), (3, 10), (11, 100), (5, 1)):
        seeded(f'randperm/{seed}/{n}', 'randperm', lambda a: torch.randperm(a['n']), {'seed': seed, 'n': n})
    for seed, low, high, shape, d in ((5, 0, 10, [8], None), (6, -5, 5, [3, 3], 'int32'), (9, 0, 2 ** 20, [6], None)):
        seeded(f'randint/{seed}/{low},{high}', 'randint',
               lambda a: torch.randint(a['low'], a['high'], a['shape'], dtype=dt(a['dtype']) or torch.int64),
               {'seed': seed, 'low': low, 'high': high, 'shape': shape, 'dtype': d})
    seeded('stream/rand,randn,randperm', 'stream', lambda a: (torch.rand(3), torch.randn(17), torch.randperm(6), torch.rand(2)),
           {'seed': 123})
    base = torch.zeros(3, 5, dtype=torch.float64)
    seeded('normal_', 'normal_', lambda a: base.clone().normal_(a['mean'], a['std']), {'seed': 4, 'mean': 1.5, 'std': 0.5})
    seeded('uniform_', 'uniform_', lambda a: base.clone().uniform_(a['from'], a['to']), {'seed': 4, 'from': -2.0, 'to': 3.0})
    seeded('bernoulli_', 'bernoulli_', lambda a: base.clone().bernoulli_(a['p']), {'seed': 8, 'p': 0.3})
    seeded('randLike', 'randLike', lambda a: torch.rand_like(base), {'seed': 10})
    seeded('randnLike', 'randnLike', lambda a: torch.randn_like(base.float()), {'seed': 10})
    seeded('randintLike', 'randintLike', lambda a: torch.randint_like(base, a['low'], a['high']), {'seed': 10, 'low': 3, 'high': 9})
    seeded('dropout/p0.3', 'dropout', lambda a: F.dropout(torch.ones(200), a['p']), {'seed': 12, 'p': 0.3})

    # Explicit generators: their own stream, same numbers as the default one would give for the same seed.
    def with_gen(x, a):
        g = torch.Generator().manual_seed(a['seed'])
        return (torch.rand(a['n'], generator=g), torch.randn(a['n'], generator=g), torch.randperm(a['n'], generator=g),
                torch.randint(0, 100, (a['n'],), generator=g), torch.zeros(a['n']).normal_(generator=g))
    Q.case('generator/stream', 'generator_stream', with_gen, [], {'seed': 77, 'n': 6})
    return Q


# ---------------------------------------------------------------------------------------------------- errors
def errors():
    """libtorch's own messages for failing ops; the TS errors test expects them inside its JS Error messages."""
    cases = []

    def err(name, op, fn, aten):
        try:
            fn()
        except (RuntimeError, IndexError) as e:
            cases.append({'name': f'errors/{name}', 'op': op, 'aten': aten, 'message': str(e).split('\n')[0]})
            return
        raise AssertionError(f'{name} did not fail')

    err('mm-shapes', 'mm', lambda: torch.ones(2, 3).mm(torch.ones(4, 5)), 'aten::mm')
    err('add-broadcast', 'add', lambda: torch.ones(2, 3).add(torch.ones(4)), 'aten::add.Tensor')
    err('view-non-contiguous', 'view', lambda: torch.ones(3, 4).t().view(12), 'aten::view')
    err('cat-sizes', 'cat', lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)]), 'aten::cat')
    err('conv2d-channels', 'conv2d', lambda: F.conv2d(torch.ones(1, 3, 5, 5), torch.ones(4, 2, 3, 3)), 'aten::conv2d')
    err('reshape-numel', 'reshape', lambda: torch.ones(2, 3).reshape(4, 2), 'aten::reshape')
    err('cross-entropy-target', 'crossEntropy', lambda: F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5])),
        'aten::cross_entropy_loss')
    err('mean-int', 'mean', lambda: torch.tensor([1, 2]).mean(), 'aten::mean')
    err('half-exp-unsupported', 'halfExp', lambda: torch.ones(2, dtype=torch.float16).exp(), 'aten::exp')
    err('leaf-in-place', 'leafInPlace', lambda: torch.ones(2, requires_grad=True).add_(1), 'aten::add_.Scalar')
    path = os.path.join(HERE, 'ops_errors.json')
    with open(path, 'w') as f:
        json.dump({'generator': 'test/golden/gen_ops.py', 'torch': torch.__version__, 'cases': cases}, f, indent=1)
        f.write('\n')
    print(f'{path}: {len(cases)} cases')


if __name__ == '__main__':
    warnings.filterwarnings('ignore', category=UserWarning)
    for family in (creation, elementwise, reduction, matmul, shape, nn, autograd, random):
        family().write()
    errors()
