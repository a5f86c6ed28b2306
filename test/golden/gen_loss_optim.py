#!/usr/bin/python3
"""Golden values for test/loss and test/optim, from PyTorch 1.13 (Debian python3-torch).

Run: /usr/bin/python3 test/golden/gen_loss_optim.py   (writes test/golden/loss.json and test/golden/optim.json)

NT-Xent and LARS references are deliberately naive (per-anchor and per-parameter Python loops in float64)
so that they check the vectorised TypeScript code against the paper's formula rather than against a copy of it.
SGD and AdamW references are torch.optim itself.
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(t):
    """Flat list of the float32 values (exact as Python floats)."""
    return t.detach().to(torch.float32).reshape(-1).tolist()


# ----------------------------------------------------------------------------------------------- NT-Xent

def ntxent_reference(z1_all, z2_all, tau, offset, n):
    """Mean over this replica's 2n anchors of -log softmax of the positive among all other 2M embeddings."""
    m = z1_all.shape[0]
    z = torch.cat([z1_all, z2_all]).double()
    z = z / z.norm(dim=1, keepdim=True)
    anchors = list(range(offset, offset + n)) + list(range(m + offset, m + offset + n))
    total = 0.0
    hits = 0
    for a in anchors:
        p = (a + m) % (2 * m)
        sims = {k: torch.dot(z[a], z[k]) / tau for k in range(2 * m) if k != a}
        den = sum(torch.exp(s) for s in sims.values())
        total = total - torch.log(torch.exp(sims[p]) / den)
        best = max(sims, key=lambda k: sims[k].item())
        hits += int(best == p)
    return total / len(anchors), hits / len(anchors)


def loss_case(gen, n, d, tau, noise, world=1):
    z1 = (torch.randn(n * world, d, generator=gen) * 2.0).float()
    z2 = (z1 + noise * torch.randn(n * world, d, generator=gen)).float()
    full = {}
    a = z1.double().requires_grad_(True)
    b = z2.double().requires_grad_(True)
    loss, acc = ntxent_reference(a, b, tau, 0, n * world)
    loss.backward()
    full = {'loss': loss.item(), 'accuracy': acc, 'gradZ1': f32(a.grad), 'gradZ2': f32(b.grad)}
    ranks = []
    for r in range(world):
        lr_, acc_r = ntxent_reference(z1, z2, tau, r * n, n)
        ranks.append({'loss': lr_.item(), 'accuracy': acc_r})
    return {'n': n, 'd': d, 'temperature': tau, 'world': world, 'z1': f32(z1), 'z2': f32(z2), 'full': full, 'ranks': ranks}


def gen_loss():
    gen = torch.Generator().manual_seed(1234)
    cases = [
        loss_case(gen, 1, 4, 0.5, 0.3),
        loss_case(gen, 4, 8, 0.5, 3.0),
        loss_case(gen, 8, 16, 0.1, 4.0),
        loss_case(gen, 5, 3, 1.0, 0.8),
        loss_case(gen, 6, 12, 0.2, 4.0),
        loss_case(gen, 3, 8, 0.5, 3.0, world=2),
        loss_case(gen, 2, 5, 0.1, 1.0, world=3),
    ]
    return {'cases': cases}


# ----------------------------------------------------------------------------------------------- optimizers

PARAM_SHAPES = [
    ('conv.weight', [4, 3, 3, 3]),
    ('bn.weight', [4]),
    ('bn.bias', [4]),
    ('proj.weight', [3, 4]),  # starts at zero: exercises LARS's ||w|| = 0 branch
    ('fc.weight', [5, 4]),
    ('fc.bias', [5]),
]


def make_problem(gen, steps, missing=()):
    """Initial params and per-step gradients; (step, name) pairs in `missing` have no gradient (None)."""
    params = []
    for name, shape in PARAM_SHAPES:
        init = torch.zeros(shape) if name == 'proj.weight' else torch.randn(shape, generator=gen)
        params.append({'name': name, 'shape': shape, 'init': f32(init)})
    grads = []
    for s in range(steps):
        row = []
        for name, shape in PARAM_SHAPES:
            if (s, name) in missing:
                row.append(None)
            elif (s, name + ':zero') in missing:
                row.append(f32(torch.zeros(shape)))
            else:
                row.append(f32(torch.randn(shape, generator=gen) * 0.5))
        grads.append(row)
    return params, grads


def as_tensors(params, dtype):
    return [torch.tensor(p['init'], dtype=dtype).reshape(p['shape']) for p in params]


def grad_tensor(values, shape, dtype):
    return None if values is None else torch.tensor(values, dtype=dtype).reshape(shape)


def lars_reference(params, grads, lrs, weight_decay, momentum, eta):
    """google-research/simclr LARS (classic momentum, no Nesterov), one parameter at a time, float64.

    Exclusion follows its default: names containing 'bias' or 'batch_normalization' get neither weight decay
    nor trust-ratio scaling; here the BN parameters are called 'bn.*', so 1-d parameters are excluded instead.
    """
    w = as_tensors(params, torch.float64)
    v = [torch.zeros_like(t) for t in w]
    for s, lr in enumerate(lrs):
        for i, p in enumerate(params):
            g = grad_tensor(grads[s][i], p['shape'], torch.float64)
            if g is None:
                continue
            excluded = len(p['shape']) <= 1
            if not excluded and weight_decay > 0:
                g = g + weight_decay * w[i]
            trust = 1.0
            if not excluded:
                w_norm = math.sqrt(float((w[i] * w[i]).sum()))
                g_norm = math.sqrt(float((g * g).sum()))
                trust = eta * w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
            v[i] = momentum * v[i] + (lr * trust) * g
            w[i] = w[i] - v[i]
    return {'params': [f32(t) for t in w], 'state': {'momentum': [f32(t) for t in v]}}


def torch_optim_reference(params, grads, lrs, make):
    w = [t.clone().requires_grad_(True) for t in as_tensors(params, torch.float32)]
    opt = make(w)
    for s, lr in enumerate(lrs):
        for group in opt.param_groups:
            group['lr'] = lr * group['lrScale']
        for i, p in enumerate(params):
            w[i].grad = grad_tensor(grads[s][i], p['shape'], torch.float32)
        opt.step()
    return opt, [f32(t) for t in w]


def sgd_case(gen, momentum, nesterov, dampening, weight_decay):
    lrs = [0.1, 0.05, 0.2]
    params, grads = make_problem(gen, len(lrs), missing={(1, 'fc.bias')})
    # Two groups: 1-d params at double lr and no weight decay, to test per-group options.
    def make(w):
        return torch.optim.SGD([
            {'params': [t for t in w if t.dim() > 1], 'lrScale': 1.0},
            {'params': [t for t in w if t.dim() <= 1], 'lrScale': 2.0, 'weight_decay': 0.0},
        ], lr=lrs[0], momentum=momentum, nesterov=nesterov, dampening=dampening, weight_decay=weight_decay)
    opt, final = torch_optim_reference(params, grads, lrs, make)
    w_order = [t for g in opt.param_groups for t in g['params']]
    buffers = {}
    for i, t in enumerate(w_order):
        buf = opt.state[t].get('momentum_buffer')
        if buf is not None:
            buffers[str(i)] = f32(buf)
    return {
        'options': {'momentum': momentum, 'nesterov': nesterov, 'dampening': dampening, 'weightDecay': weight_decay},
        'params': params, 'grads': grads, 'lrs': lrs, 'expected': {'params': final, 'momentumBuffer': buffers},
    }


def adamw_case(gen, weight_decay, betas, eps):
    lrs = [1e-2, 5e-3, 2e-2]
    params, grads = make_problem(gen, len(lrs), missing={(1, 'bn.bias'), (0, 'fc.weight')})

    def make(w):
        return torch.optim.AdamW([
            {'params': [t for t in w if t.dim() > 1], 'lrScale': 1.0},
            {'params': [t for t in w if t.dim() <= 1], 'lrScale': 0.5, 'weight_decay': 0.0},
        ], lr=lrs[0], betas=betas, eps=eps, weight_decay=weight_decay)
    opt, final = torch_optim_reference(params, grads, lrs, make)
    w_order = [t for g in opt.param_groups for t in g['params']]
    state = {}
    for i, t in enumerate(w_order):
        st = opt.state[t]
        if st:
            state[str(i)] = {'step': float(st['step']), 'expAvg': f32(st['exp_avg']), 'expAvgSq': f32(st['exp_avg_sq'])}
    return {
        'options': {'weightDecay': weight_decay, 'betas': list(betas), 'eps': eps},
        'params': params, 'grads': grads, 'lrs': lrs, 'expected': {'params': final, 'state': state},
    }


def lars_case(gen, weight_decay, momentum, eta, missing=()):
    lrs = [0.8, 1.6, 0.4]
    params, grads = make_problem(gen, len(lrs), missing=missing)
    return {
        'options': {'weightDecay': weight_decay, 'momentum': momentum, 'eta': eta},
        'params': params, 'grads': grads, 'lrs': lrs,
        'expected': lars_reference(params, grads, lrs, weight_decay, momentum, eta),
    }


def gen_optim():
    gen = torch.Generator().manual_seed(4321)
    return {
        'sgd': [
            sgd_case(gen, 0.9, False, 0.0, 0.1),
            sgd_case(gen, 0.9, True, 0.0, 0.05),
            sgd_case(gen, 0.5, False, 0.3, 0.0),
            sgd_case(gen, 0.0, False, 0.0, 0.1),
        ],
        'adamw': [
            adamw_case(gen, 0.1, (0.9, 0.999), 1e-8),
            adamw_case(gen, 0.01, (0.8, 0.99), 1e-3),
        ],
        'lars': [
            # Large weight decay so its effect is visible at float32 tolerance.
            lars_case(gen, 0.1, 0.9, 0.001),
            # No weight decay and a zero gradient: exercises ||g|| = 0 (trust ratio 1) and a missing gradient.
            lars_case(gen, 0.0, 0.8, 0.01, missing={(1, 'conv.weight:zero'), (2, 'fc.bias')}),
        ],
    }


def write(name, obj):
    with open(os.path.join(HERE, name), 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    torch.set_num_threads(1)
    write('loss.json', gen_loss())
    write('optim.json', gen_optim())
