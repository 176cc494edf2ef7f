"""The detection benchmark: planted attacks on every real set, scored (reports/detection.md).

One command, from the repository's root, after `cargo build --release`:

    python3 benches/detection/run.py --quick    # 1 seed, sets capped at 10,000 rows, < 10 min
    python3 benches/detection/run.py            # full: 3 seeds, every row, wine also numeric

It creates its own scratch environment (bench-data/detection/venv, from requirements.txt beside
this file: numpy, pandas, pyarrow, scipy and the peers scikit-learn, cleanlab and Evidently;
none of them is a dependency of poisonscan) and runs itself there.

For every real set (default ../shared/datasets/real, one Parquet file per folder with a `label`
column) and seed, the rows are split at random into a baseline and a current half (numpy's
default_rng(2000 + seed)), each in random order and written as four files (some sets are
sorted by label). Each attack of attacks.py is planted in the current half at each rate (a
share of the current rows, at least one row), its ground truth kept, and
`poisonscan scan current/ --baseline baseline/ --label label --rows-out rows.parquet` is run
with the default gate (`--fail-on high`). Each case is scored:

- gate: right when an attack fails the gate (exit 1, or exit 2 naming the tampered column for
  a file poisonscan refuses to read) and a clean pair passes it;
- named: a medium or high finding among the first five names a planted column (its columns or
  slice; the label only through a label check), the planted source (its sources, all of them
  planted, or the first it lists), or planted rows (at least half of its example rows);
- row AUROC and precision at k (k = planted rows) from the rows file, ranking rows by
  max(outlier_score, label_issue_score) plus one when a finding flagged the row (not for
  duplicates and replays: a copy cannot be told from its original by a row score);
- the exact test: a p-value of the planted rows against the baseline (attacks.py says which
  test), Benjamini-Hochberg across the run's attack cases (so `--sets` and `--families` change
  which small cases are required); a case under 0.5% with q <= 0.01 is one the gate must get
  right. The report also reads the bar by two variants that are not the bar's: the
  tail-aware test (a past-range trigger against the label's share in the feature's own tail)
  and the tail- and choice-aware one (a slice attack's test times the slices it chose among).

Peers, in the same environment, on the same files: scikit-learn's IsolationForest fitted on the
baseline (row AUROC), cleanlab's find_label_issues on 5-fold cross-validated probabilities of a
HistGradientBoostingClassifier (precision and recall on the changed labels; for a numeric target
cleanlab.regression's CleanLearning with a HistGradientBoostingRegressor), and Evidently's
DataDriftPreset (the dataset-level drift verdict). The quick mode runs the peers on the clean
pairs and the largest rate only, and lightens the two slowest (peers.py says how).

Options: --seeds N, --rates 0.0005,0.005,0.02, --sets a,b, --families f,g, --no-peers,
--max-rows N, --data DIR, --out FILE (default reports/detection.md, either mode; the report
says which). POISONSCAN_BIN names the binary (default
target/release/poisonscan). Cases are written under bench-data/detection/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench-data" / "detection"
VENV = WORK / "venv"


sys.path[:0] = [str(HERE), str(HERE.parent)]
from scratch_env import ensure_env  # noqa: E402

ensure_env(VENV, HERE / "requirements.txt", "POISONSCAN_DETECTION_ENV", __file__)

import attacks  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import peers  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from attacks import LABEL, Case, Split  # noqa: E402
from real_sets import real_set_files  # noqa: E402

SEVERE = ("medium", "high")


def load_sets(
    data: Path, wanted: set[str], full: bool
) -> list[tuple[str, pd.DataFrame, list[str]]]:
    out: list[tuple[str, pd.DataFrame, list[str]]] = []
    for name, file in real_set_files(data, wanted):
        df = pq.read_table(file).to_pandas()
        if LABEL not in df.columns:
            continue
        # Categories as plain objects, so that attacks can set any value.
        for c in df.columns:
            if isinstance(df[c].dtype, pd.StringDtype) or df[c].dtype == object:
                df[c] = df[c].astype(object)
        out.append((name, df, []))
        y = df[LABEL]
        if full and pd.api.types.is_numeric_dtype(y) and 3 <= y.nunique() <= 64:
            out.append((f"{name} (numeric)", df, ["--label-type", "numeric"]))
    return out


def is_numeric_target(df: pd.DataFrame, flags: list[str]) -> bool:
    if "numeric" in flags:
        return True
    y = df[LABEL]
    return bool(pd.api.types.is_numeric_dtype(y) and y.nunique() > 64)


def write_parts(folder: Path, parts: list[pd.DataFrame], stem: str = "part") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, p in enumerate(parts):
        name = f"{stem}-{i}.parquet"
        p.to_parquet(folder / name, index=False)
        names.append(name)
    return names


def scan(binary: str, cwd: Path, args: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    run = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)
    report = json.loads(run.stdout) if run.returncode in (0, 1) and args[0] == "scan" else None
    return run.returncode, report, run.stderr


def base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def names_attack(f: dict[str, Any], case: Case, planted: dict[tuple[str, int], bool]) -> bool:
    cols = set(f.get("columns") or []) | {p["column"] for p in f.get("slice") or []}
    hit = case.columns & cols
    # Every label check lists the label among its columns: a flip is named by the label only
    # through a label check (LBL, or DRF003's label drift).
    if hit and (hit != {LABEL} or f["code"].startswith("LBL") or f["code"] == "DRF003"):
        return True
    sources = {base(s) for s in f.get("sources") or []}
    slice_sources = {
        base(str(p.get("value")))
        for p in f.get("slice") or []
        if p["column"] == "__source" and p.get("op") == "eq"
    }
    sources |= slice_sources
    first = [base(s) for s in f.get("sources") or []][:1]
    if case.sources and (
        (sources and sources <= case.sources) or (first and first[0] in case.sources)
    ):
        return True
    rows = f.get("example_rows") or []
    hits = sum(planted.get((base(r["source"]), int(r["row"])), False) for r in rows)
    return bool(rows) and hits * 2 >= len(rows) and hits > 0


def auroc(score: np.ndarray, truth: np.ndarray) -> float | None:
    """The Mann-Whitney AUROC, ties counted half."""
    pos, neg = int(truth.sum()), int((~truth).sum())
    if pos == 0 or neg == 0:
        return None
    from scipy.stats import rankdata

    r = rankdata(score)
    return float((r[truth].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_at_k(score: np.ndarray, truth: np.ndarray) -> float | None:
    """Precision among the k highest scores (k = planted rows); a tie at the cut is shared out
    at its group's rate, as a random order within it would on average."""
    k = int(truth.sum())
    if k == 0 or k >= len(score):
        return None
    s = np.sort(score)[::-1]
    t = s[k - 1]
    above = score > t
    tie = score == t
    tp = truth[above].sum() + truth[tie].mean() * (k - above.sum())
    return float(tp / k)


def row_scores(rows_path: Path, case: Case, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not rows_path.exists():
        return out
    r = pq.read_table(rows_path).to_pandas()
    truth_of = {n: t for n, t in zip(names, case.truth, strict=True)}
    truth = np.array(
        [bool(truth_of[base(s)][i]) for s, i in zip(r["source"], r["row"], strict=True)]
    )
    flagged = r["codes"].apply(lambda c: len(c) > 0).to_numpy()
    score = np.fmax(r["outlier_score"].to_numpy(float), r["label_issue_score"].to_numpy(float))
    score = np.nan_to_num(score, nan=0.0) + flagged
    # A copy cannot be told from its original by a row score: no row ranking for copies.
    if case.family not in ("duplicates", "replay"):
        out["auroc"] = auroc(score, truth)
        out["p_at_k"] = precision_at_k(score, truth)
    lbl = r["codes"].apply(lambda c: "LBL002" in c or "LBL003" in c).to_numpy()
    if case.label_changed is not None and case.label_changed.any():
        edges = np.cumsum([0] + [len(p) for p in case.parts])
        changed_of = {n: case.label_changed[edges[j] : edges[j + 1]] for j, n in enumerate(names)}
        changed = np.array(
            [bool(changed_of[base(s)][i]) for s, i in zip(r["source"], r["row"], strict=True)]
        )
        tp = int((lbl & changed).sum())
        out["lbl_precision"] = tp / lbl.sum() if lbl.sum() else None
        out["lbl_recall"] = tp / changed.sum()
    return out


def run_case(
    binary: str, folder: Path, split: Split, case: Case, baseline_dir: Path
) -> dict[str, Any]:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    common = [
        "--label",
        LABEL,
        "--no-config",
        "--format",
        "json",
        "--quiet",
        *split.label_type_flags,
    ]
    if case.layout == "cumulative":
        data = folder / "data"
        write_parts(data, case.altered["old"], "old")
        code, _, err = scan(
            binary,
            folder,
            [
                "profile",
                "data",
                "-o",
                "base.psprof",
                "--label",
                LABEL,
                "--no-config",
                "--quiet",
                *split.label_type_flags,
            ],
        )
        if code != 0:
            raise RuntimeError(f"profile failed: {err}")
        n_old = len(case.altered["old"])
        write_parts(data, case.parts[:n_old], "old")
        new_names = write_parts(data, case.parts[n_old:], "new")
        names = [f"old-{i}.parquet" for i in range(n_old)] + new_names
        target, baseline = "data", "base.psprof"
    else:
        names = write_parts(folder / "cur", case.parts)
        target, baseline = "cur", str(baseline_dir)
    t0 = time.perf_counter()
    code, report, err = scan(
        binary,
        folder,
        ["scan", target, "--baseline", baseline, *common, "--rows-out", "rows.parquet"],
    )
    seconds = time.perf_counter() - t0
    planted: dict[tuple[str, int], bool] = {}
    for n, t in zip(names, case.truth, strict=True):
        for i in np.flatnonzero(t):
            planted[(n, int(i))] = True
    res: dict[str, Any] = {"exit": code, "seconds": round(seconds, 2), "top": []}
    if report is None:
        res["verdict"] = "error"
        res["error"] = err.strip().splitlines()[0] if err.strip() else ""
        res["named"] = any(f"`{c}`" in err for c in case.columns)
        res["verdict_medium"] = "error"
        res["loud"] = 0
    else:
        findings = report["findings"]
        res["verdict"] = report["verdict"]
        res["loud"] = sum(f["severity"] in SEVERE for f in findings)
        # The same run's verdict at --fail-on medium (a medium finding fails it too).
        res["verdict_medium"] = "fail" if res["loud"] else "pass"
        res["named"] = any(
            f["severity"] in SEVERE and names_attack(f, case, planted) for f in findings[:5]
        )
        res["top"] = [f"{f['severity']} {f['code']}: {f['title']}" for f in findings[:3]]
        res.update(row_scores(folder / "rows.parquet", case, names))
    return res


def bh(ps: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted values, in the input's order."""
    m = len(ps)
    order = np.argsort(ps)
    q = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        q[i] = running
    return q.tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--rates")
    ap.add_argument("--sets", default="")
    ap.add_argument("--families", default="")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--max-rows", type=int)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "real"))
    ap.add_argument("--out")
    args = ap.parse_args()
    seeds = args.seeds or (1 if args.quick else 3)
    rates = [float(r) for r in (args.rates or ("0.0005,0.005,0.02")).split(",")]
    max_rows = args.max_rows or (10_000 if args.quick else 0)
    mode = "quick" if args.quick else "full"
    out = Path(args.out or ROOT / "reports" / "detection.md")
    binary = os.environ.get("POISONSCAN_BIN", str(ROOT / "target" / "release" / "poisonscan"))
    families = [f for f in args.families.split(",") if f] or list(attacks.FAMILIES)
    wanted = {s for s in args.sets.split(",") if s}
    started = time.time()
    results: list[dict[str, Any]] = []
    for name, df, flags in load_sets(Path(args.data), wanted, not args.quick):
        full_rows = len(df)
        if max_rows and len(df) > max_rows:
            df = df.sample(n=max_rows, random_state=0).reset_index(drop=True)
        for seed in range(seeds):
            gen = np.random.default_rng(2000 + seed)
            mask = gen.random(len(df)) < 0.5
            # Rows in random order, so that no file holds one label (some sets are sorted by it).
            order = gen.permutation(len(df))
            shuffled, mask = df.iloc[order].reset_index(drop=True), mask[order]
            split = Split(
                name,
                shuffled.loc[~mask].reset_index(drop=True),
                shuffled.loc[mask].reset_index(drop=True),
                is_numeric_target(df, flags),
                flags,
            )
            set_dir = (
                WORK
                / "cases"
                / name.replace(" ", "_").replace("(", "").replace(")", "")
                / f"s{seed}"
            )
            baseline_dir = set_dir / "baseline"
            if baseline_dir.exists():
                shutil.rmtree(baseline_dir)
            write_parts(
                baseline_dir,
                attacks.split_parts(
                    attacks.with_parts(split.baseline), np.zeros(len(split.baseline), dtype=bool)
                )[0],
            )
            base_peer = peers.Fitted(split, seed, args.quick) if not args.no_peers else None
            plan: list[tuple[str, float | None]] = [("clean", None)]
            plan += [(f, r) for f in families for r in rates]
            for fi, (family, rate) in enumerate(plan):
                k = max(1, round((rate or 0) * len(split.current)))
                rng = np.random.default_rng([seed, fi, int((rate or 0) * 1e6)])
                make = attacks.clean if family == "clean" else attacks.FAMILIES[family]
                case = make(split, rng, k)
                if case is None:
                    continue
                folder = set_dir / f"{family}-{rate}"
                res = run_case(binary, folder, split, case, baseline_dir)
                res.update(
                    set=name,
                    rows=full_rows,
                    seed=seed,
                    family=case.family,
                    rate=rate,
                    k=int(sum(t.sum() for t in case.truth)),
                    detail=case.detail,
                    p_value=case.p_value,
                    test=case.test,
                    p_value_tail=case.p_value_tail,
                    p_value_choice=case.p_value_choice,
                    n_current=sum(len(p) for p in case.parts),
                )
                # The quick mode runs the peers on the clean pairs and the largest rate only.
                if base_peer is not None and (not args.quick or rate in (None, max(rates))):
                    t0 = time.perf_counter()
                    res.update(base_peer.score(case))
                    res["peer_seconds"] = round(time.perf_counter() - t0, 2)
                results.append(res)
                # An attack is caught when the gate fails, or when poisonscan refuses the data
                # (exit 2) naming the tampered column; a crash is never a catch.
                refused = res["exit"] == 2 and res["named"]
                if family == "clean":
                    right, right_medium = res["verdict"] == "pass", res["verdict_medium"] == "pass"
                else:
                    right = res["verdict"] == "fail" or refused
                    right_medium = res["verdict_medium"] == "fail" or refused
                res["gate_right"], res["gate_medium_right"] = right, right_medium
                print(
                    f"{name} s{seed} {case.family} {rate} k={res['k']}: {res['verdict']}"
                    f"{'' if right else ' (WRONG)'} named={res['named']} auroc={res.get('auroc')}"
                    f" [{res['seconds']}s]",
                    flush=True,
                )
    attacked = [r for r in results if r["family"] != "clean" and r["p_value"] is not None]
    for r, q in zip(attacked, bh([float(r["p_value"]) for r in attacked]), strict=True):
        r["q_value"] = q
    # The same with the tail-aware test where an attack has one (report.py's second oracle).
    tails = [
        float(r["p_value"] if r.get("p_value_tail") is None else r["p_value_tail"])
        for r in attacked
    ]
    for r, q in zip(attacked, bh(tails), strict=True):
        r["q_value_tail"] = q
    # And with the attack's choice of slice counted too (report.py's third oracle). A family with
    # a choice-aware test has no tail-aware one; one with both would need its choice factor on
    # the tail-aware p.
    chosen = [
        float(r["p_value_choice"]) if r.get("p_value_choice") is not None else p
        for r, p in zip(attacked, tails, strict=True)
    ]
    for r, q in zip(attacked, bh(chosen), strict=True):
        r["q_value_choice"] = q
    elapsed = time.time() - started
    (WORK / f"results-{mode}.json").write_text(json.dumps(results, indent=1, default=str))
    import report

    out.write_text(
        report.render(
            results,
            mode=mode,
            argv=sys.argv[1:],
            elapsed=elapsed,
            rates=rates,
            seeds=seeds,
            max_rows=max_rows,
        )
    )
    print(f"wrote {out} ({elapsed / 60:.1f} min)")


if __name__ == "__main__":
    main()
