"""Scan a Spark DataFrame with the report poisonscan gives on one machine.

Spark distributes, poisonscan computes: each partition's Arrow batches go straight into the
Rust profiler in its executor (``DataFrame.mapInArrow``), each task returns the partial
profiles of the shards it read, keyed by their place in the plan, and the driver folds them in
plan order. ``scan`` then fits the row models once on the driver, ships them to the executors
as bytes, scores every partition in a second ``mapInArrow`` job that returns mergeable counts,
and runs the checks on the driver.

**Provenance.** ``provenance="auto"`` (the default) reads a DataFrame that is a plain scan of
local Parquet files (``spark.read.parquet(...)``, possibly with a projection) by file: each
row's file comes from Spark's ``_metadata.file_path`` and its row within the file from
``_metadata.row_index`` (Spark ≥ 3.5, Parquet), the driver reads the files' footers, and the
shards, sketch seeds, segments, source names and content hashes are the ones
``poisonscan scan`` uses on the same files: the report is the command line's, whatever the
number of partitions. Any other DataFrame (CSV, files on a remote file system, a query's
result, a filtered or repartitioned frame) is read by partition: source ``partition-00003`` is
Spark partition 3 and a row's index is its place in its partition. That report is
deterministic for the same partitioning and the same order of rows within partitions, and
changes with them; the manifest has no content hashes (INT001/INT002's byte comparisons need
files). ``provenance="file"`` raises instead of falling back; ``"partition"`` forces it.

**Exactly once.** Results are collected by Spark's ``collect``, which keeps one attempt's
result per partition; the driver also checks that every shard of the plan came exactly once
(a missing, doubled or partial shard is a ``ScanError``), so a retried or speculative task can
neither count rows twice nor drop them.

pyspark is not a dependency of poisonscan: install it (``pip install poisonscan[spark]``), or
use the cluster's. The executors need the same poisonscan wheel as the driver.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import PathLike, Profile, Report, _error, _native, _options

if TYPE_CHECKING:
    import pyarrow
    from pyspark.sql import DataFrame

__all__ = ["profile", "row_scores", "scan"]

Provenance = Literal["auto", "file", "partition"]

_FILE = "__poisonscan_file"
_ROW = "__poisonscan_row"
_SOURCE = "__poisonscan_source"
_PARTS = "source long, first_row long, rows long, payload binary"

TaskHook = Callable[[int, int], None]
"""Called in each task with its partition id and attempt number before it reads its rows
(for tests that make a task fail)."""


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _local_path(uri: str) -> str | None:
    """The local path of a ``file:`` URI as Spark writes it (``file:/a%20b``, ``file:///a%20b``),
    or ``None`` for another scheme."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("file", ""):
        return None
    return urllib.parse.unquote(parts.path)


def _plain_scan(df: DataFrame) -> str | None:
    """Why ``df`` is not a plain scan of files (a projection of their columns, nothing
    computed, filtered, sampled, joined or repartitioned), or ``None`` when it is one. Read
    from Spark's optimized logical plan; where the plan cannot be read (Spark Connect), the
    answer is that it is not known to be one."""
    try:
        nodes = json.loads(df._jdf.queryExecution().optimizedPlan().toJSON())
    except Exception as e:  # no JVM plan to read (Spark Connect), or an unexpected shape
        return f"its query plan cannot be read ({type(e).__name__})"
    for n in nodes:
        kind = str(n.get("class", "")).rsplit(".", 1)[-1]
        if kind == "LogicalRelation":
            continue
        if kind != "Project":
            return f"its query plan has a {kind} step"
        for expr in n.get("projectList", []):
            if len(expr) != 1 or not str(expr[0].get("class", "")).endswith(".AttributeReference"):
                return "it computes or renames columns"
    return None


def _hive_root(paths: list[str]) -> str | None:
    """The folder above the ``key=value`` folders of every file, when the files sit in a
    hive-partitioned tree under one folder (what ``poisonscan scan`` is given for such a tree)."""
    roots = set()
    for p in paths:
        parts = p.split("/")[:-1]
        while parts and "=" in parts[-1]:
            parts.pop()
        roots.add("/".join(parts))
    if len(roots) != 1:
        return None
    root = roots.pop()
    return root if any(p.split("/")[:-1] != root.split("/") for p in paths) else None


def _file_scan(
    df: DataFrame, options: dict[str, Any], baseline: Any
) -> tuple[_native.TaskPlan, DataFrame] | str:
    """The plan of a plain scan of local Parquet files and the frame with each row's file and
    row index, or why ``df`` cannot be read by file."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    why = _plain_scan(df)
    if why is not None:
        return f"the DataFrame is not a plain scan of files: {why}"
    uris = df.inputFiles()
    paths = [_local_path(u) for u in uris]
    local = [p for p in paths if p is not None]
    if not local or len(local) != len(paths):
        return "the DataFrame's files are not local files"
    try:
        tagged = df.select(
            *[F.col(_quote(c)) for c in df.columns],
            F.col("_metadata.file_path").alias(_FILE),
            F.col("_metadata.row_index").alias(_ROW),
        )
    except AnalysisException as e:
        return f"Spark gives no row index for its files ({e.getErrorClass()})"
    # Sorted folder by folder, as `poisonscan scan` walks a folder.
    files = sorted(set(local), key=lambda p: p.split("/"))
    root = _hive_root(files)
    plan = _native.TaskPlan.files([root] if root else files, options, baseline, list(df.columns))
    planned = plan.source_paths()
    if sorted(p for p in planned if p is not None) != sorted(files):
        return (
            f"the DataFrame reads {len(files)} files, which `poisonscan scan` reads as "
            f"{len(planned)} (links to one file, or files it does not read)"
        )
    missing = [c for c in df.columns if c not in plan.file_columns()]
    if missing:
        return f"the DataFrame has columns its files do not: {', '.join(missing)}"
    return plan, tagged


def _arrow_schema(df: DataFrame) -> pyarrow.Schema:
    """The DataFrame's schema as Arrow types; a column Spark cannot give as Arrow is reported
    with the command line's error for a type poisonscan cannot profile."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    fields = []
    for f in df.schema.fields:
        try:
            t = to_arrow_type(f.dataType)
        except Exception:  # Spark's own refusal, reported as ours
            raise _error(
                f"column `{f.name}` has type {f.dataType.simpleString()} (in the DataFrame), "
                f"which poisonscan cannot profile\nhint: leave it out with `--exclude {f.name}`"
            ) from None
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def _spark_types(schema: pyarrow.Schema) -> pyarrow.Schema:
    """The rows' scores' schema in types Spark has (``row`` and ``duplicate_group`` are
    ``UInt64`` in the rows file; Spark has no unsigned longs, and no file holds 2^63 rows)."""
    import pyarrow as pa

    return pa.schema(
        [pa.field(f.name, pa.int64(), f.nullable) if f.type == pa.uint64() else f for f in schema]
    )


class _Plan:
    """The plan and the frame its tasks read."""

    def __init__(self, plan: _native.TaskPlan, frame: DataFrame) -> None:
        self.plan = plan
        self.frame = frame
        self.bytes = plan.to_bytes()
        self.profiled: list[tuple[int, int, int]] = []


def _plan(
    df: DataFrame,
    options: dict[str, Any],
    baseline: Profile | None,
    provenance: Provenance,
) -> _Plan:
    from pyspark.sql import functions as F

    if provenance not in ("auto", "file", "partition"):
        raise ValueError(f"provenance is auto, file or partition, not {provenance!r}")
    native_baseline = None if baseline is None else baseline._native
    if provenance != "partition":
        scan = _file_scan(df, options, native_baseline)
        if not isinstance(scan, str):
            plan, tagged = scan
            cols = [F.col(_quote(c)) for c in plan.read_columns()]
            return _Plan(plan, tagged.select(*cols, F.col(_FILE), F.col(_ROW)))
        if provenance == "file":
            raise _error(
                f"{scan}, so its rows cannot be placed in their files\n"
                'hint: scan it with provenance="partition"'
            )
    schema = _arrow_schema(df)
    frame = df.select(*[F.col(_quote(c)) for c in df.columns])
    plan = _native.TaskPlan.partitions(
        frame.rdd.getNumPartitions(), schema, options, native_baseline
    )
    return _Plan(plan, frame.select(*[F.col(_quote(c)) for c in plan.read_columns()]))


def _task(
    plan_bytes: bytes,
    kind: str,
    models: bytes | None = None,
    duplicates: bytes | None = None,
    hook: TaskHook | None = None,
) -> Callable[[Iterator[pyarrow.RecordBatch]], Iterator[pyarrow.RecordBatch]]:
    """The function each task runs over its partition's batches."""

    def run(batches: Iterator[pyarrow.RecordBatch]) -> Iterator[pyarrow.RecordBatch]:
        import pyarrow as pa
        import pyarrow.compute as pc
        from pyspark import TaskContext

        from poisonscan import _native as native

        ctx = TaskContext.get()
        partition = ctx.partitionId() if ctx is not None else 0
        if hook is not None:
            hook(partition, ctx.attemptNumber() if ctx is not None else 0)
        plan = native.TaskPlan.from_bytes(plan_bytes)
        task = plan.task(kind, partition, models, duplicates)
        index = {path: i for i, path in enumerate(plan.source_paths()) if path is not None}

        def tag(b: pa.RecordBatch) -> pa.RecordBatch:
            files = b.column(b.schema.get_field_index(_FILE))
            uris = pc.unique(files).to_pylist()
            known = []
            for u in uris:
                path = _local_path(u) if isinstance(u, str) else None
                known.append(index.get(path) if path is not None else None)
            at = pc.index_in(files, value_set=pa.array(uris, files.type))
            source = pc.take(pa.array(known, pa.int32()), at)
            rows = b.column(b.schema.get_field_index(_ROW)).cast(pa.int64())
            keep = [i for i, n in enumerate(b.schema.names) if n not in (_FILE, _ROW)]
            return pa.RecordBatch.from_arrays(
                [b.column(i) for i in keep] + [source, rows],
                names=[b.schema.names[i] for i in keep] + [_SOURCE, _ROW],
            )

        rows_schema = _spark_types(plan.rows_schema()) if kind == "rows" else None

        def emit(out: list[Any]) -> Iterator[pa.RecordBatch]:
            if rows_schema is not None:
                for b in out:
                    yield b.cast(rows_schema)
            elif out:
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array([o[0] for o in out], pa.int64()),
                        pa.array([o[1] for o in out], pa.int64()),
                        pa.array([o[2] for o in out], pa.int64()),
                        pa.array([o[3] for o in out], pa.binary()),
                    ],
                    names=["source", "first_row", "rows", "payload"],
                )

        for b in batches:
            yield from emit(task.push(b if plan.by_partition else tag(b)))
        yield from emit(task.finish())

    return run


def _collect_parts(frame: DataFrame, fn: Any) -> list[tuple[int, int, int, bytes]]:
    rows = frame.mapInArrow(fn, _PARTS).collect()
    return [(r.source, r.first_row, r.rows, bytes(r.payload)) for r in rows]


def _hashes(df: DataFrame, plan: _Plan) -> list[Any]:
    """Each source file's hashes (the manifest's), computed by tasks that read the files."""
    n = len(plan.plan.sources())
    if plan.plan.by_partition or n == 0:
        return [None] * n
    plan_bytes = plan.bytes

    def hash_files(indices: Iterable[int]) -> Iterable[tuple[int, Any]]:
        from poisonscan import _native as native

        p = native.TaskPlan.from_bytes(plan_bytes)
        for i in indices:
            yield i, p.hash_source(i)

    sc = df.sparkSession.sparkContext
    slices = max(1, min(n, sc.defaultParallelism * 4))
    got = dict(sc.parallelize(range(n), slices).mapPartitions(hash_files).collect())
    return [got.get(i) for i in range(n)]


def _profile(
    df: DataFrame,
    options: dict[str, Any],
    baseline: Profile | None,
    provenance: Provenance,
    hook: TaskHook | None,
) -> tuple[_Plan, Profile]:
    plan = _plan(df, options, baseline, provenance)
    parts = _collect_parts(plan.frame, _task(plan.bytes, "profile", hook=hook))
    plan.profiled = [(p[0], p[1], p[2]) for p in parts]
    hashes = _hashes(df, plan)
    return plan, Profile(plan.plan.fold([p[3] for p in parts], hashes))


def profile(
    df: DataFrame,
    *,
    label: str | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    seed: int | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
    _task_hook: TaskHook | None = None,
) -> Profile:
    """Profile a DataFrame on its cluster: ``poisonscan.profile``'s profile, made by one
    ``mapInArrow`` job whose tasks each return the partial profiles of their shards, merged on
    the driver in plan order (the result does not depend on task timing). See the module's
    documentation for ``provenance``."""
    options = _options(
        label=label,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
    )
    return _profile(df, options, None, provenance, _task_hook)[1]


def _baseline(
    baseline: DataFrame | Profile | PathLike | None,
    options: dict[str, Any],
    provenance: Provenance,
    hook: TaskHook | None,
) -> Profile | None:
    if baseline is None or isinstance(baseline, Profile):
        return baseline
    if isinstance(baseline, (str, os.PathLike)):
        return Profile.load(baseline)
    if hasattr(baseline, "mapInArrow"):
        base_options = dict(options)
        return _profile(baseline, base_options, None, provenance, hook)[1]
    raise TypeError(
        "baseline is a DataFrame, a Profile or the path of a saved profile, "
        f"not {type(baseline).__name__}"
    )


def _prepare(
    df: DataFrame,
    baseline: DataFrame | Profile | PathLike | None,
    options: dict[str, Any],
    provenance: Provenance,
    hook: TaskHook | None,
) -> tuple[_Plan, Profile, Profile | None, bytes | None]:
    base = _baseline(baseline, options, provenance, hook)
    plan, current = _profile(df, options, base, provenance, hook)
    models = _native.spark_fit(options, current._native, None if base is None else base._native)
    return plan, current, base, models


def scan(
    df: DataFrame,
    *,
    baseline: DataFrame | Profile | PathLike | None,
    label: str | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    fail_on: str | None = None,
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
    _task_hook: TaskHook | None = None,
) -> Report:
    """Scan a DataFrame against ``baseline`` (a DataFrame, a ``Profile`` or the path of a
    saved profile; ``None`` runs only the checks that need none) on its cluster, and return
    the ``Report`` ``poisonscan.scan`` returns.

    Two ``mapInArrow`` jobs: the profile (as ``profile``, the current side counting the values
    outside the baseline's ranges), then the row pass, scored in the executors by the row
    models fitted once on the driver; the checks run on the driver. ``Report.row_scores()``
    is not kept (use ``poisonscan.spark.row_scores`` for a DataFrame of them).
    """
    options = _options(
        label=label,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
        fail_on=fail_on,
    )
    plan, current, base, models = _prepare(df, baseline, options, provenance, _task_hook)
    counts: list[tuple[int, int, int, bytes]] = []
    if models is not None:
        counts = _collect_parts(plan.frame, _task(plan.bytes, "score", models, hook=_task_hook))
    native = _native.spark_report(
        options,
        plan.plan,
        current._native,
        None if base is None else base._native,
        models,
        counts,
        plan.profiled,
    )
    return Report(native)


def row_scores(
    df: DataFrame,
    *,
    baseline: DataFrame | Profile | PathLike | None,
    label: str | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
) -> DataFrame:
    """Every row's scores as a Spark DataFrame with the rows file's columns (``poisonscan
    schema rows``: source, row, id, outlier and label-issue scores, duplicate group, codes), to
    join back to the data and quarantine rows with Spark itself. The profile job runs now; the
    scoring runs when the returned DataFrame is evaluated."""
    from pyspark.sql.pandas.types import from_arrow_schema

    options = _options(
        label=label,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
    )
    plan, current, _, models = _prepare(df, baseline, options, provenance, None)
    if models is None:
        raise _error(
            "no row can be scored: no column can be scored (every column is the label, the "
            "id, a partition, constant or identifier-like) or the reference has no sample"
        )
    duplicates = _native.spark_duplicates(current._native)
    schema = from_arrow_schema(_spark_types(plan.plan.rows_schema()))
    return plan.frame.mapInArrow(_task(plan.bytes, "rows", models, duplicates), schema)
