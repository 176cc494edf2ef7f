"""poisonscan and its peers side by side on one synthetic set (reports/performance.md).

One command, from the repository's root, after `cargo build --release`:

    python3 benches/performance/run.py                     # 1M and 10M rows
    python3 benches/performance/run.py --rows 1000000      # one size

It creates its own scratch environment (bench-data/performance/venv, from requirements.txt
beside this file: numpy, pandas, pyarrow and the peers polars, DuckDB, whylogs, Evidently,
scikit-learn and cleanlab; none of them is a dependency of poisonscan) and runs itself there.

The set (generated under bench-data/performance/, not committed): a baseline and a current
Parquet file of N rows each (1M-row row groups), 29 columns: 20 numeric `f00`..`f19` (normal,
log-normal, uniform and integer-valued, two with 1% nulls), 8 categorical `c0`..`c7` (4 to
5,000 values, Zipf-like shares) and a binary `label` from a logistic model of f00, f01 and c0.
The current file has four planted problems, their rows kept as ground truth:

1. label flips: within the slice `c1 == c1_v003` (9% of the rows), 10% of the label-0 rows
   become 1 (~0.5% of the rows);
2. an outlier block: 0.1% of the rows carry `f03` and `f04` at 20 to 40 times the baseline's
   range;
3. duplicates: 1% of the rows are replaced by copies of other current rows (before the 1% nulls
   of f05 and f11 are drawn, so about 4% of the copies differ from their original by a null);
4. drift in a slice: `f08` shifted by one standard deviation where `c2 == c2_v002` (~6% of rows).

Each tool runs in a process of its own; its wall time is timed here, its CPU time (user +
system) and peak resident memory come from GNU time (`/usr/bin/time`; `apt-get install time`).
A run under a minute is repeated (`--runs`, default 3) and the medians are reported. A tool
past the time limit (`--timeout`, default 600 s) or the memory limit (`--memory-gib`, default
16: the resident set is polled and the process killed past it) is reported as such, with the
limit. The tools:

- the decode floor: polars reading every column and aggregating each (a sum, or the summed
  string lengths), so every value is decoded and touched;
- `poisonscan profile` of the current file, and `poisonscan scan current --baseline PROFILE
  --label label --format json` (the report to stdout) against a saved profile of the baseline
  (made first, untimed);
- polars `describe()` and DuckDB `SUMMARIZE` of the current file (per-column summaries: they
  compare nothing, so what they "find" is what a reader sees by setting their output beside
  the baseline's ranges: the outlier block as a maximum far past it);
- whylogs: both files profiled (`why.log` of each as pandas) and its drift scores
  (`calculate_drift_scores`, its default thresholds);
- Evidently: `Report([DataDriftPreset()])` with the baseline as reference;
- scikit-learn's IsolationForest as commonly written (100 trees of 256 rows, fitted on the
  baseline's numeric columns and ordinal codes, `n_jobs=-1`), scoring the current rows: row
  AUROC of the outlier block;
- cleanlab's `find_label_issues` on 5-fold cross-validated probabilities of a logistic
  regression (standardised numeric columns, and one-hot categories with the rarer values of
  each column pooled so at most 50 columns a category: one-hot columns of all 12,000 values
  took 125 s at 100,000 rows): precision and recall on the flipped labels.

- the CSV target: the current file written once as CSV by polars (current.csv: floats keep
  their decimal point, nulls are empty fields), its decode floor (polars parsing it with the
  Parquet file's types given, one aggregate a column) and `poisonscan scan current.csv` against
  the same baseline profile. The report states issue 24's targets against this run's medians.

Issue 24's targets (`--growth`, reports/performance-targets.md): the decode floor, `poisonscan
profile` and `poisonscan scan` at 1M, 10M and 100M rows a side (or `--rows`), to show time
linear in rows and memory flat apart from the row fingerprints, and the CSV target up to 10M
rows; each size's targets stated against the same run's floors. The 100M-row set needs about
15 GB of disk: its baseline file is profiled and deleted before the current one is written.
About an hour on 2 cores.

Options: --rows N [N ...] (default 1000000 10000000), --runs K, --timeout S, --memory-gib G,
--tools a,b (default all), --out FILE (default reports/performance.md), --growth, --render.
POISONSCAN_BIN names the binary (default target/release/poisonscan).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench-data" / "performance"
VENV = WORK / "venv"

ROW_GROUP = 1_000_000
NUMERIC = [f"f{i:02}" for i in range(20)]
CATS = {f"c{i}": k for i, k in enumerate([4, 10, 50, 200, 1000, 2000, 5000, 5000])}
FLIP_SLICE = ("c1", "c1_v003")
DRIFT_SLICE = ("c2", "c2_v002")
DRIFT_COL = "f08"
OUTLIER_COLS = ("f03", "f04")
PROBLEMS = ["flips", "outliers", "duplicates", "drift"]
DASH = "\u2013"  # an en dash: nothing found, or no value
TIMES = "\u00d7"


# --- the set -------------------------------------------------------------------------------


def generate(
    folder: Path, rows: int, after_baseline: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Write baseline.parquet, current.parquet and truth.json under `folder` (once).

    `after_baseline` runs between the two sides (the growth mode profiles the baseline there
    and deletes its file: two 100M-row files do not fit on the disk at once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth_path = folder / "truth.json"
    if truth_path.exists():
        loaded: dict[str, Any] = json.loads(truth_path.read_text())
        return loaded
    folder.mkdir(parents=True, exist_ok=True)
    dictionaries = {c: np.array([f"{c}_v{j:03}" for j in range(k)]) for c, k in CATS.items()}
    zipf = {}
    for c, k in CATS.items():
        w = 1.0 / np.arange(1, k + 1) ** 0.8
        zipf[c] = w / w.sum()

    def chunk(rng: np.random.Generator, n: int) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for i, name in enumerate(NUMERIC):
            kind = i % 4
            if kind == 0:
                v = rng.normal(10.0 * (i + 1), 2.0 + i, n)
            elif kind == 1:
                v = rng.lognormal(3.0, 0.6, n)
            elif kind == 2:
                v = rng.uniform(-5.0 * (i + 1), 5.0 * (i + 1), n)
            else:
                v = np.round(rng.gamma(2.0, 15.0, n))
            cols[name] = v
        codes = {c: rng.choice(len(zipf[c]), n, p=zipf[c]) for c in CATS}
        z = (
            0.8 * (cols["f00"] - 10.0) / 2.0
            - 0.5 * (cols["f01"] - 22.0) / 13.0
            + np.where(codes["c0"] == 0, 0.7, -0.4)
        )
        label = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
        return {"cols": cols, "codes": codes, "label": label}

    def table(ch: dict[str, Any], nulls: np.random.Generator) -> pa.Table:
        arrays = {}
        for name in NUMERIC:
            v = ch["cols"][name]
            mask = None
            if name in ("f05", "f11"):
                mask = nulls.random(len(v)) < 0.01
            arrays[name] = pa.array(v, mask=mask)
        for c in CATS:
            arrays[c] = pa.array(dictionaries[c]).take(pa.array(ch["codes"][c]))
        arrays["label"] = pa.array(ch["label"])
        return pa.table(arrays)

    truth: dict[str, Any] = {"rows": rows, "flips": [], "outliers": [], "duplicates": []}
    truth["drift"] = []
    ranges: dict[str, list[float]] = {}
    for side, seed in (("baseline", 1), ("current", 2)):
        if side == "current" and after_baseline is not None:
            after_baseline()
        path = folder / f"{side}.parquet"
        tmp = path.with_suffix(".tmp")
        writer = None
        at = 0
        k = 0
        while at < rows:
            n = min(ROW_GROUP, rows - at)
            rng = np.random.default_rng([seed, k])
            ch = chunk(rng, n)
            if side == "baseline":
                for c in OUTLIER_COLS:
                    lo, hi = float(ch["cols"][c].min()), float(ch["cols"][c].max())
                    old = ranges.get(c, [lo, hi])
                    ranges[c] = [min(old[0], lo), max(old[1], hi)]
            else:
                plant(ch, rng, at, truth, ranges)
            t = table(ch, np.random.default_rng([seed, k, 7]))
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema, compression="snappy")
            writer.write_table(t, row_group_size=ROW_GROUP)
            at += n
            k += 1
        assert writer is not None
        writer.close()
        tmp.rename(path)
    truth["baseline_ranges"] = ranges
    truth_path.write_text(json.dumps(truth))
    return truth


def plant(ch: dict[str, Any], rng: Any, at: int, truth: dict[str, Any], ranges: Any) -> None:
    """The four problems, planted in one chunk of the current rows starting at row `at`."""
    import numpy as np

    n = len(ch["label"])
    cols, codes = ch["cols"], ch["codes"]
    # 1. Label flips in a slice: 10% of its label-0 rows.
    col, value = FLIP_SLICE
    code = int(value.rsplit("_v", 1)[1])
    cand = np.flatnonzero((codes[col] == code) & (ch["label"] == 0))
    flip = cand[rng.random(len(cand)) < 0.1]
    ch["label"][flip] = 1
    # 4. Drift in a slice: f08 + 1 sd (f08 is normal(90, 10) by construction).
    col, value = DRIFT_SLICE
    code = int(value.rsplit("_v", 1)[1])
    drift = np.flatnonzero(codes[col] == code)
    cols[DRIFT_COL][drift] += 10.0
    # 2. The outlier block: 0.1% of the rows, far past the baseline's range.
    out = rng.choice(n, max(1, n // 1000), replace=False)
    for c in OUTLIER_COLS:
        lo, hi = ranges[c]
        cols[c][out] = hi + (hi - lo) * rng.uniform(20.0, 40.0, len(out))
    # 3. Duplicates: 1% of the rows become copies of other rows of the chunk (rows not planted
    # otherwise, so each problem's rows stay its own).
    planted = np.zeros(n, dtype=bool)
    planted[flip] = planted[drift] = planted[out] = True
    free = np.flatnonzero(~planted)
    picks = rng.choice(free, 2 * max(1, n // 100), replace=False)
    dst, src = picks[: len(picks) // 2], picks[len(picks) // 2 :]
    for name in NUMERIC:
        cols[name][dst] = cols[name][src]
    for c in CATS:
        codes[c][dst] = codes[c][src]
    ch["label"][dst] = ch["label"][src]
    truth["flips"].extend((flip + at).tolist())
    truth["outliers"].extend((out + at).tolist())
    truth["duplicates"].extend((dst + at).tolist())
    truth["drift"].extend((drift + at).tolist())


# --- the tools (each runs in a process of its own: `run.py --task NAME`) ---------------------


def task_floor(folder: Path, out: dict[str, Any]) -> None:
    import polars as pl

    schema = pl.read_parquet_schema(folder / "current.parquet")
    aggs = [
        pl.col(c).str.len_bytes().sum() if dtype == pl.String else pl.col(c).sum()
        for c, dtype in schema.items()
    ]
    pl.scan_parquet(folder / "current.parquet").select(aggs).collect()
    out["computed"] = "one aggregate per column (decode every value)"


def task_floor_csv(folder: Path, out: dict[str, Any]) -> None:
    import polars as pl

    schema = pl.read_parquet_schema(folder / "current.parquet")
    aggs = [
        pl.col(c).str.len_bytes().sum() if dtype == pl.String else pl.col(c).sum()
        for c, dtype in schema.items()
    ]
    pl.scan_csv(folder / "current.csv", schema=schema).select(aggs).collect()
    out["computed"] = "one aggregate per column of the CSV (parse every value, types given)"


def write_csv(folder: Path) -> None:
    """current.csv: the current Parquet file as CSV (once), by polars: floats keep a decimal
    point, nulls are empty fields."""
    path = folder / "current.csv"
    if path.exists():
        return
    import polars as pl

    tmp = path.with_suffix(".tmp")
    pl.scan_parquet(folder / "current.parquet").sink_csv(tmp)
    tmp.rename(path)


def task_describe(folder: Path, out: dict[str, Any]) -> None:
    import polars as pl

    d = pl.read_parquet(folder / "current.parquet").describe()
    top = d.filter(pl.col("statistic") == "max").select(list(OUTLIER_COLS)).row(0)
    out["computed"] = "count, nulls, mean, std, min, quartiles, max per column (current only)"
    out["maxima"] = {c: float(v) for c, v in zip(OUTLIER_COLS, top, strict=True)}


def task_summarize(folder: Path, out: dict[str, Any]) -> None:
    import duckdb

    rows = duckdb.sql(f"SUMMARIZE SELECT * FROM '{folder / 'current.parquet'}'").fetchall()
    out["computed"] = (
        "min, max, approx. distinct, mean, std, quartiles, count, null % per column (current only)"
    )
    out["maxima"] = {r[0]: float(r[3]) for r in rows if r[0] in OUTLIER_COLS}


def task_whylogs(folder: Path, out: dict[str, Any]) -> None:
    import pandas as pd
    import whylogs as why

    try:
        from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores
    except ImportError:  # older layouts
        from whylogs.drift.column_drift_algorithms import calculate_drift_scores

    t0 = time.perf_counter()
    cur = why.log(pd.read_parquet(folder / "current.parquet")).profile().view()
    t1 = time.perf_counter()
    ref = why.log(pd.read_parquet(folder / "baseline.parquet")).profile().view()
    scores = calculate_drift_scores(target_view=cur, reference_view=ref, with_thresholds=True)
    out["computed"] = "profile of each side (pandas), drift score per column (KS / chi-square)"
    out["profile_one_side_s"] = t1 - t0
    out["drifted"] = sorted(
        c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"
    )
    out["possible"] = sorted(
        c for c, s in scores.items() if s and s.get("drift_category") == "POSSIBLE_DRIFT"
    )


def task_evidently(folder: Path, out: dict[str, Any]) -> None:
    import warnings

    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_parquet(folder / "baseline.parquet")
    cur = pd.read_parquet(folder / "current.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    drifted = []
    share = None
    for m in snap.dict()["metrics"]:
        name = str(m.get("metric_name") or m.get("metric_id") or "")
        if name.startswith("DriftedColumnsCount"):
            share = float(m["value"]["share"])
        elif name.startswith("ValueDrift"):
            col = name.split("column=", 1)[-1].split(",", 1)[0].rstrip(")")
            config = m.get("config") or {}
            threshold = config.get("threshold")
            method = str(config.get("method", ""))
            value = m.get("value")
            if isinstance(value, int | float) and threshold is not None:
                p_like = "p_value" in method or method in ("ks", "chisquare", "z")
                if (value < threshold) if p_like else (value >= threshold):
                    drifted.append(col)
    out["computed"] = "a drift test per column, the share of drifted columns (DataDriftPreset)"
    out["drift_share"] = share
    out["dataset_drift"] = share is not None and share >= 0.5
    out["drifted"] = sorted(drifted)


def features(df: Any, cats: Any) -> Any:
    """Numeric columns, nulls as the median, and the categories as ordinal codes."""
    import numpy as np

    num = df[NUMERIC].to_numpy(dtype=np.float64)
    med = np.nanmedian(num, axis=0)
    num = np.where(np.isnan(num), med, num)
    codes = np.column_stack([cats[c].get_indexer(df[c]) for c in CATS]).astype(np.float64)
    return np.hstack([num, codes])


def task_isolation_forest(folder: Path, out: dict[str, Any]) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import IsolationForest

    base = pd.read_parquet(folder / "baseline.parquet")
    cats = {c: pd.Index(sorted(base[c].unique())) for c in CATS}
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=0, n_jobs=-1)
    model.fit(features(base, cats))
    del base
    cur = pd.read_parquet(folder / "current.parquet")
    score = -model.score_samples(features(cur, cats))
    truth = np.zeros(len(cur), dtype=bool)
    truth[json.loads((folder / "truth.json").read_text())["outliers"]] = True
    out["computed"] = "an anomaly score per current row (fitted on the baseline)"
    out["auroc"] = auroc(score, truth)
    k = int(truth.sum())
    out["precision_at_k"] = float(truth[np.argsort(-score, kind="stable")[:k]].mean())


def task_cleanlab(folder: Path, out: dict[str, Any]) -> None:
    import numpy as np
    import pandas as pd
    from cleanlab.filter import find_label_issues
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cur = pd.read_parquet(folder / "current.parquet")
    y = cur["label"].to_numpy()
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=50),
                list(CATS),
            ),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=200))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    x = cur.drop(columns=["label"])
    probs = cross_val_predict(model, x, y, cv=folds, method="predict_proba")
    issues = find_label_issues(y, probs)
    changed = np.zeros(len(cur), dtype=bool)
    changed[json.loads((folder / "truth.json").read_text())["flips"]] = True
    tp = int((issues & changed).sum())
    out["computed"] = "label issues from 5-fold cross-validated logistic regression"
    out["flagged"] = int(issues.sum())
    out["precision"] = tp / int(issues.sum()) if issues.sum() else None
    out["recall"] = tp / int(changed.sum()) if changed.sum() else None


def auroc(score: Any, truth: Any) -> float | None:
    """The Mann-Whitney AUROC, ties counted half."""
    from scipy.stats import rankdata

    pos, neg = int(truth.sum()), int((~truth).sum())
    if not pos or not neg:
        return None
    ranks = rankdata(score)
    return float((ranks[truth].sum() - pos * (pos + 1) / 2) / (pos * neg))


TASKS = {
    "floor": task_floor,
    "floor_csv": task_floor_csv,
    "describe": task_describe,
    "summarize": task_summarize,
    "whylogs": task_whylogs,
    "evidently": task_evidently,
    "isolation_forest": task_isolation_forest,
    "cleanlab": task_cleanlab,
}

# name, what a row of the report calls it
TOOLS = [
    ("floor", "decode floor (polars, one aggregate a column)"),
    ("ps_profile", "poisonscan profile"),
    ("ps_scan", "poisonscan scan (every check, vs a saved baseline profile)"),
    ("floor_csv", "decode floor of the same file as CSV (polars)"),
    ("ps_scan_csv", "poisonscan scan of the CSV"),
    ("describe", "polars describe()"),
    ("summarize", "DuckDB SUMMARIZE"),
    ("whylogs", "whylogs: profile both sides + drift scores"),
    ("evidently", "Evidently DataDriftPreset"),
    ("isolation_forest", "scikit-learn IsolationForest (fit baseline, score current)"),
    ("cleanlab", "cleanlab find_label_issues (5-fold logistic regression)"),
]


# --- measuring --------------------------------------------------------------------------------


def measure(cmd: list[str], timeout: float, memory: int) -> dict[str, Any]:
    """Run `cmd`; its wall and CPU seconds and peak resident MiB, or why it did not finish.

    CPU time and peak memory come from GNU time (`wait4` of the command, which time forks from
    its own small process: a process forked from this one would report this one's resident
    set as its peak if it stayed below it). The command's resident set is polled as it runs,
    and the command killed past `memory` bytes or `timeout` seconds."""
    usage_file = WORK / "usage.txt"
    usage_file.unlink(missing_ok=True)
    # Output to files, not pipes: a pipe this loop does not read would stall a command that
    # writes more than its buffer (a long JSON report) until the time limit.
    out_file, err_file = WORK / "stdout.txt", WORK / "stderr.txt"
    t0 = time.perf_counter()
    with out_file.open("wb") as out, err_file.open("wb") as err:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(usage_file), *cmd],
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    killed = None
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    while proc.poll() is None:
        if time.perf_counter() - t0 > timeout:
            killed = f"time limit ({timeout:.0f} s)"
            os.killpg(proc.pid, signal.SIGKILL)
        elif resident(children) > memory:
            killed = f"memory limit ({memory / 2**30:.0f} GiB resident)"
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    stdout, stderr = out_file.read_text(), err_file.read_text()
    code = proc.returncode
    fields = (usage_file.read_text().strip().splitlines() or [""])[-1].split()
    cpu, peak = 0.0, 0.0
    if len(fields) == 4:
        cpu, peak = float(fields[1]) + float(fields[2]), float(fields[3]) / 1024
    res: dict[str, Any] = {"wall": wall, "cpu": cpu, "peak_mib": peak, "code": code}
    if killed:
        res["failed"] = killed
    elif code != 0:
        tail = stderr.strip().splitlines()[-3:]
        low = stderr.lower()
        res["failed"] = (
            "out of memory" if "memoryerror" in low or "out of memory" in low else f"exit {code}"
        ) + (": " + " / ".join(tail) if tail else "")
    res["stdout"] = stdout
    return res


def resident(children: Path) -> int:
    """Resident bytes of the processes listed in `children` (the measured command)."""
    total = 0
    try:
        pids = children.read_text().split()
    except OSError:
        return 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def tool_cmd(tool: str, folder: Path, binary: str) -> list[str]:
    cur = str(folder / "current.parquet")
    if tool == "ps_profile":
        return [binary, "profile", cur, "--label", "label", "-o", str(folder / "current.psprof")]
    if tool in ("ps_scan", "ps_scan_csv"):
        data = cur if tool == "ps_scan" else str(folder / "current.csv")
        return [
            binary, "scan", data, "--baseline", str(folder / "baseline.psprof"),
            "--label", "label", "--format", "json", "--fail-on", "never", "--quiet",
        ]  # fmt: skip
    return [sys.executable, str(Path(__file__).resolve()), "--task", tool, "--data", str(folder)]


def run_tool(tool: str, folder: Path, binary: str, args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    while True:
        r = measure(tool_cmd(tool, folder, binary), args.timeout, args.memory_gib << 30)
        runs.append(r)
        print(
            f"  {tool}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, {r['peak_mib']:.0f} MiB"
            + (f" — {r['failed']}" if "failed" in r else ""),
            file=sys.stderr,
            flush=True,
        )
        if "failed" in r or r["wall"] >= 60 or len(runs) >= args.runs:
            break
    last = runs[-1]
    out: dict[str, Any] = {
        "runs": len(runs),
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
    }
    if "failed" in last:
        out["failed"] = last["failed"]
        return out
    if tool in ("ps_scan", "ps_scan_csv"):
        name = "report.json" if tool == "ps_scan" else "report-csv.json"
        (folder / name).write_text(last["stdout"])
    if tool.startswith("ps_"):
        return out
    try:
        out["result"] = json.loads(last["stdout"].strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        out["failed"] = "no result"
    return out


# --- what each found ----------------------------------------------------------------------------


def found_by_poisonscan(report: dict[str, Any]) -> dict[str, str]:
    """Each problem: the most severe finding that names it (code, severity), or a dash.

    A finding names a column by its slice or its first column (the others an outlier finding
    lists are the features that contributed most, not what it is about); the flips by a label
    check on the flipped slice's column; the duplicates by a DUP finding."""
    rank = {"high": 0, "medium": 1, "low": 2, "info": 3}
    findings = sorted(report["findings"], key=lambda f: rank.get(f["severity"], 4))

    def about(f: dict[str, Any]) -> set[str]:
        first = (f.get("columns") or [])[:1]
        return set(first) | {p["column"] for p in f.get("slice") or []}

    def slice_values(f: dict[str, Any]) -> set[tuple[str, str]]:
        return {(p["column"], str(p.get("value"))) for p in f.get("slice") or []}

    tests: dict[str, Callable[[dict[str, Any]], bool]] = {
        "flips": lambda f: (
            f["code"].startswith(("LBL", "SLC", "TRG"))
            and (FLIP_SLICE in slice_values(f) or FLIP_SLICE[0] in about(f))
        ),
        "outliers": lambda f: bool(about(f) & set(OUTLIER_COLS)),
        "duplicates": lambda f: f["code"].startswith("DUP"),
        "drift": lambda f: DRIFT_COL in about(f) or DRIFT_SLICE in slice_values(f),
    }
    found = {}
    for problem, test in tests.items():
        hit = next((f for f in findings if test(f)), None)
        found[problem] = f"{hit['code']} {hit['severity']}" if hit else DASH
    return found


def found_by_peer(tool: str, res: dict[str, Any], truth: dict[str, Any]) -> dict[str, str]:
    found = dict.fromkeys(PROBLEMS, DASH)
    r = res.get("result") or {}
    if tool in ("describe", "summarize"):
        hi = max(truth["baseline_ranges"][c][1] for c in OUTLIER_COLS)
        seen = [c for c, v in (r.get("maxima") or {}).items() if v > hi]
        if seen:
            found["outliers"] = f"max of {', '.join(sorted(seen))} past the baseline's"
    elif tool in ("whylogs", "evidently"):
        drifted = set(r.get("drifted") or [])
        for problem, columns in (
            ("outliers", set(OUTLIER_COLS)),
            ("drift", {DRIFT_COL}),
            ("flips", {"label"}),
        ):
            if drifted & columns:
                found[problem] = "drift: " + ", ".join(sorted(drifted & columns))
        if tool == "evidently":
            found["dataset"] = "dataset drift" if r.get("dataset_drift") else "no dataset drift"
    elif tool == "isolation_forest" and r.get("auroc") is not None:
        found["outliers"] = f"AUROC {r['auroc']:.3f}, precision@k {r['precision_at_k']:.2f}"
    elif tool == "cleanlab" and r.get("recall") is not None:
        p = r.get("precision")
        found["flips"] = (
            f"precision {p:.2f}, recall {r['recall']:.2f} ({r['flagged']:,} flagged)"
            if p is not None
            else "nothing flagged"
        )
    return found


# --- the report ---------------------------------------------------------------------------------


def fmt(x: float | None, digits: int = 2) -> str:
    return DASH if x is None else f"{x:,.{digits}f}"


def render(results: dict[str, Any], argv: list[str], elapsed: float) -> str:
    first: dict[str, Any] = next(iter(results.values()), {})
    commit = first.get("commit") or head_commit()
    date = first.get("date") or time.strftime("%Y-%m-%d")
    lines = [
        "# poisonscan and its peers, side by side",
        "",
        f"`python3 benches/performance/run.py {' '.join(argv)}` on commit {commit}, "
        f"{date}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}; {elapsed / 60:.1f} min in all. The set, the tools "
        "and how each is measured are in the script's docstring; versions in "
        "`benches/performance/requirements.txt`.",
        "",
        "Wall and CPU seconds are medians over the runs (a run under a minute is repeated); peak "
        "is the largest resident set of any run. The ratios are wall time to the decode floor and "
        "to poisonscan's scan, measured in the same run. *Found* says what each tool reported "
        "about each planted problem: for poisonscan the most severe finding that names it (by its "
        "slice or first column; the default gate fails on high); for the peers what their output "
        "shows of it.",
        "",
    ]
    for rows, res in results.items():
        truth = res["truth"]
        lines += [
            f"## {int(rows):,} rows a side",
            "",
            f"Planted in the current file: {len(truth['flips']):,} flipped labels, "
            f"{len(truth['outliers']):,} outlier rows, {len(truth['duplicates']):,} rows "
            "replaced by copies (about 4% of them differ from their original by a null), "
            f"{len(truth['drift']):,} drifted rows.",
            "",
            f"| tool | wall s | runs | CPU s | peak MiB | {TIMES} floor | "
            f"{TIMES} poisonscan scan | flips | outliers | duplicates | drift |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|",
        ]
        floor = res["tools"].get("floor", {}).get("wall")
        scan = res["tools"].get("ps_scan", {}).get("wall")
        for tool, title in TOOLS:
            t = res["tools"].get(tool)
            if t is None:
                continue
            if "failed" in t:
                lines.append(
                    f"| {title} | did not finish: {t['failed']} | | {fmt(t['cpu'])} | "
                    f"{t['peak_mib']:,.0f} | | | | | | |"
                )
                continue
            if tool in ("ps_scan", "ps_scan_csv"):
                key = "poisonscan_found" + ("_csv" if tool == "ps_scan_csv" else "")
                found = res.get(key, dict.fromkeys(PROBLEMS, DASH))
            elif tool in ("floor", "ps_profile", "floor_csv"):
                found = dict.fromkeys(PROBLEMS, "")
            else:
                found = found_by_peer(tool, t, truth)
            ratio_floor = fmt(t["wall"] / floor, 1) if floor else DASH
            ratio_scan = fmt(t["wall"] / scan, 2) if scan else DASH
            lines.append(
                f"| {title} | {fmt(t['wall'])} | {t['runs']} | {fmt(t['cpu'])} | "
                f"{t['peak_mib']:,.0f} | {ratio_floor} | {ratio_scan} | "
                + " | ".join(found[p] for p in PROBLEMS)
                + " |"
            )
        lines += ["", *targets(res["tools"]), ""]
        notes = []
        for tool, _ in TOOLS:
            r = res["tools"].get(tool, {}).get("result") or {}
            if r.get("computed"):
                notes.append(f"- {tool}: {r['computed']}.")
            if tool == "whylogs" and r.get("profile_one_side_s"):
                notes.append(
                    f"  Profiling one side alone took {r['profile_one_side_s']:.1f} s; drifted "
                    f"columns {', '.join(r.get('drifted') or []) or 'none'}, possible drift "
                    f"{', '.join(r.get('possible') or []) or 'none'}."
                )
            if tool == "evidently" and "drift_share" in r:
                notes.append(
                    f"  Drifted columns {', '.join(r.get('drifted') or []) or 'none'} "
                    f"(share {fmt(r.get('drift_share'))})."
                )
        lines += ["What each computed:", "", *notes, ""]
    return "\n".join(lines)


def targets(tools: dict[str, Any]) -> list[str]:
    """Issue 24's targets, measured in this run: met or not, with the numbers."""

    def wall(tool: str) -> float | None:
        t = tools.get(tool) or {}
        return None if "failed" in t else t.get("wall")

    floor, profile, scan = wall("floor"), wall("ps_profile"), wall("ps_scan")
    floor_csv, scan_csv = wall("floor_csv"), wall("ps_scan_csv")
    out = ["Targets (issue 24), from this run's medians:", ""]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    if floor and profile:
        r = profile / floor
        out.append(f"- profile \u2264 3{TIMES} the floor: {r:.1f}{TIMES}, {verdict(r <= 3)}.")
    if floor and scan:
        r = scan / floor
        peak = tools["ps_scan"]["peak_mib"]
        out.append(
            f"- scan \u2264 15{TIMES} the floor with a peak under 1.5 GiB: {r:.1f}{TIMES} and "
            f"{peak:,.0f} MiB, {verdict(r <= 15 and peak < 1536)}."
        )
    if floor and scan and floor_csv and scan_csv:
        allowed = scan + 1.2 * (floor_csv - floor)
        out.append(
            f"- scan from CSV \u2264 the Parquet scan + 1.2 {TIMES} (CSV floor \u2212 Parquet "
            f"floor) = {scan:.2f} + 1.2 {TIMES} ({floor_csv:.2f} \u2212 {floor:.2f}) = "
            f"{allowed:.2f} s: {scan_csv:.2f} s, {verdict(scan_csv <= allowed)}."
        )
    return out if len(out) > 2 else []


NOTES = "## Reading it"


def write_report(path: Path, text: str) -> None:
    """Write the generated report, keeping the hand-written notes (from a heading that starts
    with NOTES to the end) of the file it replaces."""
    old = path.read_text() if path.exists() else ""
    at = old.find("\n" + NOTES)
    notes = old[at:] if at >= 0 else ""
    path.write_text(text.rstrip("\n") + "\n" + notes)


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def saved_elapsed(saved: dict[str, Any]) -> float:
    return max((float(r.get("elapsed", 0.0)) for r in saved.values()), default=0.0)


GROWTH_TOOLS = ["floor", "ps_profile", "ps_scan"]
# The CSV target is measured up to this size (a 100M-row CSV would not fit beside the rest).
CSV_ROWS = 10_000_000


def growth(args: argparse.Namespace, binary: str) -> None:
    """Profile and scan at each size (default 1M, 10M, 100M rows a side): time against rows,
    peak memory against rows, each size's decode floor beside it."""
    started = time.perf_counter()
    path = WORK / "growth.json"
    # Sizes not run again keep their earlier results (each with its commit and date).
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for rows in args.rows:
        folder = WORK / f"rows-{rows}"
        profile = folder / "baseline.psprof"

        def profile_baseline(
            folder: Path = folder, profile: Path = profile, rows: int = rows
        ) -> None:
            if not profile.exists():
                subprocess.run(
                    [binary, "profile", str(folder / "baseline.parquet"), "--label", "label",
                     "-o", str(profile), "--quiet"],
                    check=True,
                )  # fmt: skip
            if rows >= 100_000_000:
                # Two files of 100M rows do not fit on the disk at once: the scan reads the
                # baseline's profile only.
                (folder / "baseline.parquet").unlink(missing_ok=True)

        print(f"{rows:,} rows: generating (once) under {folder}", file=sys.stderr, flush=True)
        generate(folder, rows, after_baseline=profile_baseline)
        profile_baseline()
        tools = GROWTH_TOOLS + (["floor_csv", "ps_scan_csv"] if rows <= CSV_ROWS else [])
        if rows <= CSV_ROWS:
            write_csv(folder)
        res: dict[str, Any] = {"tools": {}}
        for tool in tools:
            res["tools"][tool] = run_tool(tool, folder, binary, args)
        res["bytes"] = (folder / "current.parquet").stat().st_size
        res["elapsed"] = time.perf_counter() - started
        res["commit"] = head_commit()
        res["date"] = time.strftime("%Y-%m-%d")
        results[str(rows)] = res
        path.write_text(json.dumps(results, indent=1))
    argv = sys.argv[1:]
    out = Path(args.out if args.out != DEFAULT_OUT else ROOT / "reports" / "performance-targets.md")
    write_report(out, render_growth(results, argv, time.perf_counter() - started))
    print(f"wrote {out}", file=sys.stderr)


def render_growth(results: dict[str, Any], argv: list[str], elapsed: float) -> str:
    sizes = sorted(results, key=int)
    lines = [
        "# Issue 24's targets: the scan against its floor, CSV, and growth in rows",
        "",
        f"`python3 benches/performance/run.py {' '.join(argv)}`, {os.cpu_count()} cores, "
        f"{elapsed / 60:.1f} min (data generated by an earlier run is reused); a size the "
        "command did not run keeps its earlier results, and each row names the commit and day "
        "it was measured on. "
        "The set is the performance set (the script's docstring) at each size; the 100M-row "
        "baseline file is deleted once profiled, as two of them do not fit on this machine's "
        "disk. Wall and CPU are medians of up to three runs (a run past a minute is not "
        "repeated).",
        "",
        "| rows a side | measured | Parquet GB | floor s | profile s | profile peak MiB | "
        "scan s | scan peak MiB | scan s per 1M rows | scan / floor |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(res: dict[str, Any], tool: str, key: str, digits: int = 2) -> str:
        t = res["tools"].get(tool) or {}
        if "failed" in t:
            return f"did not finish: {t['failed']}"
        return fmt(t.get(key), digits)

    for rows in sizes:
        res = results[rows]
        t = res["tools"]
        scan = None if "failed" in t.get("ps_scan", {}) else t.get("ps_scan", {}).get("wall")
        floor = None if "failed" in t.get("floor", {}) else t.get("floor", {}).get("wall")
        lines.append(
            f"| {int(rows):,} | {str(res.get('commit', ''))[:7]} {res.get('date', '')} | "
            f"{res['bytes'] / 1e9:.2f} | {cell(res, 'floor', 'wall')} | "
            f"{cell(res, 'ps_profile', 'wall')} | {cell(res, 'ps_profile', 'peak_mib', 0)} | "
            f"{cell(res, 'ps_scan', 'wall')} | {cell(res, 'ps_scan', 'peak_mib', 0)} | "
            f"{fmt(scan / (int(rows) / 1e6) if scan else None)} | "
            f"{fmt(scan / floor if scan and floor else None, 1)} |"
        )
    for rows in sizes:
        stated = targets(results[rows]["tools"])[2:]
        lines += ["", f"At {int(rows):,} rows:", ""]
        lines += stated or ["- no target stated: the decode floor did not finish (its row)."]
    for lo_rows, hi_rows in zip(sizes, sizes[1:]):
        lo, hi = results[lo_rows], results[hi_rows]
        n = int(hi_rows) - int(lo_rows)
        lines += ["", f"From {int(lo_rows):,} to {int(hi_rows):,} rows:", ""]
        for tool, name in (("ps_profile", "profile"), ("ps_scan", "scan")):
            a, b = lo["tools"].get(tool, {}), hi["tools"].get(tool, {})
            if "failed" in a or "failed" in b or not a or not b:
                continue
            per_row = (b["peak_mib"] - a["peak_mib"]) * 2**20 / n
            extra = (b["wall"] - a["wall"]) / (n / 1e6)
            time_ratio = (b["wall"] / a["wall"]) / (int(hi_rows) / int(lo_rows))
            lines.append(
                f"- {name}: peak memory grows {per_row:.1f} bytes a row; each further million "
                f"rows costs {extra:.2f} s; time a row is {time_ratio:.2f}{TIMES} that at "
                f"{int(lo_rows):,} (below 1: a fixed cost spread over more rows)."
            )
    return "\n".join(lines) + "\n"


DEFAULT_OUT = str(ROOT / "reports" / "performance.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--memory-gib", type=int, default=16)
    ap.add_argument("--tools", default="")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument(
        "--growth",
        action="store_true",
        help="poisonscan and the floors only, at 1M, 10M and 100M rows (or --rows): "
        "reports/performance-targets.md",
    )
    ap.add_argument(
        "--render",
        action="store_true",
        help="only write the report again from the last run's results (and scan reports)",
    )
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.task:
        out: dict[str, Any] = {}
        TASKS[args.task](Path(args.data), out)
        print(json.dumps(out))
        return
    if args.growth and args.render:
        saved = json.loads((WORK / "growth.json").read_text())
        argv = [a for a in sys.argv[1:] if a != "--render"]
        report = ROOT / "reports" / "performance-targets.md"
        write_report(report, render_growth(saved, argv, saved_elapsed(saved)))
        return
    if args.render:
        saved = json.loads((WORK / "results.json").read_text())
        for rows, saved_res in saved.items():
            for suffix in ("", "_csv"):
                report = WORK / f"rows-{rows}" / f"report{suffix.replace('_', '-')}.json"
                if report.exists():
                    found = found_by_poisonscan(json.loads(report.read_text()))
                    saved_res["poisonscan_found" + suffix] = found
        last: dict[str, Any] = next(iter(saved.values()), {})
        argv = last.get("argv", sys.argv[1:])
        text = render(saved, argv, saved_elapsed(saved))
        write_report(Path(args.out), text)
        return
    binary = os.environ.get("POISONSCAN_BIN", str(ROOT / "target" / "release" / "poisonscan"))
    if not Path(binary).exists():
        sys.exit(f"{binary} not found: run `cargo build --release` first, or set POISONSCAN_BIN")
    if not Path("/usr/bin/time").exists():
        sys.exit("GNU time (/usr/bin/time) is needed: apt-get install time")
    if args.growth:
        if "--rows" not in sys.argv:
            args.rows = [1_000_000, 10_000_000, 100_000_000]
        if "--timeout" not in sys.argv:
            args.timeout = 3600.0
        growth(args, binary)
        return
    wanted = [t for t, _ in TOOLS if not args.tools or t in args.tools.split(",")]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for rows in args.rows:
        folder = WORK / f"rows-{rows}"
        print(f"{rows:,} rows: generating (once) under {folder}", file=sys.stderr, flush=True)
        truth = generate(folder, rows)
        if not (folder / "baseline.psprof").exists():
            subprocess.run(
                [binary, "profile", str(folder / "baseline.parquet"), "--label", "label",
                 "-o", str(folder / "baseline.psprof"), "--quiet"],
                check=True,
            )  # fmt: skip
        if any(t.endswith("_csv") for t in wanted):
            write_csv(folder)
        res: dict[str, Any] = {"truth": truth, "tools": {}}
        for tool in wanted:
            res["tools"][tool] = run_tool(tool, folder, binary, args)
            if tool in ("ps_scan", "ps_scan_csv") and "failed" not in res["tools"][tool]:
                csv = tool == "ps_scan_csv"
                report = json.loads((folder / f"report{'-csv' if csv else ''}.json").read_text())
                res["poisonscan_found" + ("_csv" if csv else "")] = found_by_poisonscan(report)
        res["argv"] = sys.argv[1:]
        res["elapsed"] = time.perf_counter() - started
        res["commit"] = head_commit()
        res["date"] = time.strftime("%Y-%m-%d")
        results[str(rows)] = res
        (WORK / "results.json").write_text(json.dumps(results, indent=1))
    text = render(results, sys.argv[1:], time.perf_counter() - started)
    write_report(Path(args.out), text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    from scratch_env import ensure_env

    ensure_env(VENV, HERE / "requirements.txt", "POISONSCAN_PERFORMANCE_ENV", __file__)
    main()
