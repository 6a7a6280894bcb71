"""The issue's reference for the label audit: 5-fold cross-validated flat logistic regression on
the embeddings, score = 1 - p(given label). Reads `taxon export` output; prints {"order": [...]},
the images from most to least suspicious."""
import csv, json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression

npy, labels = sys.argv[1], sys.argv[2]
X = np.load(npy).astype(np.float64)
rows = list(csv.DictReader(open(labels, newline='')))
keep = [i for i, r in enumerate(rows) if r['path']]
X = X[keep]
images = [rows[i]['image'] for i in keep]
paths = [rows[i]['path'] for i in keep]
X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
X -= X.mean(0)
classes = sorted(set(paths))
index = {p: i for i, p in enumerate(classes)}
y = np.array([index[p] for p in paths])
folds = np.arange(len(y)) % 5
np.random.default_rng(1).shuffle(folds)
p_given = np.zeros(len(y))
for f in range(5):
    train = folds != f
    model = LogisticRegression(C=1.0, max_iter=300).fit(X[train], y[train])
    P = model.predict_proba(X[~train])
    col = {c: k for k, c in enumerate(model.classes_)}
    p_given[~train] = [P[r, col[c]] if c in col else 0.0 for r, c in enumerate(y[~train])]
order = np.argsort(p_given, kind='stable')
print(json.dumps({"order": [images[i] for i in order]}))
