"""Hostile or odd input through the Arrow C stream interface: a `ScanError` (or, for the wrong
kind of argument, a `TypeError`/`ValueError`), never a crash, a panic or a silent wrong answer."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import poisonscan
from poisonscan import ScanError


def test_invalid_string_offsets_are_refused():
    # Offsets that go backwards pass pyarrow's cheap validate(); read unchecked they would
    # send the engine out of the buffer.
    offsets = pa.py_buffer(np.array([0, 5, 2, 3, 6], np.int32).tobytes())
    bad = pa.Array.from_buffers(pa.string(), 4, [None, offsets, pa.py_buffer(b"abcdef")])
    with pytest.raises(ScanError, match=r"column `c` is not valid Arrow data"):
        poisonscan.scan(pa.table({"c": bad, "label": [0, 1, 0, 1]}), label="label")


def test_invalid_utf8_is_refused():
    data = pa.py_buffer(b"ab\xff\xfe")
    offsets = pa.py_buffer(np.array([0, 2, 4], np.int32).tobytes())
    bad = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    with pytest.raises(ScanError, match=r"a batch of `table`: column `s` is not valid Arrow"):
        poisonscan.profile(pa.table({"s": bad}))


def test_excluding_the_label_is_refused():
    # The label is always read: an exclusion of it was once ignored without a word.
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "label": [0, 1, 0, 1]})
    with pytest.raises(ScanError, match=r"exclude lists `label`, which is the label"):
        poisonscan.scan(table, label="label", exclude=["label"])


def test_a_label_of_a_type_poisonscan_cannot_read_names_its_role():
    # The hint for any other column is to exclude it, which the label refuses.
    table = pa.table({"x": [1.0, 2.0], "label": [[0], [1]]})
    with pytest.raises(ScanError) as e:
        poisonscan.scan(table, label="label")
    assert "column `label` has type List" in e.value.message
    assert e.value.hint is not None
    assert e.value.hint.startswith("`label` is the label or the id, which every run reads")
    assert "--exclude label" not in str(e.value)
    with pytest.raises(ScanError) as e:
        poisonscan.scan(table, label="x")
    assert e.value.hint is not None
    assert "--exclude label" in e.value.hint


def test_a_label_missing_from_or_typed_apart_in_one_table_names_its_role():
    # Tables are checked against one another as they are read, before the run's settings
    # reach the engine: the hint must still know which columns the run requires.
    first = pa.table({"x": [1.0, 2.0], "label": [0, 1]})
    lacking = pa.table({"x": [3.0, 4.0], "y": [0, 1]})
    with pytest.raises(ScanError) as e:
        poisonscan.scan({"a": first, "b": lacking}, label="label")
    assert e.value.message == "column `label` is in `a` but not in `b`"
    assert e.value.hint == (
        "`label` is the label or the id, which every run reads (`--exclude` cannot leave it"
        " out): every file must carry it, or name another column"
    )
    typed_apart = pa.table({"x": [3.0, 4.0], "label": ["no", "yes"]})
    with pytest.raises(ScanError) as e:
        poisonscan.scan({"a": first, "b": typed_apart}, label="label")
    assert e.value.hint is not None
    assert e.value.hint.endswith("give it one type in every file")
    assert "--exclude label" not in str(e.value)
    # Another column keeps the hint to leave it out.
    with pytest.raises(ScanError) as e:
        poisonscan.scan({"a": first, "b": lacking}, label="x")
    assert e.value.hint is not None
    assert "--exclude label" in e.value.hint


class _ArrowArray(ctypes.Structure):
    _fields_ = [
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_buffers", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("buffers", ctypes.c_void_p),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


_GET_SCHEMA = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_GET_NEXT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_GET_ERROR = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)
_RELEASE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _Stream(ctypes.Structure):
    _fields_ = [
        ("get_schema", _GET_SCHEMA),
        ("get_next", _GET_NEXT),
        ("get_last_error", _GET_ERROR),
        ("release", _RELEASE),
        ("private_data", ctypes.c_void_p),
    ]


class LyingStream:
    """A hand-made C stream whose one batch claims more rows than its columns have (arrow-rs
    asserts on it while importing)."""

    def __init__(self) -> None:
        self.batch = pa.StructArray.from_arrays(
            [pa.array([1.0, 2.0, 3.0, 4.0]), pa.array([0, 1, 0, 1])], names=["x", "label"]
        )
        self.sent = False
        self.callbacks = [
            _GET_SCHEMA(self._schema),
            _GET_NEXT(self._next),
            _GET_ERROR(lambda _s: None),
            _RELEASE(self._release),
        ]
        self.stream = _Stream(*self.callbacks, None)

    def _schema(self, _s: Any, out: int) -> int:
        self.batch.type._export_to_c(out)
        return 0

    def _next(self, _s: Any, out: int) -> int:
        if self.sent:
            ctypes.memset(out, 0, ctypes.sizeof(_ArrowArray))
            return 0
        self.sent = True
        self.batch._export_to_c(out)
        _ArrowArray.from_address(out).length = 10
        return 0

    def _release(self, s: int) -> None:
        _Stream.from_address(s).release = _RELEASE()

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        new = ctypes.pythonapi.PyCapsule_New
        new.restype = ctypes.py_object
        new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        return new(ctypes.addressof(self.stream), b"arrow_array_stream", None)


def test_a_lying_stream_is_a_scan_error_not_a_panic():
    with pytest.raises(ScanError, match=r"internal error|not valid Arrow data|cannot read"):
        poisonscan.scan(LyingStream(), label="label")


class Raising:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        raise self.exc


def test_exporter_errors_keep_their_cause():
    with pytest.raises(ScanError, match="cannot read its Arrow stream") as e:
        poisonscan.scan(Raising(ValueError("the exporter broke")))
    assert isinstance(e.value.__cause__, ValueError)


def test_an_interrupt_while_exporting_goes_through():
    with pytest.raises(KeyboardInterrupt):
        poisonscan.scan(Raising(KeyboardInterrupt()))


def test_two_sources_with_one_name():
    t = pa.table({"x": [1.0, 2.0], "label": [0, 1]})
    with pytest.raises(ScanError, match="two sources have this name"):
        poisonscan.profile({1: t, "1": t})


def test_sources_unify_types_as_files_do():
    import pandas as pd
    import polars as pl

    a = pa.table({"x": pa.array([1, 2, 3], pa.int32()), "s": ["a", "b", "c"], "label": [0, 1, 0]})
    b = pd.DataFrame({"x": [4.5, None], "s": ["d", "e"], "label": [1, 0]})  # a NaN: float
    c = pl.DataFrame({"x": [6, 7], "s": ["f", "g"], "label": [0, 1]})  # Utf8View strings
    p = poisonscan.profile({"a": a, "b": b, "c": c}, label="label")
    x = next(col for col in p.summary()["columns"] if col["name"] == "x")
    assert p.rows == 7
    assert x["type"] == "float"
    assert (x["min"], x["max"], x["nulls"]) == (1.0, 7.0, 1)
    clash = pa.table({"x": ["not", "numbers"], "s": ["h", "i"], "label": [0, 1]})
    with pytest.raises(
        ScanError, match=r"column `x` has type (int|float) in `a` but string in `d`"
    ):
        poisonscan.profile({"a": a, "d": clash}, label="label")


def test_empty_and_columnless_tables():
    empty = pa.table({"x": pa.array([], pa.float64()), "label": pa.array([], pa.int64())})
    p = poisonscan.profile(empty, label="label")
    assert p.rows == 0
    with pytest.raises(ScanError):
        poisonscan.scan(pa.table({}), label="label")


def test_a_reader_is_read_once():
    t = pa.table({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches())
    with pytest.raises(ValueError, match="same stream"):
        poisonscan.scan(reader, baseline=reader, label="label")


def test_out_of_range_numbers():
    t = pa.table({"x": [1.0], "label": [0]})
    with pytest.raises(ValueError, match="seed must be between 0 and 2"):
        poisonscan.profile(t, seed=-1)
    with pytest.raises(ValueError, match="threads"):
        poisonscan.profile(t, threads=2**64)
    with pytest.raises(TypeError, match="sample_size is an int"):
        poisonscan.profile(t, sample_size=1.5)  # type: ignore[arg-type]


def test_row_scores_say_why_there_are_none(tmp_path):
    t = pa.table({"x": np.arange(200, dtype=float), "label": [0, 1] * 100})
    not_kept = poisonscan.scan(t, label="label", row_scores=False)
    with pytest.raises(ScanError, match="not kept"):
        not_kept.row_scores()
    p = poisonscan.profile(t, label="label")
    from_profile = poisonscan.scan(p, label="label")
    with pytest.raises(ScanError, match="saved profile"):
        from_profile.row_scores()
    kept = poisonscan.scan(t, label="label")
    assert kept.row_scores().num_rows == 200
