"""
The scikit-learn reference of the learn bench suite: a flat multinomial LogisticRegression on the
embeddings that `taxon export` wrote (.npy + labels.csv with the deterministic hold-out split),
scored with the same hierarchical metrics as src/core/learn/metrics.ts. Not a runtime dependency.

  /usr/bin/python3 test/bench/sklearn_reference.py embeddings.npy labels.csv [--C 0.01] [--grid 0.003,0.01,0.03]

Preprocessing mirrors Taxon's (L2 normalisation, then standardisation fitted on the training part).
C is chosen on the training part only: a 3-fold split of it when --folds 3, else one third held out.
Prints one JSON object.
"""
import argparse
import csv
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler, normalize


def read_labels(path):
    images, paths, splits = [], [], []
    with open(path, newline='', encoding='utf-8') as f:
        for row in csv.DictReader(f):
            images.append(row['image'])
            paths.append(tuple(row['path'].split(' > ')) if row['path'] else ())
            splits.append(row['split'])
    return images, paths, splits


class Tree:
    """Nodes are label paths (tuples); the root is ()."""

    def __init__(self, paths):
        self.nodes = set()
        for p in paths:
            for d in range(1, len(p) + 1):
                self.nodes.add(p[:d])
        self.internal = {p[:-1] for p in self.nodes}

    def is_leaf(self, p):
        return p not in self.internal


def ancestors(p):
    """The node and its ancestors, root excluded (metrics.ts: hierarchical P/R sets)."""
    return {p[:d] for d in range(1, len(p) + 1)}


def lca_depth(a, b):
    d = 0
    while d < min(len(a), len(b)) and a[d] == b[d]:
        d += 1
    return d


def evaluate(tree, judged):
    """Mirror of evaluate() in src/core/learn/metrics.ts for (truth, predicted) label paths."""
    n = len(judged)
    leaf_n = leaf_hit = 0
    inter = size_p = size_t = 0
    dist_sum = 0
    mistakes = 0
    max_depth = max((len(t) for t, _ in judged), default=0)
    level_n = [0] * (max_depth + 1)
    level_hit = [0] * (max_depth + 1)
    for truth, predicted in judged:
        if tree.is_leaf(truth):
            leaf_n += 1
            if predicted == truth:
                leaf_hit += 1
        for level in range(1, len(truth) + 1):
            level_n[level] += 1
            if len(predicted) >= level and predicted[:level] == truth[:level]:
                level_hit[level] += 1
        # A partial truth judges the prediction only down to the truth's depth.
        cut = predicted if tree.is_leaf(truth) else predicted[: len(truth)]
        P, T = ancestors(cut), ancestors(truth)
        inter += len(P & T)
        size_p += len(P)
        size_t += len(T)
        dist = len(cut) + len(truth) - 2 * lca_depth(cut, truth)
        dist_sum += dist
        if dist > 0:
            mistakes += 1
    hP = inter / size_p if size_p else 0.0
    hR = inter / size_t if size_t else 0.0
    return {
        'n': n,
        'leafN': leaf_n,
        'leafTop1': leaf_hit / leaf_n if leaf_n else 0.0,
        'hP': hP,
        'hR': hR,
        'hF1': 2 * hP * hR / (hP + hR) if hP + hR else 0.0,
        'perLevel': [{'level': L, 'n': level_n[L], 'accuracy': level_hit[L] / level_n[L]} for L in range(1, max_depth + 1) if level_n[L]],
        'meanTreeDistance': dist_sum / n if n else 0.0,
        'meanTreeDistanceOnMistakes': dist_sum / mistakes if mistakes else 0.0,
    }


def fit(X, y, C, warm=None):
    clf = LogisticRegression(C=C, max_iter=1000, warm_start=warm is not None)
    if warm is not None:
        clf.coef_, clf.intercept_, clf.classes_ = warm.coef_.copy(), warm.intercept_.copy(), warm.classes_
    return clf.fit(X, y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('embeddings')
    ap.add_argument('labels')
    ap.add_argument('--grid', default='0.003,0.01,0.03')
    ap.add_argument('--C', type=float, default=None, help='skip the search')
    ap.add_argument('--folds', type=int, default=1)
    a = ap.parse_args()

    X = np.load(a.embeddings).astype(np.float64)
    images, paths, splits = read_labels(a.labels)
    labelled = np.array([len(p) > 0 for p in paths])
    train = np.array([s == 'train' for s in splits]) & labelled
    test = np.array([s == 'test' for s in splits]) & labelled
    y = np.array([' > '.join(p) for p in paths], dtype=object)
    tree = Tree([p for p in paths if p])

    Xn = normalize(X)
    scaler = StandardScaler().fit(Xn[train])
    Xs = scaler.transform(Xn)
    Xtr, ytr = Xs[train], y[train]

    search = []
    t0 = time.perf_counter()
    if a.C is not None:
        C = a.C
    else:
        grid = sorted(float(c) for c in a.grid.split(','))
        idx = np.arange(len(ytr))
        if a.folds > 1:
            splits_ = list(StratifiedKFold(a.folds, shuffle=True, random_state=0).split(idx, ytr))
        else:
            rng = np.random.default_rng(0)
            hold = rng.random(len(ytr)) < 1 / 3
            splits_ = [(idx[~hold], idx[hold])]
        scores = {c: [] for c in grid}
        for tr, va in splits_:
            warm = None
            for c in grid:  # increasing C, each warm-started from the previous
                warm = fit(Xtr[tr], ytr[tr], c, warm)
                scores[c].append(float((warm.predict(Xtr[va]) == ytr[va]).mean()))
        search = [{'C': c, 'accuracy': float(np.mean(scores[c]))} for c in grid]
        C = max(grid, key=lambda c: np.mean(scores[c]))
    search_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    clf = fit(Xtr, ytr, C)
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    predicted = clf.predict(Xs[test])
    predict_seconds = time.perf_counter() - t0
    truth = [paths[i] for i in np.flatnonzero(test)]
    judged = [(t, tuple(p.split(' > '))) for t, p in zip(truth, predicted)]
    m = evaluate(tree, judged)
    out = {
        'classifier': 'sklearn LogisticRegression (flat, multinomial, lbfgs)',
        'sklearn': __import__('sklearn').__version__,
        'C': C,
        'search': search,
        'searchSeconds': search_seconds,
        'fitSeconds': fit_seconds,
        'iterations': int(np.max(clf.n_iter_)),
        'predictSeconds': predict_seconds,
        'train': int(train.sum()),
        'test': int(test.sum()),
        **m,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == '__main__':
    main()
