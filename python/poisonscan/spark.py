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

**Memory on the driver.** Before the profile job, a job that reads only the label column
finds each class's sample bound (the k-th smallest row key), so the parts carry about
``sample_size`` rows per class in all, not per shard. Row fingerprints (16 bytes a row, for the
duplicate and replay checks) go to the driver whole with ``fingerprints="driver"``; with
``"spark"`` the tasks give them as rows of the job's output, Spark groups them by feature hash
over both sides of the scan, and only the duplicated rows' reach the driver: the report is the
same, and the driver's memory grows with the duplicated rows, not with all of them.
``"auto"`` (the default) keeps them apart for a plan of files of more than 50M rows, or when
the baseline profile's were kept apart. A profile made with them apart holds only its
duplicated rows'; save every row's with ``profile(..., fingerprints_out=PATH)`` and give
``scan(..., baseline_fingerprints=PATH)`` when it is the baseline (without them it is refused,
as it is by the command line and by ``merge``).

pyspark is not a dependency of poisonscan: install it (``pip install poisonscan[spark]``), or
use the cluster's. The executors need the same poisonscan wheel as the driver.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import LabelType, PathLike, Profile, Report, _error, _native, _options

if TYPE_CHECKING:
    import pyarrow
    from pyspark.sql import DataFrame

__all__ = ["profile", "row_scores", "scan"]

Provenance = Literal["auto", "file", "partition"]

_FILE = "__poisonscan_file"
_ROW = "__poisonscan_row"
_SOURCE = "__poisonscan_source"
_PARTS = "source long, first_row long, rows long, payload binary"
_KEYS = "partition long, payload binary"
_PARTS_APART = _PARTS + ", hi long, lo long"

Fingerprints = Literal["auto", "driver", "spark"]
_APART_ROWS = 50_000_000
"""With ``fingerprints="auto"``, a plan of files with more rows than this keeps the rows'
fingerprints apart (16 bytes a row: 800 MB on the driver at this size)."""

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


def _arrow_schema(df: DataFrame, required: Sequence[str] = ()) -> pyarrow.Schema:
    """The DataFrame's schema as Arrow types; a column Spark cannot give as Arrow is reported
    with the command line's error for a type poisonscan cannot profile (``required``: the label
    and the id, which cannot be left out)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    fields = []
    for f in df.schema.fields:
        try:
            t = to_arrow_type(f.dataType)
        except Exception:  # Spark's own refusal, reported as ours
            hint = (
                f"`{f.name}` is the label or the id, which every run reads (`exclude` cannot "
                "leave it out): store it as numbers, strings, booleans or timestamps"
                if f.name in required
                else f"leave it out with `--exclude {f.name}`"
            )
            raise _error(
                f"column `{f.name}` has type {f.dataType.simpleString()} (in the DataFrame), "
                f"which poisonscan cannot profile\nhint: {hint}"
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
    required = [options[k] for k in ("label", "id") if options.get(k) is not None]
    schema = _arrow_schema(df, required)
    frame = df.select(*[F.col(_quote(c)) for c in df.columns])
    plan = _native.TaskPlan.partitions(
        frame.rdd.getNumPartitions(), schema, options, native_baseline
    )
    return _Plan(plan, frame.select(*[F.col(_quote(c)) for c in plan.read_columns()]))


def _task_context(hook: TaskHook | None) -> int:
    """The running task's partition id (after calling ``hook`` with it and the attempt)."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    partition = ctx.partitionId() if ctx is not None else 0
    if hook is not None:
        hook(partition, ctx.attemptNumber() if ctx is not None else 0)
    return partition


def _tagger(plan: _native.TaskPlan) -> Callable[[pyarrow.RecordBatch], pyarrow.RecordBatch]:
    """In a task of a file scan: a batch's file URIs and row indices as the plan's source and
    row columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

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

    return tag


def _keys_task(
    plan_bytes: bytes, hook: TaskHook | None
) -> Callable[[Iterator[pyarrow.RecordBatch]], Iterator[pyarrow.RecordBatch]]:
    """The function each task of the sample-bounds pre-pass runs: its partition's smallest
    row keys per label class, as one row ``(partition, payload)``."""

    def run(batches: Iterator[pyarrow.RecordBatch]) -> Iterator[pyarrow.RecordBatch]:
        import pyarrow as pa

        from poisonscan import _native as native

        partition = _task_context(hook)
        plan = native.TaskPlan.from_bytes(plan_bytes)
        task = plan.keys_task(partition)  # a plan of files
        tag = _tagger(plan)
        for b in batches:
            task.push(tag(b))
        yield pa.RecordBatch.from_arrays(
            [pa.array([partition], pa.int64()), pa.array([task.finish()], pa.binary())],
            names=["partition", "payload"],
        )

    return run


def _bound_sample(plan: _Plan, hook: TaskHook | None) -> None:
    """The sample-bounds pre-pass (a job that reads only the files' label column): each
    class's k-th smallest row key, shipped with the plan to the profile tasks so that their
    parts carry only the rows the sample keeps (the fold checks that none was lost)."""
    from pyspark.sql import functions as F

    label = plan.plan.key_columns()
    # Only a plan of files: a row's key is its file and row index whatever the query, while
    # by partition it is its place in a partition, which another query (this one reads one
    # column) may order otherwise after a shuffle. A label that is a partition column (in the
    # files' paths, not their columns) is skipped as the command line's pre-pass skips it.
    if label is None or plan.plan.by_partition:
        return
    if any(c not in plan.plan.read_columns() for c in label):
        return
    frame = plan.frame.select(*[F.col(_quote(c)) for c in label], F.col(_FILE), F.col(_ROW))
    rows = frame.mapInArrow(_keys_task(plan.bytes, hook), _KEYS).collect()
    # One result per partition (a partition's keys counted twice would lower its bounds).
    keys = {r.partition: bytes(r.payload) for r in rows}
    plan.plan = plan.plan.with_sample_bounds([keys[p] for p in sorted(keys)])
    plan.bytes = plan.plan.to_bytes()


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

        from poisonscan import _native as native

        partition = _task_context(hook)
        plan = native.TaskPlan.from_bytes(plan_bytes)
        task = plan.task(kind, partition, models, duplicates)
        tag = _tagger(plan)
        rows_schema = _spark_types(plan.rows_schema()) if kind == "rows" else None

        apart = kind == "profile" and plan.fingerprints_apart

        def emit(out: list[Any]) -> Iterator[pa.RecordBatch]:
            if rows_schema is not None:
                for b in out:
                    yield b.cast(rows_schema)
                return
            parts = [o for o in out if isinstance(o, tuple)]
            if parts:
                columns = [
                    pa.array([o[0] for o in parts], pa.int64()),
                    pa.array([o[1] for o in parts], pa.int64()),
                    pa.array([o[2] for o in parts], pa.int64()),
                    pa.array([o[3] for o in parts], pa.binary()),
                ]
                names = ["source", "first_row", "rows", "payload"]
                if apart:
                    columns += [pa.nulls(len(parts), pa.int64())] * 2
                    names += ["hi", "lo"]
                yield pa.RecordBatch.from_arrays(columns, names=names)
            # Fingerprints kept apart: rows without a payload.
            yield from (o for o in out if isinstance(o, pa.RecordBatch))

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


def _fingerprints_apart(plan: _native.TaskPlan, fingerprints: Fingerprints, needed: bool) -> bool:
    if fingerprints not in ("auto", "driver", "spark"):
        raise ValueError(f"fingerprints is auto, driver or spark, not {fingerprints!r}")
    if needed:
        if fingerprints == "driver":
            raise _error(
                "the baseline profile's fingerprints were kept apart, so the current side's "
                'must be too\nhint: scan with fingerprints="auto" or "spark"'
            )
        return True
    if fingerprints != "auto":
        return fingerprints == "spark"
    rows = plan.rows()
    return rows is not None and rows > _APART_ROWS


class _Profiled:
    """A profile job's result: the plan, the profile folded from its parts, and, when the
    fingerprints were kept apart, the job's output (cached) and its fingerprints."""

    def __init__(
        self, plan: _Plan, profile: Profile, out: DataFrame | None, fps: DataFrame | None
    ) -> None:
        self.plan = plan
        self.profile = profile
        self.out = out
        self.fingerprints = fps

    def release(self) -> None:
        if self.out is not None:
            self.out.unpersist()


def _profile(
    df: DataFrame,
    options: dict[str, Any],
    baseline: Profile | None,
    provenance: Provenance,
    hook: TaskHook | None,
    fingerprints: Fingerprints,
    apart_needed: bool = False,
) -> _Profiled:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    plan = _plan(df, options, baseline, provenance)
    if _fingerprints_apart(plan.plan, fingerprints, apart_needed):
        plan.plan = plan.plan.with_fingerprints_apart()
        plan.bytes = plan.plan.to_bytes()
    _bound_sample(plan, hook)
    fn = _task(plan.bytes, "profile", hook=hook)
    if not plan.plan.fingerprints_apart:
        rows = plan.frame.mapInArrow(fn, _PARTS).collect()
        return _Profiled(plan, _fold(df, plan, rows), None, None)
    # Cached: the parts are collected from it, and its fingerprints grouped afterwards.
    out = plan.frame.mapInArrow(fn, _PARTS_APART).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = out.where(F.col("payload").isNotNull()).drop("hi", "lo").collect()
        fps = out.where(F.col("payload").isNull()).select("hi", "lo")
        profile = _fold(df, plan, rows)
        n = fps.count()
        if n != profile.rows:
            raise _error(
                f"the profile job gave {n} fingerprints for {profile.rows} rows "
                "(did a task's cached output change?)"
            )
    except BaseException:
        out.unpersist()
        raise
    return _Profiled(plan, profile, out, fps)


def _fold(df: DataFrame, plan: _Plan, rows: list[Any]) -> Profile:
    """The profile from the parts a profile job collected (and the files' hashes)."""
    parts = [(r.source, r.first_row, r.rows, bytes(r.payload)) for r in rows]
    plan.profiled = [(p[0], p[1], p[2]) for p in parts]
    hashes = _hashes(df, plan)
    return Profile(plan.plan.fold([p[3] for p in parts], hashes))


def _to_arrow(df: DataFrame) -> pyarrow.Table:
    import pyarrow as pa

    if hasattr(df, "toArrow"):  # pyspark >= 4
        return df.toArrow()
    collect: Callable[[], list[pa.RecordBatch]] = df._collect_as_arrow  # type: ignore[assignment]
    batches = collect()
    if not batches:
        return pa.table(
            {
                "side": pa.array([], pa.int32()),
                "hi": pa.array([], pa.int64()),
                "lo": pa.array([], pa.int64()),
            }
        )
    return pa.Table.from_batches(batches)


def _repeated(sides: Sequence[DataFrame]) -> list[tuple[pyarrow.Array, pyarrow.Array]]:
    """The fingerprints (``hi``, ``lo``) of every row, on each side, whose feature vector (the
    top 80 bits) occurs more than once over all sides: counted by Spark over a window of equal
    feature vectors (one shuffle; a group-by joined back took about twice as long, see
    reports/spark.md), so that only the duplicated rows' fingerprints reach the driver."""
    from functools import reduce

    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tagged = [s.select(F.lit(i).alias("side"), "hi", "lo") for i, s in enumerate(sides)]
    both = reduce(lambda a, b: a.unionByName(b), tagged)
    same = Window.partitionBy(F.col("hi"), F.shiftrightunsigned("lo", 48))
    counted = both.withColumn("n", F.count(F.lit(1)).over(same))
    found = _to_arrow(counted.where(F.col("n") > 1).select("side", "hi", "lo"))
    out = []
    for i in range(len(sides)):
        t = found.filter(pc.equal(found["side"], pa.scalar(i, found.schema.field("side").type)))
        out.append((t["hi"].combine_chunks(), t["lo"].combine_chunks()))
    return out


def _frame_of(spark: Any, batch: pyarrow.RecordBatch) -> DataFrame:
    """A DataFrame of a batch held on the driver (the fingerprints of a baseline profile that
    holds every row's: on the driver already, they are sent to the cluster to be grouped)."""
    import pyarrow as pa
    import pyspark

    table = pa.Table.from_batches([batch])
    if int(pyspark.__version__.split(".")[0]) >= 4:
        frame: DataFrame = spark.createDataFrame(table)  # Arrow, as is
        return frame
    # pyspark 3.5 takes pandas, through Arrow when asked (not row by row).
    key = "spark.sql.execution.arrow.pyspark.enabled"
    was = spark.conf.get(key, "false")
    spark.conf.set(key, "true")
    try:
        frame = spark.createDataFrame(table.to_pandas(), "hi long, lo long")
    finally:
        spark.conf.set(key, was)
    return frame


def profile(
    df: DataFrame,
    *,
    label: str | None = None,
    label_type: LabelType | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    seed: int | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
    fingerprints: Fingerprints = "auto",
    fingerprints_out: str | None = None,
    _task_hook: TaskHook | None = None,
) -> Profile:
    """Profile a DataFrame on its cluster: ``poisonscan.profile``'s profile, made by a
    ``mapInArrow`` job whose tasks each return the partial profiles of their shards, merged on
    the driver in plan order (the result does not depend on task timing). See the module's
    documentation for ``provenance`` and ``fingerprints``. A profile keeps every row's
    fingerprints (``"auto"`` is ``"driver"`` here) unless ``fingerprints_out`` (a path Spark
    writes Parquet to, such as ``s3://bucket/trusted/fingerprints``) is given: then they are
    kept apart, every row's are written there, and the profile holds the duplicated rows'
    (scans against it need ``baseline_fingerprints``). ``fingerprints="spark"`` without
    ``fingerprints_out`` gives a profile that cannot be a baseline. Before the profile job, a
    job that reads only the label column bounds the sample (plans of files)."""
    options = _options(
        label=label,
        label_type=label_type,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
    )
    if fingerprints_out is not None:
        if fingerprints == "driver":
            raise ValueError('fingerprints_out keeps the fingerprints apart: not with "driver"')
        fingerprints = "spark"
    elif fingerprints == "auto":
        # A profile is kept to be a baseline later: every row's, unless they are written out.
        fingerprints = "driver"
    job = _profile(df, options, None, provenance, _task_hook, fingerprints)
    try:
        if job.fingerprints is None:
            return job.profile
        if fingerprints_out is not None:
            job.fingerprints.write.parquet(fingerprints_out)
        [(hi, lo)] = _repeated([job.fingerprints])
        return Profile(_native.spark_repeated(job.profile._native, hi, lo, False, False))
    finally:
        job.release()


class _Baseline:
    """The scan's baseline: its profile and, when they are grouped on the cluster, its rows'
    fingerprints (``None`` for a profile that holds them all: they are sent from the driver)."""

    def __init__(self, profile: Profile, fps: DataFrame | None, job: _Profiled | None) -> None:
        self.profile = profile
        self.fingerprints = fps
        self.job = job


def _baseline(
    spark: Any,
    baseline: DataFrame | Profile | PathLike | None,
    baseline_fingerprints: DataFrame | str | None,
    options: dict[str, Any],
    provenance: Provenance,
    hook: TaskHook | None,
    fingerprints: Fingerprints,
) -> _Baseline | None:
    if baseline is None:
        if baseline_fingerprints is not None:
            raise ValueError("baseline_fingerprints without a baseline")
        return None
    if isinstance(baseline, (str, os.PathLike)):
        baseline = Profile.load(baseline)
    if isinstance(baseline, Profile):
        fps = None
        if isinstance(baseline_fingerprints, str):
            fps = spark.read.parquet(baseline_fingerprints).select("hi", "lo")
        elif baseline_fingerprints is not None:
            fps = baseline_fingerprints.select("hi", "lo")
        if fps is not None and _native.spark_apart(baseline._native):
            _check_fingerprints(baseline, fps)
        elif fps is None and _native.spark_apart(baseline._native):
            raise _error(
                "the baseline profile holds only its duplicated rows' fingerprints (it was "
                'made with fingerprints="spark"), and rows of the current data that repeat a '
                "row of it would be missed\nhint: give baseline_fingerprints=, the "
                "fingerprints_out= it was profiled with"
            )
        return _Baseline(baseline, fps, None)
    if hasattr(baseline, "mapInArrow"):
        if baseline_fingerprints is not None:
            raise ValueError("baseline_fingerprints goes with a baseline Profile, not a DataFrame")
        job = _profile(baseline, dict(options), None, provenance, hook, fingerprints)
        return _Baseline(job.profile, job.fingerprints, job)
    raise TypeError(
        "baseline is a DataFrame, a Profile or the path of a saved profile, "
        f"not {type(baseline).__name__}"
    )


def _check_fingerprints(profile: Profile, fps: DataFrame) -> None:
    """The fingerprints are the profile's rows', segment for segment (a stale or another
    dataset's copy is refused)."""
    from pyspark.sql import functions as F

    segment = F.col("lo").bitwiseAND(F.lit(0xFFFF)).alias("segment")
    counts = {r["segment"]: r["count"] for r in fps.groupBy(segment).count().collect()}
    _native.spark_check_fingerprints(profile._native, sum(counts.values()), counts)


class _Prepared:
    def __init__(
        self, plan: _Plan, current: Profile, base: Profile | None, models: bytes | None
    ) -> None:
        self.plan = plan
        self.current = current
        self.base = base
        self.models = models


def _prepare(
    df: DataFrame,
    baseline: DataFrame | Profile | PathLike | None,
    baseline_fingerprints: DataFrame | str | None,
    options: dict[str, Any],
    provenance: Provenance,
    hook: TaskHook | None,
    fingerprints: Fingerprints,
) -> _Prepared:
    """The profile jobs of both sides, the duplicated rows' fingerprints grouped on the
    cluster when they are kept apart, and the row models fitted on the driver."""
    spark = df.sparkSession
    b = _baseline(spark, baseline, baseline_fingerprints, options, provenance, hook, fingerprints)
    base = None if b is None else b.profile
    base_apart = base is not None and _native.spark_apart(base._native)
    job = None
    try:
        job = _profile(df, options, base, provenance, hook, fingerprints, base_apart)
        current = job.profile
        if job.fingerprints is not None:
            sides = [job.fingerprints]
            if b is not None:
                base_fps = b.fingerprints
                if base_fps is None or not base_apart:
                    # A baseline with every row's fingerprints on the driver: sent to the
                    # cluster to be grouped with the current side's; it keeps them all.
                    base_fps = _frame_of(spark, _native.spark_fingerprints(b.profile._native))
                sides.append(base_fps)
            found = _repeated(sides)
            joined = b is not None
            current = Profile(_native.spark_repeated(current._native, *found[0], joined, False))
            if b is not None and base is not None and base_apart:
                # A saved profile's own duplicates must come out the same from the given
                # fingerprints; a baseline profiled in this scan has none yet.
                saved = b.job is None
                base = Profile(_native.spark_repeated(base._native, *found[1], True, saved))
        elif base_apart:
            raise _error("the current side's fingerprints were not kept apart")
    finally:
        if job is not None:
            job.release()
        if b is not None and b.job is not None:
            b.job.release()
    models = _native.spark_fit(options, current._native, None if base is None else base._native)
    return _Prepared(job.plan, current, base, models)


def scan(
    df: DataFrame,
    *,
    baseline: DataFrame | Profile | PathLike | None,
    label: str | None = None,
    label_type: LabelType | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    fail_on: str | None = None,
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
    fingerprints: Fingerprints = "auto",
    baseline_fingerprints: DataFrame | str | None = None,
    allow_empty: bool | None = None,
    baseline_pubkey: PathLike | None = None,
    _task_hook: TaskHook | None = None,
) -> Report:
    """Scan a DataFrame against ``baseline`` (a DataFrame, a ``Profile`` or the path of a
    saved profile; ``None`` runs only the checks that need none) on its cluster, and return
    the ``Report`` ``poisonscan.scan`` returns.

    Two ``mapInArrow`` jobs: the profile (as ``profile``, the current side counting the values
    outside the baseline's ranges), then the row pass, scored in the executors by the row
    models fitted once on the driver; the checks run on the driver. Besides them: the
    sample-bounds pre-pass and the files' hashes (plans of files), and, with the fingerprints
    apart, the job that groups them. ``Report.row_scores()``
    is not kept (use ``poisonscan.spark.row_scores`` for a DataFrame of them).

    ``fingerprints``: see the module's documentation. ``baseline_fingerprints`` is where a
    baseline profile made with ``fingerprints_out=`` has them (that path, or a DataFrame read
    from it); a baseline profile that holds only its duplicated rows' needs it. ``allow_empty``
    and ``baseline_pubkey`` are ``poisonscan.scan``'s.
    """
    options = _options(
        label=label,
        label_type=label_type,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
        fail_on=fail_on,
        allow_empty=allow_empty,
        baseline_pubkey=baseline_pubkey,
    )
    prepared = _prepare(
        df, baseline, baseline_fingerprints, options, provenance, _task_hook, fingerprints
    )
    plan, current, base, models = prepared.plan, prepared.current, prepared.base, prepared.models
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
    label_type: LabelType | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_size: int | None = None,
    provenance: Provenance = "auto",
    fingerprints: Fingerprints = "auto",
    baseline_fingerprints: DataFrame | str | None = None,
) -> DataFrame:
    """Every row's scores as a Spark DataFrame with the rows file's columns (``poisonscan
    schema rows``: source, row, id, outlier and label-issue scores, duplicate group, codes), to
    join back to the data and quarantine rows with Spark itself. The profile job runs now; the
    scoring runs when the returned DataFrame is evaluated."""
    from pyspark.sql.pandas.types import from_arrow_schema

    options = _options(
        label=label,
        label_type=label_type,
        id=id,
        config=config,
        columns=columns,
        exclude=exclude,
        seed=seed,
        sample_size=sample_size,
        threads=None,
    )
    prepared = _prepare(
        df, baseline, baseline_fingerprints, options, provenance, None, fingerprints
    )
    plan, current, models = prepared.plan, prepared.current, prepared.models
    if models is None:
        raise _error(
            "no row can be scored: no column can be scored (every column is the label, the "
            "id, a partition, constant or identifier-like) or the reference has no sample"
        )
    duplicates = _native.spark_duplicates(current._native)
    schema = from_arrow_schema(_spark_types(plan.plan.rows_schema()))
    return plan.frame.mapInArrow(_task(plan.bytes, "rows", models, duplicates), schema)
