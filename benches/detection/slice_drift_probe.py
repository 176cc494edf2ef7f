"""Would a per-slice drift test find the bench's slice_feature_shift attacks? A probe, not a check.

Run after `python3 benches/detection/run.py --quick` has written its cases, from the
repository's root, in the bench's environment:

    bench-data/detection/venv/bin/python benches/detection/slice_drift_probe.py

For every set's slice_feature_shift cases and its clean pair it runs the most direct test a
scan could make without knowing where the attack is: for every slice of one column (a category
of up to 200 values, or a baseline decile bin of a number) and every numeric column (more than
16 values) apart from the slice's, the column's values in the slice now against the same slice
in the baseline (Mann-Whitney on 32 baseline-quantile bins, ties counted half, normal
approximation with the tie correction), and that slice's move against the move of the rest of
the rows (the difference of the two A values over their joint standard error); the larger
p-value counts, and Benjamini-Hochberg runs across every slice and column tested. It prints the
three smallest q-values of each case, with the planted slice and column (from the quick run's
results).

A check is worth building only if the planted pair reaches q <= 0.01 on some case while no
clean pair does; reports/detection.md quotes what this printed.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path("bench-data/detection")
LABEL = "label"
BINS = 32
MIN_ROWS = 20


def load(folder: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(f) for f in sorted(glob.glob(str(folder / "*.parquet")))],
        ignore_index=True,
    )


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    v = values[~np.isnan(values)]
    return np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)


def mann_whitney(now: np.ndarray, then: np.ndarray) -> tuple[float, float]:
    """A = P(now > then) + P(tie)/2 from binned counts, and its variance under the null."""
    c, b = float(now.sum()), float(then.sum())
    if c == 0 or b == 0:
        return 0.5, float("inf")
    below = np.cumsum(then) - then
    a = float((now * (below + 0.5 * then)).sum() / (c * b))
    n = c + b
    p = (now + then) / n
    var = ((n + 1) - (n * n * float((p**3).sum()) - 1) / (n - 1)) / (12 * c * b)
    return a, max(var, 1e-300)


def slices(base: pd.DataFrame, cur: pd.DataFrame, numeric: list[str]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for c in base.columns:
        if c == LABEL or c not in cur.columns:
            continue
        if c in numeric:
            e = np.unique(np.quantile(base[c].dropna(), np.linspace(0, 1, 11)[1:-1]))

            def bins(x: np.ndarray, e: np.ndarray = e) -> np.ndarray:
                # Nulls are no slice of their own here (-1 is skipped).
                return np.where(np.isnan(x), -1, np.searchsorted(e, x, side="right"))

            out[c] = (bins(base[c].to_numpy(float)), bins(cur[c].to_numpy(float)))
        elif base[c].nunique() <= 200:
            cats = {v: i for i, v in enumerate(sorted(base[c].dropna().astype(str).unique()))}
            out[c] = (
                base[c].astype(str).map(cats).fillna(-1).to_numpy(),
                cur[c].astype(str).map(cats).fillna(-1).to_numpy(),
            )
    return out


def probe(case: Path, baseline: Path) -> list[tuple[float, str, str, float]]:
    base, cur = load(baseline), load(case)
    numeric = [
        c
        for c in base.columns
        if c != LABEL
        and c in cur.columns
        and pd.api.types.is_numeric_dtype(base[c])
        and base[c].nunique() > 16
    ]
    cuts = slices(base, cur, numeric)
    tested: list[tuple[float, str, str]] = []
    for f in numeric:
        edges = np.unique(np.quantile(base[f].dropna(), np.linspace(0, 1, BINS + 1)[1:-1]))
        bx, cx = base[f].to_numpy(float), cur[f].to_numpy(float)
        b_all, c_all = binned(bx, edges), binned(cx, edges)
        for s, (bs, cs) in cuts.items():
            if s == f:
                continue
            for v in np.unique(bs):
                if v == -1:
                    continue
                mb, mc = bs == v, cs == v
                if mb.sum() < MIN_ROWS or mc.sum() < MIN_ROWS:
                    continue
                hb, hc = binned(bx[mb], edges), binned(cx[mc], edges)
                a_s, v_s = mann_whitney(hc, hb)
                a_r, v_r = mann_whitney(c_all - hc, b_all - hb)
                z_base = (a_s - 0.5) / np.sqrt(v_s)
                z_rest = (a_s - a_r) / np.sqrt(v_s + v_r)
                p = max(2 * stats.norm.sf(abs(z_base)), 2 * stats.norm.sf(abs(z_rest)))
                tested.append((float(p), f, f"{s} slice {int(v)}"))
    tested.sort()
    m = len(tested)
    ps = np.array([t[0] for t in tested])
    q = np.minimum.accumulate((ps * m / np.arange(1, m + 1))[::-1])[::-1]
    return [(float(qq), f, s, p) for (p, f, s), qq in zip(tested, q, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=str(ROOT / "cases"))
    args = ap.parse_args()
    results = {}
    results_file = ROOT / "results-quick.json"
    if results_file.exists():
        for r in json.loads(results_file.read_text()):
            if r["family"] == "slice_feature_shift":
                results[(r["set"], r["rate"])] = r
    for ds in sorted(Path(args.cases).iterdir()):
        for case in sorted(ds.glob("s0/slice_feature_shift-*")) + sorted(ds.glob("s0/clean-*")):
            tested = probe(case / "cur", ds / "s0" / "baseline")
            rate = case.name.split("-")[-1]
            planted = ""
            if "slice_feature_shift" in case.name:
                r = results.get((ds.name, float(rate)))
                planted = f" (planted: {r['detail']})" if r else ""
            best = ", ".join(f"q {q:.2g} {f} in {s}" for q, f, s, _ in tested[:3])
            print(f"{ds.name} {case.name}: {len(tested)} tests; {best}{planted}", flush=True)


if __name__ == "__main__":
    main()
