"""Audit a tabular ML training set for poisoning, tampering and drift before retraining.

The Python API over the poisonscan engine (Rust). ``scan`` compares data with a trusted
baseline and returns a ``Report`` with the findings, the gate's verdict and every row's
scores; ``profile`` and ``merge`` make and combine the profiles a baseline can be saved as.

Data is any of:

- a path (a Parquet or CSV file, a folder, a glob) or a list of paths;
- a saved profile (a path to a ``.psprof`` file, or a ``Profile``);
- an object with the Arrow PyCapsule stream interface (``__arrow_c_stream__``): a
  ``pyarrow.Table`` or ``RecordBatchReader``, a polars DataFrame, a DuckDB result. Its batches
  are imported through the Arrow C data interface without copying the buffers (they are
  checked: offsets, lengths, UTF-8), and all of them are held until the scan ends: a scan
  reads the data twice. A reader is consumed: pass a stream once;
- a pandas DataFrame (converted with ``pyarrow.Table.from_pandas``, without its index);
- a mapping ``{source name: table}``: several sources (partitions, files already in memory),
  named as the reports name them; a source's value may be a list of tables, its row groups
  (``[pq.ParquetFile(f).read_row_group(i) for i in ...]``), so that the same rows with the same
  provenance give the same profile and findings as the file.

Errors are ``ScanError``: the command line's message (``str(e)``), with ``e.message`` and
``e.hint`` apart.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, Union

from . import _native
from ._native import ScanError

if TYPE_CHECKING:
    import pyarrow

__version__: str = _native.__version__

__all__ = [
    "Finding",
    "Incident",
    "Profile",
    "Report",
    "ScanError",
    "__version__",
    "merge",
    "profile",
    "scan",
]

FailOn = Literal["high", "medium", "low", "never"]
LabelType = Literal["auto", "class", "numeric"]
PathLike = Union[str, "os.PathLike[str]"]
Data = Any
"""A path, a list of paths, a ``Profile``, an Arrow stream, a DataFrame, or a mapping of names
to Arrow streams or DataFrames (see the module's documentation)."""

DEFAULT_SOURCE = "table"
"""The source name of one table passed without a name."""


def _error(text: str) -> ScanError:
    """A ``ScanError`` made on the Python side, shaped like the engine's."""
    e = ScanError(text)
    message, _, hint = text.partition("\nhint: ")
    e.message = message
    e.hint = hint or None
    return e


def _stream(obj: Any, name: str) -> Any:
    """An object exporting ``__arrow_c_stream__`` for ``obj``."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(obj, pandas.DataFrame):
        # pandas' own export keeps a non-default index as a column; a training set's index
        # is not one of its features.
        try:
            import pyarrow as pa
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise _error(
                f"a batch of `{name}`: reading a pandas DataFrame needs pyarrow"
                "\nhint: pip install 'poisonscan[arrow]'"
            ) from e
        try:
            return pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as e:
            raise _error(f"a batch of `{name}`: the DataFrame cannot be read as Arrow: {e}") from e
    if hasattr(obj, "__arrow_c_stream__"):
        return obj
    for method in ("to_arrow", "arrow"):  # older polars and DuckDB results
        convert = getattr(obj, method, None)
        if callable(convert):
            converted = convert()
            if hasattr(converted, "__arrow_c_stream__"):
                return converted
    raise TypeError(
        f"poisonscan cannot read a {type(obj).__module__}.{type(obj).__qualname__}: give a "
        "path, a list of paths, a Profile, an object with __arrow_c_stream__ (pyarrow, "
        "polars, DuckDB), a pandas DataFrame, or a mapping of source names to those"
    )


def _is_path(x: object) -> bool:
    return isinstance(x, (str, os.PathLike))


def _data(data: Data) -> tuple[str, Any]:
    """The engine's form of ``data``: paths, named Arrow streams, or a profile."""
    if isinstance(data, Profile):
        return ("profile", data._native)
    if _is_path(data):
        return ("paths", [os.fspath(data)])
    if (
        isinstance(data, Sequence)
        and not isinstance(data, (bytes, bytearray))
        and len(data) > 0
        and all(_is_path(x) for x in data)
    ):
        return ("paths", [os.fspath(x) for x in data])
    if isinstance(data, Mapping):
        if not data:
            raise _error("no data: the mapping of sources is empty")
        return ("arrow", [(str(k), _row_groups(v, str(k))) for k, v in data.items()])
    return ("arrow", [(DEFAULT_SOURCE, [_stream(data, DEFAULT_SOURCE)])])


def _row_groups(value: Any, name: str) -> list[Any]:
    """A source's tables: one, or a list of them (its row groups, in order)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise _error(f"a batch of `{name}`: the list of its row groups is empty")
        return [_stream(v, name) for v in value]
    return [_stream(value, name)]


def _options(
    *,
    label: str | None,
    id: str | None,
    label_type: LabelType | None = None,
    config: PathLike | None,
    columns: Sequence[str] | None,
    exclude: Sequence[str] | None,
    seed: int | None,
    sample_size: int | None,
    threads: int | None,
    fail_on: str | None = None,
    allow_empty: bool | None = None,
    baseline_pubkey: PathLike | None = None,
    skip_unsupported: bool | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    for name, value in (("columns", columns), ("exclude", exclude)):
        if isinstance(value, str):
            raise TypeError(f"{name} is a list of column names, not a string")
    for name, number in (("seed", seed), ("sample_size", sample_size), ("threads", threads)):
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"{name} is an int, not {type(number).__name__}")
        if not 0 <= number < 2**64:
            raise ValueError(f"{name} must be between 0 and 2**64 - 1, not {number}")
    if label_type is not None and label_type not in ("auto", "class", "numeric"):
        raise ValueError(f"label_type is 'auto', 'class' or 'numeric', not {label_type!r}")
    return {
        "label": label,
        "label_type": label_type,
        "id": id,
        "config": None if config is None else os.fspath(config),
        "columns": None if columns is None else list(columns),
        "exclude": None if exclude is None else list(exclude),
        "seed": seed,
        "sample_size": sample_size,
        "threads": threads,
        "fail_on": fail_on,
        "allow_empty": allow_empty,
        "baseline_pubkey": None if baseline_pubkey is None else os.fspath(baseline_pubkey),
        "skip_unsupported": skip_unsupported,
        "storage_options": _storage_options(storage_options),
    }


def _storage_options(options: Mapping[str, str] | None) -> list[tuple[str, str]] | None:
    """The object-storage options as key-value pairs, checked to be strings."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError("storage_options is a mapping of option names to strings")
    out = []
    for k, v in options.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"storage_options: `{k}` must map a string to a string")
        out.append((k, v))
    return out


class Profile:
    """What one pass over data keeps: per-column sketches and exact counts, row fingerprints,
    a sample and the manifest of its sources. Save it as a trusted baseline; merge the
    profiles of disjoint parts into the profile of the whole."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.Profile) -> None:
        self._native = native

    def to_bytes(self) -> bytes:
        """The profile file's bytes (versioned, with BLAKE3 hashes)."""
        return self._native.to_bytes()

    @staticmethod
    def from_bytes(data: bytes) -> Profile:
        """Read ``to_bytes()``'s bytes; corrupt or foreign bytes raise ``ScanError``."""
        return Profile(_native.Profile.from_bytes(data))

    def save(self, path: PathLike) -> None:
        """Write the profile file, as ``poisonscan profile -o PATH`` does."""
        self._native.save(os.fspath(path))

    @staticmethod
    def load(path: PathLike) -> Profile:
        """Read a profile file."""
        return Profile(_native.Profile.load(os.fspath(path)))

    @property
    def rows(self) -> int:
        return self._native.rows

    @property
    def label(self) -> str | None:
        return self._native.label

    @property
    def id(self) -> str | None:
        return self._native.id

    @property
    def seed(self) -> int:
        return self._native.seed

    @property
    def sources(self) -> list[str]:
        """The sources profiled, in order: file paths, or the names of in-memory tables."""
        return self._native.sources

    @property
    def columns(self) -> list[str]:
        """The columns, in schema order."""
        return self._native.columns

    def summary(self) -> dict[str, Any]:
        """Rows, the manifest, and per column what a report's ``profile`` object shows (type,
        role, nulls, distinct count, min, max, mean, standard deviation, median), the label
        counts and the duplicate statistics."""
        result: dict[str, Any] = json.loads(self._native._summary_json())
        return result

    def __repr__(self) -> str:
        return repr(self._native)


@dataclass(frozen=True)
class Finding:
    """One finding of one check, with the report contract's fields (``poisonscan schema``)."""

    code: str
    check: str
    severity: Literal["high", "medium", "low", "info"]
    score: float
    title: str
    columns: list[str]
    slice: list[dict[str, Any]]
    sources: list[str]
    rows: int
    baseline_rows: int | None
    statistic: dict[str, Any] | None
    p_value: float | None
    q_value: float | None
    effect: dict[str, Any] | None
    example_rows: list[dict[str, Any]]
    evidence: dict[str, Any]
    accepted: dict[str, Any] | None = None
    incident: int | None = None
    """The index in ``Report.incidents`` of the incident the finding belongs to."""
    against: str | None = None
    """The last accepted night (of ``scan(history=...)``) the finding compares with, when it is
    not the baseline."""

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Finding:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Incident:
    """Findings one cause explains: the root finding (an index into ``Report.findings``) and
    the findings it explains, each with its excess over the baseline in rows with and without
    the root's rows (``excess_rows``, ``excess_rows_without_root``)."""

    severity: Literal["high", "medium", "low", "info"]
    root: int
    code: str
    title: str
    rows: int
    rows_set_aside: float | None
    explains: list[dict[str, Any]]
    columns: list[str]
    sources: list[str]
    shift_undone: str | None = None

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Incident:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Report:
    """A scan's report: findings with evidence, the gate's verdict, and every row's scores.

    In a notebook the report shows as its HTML page."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.Report) -> None:
        self._native = native

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        """``"fail"`` when a finding at or above ``fail_on`` is not accepted by the allowlist."""
        verdict: Literal["pass", "fail"] = self.to_dict()["verdict"]
        return verdict

    @property
    def exit_code(self) -> int:
        """The command line's exit code for this report: 0 passed, 1 failed."""
        return self._native.exit_code

    @property
    def findings(self) -> list[Finding]:
        """The findings, most severe first, as the JSON report orders them."""
        return [Finding._from_dict(f) for f in self.to_dict()["findings"]]

    @property
    def incidents(self) -> list[Incident]:
        """The findings grouped by cause, in the order of each incident's first finding."""
        return [Incident._from_dict(i) for i in self.to_dict().get("incidents", [])]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as Python objects: exactly the report contract."""
        result: dict[str, Any] = json.loads(self._native.to_json())
        return result

    def to_json(self) -> str:
        """The JSON report, as ``poisonscan scan --format json`` prints it."""
        return self._native.to_json()

    def to_markdown(self) -> str:
        return self._native.to_markdown()

    def to_html(self) -> str:
        """The self-contained HTML page (inline styles and SVG charts, nothing fetched)."""
        return self._native.to_html()

    def to_text(self) -> str:
        """The summary the command line prints."""
        return self._native.to_text()

    def to_junit(self) -> str:
        """JUnit XML: one test case per check, for CI systems that show test results."""
        return self._native.to_junit()

    def _repr_html_(self) -> str:
        return self.to_html()

    def row_scores(self) -> pyarrow.Table:
        """Every current row's scores, as the rows file (``--rows-out``) has them: source,
        row, id, outlier and label-issue scores, duplicate group, the codes that name the row,
        label confidence. Needs pyarrow."""
        return self._native.row_scores()

    def __repr__(self) -> str:
        d = self.to_dict()
        counts = d["counts"]
        return (
            f"<poisonscan.Report: {d['verdict']}, {counts['high']} high, "
            f"{counts['medium']} medium, {counts['low']} low, {counts['info']} info>"
        )


def profile(
    data: Data,
    *,
    label: str | None = None,
    label_type: LabelType | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    seed: int | None = None,
    sample_size: int | None = None,
    threads: int | None = None,
    skip_unsupported: bool | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> Profile:
    """Profile ``data``: what ``poisonscan profile DATA -o FILE`` saves.

    ``label`` and ``id`` name the label and row-id columns; ``label_type`` says what the label
    holds (``"class"``, ``"numeric"`` for a regression target, or ``"auto"``, the default:
    classes unless a numeric column has more than 64 values); ``config`` is a ``poisonscan.toml``
    (none is read unless given); ``columns``/``exclude`` choose the columns; ``seed`` fixes
    the sketches' and the sample's randomness; ``threads`` defaults to the machine's cores.
    ``skip_unsupported=True`` leaves out columns of types poisonscan cannot profile (lists,
    structs, binary), listed as rejected, instead of raising. ``data`` may name objects in
    storage (``"s3://bucket/prefix/"``, ``gs://``, ``az://``, ``https://``);
    ``storage_options`` sets the store's options (``{"aws_region": "eu-west-1"}``: the keys
    of the ``object_store`` crate's builders, plus ``max_retries`` and ``retry_timeout``);
    credentials come from each cloud's environment variables.
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
        threads=threads,
        skip_unsupported=skip_unsupported,
        storage_options=storage_options,
    )
    return Profile(_native.profile(_data(data), options))


def scan(
    data: Data,
    *,
    baseline: Data | None = None,
    history: Sequence[PathLike] | None = None,
    label: str | None = None,
    label_type: LabelType | None = None,
    id: str | None = None,
    config: PathLike | None = None,
    fail_on: FailOn | None = None,
    seed: int | None = None,
    threads: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    sample_size: int | None = None,
    row_scores: bool = True,
    allow_empty: bool | None = None,
    baseline_pubkey: PathLike | None = None,
    skip_unsupported: bool | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> Report:
    """Scan ``data`` against ``baseline`` (data or a saved profile; ``None`` runs only the
    checks that need no baseline) and return the report.

    ``fail_on`` is the lowest severity that fails the gate (default ``"high"``, or the config
    file's); ``seed`` defaults to 0, so the same inputs give the same report, byte for byte
    (apart from ``run``), at any thread count. With ``row_scores=False`` the rows' scores are
    not kept (``Report.row_scores()`` then raises). A saved profile as ``data`` runs the
    checks on profiles only (no row-level checks). ``allow_empty=True`` lets a side with no
    rows, or too few to compare, pass (INT003 is then info; default: it fails the gate).
    ``baseline_pubkey`` (an Ed25519 public key, PEM) refuses a baseline that is not a saved
    profile signed with it (``poisonscan profile ... --sign-key KEY``). ``skip_unsupported``
    is ``profile``'s; the report's ``dataset.left_out`` lists every column not profiled.
    ``storage_options`` is ``profile``'s too, for data and baseline alike.

    ``history`` is the saved profiles of the nights accepted before this one, oldest first
    (folders of ``*.psprof`` files, taken by name, or profiles), as ``scan --history`` takes
    them: the data is also compared with the last of them, and DRF005 tests the series of all
    of them for a change that creeps. ``baseline`` is then the anchored trusted profile; without
    it, the first profile of the history.
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
        threads=threads,
        fail_on=fail_on,
        allow_empty=allow_empty,
        baseline_pubkey=baseline_pubkey,
        skip_unsupported=skip_unsupported,
        storage_options=storage_options,
    )
    if baseline is not None and baseline is data and _single_use(data):
        raise ValueError(
            "data and baseline are the same stream, which can be read only once: "
            "read it into a table first"
        )
    base = None if baseline is None else _data(baseline)
    nights = [os.fspath(h) for h in history or []]
    return Report(_native.scan(_data(data), base, options, row_scores, nights))


def _single_use(obj: object) -> bool:
    """Whether reading ``obj``'s Arrow stream consumes it (a ``pyarrow.RecordBatchReader``)."""
    pyarrow = sys.modules.get("pyarrow")
    return pyarrow is not None and isinstance(obj, pyarrow.RecordBatchReader)


def merge(profiles: Sequence[Profile]) -> Profile:
    """Merge profiles of disjoint parts of one dataset, in order, into the profile of the
    whole: counts, min/max, integer moments, fingerprints, the sample and the manifest
    exactly; quantiles and distinct counts within their sketches' bounds."""
    natives = []
    for p in profiles:
        if not isinstance(p, Profile):
            raise TypeError(f"merge takes Profiles, not {type(p).__name__}")
        natives.append(p._native)
    return Profile(_native.merge(natives))
