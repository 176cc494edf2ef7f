"""Reference values for the row-level detectors, from scikit-learn and PyOD.

Writes tests/fixtures/iforest_sklearn.json (a fitted scikit-learn IsolationForest: its trees and
its scores on the data) and tests/fixtures/ecod_pyod.json (PyOD ECOD's training scores), which
tests/rows_reference.rs compares with src/rows. Run in a scratch venv (never a dependency):

    python -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn pyod
    /tmp/venv/bin/python scripts/rows_reference.py
"""
import json
import sys

import numpy as np
import pyod
import sklearn
from pyod.models.ecod import ECOD
from sklearn.ensemble import IsolationForest

rng = np.random.default_rng(20261122)
# 300 rows, 4 features: a correlated cloud, a skewed feature, a discrete one, and a few far rows.
n = 300
a = rng.normal(size=n)
X = np.column_stack([
    a,
    0.6 * a + rng.normal(scale=0.5, size=n),
    rng.exponential(size=n),
    rng.integers(0, 5, size=n).astype(float),
])
X[:6] += np.array([6.0, -5.0, 8.0, 0.0])
# scikit-learn's trees compare float32 values; give both sides the same numbers.
X = X.astype(np.float32).astype(np.float64)

forest = IsolationForest(n_estimators=25, max_samples=64, random_state=3).fit(X)
trees = []
for est in forest.estimators_:
    t = est.tree_
    trees.append({
        "children_left": t.children_left.tolist(),
        "children_right": t.children_right.tolist(),
        "feature": t.feature.tolist(),
        "threshold": t.threshold.tolist(),
        "n_node_samples": t.n_node_samples.tolist(),
    })
# The forest's features per estimator: all of them (max_features=1.0), in order.
assert all(list(f) == list(range(X.shape[1])) for f in forest.estimators_features_)
meta = {"python": sys.version.split()[0], "sklearn": sklearn.__version__, "pyod": pyod.__version__}
with open("tests/fixtures/iforest_sklearn.json", "w") as f:
    json.dump({
        "meta": meta,
        "dim": X.shape[1],
        "max_samples": int(forest.max_samples_),
        "x": X.ravel().tolist(),
        "trees": trees,
        # score_samples is the opposite of the paper's score.
        "scores": (-forest.score_samples(X)).tolist(),
    }, f)

ecod = ECOD().fit(X)
with open("tests/fixtures/ecod_pyod.json", "w") as f:
    json.dump({
        "meta": meta,
        "dim": X.shape[1],
        "x": X.ravel().tolist(),
        "scores": ecod.decision_scores_.tolist(),
    }, f)
print("wrote tests/fixtures/iforest_sklearn.json and tests/fixtures/ecod_pyod.json")
