"""poisonscan.spark's costs, for reports/spark.md: `poisonscan.spark.scan` in Spark local mode
against the command line on the same machine and the same Parquet file, same run, and the
per-task throughput of the profile and scoring jobs.

Run it with the Python of a virtual environment that has the wheel and pyspark, after
`cargo bench --bench e2e -- ROWS` has written bench-data/ (the synthetic set and the baseline
profile the e2e bench scans against):

    POISONSCAN_BIN=$CARGO_TARGET_DIR/release/poisonscan \\
        VENV/bin/python benches/spark.py --rows 1000000 --runs 3 [--master local[2]]

Each round runs the command line and the Spark scan in turn, so that the machine's noise falls
on both alike; the table gives medians and the Spark scan's ratio to the command line's median
of the same run. Per-task throughput comes from Spark's own task metrics (executor run time of
the profile and the scoring stage's tasks).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The profile format the e2e bench names its baseline profile by (`PROFILE_SCHEMA_VERSION`).
PROFILE_VERSION = 5


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--max-partition-bytes", default="128m")
    ap.add_argument("--tasks-only", action="store_true", help="only the per-task throughput")
    ap.add_argument(
        "--driver-memory",
        choices=("driver", "spark"),
        help="only one scan with these fingerprints, and the driver's peak memory",
    )
    args = ap.parse_args()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    import poisonscan
    import poisonscan.spark as ps

    data = ROOT / f"bench-data/synthetic_{args.rows}.parquet"
    base = ROOT / f"bench-data/synthetic_base_{args.rows}.v{PROFILE_VERSION}.psprof"
    if args.tasks_only:
        task_throughput(data, poisonscan.Profile.load(base), args.runs)
        return
    cli = os.environ["POISONSCAN_BIN"]
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "8g")
        .config("spark.driver.maxResultSize", "4g")
        .config("spark.sql.files.maxPartitionBytes", args.max_partition_bytes)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    trusted = poisonscan.Profile.load(base)
    df = spark.read.parquet(str(data))
    if args.driver_memory:
        driver_memory(ps, df, trusted, args.driver_memory)
        spark.stop()
        return
    cmd = [cli, "scan", str(data), "--baseline", str(base), "--label", "label"]
    cmd += ["--format", "json", "--fail-on", "never", "--quiet"]
    variants = ("driver", "spark")
    cli_s: list[float] = []
    spark_s: dict[str, list[float]] = {v: [] for v in variants}
    same = None
    for _ in range(args.runs):
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        cli_s.append(time.perf_counter() - t)
        a = {k: v for k, v in json.loads(out).items() if k != "run"}
        expected = json.loads(json.dumps(a).replace(str(ROOT) + "/", ""))
        for v in variants:
            t = time.perf_counter()
            report = ps.scan(df, baseline=trusted, label="label", fail_on="never", fingerprints=v)
            spark_s[v].append(time.perf_counter() - t)
            b = {k: v for k, v in report.to_dict().items() if k != "run"}
            text = json.dumps(b).replace(str(data), str(data.relative_to(ROOT)))
            equal = json.loads(text.replace(str(ROOT) + "/", "")) == expected
            same = equal if same is None else (same and equal)
    cli_m = statistics.median(cli_s)
    print(f"rows {args.rows}, partitions {df.rdd.getNumPartitions()}, master {args.master}")
    print("| variant | median s | / command line | runs |")
    print("|---|---|---|---|")
    print(f"| `poisonscan scan` (command line) | {cli_m:.2f} | 1.00 | {args.runs} |")
    for v in variants:
        m = statistics.median(spark_s[v])
        print(
            f'| `poisonscan.spark.scan(fingerprints="{v}")` | {m:.2f} | {m / cli_m:.2f} '
            f"| {args.runs} |"
        )
    print(f"reports equal to the command line's in every round (outside run): {same}")
    spark.stop()
    task_throughput(data, trusted, args.runs)


def driver_memory(ps: Any, df: Any, trusted: Any, fingerprints: str) -> None:
    """One scan, and the peak resident memory of this process (the driver's Python, where the
    parts are folded and the checks run; the JVM and the Python workers are other processes)
    before and after it."""
    import resource

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    before = peak()
    t = time.perf_counter()
    report = ps.scan(
        df, baseline=trusted, label="label", fail_on="never", fingerprints=fingerprints
    )
    secs = time.perf_counter() - t
    dups = report.to_dict()["profile"]["duplicates"]
    print(
        f'| fingerprints="{fingerprints}" | {secs:.1f} s | {before:.0f} MiB | {peak():.0f} MiB '
        f"| {dups['duplicate_rows']} duplicate rows |"
    )


def task_throughput(data: Path, trusted: object, runs: int) -> None:
    """What one task does, timed in this process on one row group's rows (one Spark
    partition's share of a file): the Arrow batches pushed through the plan's task, profile
    and scoring, without Spark's scheduling and data transfer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from poisonscan import _native, _options

    options = _options(
        label="label",
        id=None,
        config=None,
        columns=None,
        exclude=None,
        seed=None,
        sample_size=None,
        threads=None,
    )
    import tempfile

    # One row group of the data (1M rows) as a file of its own: one Spark partition's share.
    rg = pq.ParquetFile(data).read_row_group(0)
    tmp = Path(tempfile.mkdtemp()) / "group.parquet"
    pq.write_table(rg, tmp, row_group_size=rg.num_rows)
    plan = _native.TaskPlan.files([str(tmp)], options, trusted._native)  # type: ignore[attr-defined]
    n = rg.num_rows
    tagged = rg.append_column("__poisonscan_source", pa.array([0] * n, pa.int32()))
    tagged = tagged.append_column("__poisonscan_row", pa.array(range(n), pa.int64()))
    batches = tagged.to_batches(max_chunksize=10_000)  # Spark's Arrow batch size

    def one(kind: str, models: bytes | None) -> float:
        t = time.perf_counter()
        task = plan.task(kind, 0, models)
        for b in batches:
            task.push(b)
        task.finish()
        return time.perf_counter() - t

    def parts_of(p: Any) -> list[bytes]:
        task = p.task("profile", 0)
        out = [o for b in batches for o in task.push(b)] + task.finish()
        return [o[3] for o in out if isinstance(o, tuple)]

    def size(parts: list[bytes]) -> str:
        total = sum(len(p) for p in parts)
        return f"{len(parts)} parts, {total / 1e6:.1f} MB ({total / n:.2f} B/row)"

    parts = parts_of(plan)
    print(f"profile parts of {n} rows: {size(parts)}")
    # The sample-bounds pre-pass over the same rows (one task: its bound is this data's).
    keys = plan.keys_task(0)
    for b in batches:
        keys.push(b.select(["label", "__poisonscan_source", "__poisonscan_row"]))
    bounded = plan.with_sample_bounds([keys.finish()])
    print(f"with the sample's bounds: {size(parts_of(bounded))}")
    # The same parts without the sample and with the fingerprints apart: what is left is the
    # sketches (what every shard sends, whatever the data's size).
    bare = _native.TaskPlan.files([str(tmp)], dict(options, sample_size=0), trusted._native)  # type: ignore[attr-defined]
    sketches = parts_of(bare.with_fingerprints_apart())
    print(
        f"without the sample, fingerprints apart: {size(sketches)}, "
        f"{sum(map(len, sketches)) / len(sketches) / 1e6:.2f} MB per part"
    )
    # The models fitted on the baseline and this row group's profile (as the driver would).
    whole = plan.fold(parts, [plan.hash_source(0)])
    models = _native.spark_fit(options, whole, trusted._native)  # type: ignore[attr-defined]

    def keys_pass() -> float:
        t = time.perf_counter()
        task = plan.keys_task(0)
        for b in batches:
            task.push(b.select(["label", "__poisonscan_source", "__poisonscan_row"]))
        task.finish()
        return time.perf_counter() - t

    timings = {
        "sample keys": lambda: keys_pass(),
        "profile": lambda: one("profile", None),
        "score": lambda: one("score", models),
    }
    for kind, run in timings.items():
        secs = statistics.median(run() for _ in range(runs))
        print(f"| {kind} task, {n} rows | {secs:.2f} s | {n / secs / 1e6:.2f} M rows/s |")


if __name__ == "__main__":
    main()
