#!/usr/bin/python3
"""Golden values for test/loss/unnormalized.test.ts: the three losses without l2 normalisation.

Run: .venv-torch/bin/python test/golden/gen_loss_unnormalized.py   (writes test/golden/loss_unnormalized.json)

The SimCLR paper's rows "without l2 norm" (Chen et al. 2020, Tables 2 and 5) score pairs by the raw dot product
s(u, v) = u.v instead of the cosine similarity. For each of the 2N anchors u with positive v+ and the 2M-2 other
embeddings as negatives v-:
  NT-Xent:         l(u) = -log( exp(s(u,v+)/tau) / sum over k != u of exp(s(u,k)/tau) )
  NT-Logistic:     l(u) = -log sigmoid(s(u,v+)/tau) - mean over v- of log sigmoid(-s(u,v-)/tau)
  margin triplet:  l(u) = mean over v- of max(s(u,v-) - s(u,v+) + m, 0)
and the loss is the mean of l over the anchors; the contrastive accuracy counts anchors whose positive has the
largest score. The references are per-anchor Python loops in float64, independent of the vectorised TypeScript.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(t):
    return t.detach().to(torch.float32).reshape(-1).tolist()


def anchor_loss(loss, opts, z, a, p):
    rows = range(z.shape[0])
    s = {k: torch.dot(z[a], z[k]) for k in rows if k != a}
    if loss == 'ntxent':
        tau = opts['temperature']
        denom = sum(torch.exp(s[k] / tau) for k in s)
        return -(s[p] / tau - torch.log(denom))
    negatives = [k for k in s if k != p]
    if loss == 'ntlogistic':
        tau = opts['temperature']
        neg = sum(F.logsigmoid(-s[k] / tau) for k in negatives) / len(negatives)
        return -F.logsigmoid(s[p] / tau) - neg
    return sum(torch.clamp(s[k] - s[p] + opts['margin'], min=0.0) for k in negatives) / len(negatives)


def reference(loss, opts, z1, z2):
    n = z1.shape[0]
    z = torch.cat([z1, z2]).double()
    total = 0.0
    hits = 0
    for a in range(2 * n):
        p = (a + n) % (2 * n)
        total = total + anchor_loss(loss, opts, z, a, p)
        scores = {k: torch.dot(z[a], z[k]).item() for k in range(2 * n) if k != a}
        hits += int(max(scores, key=lambda k: scores[k]) == p)
    return total / (2 * n), hits / (2 * n)


def case(gen, loss, n, d, scale, noise, **opts):
    z1 = (torch.randn(n, d, generator=gen) * scale).float()
    z2 = (z1 + noise * torch.randn(n, d, generator=gen)).float()
    a = z1.double().requires_grad_(True)
    b = z2.double().requires_grad_(True)
    value, acc = reference(loss, opts, a, b)
    value.backward()
    assert math.isfinite(value.item())
    return {'loss': loss, **opts, 'n': n, 'd': d, 'z1': f32(z1), 'z2': f32(z2), 'value': value.item(),
            'accuracy': acc, 'gradZ1': f32(a.grad), 'gradZ2': f32(b.grad)}


def main():
    gen = torch.Generator().manual_seed(2468)
    cases = [
        case(gen, 'ntxent', 3, 4, 0.5, 0.3, temperature=0.5),
        case(gen, 'ntxent', 6, 8, 0.3, 0.5, temperature=0.1),
        case(gen, 'ntxent', 4, 5, 2.0, 1.0, temperature=10.0),
        case(gen, 'ntlogistic', 4, 6, 0.5, 0.4, temperature=0.5),
        case(gen, 'ntlogistic', 5, 3, 1.5, 1.0, temperature=2.0),
        case(gen, 'margintriplet', 4, 6, 0.7, 0.5, margin=0.5),
        case(gen, 'margintriplet', 5, 4, 1.5, 2.0, margin=1.0),
    ]
    with open(os.path.join(HERE, 'loss_unnormalized.json'), 'w') as f:
        json.dump({'generator': 'gen_loss_unnormalized.py', 'torch': torch.__version__, 'cases': cases}, f,
                  separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
