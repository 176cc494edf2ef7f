"""poisonscan.spark on a real Spark (local mode, two worker threads): the report equals the
command line's on the same files, whatever the number of partitions, and survives a failed
task. Needs pyspark and a JDK: `.ci/run` installs both and sets POISONSCAN_REQUIRE_SPARK=1,
so that there a missing Spark fails instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import DEMO_ARGS, DEMO_BASELINE, DEMO_CURRENT, ROOT, cli_error, cli_json, without_run

import poisonscan

try:
    import pyspark  # noqa: F401
    from pyspark.sql import SparkSession

    _missing = None if shutil.which("java") or os.environ.get("JAVA_HOME") else "no java"
except ImportError:
    _missing = "pyspark is not installed"

if _missing is not None:
    if os.environ.get("POISONSCAN_REQUIRE_SPARK") == "1":
        raise RuntimeError(f"the Spark tests cannot run: {_missing}")
    pytest.skip(f"Spark tests skipped: {_missing}", allow_module_level=True)

import poisonscan.spark as ps

ADULT = ROOT / "datasets/real/adult.parquet"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    # Two threads, and a failed task is retried once (`local[N,F]`: F attempts).
    session = (
        SparkSession.builder.master("local[2,2]")
        .appName("poisonscan-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def read(spark: Any, path: Path, max_bytes: int) -> Any:
    """The files as Spark reads them, in partitions of at most `max_bytes` of file."""
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(max_bytes))
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    return spark.read.parquet(str(path))


def by_name(report: dict[str, Any], root: Path) -> dict[str, Any]:
    """A report without `run`, its source paths relative to `root` (the command line is run
    with relative paths, Spark gives absolute ones)."""
    text = json.dumps(without_run(report))
    return json.loads(text.replace(str(root) + "/", ""))


@pytest.mark.parametrize("fingerprints", ["driver", "spark"])
def test_demo_report_equals_the_command_line(
    spark: Any, cargo_bin: Path, fingerprints: ps.Fingerprints
) -> None:
    # With the fingerprints kept apart too: grouped by Spark, only the duplicated rows' reach
    # the driver, and every duplicate and replay finding is the same.
    cur = read(spark, DEMO_CURRENT, 100_000)
    assert cur.rdd.getNumPartitions() >= 4
    base = read(spark, DEMO_BASELINE, 100_000)
    report = ps.scan(cur, baseline=base, label="label", id="customer_id", fingerprints=fingerprints)
    code, cli = cli_json(
        cargo_bin,
        DEMO_CURRENT.relative_to(ROOT),
        "--baseline",
        DEMO_BASELINE.relative_to(ROOT),
        *DEMO_ARGS,
    )
    assert by_name(report.to_dict(), ROOT) == without_run(cli)
    assert report.exit_code == code == 1
    assert any(f.code == "SCH005" for f in report.findings)


def test_real_set_in_many_row_groups_equals_the_command_line(
    spark: Any, cargo_bin: Path, tmp_path: Path
) -> None:
    # UCI Adult: the training split is the baseline, the test split with a third of its labels
    # flipped in one occupation is the current data, each written as files of several row groups.
    table = pq.read_table(ADULT)
    train = table.filter(pa.compute.equal(table["split"], "train")).drop_columns(["split"])
    test = table.filter(pa.compute.equal(table["split"], "test")).drop_columns(["split"])
    labels = test["label"].to_pylist()
    occupation = test["occupation"].to_pylist()
    flipped = [
        (1 - y) if (o == "Sales" and i % 3 == 0) else y
        for i, (y, o) in enumerate(zip(labels, occupation))
    ]
    test = test.set_column(
        test.schema.get_field_index("label"), "label", pa.array(flipped, pa.int8())
    )
    for name, t in (("baseline", train), ("current", test)):
        (tmp_path / name).mkdir()
        half = t.num_rows // 2
        pq.write_table(t.slice(0, half), tmp_path / name / "a.parquet", row_group_size=3000)
        pq.write_table(t.slice(half), tmp_path / name / "b.parquet", row_group_size=5000)
    cur = read(spark, tmp_path / "current", 64_000)
    assert cur.rdd.getNumPartitions() >= 4
    base = read(spark, tmp_path / "baseline", 64_000)
    report = ps.scan(cur, baseline=base, label="label")
    code, cli = cli_json(
        cargo_bin, "current", "--baseline", "baseline", "--label", "label", cwd=tmp_path
    )
    assert by_name(report.to_dict(), tmp_path) == without_run(cli)
    assert report.exit_code == code
    assert any(f.code.startswith("LBL") for f in report.findings)


def test_result_does_not_depend_on_the_number_of_partitions(spark: Any) -> None:
    reports = []
    for max_bytes in (40_000, 300_000, 128 << 20):
        cur = read(spark, DEMO_CURRENT, max_bytes)
        base = read(spark, DEMO_BASELINE, max_bytes)
        reports.append(
            (cur.rdd.getNumPartitions(), ps.scan(cur, baseline=base, label="label").to_dict())
        )
    assert len({n for n, _ in reports}) == 3, [n for n, _ in reports]
    first = without_run(reports[0][1])
    for _, r in reports[1:]:
        assert without_run(r) == first


def test_spark_profile_equals_the_local_profile(spark: Any) -> None:
    cur = read(spark, DEMO_CURRENT, 100_000)
    remote = ps.profile(cur, label="label", id="customer_id")
    local = poisonscan.profile(DEMO_CURRENT, label="label", id="customer_id")
    assert remote.to_bytes() == local.to_bytes()
    assert remote.sources == [str(p) for p in sorted(DEMO_CURRENT.glob("*.parquet"))]


def test_a_task_that_fails_once_is_retried_and_counted_once(spark: Any) -> None:
    cur = read(spark, DEMO_CURRENT, 100_000)
    base = read(spark, DEMO_BASELINE, 100_000)
    clean = ps.scan(cur, baseline=base, label="label").to_dict()
    marker = f"{os.getpid()}"

    def fail_first_attempt(partition: int, attempt: int) -> None:
        # Runs in the executors (pickled by value): partition 1's first attempt dies.
        if partition == 1 and attempt == 0:
            raise RuntimeError(f"injected failure {marker}")

    retried = ps.scan(cur, baseline=base, label="label", _task_hook=fail_first_attempt)
    assert without_run(retried.to_dict()) == without_run(clean)

    def always_fail(partition: int, attempt: int) -> None:
        if partition == 1:
            raise RuntimeError(f"injected failure {marker}")

    # The hook does run in the tasks: failing every attempt fails the job.
    with pytest.raises(Exception, match=f"injected failure {marker}"):
        ps.scan(cur, baseline=base, label="label", _task_hook=always_fail)


def test_an_unsupported_column_is_the_command_lines_error_before_any_task(
    spark: Any, cargo_bin: Path, tmp_path: Path
) -> None:
    t = pa.table(
        {
            "x": pa.array([1.0, 2.0, 3.0]),
            "tags": pa.array([[1, 2], [3], []], pa.list_(pa.int64())),
            "label": pa.array([0, 1, 0]),
        }
    )
    pq.write_table(t, tmp_path / "t.parquet")

    def no_task(partition: int, attempt: int) -> None:
        raise AssertionError("a task ran")

    df = spark.read.parquet(str(tmp_path))
    with pytest.raises(poisonscan.ScanError) as e:
        ps.scan(df, baseline=None, label="label", _task_hook=no_task)
    expected = cli_error(cargo_bin, "scan", tmp_path / "t.parquet", "--label", "label")
    assert str(e.value) == expected
    # The hint works: left out, by `exclude` or by a projection, the column is never read.
    assert ps.profile(df, label="label", exclude=["tags"], _task_hook=None).columns == [
        "x",
        "label",
    ]
    assert ps.profile(df.drop("tags"), label="label").columns == ["x", "label"]
    # Not a file scan (a DataFrame made on the driver): the same message, naming the frame.
    mem = spark.createDataFrame([(1.0, {"a": 1}, 0)], "x double, m map<string,int>, label int")
    with pytest.raises(poisonscan.ScanError) as e:
        ps.scan(mem, baseline=None, label="label", _task_hook=no_task)
    assert e.value.message.startswith("column `m` has type Map(")
    assert "which poisonscan cannot profile" in e.value.message
    assert e.value.hint == (
        "leave it out with `--exclude m`, "
        "or every column poisonscan cannot profile with `--skip-unsupported`"
    )
    # The label cannot be left out, so the hint does not say to.
    with pytest.raises(poisonscan.ScanError) as e:
        ps.scan(mem, baseline=None, label="m", _task_hook=no_task)
    assert e.value.hint is not None
    assert e.value.hint.startswith("`m` is the label or the id, which every run reads")


def test_row_scores_are_the_rows_file_as_a_dataframe(spark: Any) -> None:
    cur = read(spark, DEMO_CURRENT, 100_000)
    base = read(spark, DEMO_BASELINE, 100_000)
    scores = ps.row_scores(cur, baseline=base, label="label", id="customer_id")
    assert scores.columns[:3] == ["source", "row", "id"]
    got = pa.Table.from_pylist([r.asDict() for r in scores.collect()])
    local = poisonscan.scan(
        DEMO_CURRENT, baseline=DEMO_BASELINE, label="label", id="customer_id"
    ).row_scores()
    assert got.num_rows == local.num_rows == 81_500
    key = [("source", "ascending"), ("row", "ascending")]
    got = got.sort_by(key)
    local = local.sort_by(key)
    names = [Path(s).name for s in got["source"].to_pylist()]
    assert names == [Path(s).name for s in local["source"].to_pylist()]
    for column in (
        "row",
        "id",
        "outlier_score",
        "label_issue_score",
        "duplicate_group",
        "codes",
        "label_confidence",
        "joint_score",
    ):
        assert got[column].to_pylist() == local[column].to_pylist(), column
    # Joined back with Spark, the flagged rows can be quarantined.
    flagged = scores.filter("size(codes) > 0").count()
    assert flagged == sum(1 for c in local["codes"].to_pylist() if c)


def test_any_dataframe_is_scanned_by_partition(spark: Any) -> None:
    table = pq.read_table(DEMO_CURRENT)
    df = spark.createDataFrame(table.to_pandas())  # no files behind it
    first = ps.scan(df, baseline=None, label="label")
    again = ps.scan(df, baseline=None, label="label")
    assert without_run(first.to_dict()) == without_run(again.to_dict())
    manifest = first.to_dict()["dataset"]
    assert manifest["rows"] == 81_500
    assert all(s["path"].startswith("partition-") for s in manifest["sources"])
    refused = r"not a plain scan of files: its query plan has a \w+ step"
    with pytest.raises(poisonscan.ScanError, match=refused):
        ps.profile(df, label="label", provenance="file")


def test_empty_row_groups_and_odd_file_names_equal_the_command_line(
    spark: Any, cargo_bin: Path, tmp_path: Path
) -> None:
    table = pq.read_table(DEMO_CURRENT / "part-0.parquet")
    folder = tmp_path / "odd names"
    folder.mkdir()
    # Row groups of 0, 3000, 0 and the rest of the rows, in a file whose name Spark
    # percent-encodes; a second file with an empty row group last.
    with pq.ParquetWriter(folder / "a b%1.parquet", table.schema) as w:
        for t in (table.slice(0, 0), table.slice(0, 3000), table.slice(0, 0), table.slice(3000)):
            w.write_table(t)
    with pq.ParquetWriter(folder / "b.parquet", table.schema) as w:
        for t in (table.slice(0, 5000), table.slice(0, 0)):
            w.write_table(t)
    assert pq.ParquetFile(folder / "a b%1.parquet").metadata.num_row_groups == 4
    df = read(spark, folder, 100_000)
    report = ps.scan(df, baseline=None, label="label", id="customer_id")
    code, cli = cli_json(cargo_bin, "odd names", *DEMO_ARGS, cwd=tmp_path)
    assert by_name(report.to_dict(), tmp_path) == without_run(cli)
    assert report.exit_code == code
    assert [s["path"] for s in cli["dataset"]["sources"]] == [
        "odd names/a b%1.parquet",
        "odd names/b.parquet",
    ]


def test_derived_frames_are_read_by_partition(spark: Any) -> None:
    from pyspark.sql import functions as F

    df = read(spark, DEMO_CURRENT, 100_000)
    # Filtered: a task sees part of a row group, which no file has: read by partition.
    filtered = ps.profile(df.filter("age > 30"), label="label")
    assert all(s.startswith("partition-") for s in filtered.sources)
    assert filtered.rows == df.filter("age > 30").count()
    # A computed column is profiled (it is not in the files).
    derived = ps.profile(df.withColumn("age2", F.col("age") * 2), label="label")
    assert "age2" in derived.columns
    assert all(s.startswith("partition-") for s in derived.sources)
    with pytest.raises(poisonscan.ScanError, match="computes or renames columns"):
        ps.profile(df.withColumnRenamed("age", "years"), label="label", provenance="file")


def test_replayed_rows_are_found_with_the_fingerprints_apart(spark: Any) -> None:
    # By partition there are no file hashes: the replayed file is found by its rows'
    # fingerprints, the same with every row's on the driver as with the duplicated rows' only.
    cur = read(spark, DEMO_CURRENT, 100_000)
    base = read(spark, DEMO_BASELINE, 100_000)
    reports = {
        f: ps.scan(
            cur, baseline=base, label="label", provenance="partition", fingerprints=f
        ).to_dict()
        for f in ("driver", "spark")
    }
    assert without_run(reports["spark"]) == without_run(reports["driver"])
    replayed = [
        f
        for f in reports["driver"]["findings"]
        if f["code"] == "INT002" and f["evidence"]["match"] == "row fingerprints"
    ]
    assert replayed
    assert all(f["evidence"]["share_in_baseline"] >= 0.9 for f in replayed)
    assert any(f["code"] == "DUP001" for f in reports["driver"]["findings"])


def test_a_profile_with_its_fingerprints_apart_is_a_baseline_with_them(
    spark: Any, cargo_bin: Path, tmp_path: Path
) -> None:
    base = read(spark, DEMO_BASELINE, 100_000)
    cur = read(spark, DEMO_CURRENT, 100_000)
    args: dict[str, Any] = {"label": "label", "id": "customer_id"}
    saved = tmp_path / "baseline.profile"
    # The reference: a baseline profile with every row's fingerprints.
    whole = ps.profile(base, fingerprints="driver", **args)
    whole.save(saved)
    expected = ps.scan(cur, baseline=saved, **args).to_dict()
    # Kept apart: Spark writes every row's as Parquet; the profile holds the duplicated rows'
    # and the same duplicate statistics.
    fps = str(tmp_path / "fingerprints")
    apart = ps.profile(base, fingerprints_out=fps, **args)
    assert apart.summary() == whole.summary()
    assert len(apart.to_bytes()) < len(whole.to_bytes())
    assert spark.read.parquet(fps).count() == whole.rows
    saved.unlink()
    apart.save(saved)
    report = ps.scan(cur, baseline=saved, baseline_fingerprints=fps, **args)
    assert without_run(report.to_dict()) == without_run(expected)
    # Without its fingerprints, or with another profile's, such a baseline is refused, never
    # half compared.
    with pytest.raises(poisonscan.ScanError, match="baseline_fingerprints"):
        ps.scan(cur, baseline=saved, **args)
    other = str(tmp_path / "other")
    ps.profile(cur, fingerprints_out=other, **args)
    with pytest.raises(poisonscan.ScanError, match="not its rows'"):
        ps.scan(cur, baseline=saved, baseline_fingerprints=other, **args)
    with pytest.raises(poisonscan.ScanError, match="duplicated rows' fingerprints"):
        poisonscan.scan(DEMO_CURRENT, baseline=saved, **args)
    message = cli_error(cargo_bin, "scan", DEMO_CURRENT, "--baseline", saved, *DEMO_ARGS)
    assert "holds only its duplicated rows' fingerprints" in message
    # Nor can it be merged: rows repeated across profiles would be missed.
    with pytest.raises(poisonscan.ScanError, match="duplicated rows' fingerprints"):
        poisonscan.merge([apart, whole])
