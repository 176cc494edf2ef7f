"""scikit-learn's IsolationForest scoring throughput on the synthetic benchmark set, for
reports/bench-rows.md (run in a scratch venv; not a dependency):

    /tmp/venv/bin/python benches/reference/sklearn_iforest.py bench-data/synthetic_10000000.parquet

Features as poisonscan encodes them, as far as scikit-learn can take them: every column but the
label, text columns as integer category codes. The forest (100 trees, max_samples 256) is fitted
on 100,000 rows; scoring covers every row, n_jobs=2 (both cores), as poisonscan uses.
"""

import sys
import time

import numpy as np
import pyarrow.parquet as pq
import sklearn
from sklearn.ensemble import IsolationForest

path = sys.argv[1]
t0 = time.perf_counter()
t = pq.read_table(path)
cols = []
for name in t.column_names:
    if name == "label":
        continue
    c = t.column(name)
    if str(c.type) in ("string", "large_string"):
        cols.append(c.dictionary_encode().combine_chunks().indices.to_numpy().astype(np.float64))
    else:
        cols.append(c.to_numpy().astype(np.float64))
X = np.column_stack(cols).astype(np.float32)
load = time.perf_counter() - t0
rng = np.random.default_rng(0)
fit_rows = X[rng.choice(len(X), size=min(100_000, len(X)), replace=False)]
t0 = time.perf_counter()
forest = IsolationForest(n_estimators=100, max_samples=256, random_state=0, n_jobs=2).fit(fit_rows)
fit = time.perf_counter() - t0
t0 = time.perf_counter()
s = forest.score_samples(X)
score = time.perf_counter() - t0
print(
    f"sklearn {sklearn.__version__}: rows {len(X)} features {X.shape[1]} load {load:.2f} s "
    f"fit {fit:.2f} s "
    f"score {score:.2f} s = {len(X) / score / 1e6:.3f} M rows/s"
)
