#!/usr/bin/python3
"""Golden values for test/loss/alternatives.test.ts, from PyTorch 1.13 (Debian python3-torch).

Run: /usr/bin/python3 test/golden/gen_loss_alt.py   (writes test/golden/loss_alt.json)

The SimCLR paper's alternative losses (Chen et al. 2020, Table 2 and Section 5.1), with the normalisation
simclr chose (src/loss/ntlogistic.ts, src/loss/margintriplet.ts): for each of the 2N anchors u, with positive v+
and the 2M-2 other embeddings as negatives v-, at cosine similarity s,
  NT-Logistic:     l(u) = -log sigmoid(s(u,v+)/tau) - mean over v- of log sigmoid(-s(u,v-)/tau)
  margin triplet:  l(u) = mean over v- of max(s(u,v-) - s(u,v+) + m, 0)
and the loss is the mean of l over the anchors. The contrastive accuracy counts anchors whose positive has the
largest similarity. The references are naive per-anchor, per-negative Python loops in float64, so that they check
the vectorised TypeScript code against the formula rather than against a copy of it.
"""
import json
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(t):
    """Flat list of the float32 values (exact as Python floats)."""
    return t.detach().to(torch.float32).reshape(-1).tolist()


def reference(z1_all, z2_all, offset, n, per_negative):
    """Mean over this replica's 2n anchors of per_negative's terms; per_negative(s_pos, s_neg) -> (pos, neg) terms."""
    m = z1_all.shape[0]
    z = torch.cat([z1_all, z2_all]).double()
    z = z / z.norm(dim=1, keepdim=True)
    anchors = list(range(offset, offset + n)) + list(range(m + offset, m + offset + n))
    total = 0.0
    hits = 0
    for a in anchors:
        p = (a + m) % (2 * m)
        s_pos = torch.dot(z[a], z[p])
        negatives = [k for k in range(2 * m) if k not in (a, p)]
        neg_sum = 0.0
        for k in negatives:
            neg_sum = neg_sum + per_negative(s_pos, torch.dot(z[a], z[k]))
        total = total + neg_sum / len(negatives)
        sims = {k: torch.dot(z[a], z[k]).item() for k in range(2 * m) if k != a}
        hits += int(max(sims, key=lambda k: sims[k]) == p)
    return total / len(anchors), hits / len(anchors)


def nt_logistic(tau):
    # -log sigmoid(s+/tau) is the same for every negative, so averaging it over them leaves it once.
    return lambda s_pos, s_neg: -F.logsigmoid(s_pos / tau) - F.logsigmoid(-s_neg / tau)


def margin_triplet(margin):
    return lambda s_pos, s_neg: torch.clamp(s_neg - s_pos + margin, min=0.0)


def case(gen, loss, n, d, noise, world=1, **opts):
    per_negative = nt_logistic(opts['temperature']) if loss == 'ntlogistic' else margin_triplet(opts['margin'])
    z1 = (torch.randn(n * world, d, generator=gen) * 2.0).float()
    z2 = (z1 + noise * torch.randn(n * world, d, generator=gen)).float()
    a = z1.double().requires_grad_(True)
    b = z2.double().requires_grad_(True)
    value, acc = reference(a, b, 0, n * world, per_negative)
    value.backward()
    full = {'loss': value.item(), 'accuracy': acc, 'gradZ1': f32(a.grad), 'gradZ2': f32(b.grad)}
    ranks = []
    for r in range(world):
        v, acc_r = reference(z1, z2, r * n, n, per_negative)
        ranks.append({'loss': v.item(), 'accuracy': acc_r})
    return {'loss': loss, **opts, 'n': n, 'd': d, 'world': world, 'z1': f32(z1), 'z2': f32(z2), 'full': full, 'ranks': ranks}


def main():
    gen = torch.Generator().manual_seed(4321)
    cases = [
        case(gen, 'ntlogistic', 2, 4, 0.3, temperature=0.5),
        case(gen, 'ntlogistic', 4, 8, 3.0, temperature=0.5),
        case(gen, 'ntlogistic', 8, 16, 4.0, temperature=0.1),
        case(gen, 'ntlogistic', 5, 3, 0.8, temperature=1.0),
        case(gen, 'ntlogistic', 3, 8, 3.0, world=2, temperature=0.2),
        case(gen, 'margintriplet', 3, 4, 4.0, margin=1.0),
        case(gen, 'margintriplet', 4, 8, 3.0, margin=0.5),
        case(gen, 'margintriplet', 8, 16, 4.0, margin=1.0),
        case(gen, 'margintriplet', 5, 3, 0.8, margin=0.2),
        case(gen, 'margintriplet', 6, 12, 4.0, margin=0.0),
        case(gen, 'margintriplet', 2, 5, 3.0, world=3, margin=0.5),
    ]
    with open(os.path.join(HERE, 'loss_alt.json'), 'w') as f:
        json.dump({'cases': cases}, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
