"""Reference top-K slices from the `sliceline` Python package (DataDome, 0.3.0; scratch venv
only) on a small seeded fixture, for the Rust SliceLine test (`slice::sliceline`).

    /work/venv/bin/pip install sliceline==0.3.0
    /work/venv/bin/python scripts/sliceline_reference.py

Writes datasets/sliceline/fixture.csv (4 categorical columns and a 0/1 error) and
datasets/sliceline/expected.json (per alpha: each top slice as {column: value}, its size,
summed error and score).
"""
import json
import os

import numpy as np
import pandas as pd
from sliceline.slicefinder import Slicefinder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = f'{ROOT}/datasets/sliceline'
rng = np.random.default_rng(2021)
n = 1500
X = pd.DataFrame({f'c{j}': rng.integers(1, 4 + j, n) for j in range(4)})
p = np.where((X.c0 == 2) & (X.c2 == 1), 0.6, 0.08)
p = np.where((X.c1 == 3) & (X.c3 == 4) & (X.c0 == 1), 0.5, p)
e = (rng.random(n) < p).astype(float)
X.assign(error=e).to_csv(f'{OUT}/fixture.csv', index=False)
expected = {}
for alpha in (0.85, 0.95):
    sf = Slicefinder(alpha=alpha, k=4, max_l=3, min_sup=10, verbose=False)
    sf.fit(X.values, e)
    rows = []
    for s, st in zip(sf.top_slices_, sf.top_slices_statistics_):
        rows.append({
            'slice': {f'c{j}': int(v) for j, v in enumerate(s) if v is not None},
            'score': float(st['slice_score']),
            'size': float(st['slice_size']),
            'error': float(st['sum_slice_error']),
        })
    expected[str(alpha)] = rows
with open(f'{OUT}/expected.json', 'w') as f:
    json.dump(expected, f, indent=1)
print(json.dumps(expected, indent=1))
