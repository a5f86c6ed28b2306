#!/usr/bin/python3
"""Golden values for test/eval: weighted kNN and multinomial logistic regression.

Run: /usr/bin/python3 test/golden/gen_eval.py   (writes test/golden/eval_knn.json and test/golden/eval_linear.json)

kNN: a naive per-query float64 loop over the formula (cosine similarity on L2-normalised features, the k most
similar training rows, weight exp(sim / T), class score = sum of its neighbours' weights), checked here against
scikit-learn's KNeighborsClassifier with the same weights. A class's rank counts the classes with a higher score,
plus those with an equal score and a lower index, so ties (e.g. classes no neighbour votes for) rank stably.

Logistic regression: scikit-learn's LogisticRegression (multinomial, lbfgs, unpenalised intercept) solved to
tight tolerance, then polished by Newton steps. simclr states the objective as mean cross-entropy + l2/2 * ||W||^2, which is sklearn's
C * sum(cross-entropy) + ||W||^2 / 2 divided by C*N, hence C = 1 / (l2 * N).
"""
import json
import math
import os

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(a):
    """Flat list of float32 values (exact as Python floats)."""
    return np.asarray(a, dtype=np.float32).reshape(-1).tolist()


def clustered(gen, n, d, classes, spread):
    """Points around random unit-scale class centres; labels cycle so every class appears. Coordinates are
    multiples of 1/64, exact in float32 and short in JSON."""
    centres = torch.randn(classes, d, generator=gen)
    labels = torch.arange(n) % classes
    labels = labels[torch.randperm(n, generator=gen)]
    x = centres[labels] + spread * torch.randn(n, d, generator=gen)
    return (torch.round(x * 64) / 64).float().numpy(), labels.numpy().astype(np.int64)


def g12(values):
    """Reference values to 12 significant digits: far beyond float32 agreement, half the JSON."""
    return [float(f'{v:.12g}') for v in values]


# ----------------------------------------------------------------------------------------------- kNN

def knn_reference(train_x, train_y, test_x, test_y, k, t, classes):
    a = train_x.astype(np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    scores_all, hits1, hits5 = [], 0, 0
    for q, y in zip(test_x.astype(np.float64), test_y):
        q = q / np.linalg.norm(q)
        sims = [(float(np.dot(q, a[j])), j) for j in range(len(a))]
        sims.sort(key=lambda s: -s[0])
        scores = [0.0] * classes
        for sim, j in sims[:k]:
            scores[int(train_y[j])] += math.exp(sim / t)
        # A class without votes is no prediction: the true class counts only when it got votes, and ranks after
        # every class with more and after equal-scored classes of lower index.
        rank = sum(1 for c in range(classes) if scores[c] > scores[y] or (scores[c] == scores[y] and c < y))
        voted = scores[y] > 0
        hits1 += voted and rank < 1
        hits5 += voted and rank < 5
        scores_all.append(scores)
    n = len(test_y)
    return scores_all, hits1 / n, hits5 / n


def knn_case(gen, n_train, n_test, d, classes, spread, k, t):
    x, y = clustered(gen, n_train + n_test, d, classes, spread)
    train_x, train_y, test_x, test_y = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    scores, top1, top5 = knn_reference(train_x, train_y, test_x, test_y, k, t, classes)
    # The same vote with scikit-learn: cosine distance is 1 - sim, so the weight is exp((1 - dist) / t).
    sk = KNeighborsClassifier(n_neighbors=k, metric='cosine', algorithm='brute', weights=lambda dist: np.exp((1 - dist) / t))
    sk.fit(train_x.astype(np.float64), train_y)
    proba = sk.predict_proba(test_x.astype(np.float64))
    ours = np.asarray(scores) / np.asarray(scores).sum(axis=1, keepdims=True)
    assert np.allclose(proba, ours, rtol=1e-9, atol=1e-12), 'naive kNN disagrees with scikit-learn'
    return {
        'k': k, 'temperature': t, 'numClasses': classes, 'dim': d,
        'trainX': f32(train_x), 'trainY': train_y.tolist(), 'testX': f32(test_x), 'testY': test_y.tolist(),
        'scores': g12(s for row in scores for s in row), 'top1': top1, 'top5': top5,
    }


# ----------------------------------------------------------------------------------------------- logistic regression

def objective(x, y, w, b, l2):
    logits = x @ w.T + b
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean() + 0.5 * l2 * (w ** 2).sum())


def polish(x, y, w, b, l2):
    """Newton steps from scikit-learn's solution, whose stopping rule leaves it ~1e-4 from the optimum along flat
    directions; the polished optimum is exact to float64 and must stay close to scikit-learn's."""
    c, d = w.shape
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def f(theta):
        wt, bt = theta[:c * d].view(c, d), theta[c * d:]
        return torch.nn.functional.cross_entropy(xt @ wt.T + bt, yt) + 0.5 * l2 * (wt ** 2).sum()

    theta = torch.from_numpy(np.concatenate([w.reshape(-1), b]))
    for _ in range(5):
        g = torch.autograd.functional.jacobian(f, theta)
        h = torch.autograd.functional.hessian(f, theta)
        # The loss is flat along a common shift of the biases; lstsq takes the step without it.
        theta = theta - torch.linalg.lstsq(h, g.unsqueeze(1), rcond=None).solution.squeeze(1)
    g = torch.autograd.functional.jacobian(f, theta)
    assert g.abs().max() < 1e-12, f'Newton polish left gradient {g.abs().max()}'
    pw, pb = theta[:c * d].view(c, d).numpy(), theta[c * d:].numpy()
    assert np.abs(pw - w).max() < 1e-2 * np.abs(w).max(), 'scikit-learn solution far from the optimum'
    return pw, pb - pb.mean() + b.mean()


def accuracy(x, y, w, b):
    return float(((x @ w.T + b).argmax(axis=1) == y).mean())


def linear_case(name, gen, n_train, n_test, d, classes, spread, l2):
    x, y = clustered(gen, n_train + n_test, d, classes, spread)
    train_x, train_y, test_x, test_y = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    xd = train_x.astype(np.float64)
    model = LogisticRegression(C=1.0 / (l2 * n_train), multi_class='multinomial', solver='lbfgs', tol=1e-12, max_iter=100000)
    model.fit(xd, train_y)
    w, b = polish(xd, train_y, model.coef_, model.intercept_, l2)
    return {
        'name': name, 'l2': l2, 'numClasses': classes, 'dim': d,
        'trainX': f32(train_x), 'trainY': train_y.tolist(), 'testX': f32(test_x), 'testY': test_y.tolist(),
        'weight': g12(w.reshape(-1)), 'bias': g12(b), 'objective': objective(xd, train_y, w, b, l2),
        'trainAccuracy': accuracy(xd, train_y, w, b), 'testAccuracy': accuracy(test_x.astype(np.float64), test_y, w, b),
    }


def main():
    gen = torch.Generator().manual_seed(20200213)
    knn = {'cases': [
        knn_case(gen, 120, 40, 8, 4, 0.6, 10, 0.1),
        knn_case(gen, 250, 50, 8, 6, 1.2, 200, 0.1),
        # k below 5 voting classes: top-5 depends on how zero-score classes rank.
        knn_case(gen, 150, 50, 6, 10, 1.0, 3, 0.5),
    ]}
    linear = {'cases': [
        linear_case('separable', gen, 150, 60, 4, 3, 0.15, 1e-2),
        linear_case('noisy', gen, 400, 100, 8, 4, 1.0, 1e-3),
    ]}
    for name, data in (('eval_knn.json', knn), ('eval_linear.json', linear)):
        with open(os.path.join(HERE, name), 'w') as f:
            json.dump(data, f, separators=(',', ':'))
            f.write('\n')


if __name__ == '__main__':
    main()
