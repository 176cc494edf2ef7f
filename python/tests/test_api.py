"""The Python API: the same findings from paths, pyarrow, pandas, polars and DuckDB; profiles that
merge into the whole; errors as `ScanError` with the command line's message."""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    ACS_2015,
    ACS_2018,
    DEMO_ARGS,
    DEMO_BASELINE,
    DEMO_CURRENT,
    ROOT,
    cli_error,
    cli_json,
    run,
    without_run,
)

import poisonscan
from poisonscan import ScanError

DEMO = {"label": "label", "id": "customer_id"}
ACS = {"label": "label", "exclude": ["year"]}
# Data in memory has no file bytes to hash: where a path scan finds a file byte for byte the
# baseline's (INT002) or changed since the baseline was saved (INT001), a scan from memory finds
# the replay from the rows' fingerprints instead (INT002, "replayed content"); nor can it find
# files the baseline holds byte for byte (INT004).
FILE_BYTES_CODES = frozenset({"INT001", "INT002", "INT004"})


def row_groups(folder: Path, convert: Callable[[pa.Table], Any]) -> dict[str, list[Any]]:
    """Each Parquet file of `folder` as its row groups, named as a path scan names it."""
    out = {}
    for f in sorted(folder.glob("*.parquet")):
        pf = pq.ParquetFile(f)
        out[str(f)] = [convert(pf.read_row_group(i)) for i in range(pf.num_row_groups)]
    return out


def findings(report: poisonscan.Report, drop: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The findings but those of codes `drop`; with some dropped, without their `incident`
    (the incidents' indices count the dropped findings' incidents too)."""
    kept = [f for f in report.to_dict()["findings"] if f["code"] not in drop]
    if drop:
        kept = [{k: v for k, v in f.items() if k != "incident"} for f in kept]
    return kept


@pytest.fixture(scope="module")
def demo_by_path() -> poisonscan.Report:
    return poisonscan.scan(DEMO_CURRENT, baseline=DEMO_BASELINE, **DEMO)


def test_scan_path_is_the_cli_report(cargo_bin, demo_by_path):
    code, cli = cli_json(cargo_bin, DEMO_CURRENT, "--baseline", DEMO_BASELINE, *DEMO_ARGS)
    assert demo_by_path.exit_code == code == 1
    assert demo_by_path.verdict == "fail"
    assert without_run(demo_by_path.to_dict()) == without_run(cli)
    assert without_run(json.loads(demo_by_path.to_json())) == without_run(cli)


def test_findings_carry_the_contract_fields(demo_by_path):
    raw = demo_by_path.to_dict()["findings"]
    objects = demo_by_path.findings
    assert len(objects) == len(raw) > 0
    for obj, d in zip(objects, raw):
        for key, value in d.items():
            assert getattr(obj, key) == value, key
    # The summary line counts the findings per severity.
    levels = ("high", "medium", "low", "info")
    per = {level: sum(f.severity == level for f in objects) for level in levels}
    assert repr(demo_by_path) == (
        f"<poisonscan.Report: fail, {per['high']} high, {per['medium']} medium, "
        f"{per['low']} low, {per['info']} info>"
    )
    trigger = next(f for f in objects if f.code == "TRG001")
    assert trigger.severity == "high"
    assert trigger.rows == 300  # the demo's planted backdoor rows (datasets/README.md)


def test_incidents_group_the_findings_by_cause(demo_by_path):
    raw = demo_by_path.to_dict()["incidents"]
    incidents = demo_by_path.incidents
    assert len(incidents) == len(raw) > 0
    for obj, d in zip(incidents, raw):
        for key, value in d.items():
            assert getattr(obj, key) == value, key
    objects = demo_by_path.findings
    # Every finding is in the incident its `incident` names, as the root or explained there.
    for i, f in enumerate(objects):
        assert f.incident is not None
        inc = incidents[f.incident]
        assert i == inc.root or i in [e["finding"] for e in inc.explains]
    # The first incident is the unit change in part-0, the drift of `income` under it.
    first = incidents[0]
    assert (first.code, objects[first.root].columns[0]) == ("SCH005", "income")
    assert "income" in first.columns
    explained = [objects[e["finding"]].code for e in first.explains]
    assert "DRF001" in explained
    assert "DRF004" in explained


def pandas_table(t: pa.Table) -> Any:
    return t.to_pandas()


def polars_table(t: pa.Table) -> Any:
    import polars as pl

    return pl.from_arrow(t)


_DUCKDB_CONNECTIONS: list[Any] = []  # a relation needs its connection open (DuckDB 1.x)


def duckdb_relation(t: pa.Table) -> Any:
    import duckdb

    con = duckdb.connect()
    _DUCKDB_CONNECTIONS.append(con)
    con.register("t", t)
    return con.sql("select * from t")  # the relation itself exports __arrow_c_stream__


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda t: t, id="pyarrow-table"),
        pytest.param(
            lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches(5000)),
            id="pyarrow-reader",
        ),
        pytest.param(pandas_table, id="pandas"),
        pytest.param(polars_table, id="polars"),
        pytest.param(duckdb_relation, id="duckdb"),
    ],
)
def test_memory_gives_the_path_findings(demo_by_path, convert):
    current = row_groups(DEMO_CURRENT, convert)
    report = poisonscan.scan(current, baseline=DEMO_BASELINE, **DEMO)
    assert findings(report, FILE_BYTES_CODES) == findings(demo_by_path, FILE_BYTES_CODES)
    # The demo's replayed partition: byte for byte from the files, by content from memory.
    replayed = [f for f in findings(report) if f["code"] == "INT002"]
    assert [f["sources"] for f in replayed] == [[str(DEMO_CURRENT / "part-3.parquet")]]
    assert "replayed content" in replayed[0]["title"]
    assert report.exit_code == demo_by_path.exit_code


def test_memory_baseline_and_current_real_set():
    by_path = poisonscan.scan(ACS_2018, baseline=ACS_2015, **ACS)
    current = {str(ACS_2018): pq.read_table(ACS_2018).to_pandas()}
    baseline = {str(ACS_2015): pq.read_table(ACS_2015)}
    in_memory = poisonscan.scan(current, baseline=baseline, **ACS)
    assert findings(by_path), "real drift between 2015 and 2018 gives findings"
    assert findings(in_memory, FILE_BYTES_CODES) == findings(by_path, FILE_BYTES_CODES)
    assert in_memory.to_dict()["drift"] == by_path.to_dict()["drift"]


def test_one_unnamed_table_or_dataframe_gives_the_same_report():
    table = pq.read_table(ACS_2018)
    base = pq.read_table(ACS_2015)
    from_table = poisonscan.scan(table, baseline=base, **ACS)
    from_frame = poisonscan.scan(table.to_pandas(), baseline=base.to_pandas(), **ACS)
    assert findings(from_table)
    assert without_run(from_table.to_dict()) == without_run(from_frame.to_dict())
    assert from_table.row_scores().equals(from_frame.row_scores())


def test_profile_halves_merge_into_the_whole():
    table = pq.read_table(ACS_2015)
    half = table.num_rows // 2
    a, b = table.slice(0, half), table.slice(half)
    whole = poisonscan.profile({"a": a, "b": b.to_pandas()}, **ACS)
    merged = poisonscan.merge(
        [poisonscan.profile({"a": a}, **ACS), poisonscan.profile({"b": b}, **ACS)]
    )
    assert merged.rows == whole.rows == table.num_rows
    assert merged.sources == whole.sources == ["a", "b"]
    s_merged, s_whole = merged.summary(), whole.summary()
    # Exact: counts, min/max, the manifest, label counts, duplicates (from the fingerprints).
    for key in ("rows", "manifest", "label_counts", "duplicates"):
        assert s_merged[key] == s_whole[key], key
    for cm, cw in zip(s_merged["columns"], s_whole["columns"]):
        for key in ("name", "type", "role", "nulls", "min", "max"):
            assert cm[key] == cw[key], (cw["name"], key)
        if cw["mean"] is not None:
            assert cm["mean"] == pytest.approx(cw["mean"], rel=1e-12, abs=1e-12)
            assert cm["std"] == pytest.approx(cw["std"], rel=1e-9, abs=1e-12)
        # HyperLogLog with 2^12 registers: 1.6% standard error; the merge is a register max,
        # so the estimates differ only through the sketches' own randomness.
        assert abs(cm["distinct"] - cw["distinct"]) <= max(2, 0.05 * cw["distinct"])
    # The same counts and moments as one table's profile (whose one source is named `table`).
    single = poisonscan.profile(table, **ACS).summary()
    assert single["rows"] == s_merged["rows"]
    assert single["label_counts"] == s_merged["label_counts"]
    assert single["duplicates"] == s_merged["duplicates"]
    for cm, cs in zip(s_merged["columns"], single["columns"]):
        for key in ("name", "type", "nulls", "min", "max"):
            assert cm[key] == cs[key], (cs["name"], key)
    # Quantiles within the KLL sketch's rank error: the merged median's rank in the data.
    for column in ("AGEP",):
        values = table.column(column).to_pandas().dropna().sort_values().to_numpy()
        med = next(c for c in s_merged["columns"] if c["name"] == column)["median"]
        lo = values.searchsorted(med, "left") / len(values)
        hi = values.searchsorted(med, "right") / len(values)
        assert lo - 0.02 <= 0.5 <= hi + 0.02, (column, lo, hi)


def test_profile_bytes_and_files(tmp_path: Path, cargo_bin):
    p = poisonscan.profile(DEMO_BASELINE, **DEMO)
    data = p.to_bytes()
    assert p.to_bytes() == data
    again = poisonscan.Profile.from_bytes(data)
    assert again.to_bytes() == data
    assert again.summary() == p.summary()
    p.save(tmp_path / "api.psprof")
    assert (tmp_path / "api.psprof").read_bytes() == data
    assert poisonscan.Profile.load(tmp_path / "api.psprof").summary() == p.summary()
    # The command line's profile of the same data is the same file.
    cli = run(cargo_bin, "profile", DEMO_BASELINE, *DEMO_ARGS, "-o", tmp_path / "cli.psprof", "-q")
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "cli.psprof").read_bytes() == (tmp_path / "api.psprof").read_bytes()
    assert p.rows == 60_000
    assert p.label == "label"
    assert "customer_id" in p.columns


def test_signed_baseline_and_empty_sides(tmp_path: Path, cargo_bin):
    key = tmp_path / "k"
    assert run(cargo_bin, "keygen", "-o", key).returncode == 0
    signed = tmp_path / "signed.psprof"
    made = run(cargo_bin, "profile", DEMO_BASELINE, *DEMO_ARGS, "-o", signed, "--sign-key", key)
    assert made.returncode == 0, made.stderr
    pub = tmp_path / "k.pub"
    # A profile signed by the trusted key is a baseline; the same profile unsigned is refused.
    report = poisonscan.scan(DEMO_CURRENT, baseline=signed, baseline_pubkey=pub, **DEMO)
    assert report.to_dict()["baseline"]["rows"] == 60_000
    unsigned = poisonscan.profile(DEMO_BASELINE, **DEMO)
    with pytest.raises(ScanError) as e:
        poisonscan.scan(DEMO_CURRENT, baseline=unsigned, baseline_pubkey=pub, **DEMO)
    assert "the baseline profile is not signed" in e.value.message
    assert "--sign-key KEY" in (e.value.hint or "")
    # An empty current side is stated and fails the gate, unless allowed.
    empty = pq.read_table(DEMO_CURRENT / "part-0.parquet").slice(0, 0)
    report = poisonscan.scan(empty, baseline=DEMO_BASELINE, **DEMO)
    int3 = [f for f in report.to_dict()["findings"] if f["code"] == "INT003"]
    assert [f["title"] for f in int3] == ["the current data has no rows: nothing was compared"]
    assert int3[0]["severity"] == "high"
    assert report.exit_code == 1
    allowed = poisonscan.scan(empty, baseline=DEMO_BASELINE, allow_empty=True, **DEMO)
    assert [f["severity"] for f in allowed.to_dict()["findings"] if f["code"] == "INT003"] == [
        "info"
    ]


def test_saved_profile_as_baseline(tmp_path: Path, demo_by_path):
    p = poisonscan.profile(DEMO_BASELINE, **DEMO)
    p.save(tmp_path / "trusted.psprof")
    from_file = poisonscan.scan(DEMO_CURRENT, baseline=tmp_path / "trusted.psprof", **DEMO)
    from_object = poisonscan.scan(DEMO_CURRENT, baseline=p, **DEMO)
    assert findings(from_file) == findings(from_object) == findings(demo_by_path)


def test_row_scores_are_the_rows_file(tmp_path: Path, cargo_bin, demo_by_path):
    rows = tmp_path / "rows.parquet"
    p = run(
        cargo_bin,
        "scan",
        DEMO_CURRENT,
        "--baseline",
        DEMO_BASELINE,
        *DEMO_ARGS,
        "--rows-out",
        rows,
        "--quiet",
        "--fail-on",
        "never",
    )
    assert p.returncode == 0, p.stderr
    table = demo_by_path.row_scores()
    assert isinstance(table, pa.Table)
    assert table.num_rows == demo_by_path.to_dict()["dataset"]["rows"]
    assert table.equals(pq.read_table(rows))


def test_same_report_at_any_thread_count():
    one = poisonscan.scan(ACS_2018, baseline=ACS_2015, threads=1, **ACS)
    two = poisonscan.scan(ACS_2018, baseline=ACS_2015, threads=2, **ACS)
    assert without_run(one.to_dict()) == without_run(two.to_dict())
    assert one.row_scores().equals(two.row_scores())


def test_repr_html_is_the_self_contained_page(demo_by_path):
    page = demo_by_path._repr_html_()
    assert page == demo_by_path.to_html()
    assert page.startswith("<!DOCTYPE html>")
    ET.fromstring(page[len("<!DOCTYPE html>") :])  # well-formed
    for external in ("<script", "<link", 'src="http', "url(http", "@import"):
        assert external not in page
    assert "TRG001" in page
    assert demo_by_path.to_markdown().startswith("#")
    assert "<testsuite" in demo_by_path.to_junit()


def test_gil_is_released_during_a_scan():
    ticks = 0
    done = threading.Event()

    def work():
        poisonscan.scan(ACS_2018, baseline=ACS_2015, **ACS)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.005)
    t.join()
    assert ticks >= 20, ticks  # the scan takes seconds; a held GIL would give ~1


# --- bad input: ScanError with the command line's message --------------------------------


def assert_cli_message(e: pytest.ExceptionInfo[ScanError], expected: str) -> None:
    assert str(e.value) == expected
    message, _, hint = expected.partition("\nhint: ")
    assert e.value.message == message
    assert e.value.hint == (hint or None)


def test_missing_path(cargo_bin):
    expected = cli_error(cargo_bin, "scan", "no/such/dir", "--label", "label")
    with pytest.raises(ScanError) as e:
        poisonscan.scan("no/such/dir", label="label")
    assert_cli_message(e, expected)
    assert e.value.hint is not None


def test_wrong_label(cargo_bin):
    expected = cli_error(cargo_bin, "scan", DEMO_CURRENT, "--label", "labell")
    with pytest.raises(ScanError) as e:
        poisonscan.scan(DEMO_CURRENT, label="labell")
    assert_cli_message(e, expected)
    assert "label" in str(e.value)


CALIFORNIA = ROOT / "datasets/real/california_housing.parquet"


def test_numeric_target_is_the_cli_report(cargo_bin):
    """A regression target (auto: more than 64 values) gives the command line's report, from a
    path and from a pandas DataFrame split in two; `label_type` picks the mode or refuses."""
    table = pq.read_table(CALIFORNIA)
    half = table.num_rows // 2
    base, cur = table.slice(0, half), table.slice(half)
    report = poisonscan.scan(cur.to_pandas(), baseline=base.to_pandas(), label="label")
    assert report.to_dict()["dataset"]["label_type"] == "numeric"
    explicit = poisonscan.scan(cur, baseline=base, label="label", label_type="numeric")
    assert without_run(explicit.to_dict()) == without_run(report.to_dict())
    _, cli = cli_json(cargo_bin, CALIFORNIA, "--baseline", CALIFORNIA, "--label", "label")
    assert cli["dataset"]["label_type"] == "numeric"
    by_path = poisonscan.scan(str(CALIFORNIA), baseline=str(CALIFORNIA), label="label")
    assert without_run(by_path.to_dict()) == without_run(cli)
    expected = cli_error(cargo_bin, "scan", CALIFORNIA, "--label", "label", "--label-type", "class")
    with pytest.raises(ScanError) as e:
        poisonscan.scan(str(CALIFORNIA), label="label", label_type="class")
    assert_cli_message(e, expected)
    with pytest.raises(ValueError, match="label_type"):
        poisonscan.scan(str(CALIFORNIA), label="label", label_type="regression")  # type: ignore[arg-type]


def test_corrupt_profile(cargo_bin, tmp_path: Path):
    good = poisonscan.profile(DEMO_BASELINE, **DEMO).to_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    path = tmp_path / "corrupt.psprof"
    path.write_bytes(bytes(corrupt))
    expected = cli_error(cargo_bin, "scan", DEMO_CURRENT, "--baseline", path, *DEMO_ARGS)
    with pytest.raises(ScanError) as e:
        poisonscan.scan(DEMO_CURRENT, baseline=path, **DEMO)
    assert_cli_message(e, expected)
    with pytest.raises(ScanError):
        poisonscan.Profile.from_bytes(bytes(corrupt))
    with pytest.raises(ScanError):
        poisonscan.Profile.from_bytes(b"not a profile")


def test_dataframe_with_an_unsupported_type(cargo_bin, tmp_path: Path):
    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "tags": [[1, 2], [3], []], "label": [0, 1, 0]})
    path = tmp_path / "lists.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    expected = cli_error(cargo_bin, "scan", path, "--label", "label")
    with pytest.raises(ScanError) as e:
        poisonscan.scan({"lists": df}, label="label")
    # The same message but for where the column is (a file, or the batches of a named source)
    # and how Arrow names the list's items (Parquet calls them `element`, pandas `item`).
    file_part = f"(in `{path}`)"
    assert file_part in expected
    assert e.value.hint == expected.partition("\nhint: ")[2]
    assert e.value.message.startswith("column `tags` has type List(Int64")
    assert e.value.message.endswith("(in the batches of `lists`), which poisonscan cannot profile")
    assert expected.partition("\nhint: ")[0].startswith("column `tags` has type List(Int64")


def test_skip_unsupported_lists_the_column_as_the_cli_does(cargo_bin, tmp_path: Path):
    import pandas as pd

    df = pd.DataFrame(
        {"x": [float(i) for i in range(40)], "tags": [[i] for i in range(40)], "label": [0, 1] * 20}
    )
    path = tmp_path / "lists.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    _, cli = cli_json(cargo_bin, path, "--label", "label", "--skip-unsupported")
    report = poisonscan.scan({"lists": df}, label="label", skip_unsupported=True).to_dict()
    for r in (cli, report):
        assert r["dataset"]["columns"] == 2
        assert r["dataset"]["input_columns"] == 3
        [left] = r["dataset"]["left_out"]
        assert (left["column"], left["status"]) == ("tags", "rejected")
        assert left["reason"].startswith("its type List(Int64")
    # A saved profile keeps the accounting.
    saved = poisonscan.profile({"lists": df}, label="label", skip_unsupported=True)
    again = poisonscan.scan({"lists": df}, baseline=saved, label="label", skip_unsupported=True)
    assert again.to_dict()["baseline"]["left_out"] == report["dataset"]["left_out"]


def test_dataframe_pyarrow_cannot_convert():
    import pandas as pd

    df = pd.DataFrame({"mixed": [1, "a", 2.5], "label": [0, 1, 0]})
    with pytest.raises(ScanError, match="`table`"):
        poisonscan.scan(df, label="label")


def test_sources_must_agree_on_their_columns():
    a = pa.table({"x": [1.0, 2.0], "label": [0, 1]})
    b = pa.table({"y": [1.0, 2.0], "label": [0, 1]})
    with pytest.raises(ScanError, match="column `x` is in `a` but not in `b`"):
        poisonscan.profile({"a": a, "b": b})


def test_not_data_is_a_type_error():
    with pytest.raises(TypeError, match=r"cannot read a builtins\.object"):
        poisonscan.scan(object())
    with pytest.raises(TypeError, match="merge takes Profiles"):
        poisonscan.merge(["x.psprof"])  # type: ignore[list-item]


def test_bad_settings():
    with pytest.raises(ScanError, match="fail_on"):
        poisonscan.scan(DEMO_CURRENT, fail_on="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ScanError, match="merge needs at least one profile"):
        poisonscan.merge([])
    p = poisonscan.profile(pa.table({"x": [1.0], "label": [0]}))
    with pytest.raises(ScanError, match="parts must hold disjoint sources"):
        poisonscan.merge([p, p])


def test_root_is_the_repository():
    assert (ROOT / "Cargo.toml").is_file()


def test_history_is_the_cli_history(cargo_bin: Path, tmp_path: Path) -> None:
    """`scan(history=...)` is `scan --history`: the same report, the last accepted night's
    findings marked with `against`, and a history folder without profiles a `ScanError`."""
    table = pq.read_table(ACS_2018)
    parts = [table.slice(i * 5000, 5000) for i in range(4)]
    for i, part in enumerate(parts):
        pq.write_table(part, tmp_path / f"part-{i}.parquet")
    nights = tmp_path / "nights"
    nights.mkdir()
    for i in range(3):
        poisonscan.profile(tmp_path / f"part-{i}.parquet", **ACS).save(
            nights / f"2026-11-0{i + 1}.psprof"
        )
    # Tonight replays the last accepted night's file.
    tonight = tmp_path / "tonight.parquet"
    tonight.write_bytes((tmp_path / "part-2.parquet").read_bytes())
    report = poisonscan.scan(tonight, history=[nights], fail_on="never", **ACS)
    code, cli = cli_json(
        cargo_bin,
        tonight,
        "--history",
        nights,
        "--label",
        "label",
        "--exclude",
        "year",
        "--fail-on",
        "never",
    )
    assert code == 0
    assert without_run(report.to_dict()) == without_run(cli)
    replayed = [f for f in report.findings if f.code == "INT002"]
    assert [f.against for f in replayed] == ["2026-11-03"]
    assert all(f.against is None for f in report.findings if f.code != "INT002")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScanError, match="holds no saved profile"):
        poisonscan.scan(tonight, history=[empty], **ACS)
