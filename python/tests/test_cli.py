"""The wheel's `poisonscan` command is the cargo-built command: same reports, same exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    ACS_2015,
    ACS_2018,
    ACS_ARGS,
    DEMO_ARGS,
    DEMO_BASELINE,
    DEMO_CURRENT,
    cli_error,
    cli_json,
    run,
    without_run,
)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([DEMO_CURRENT, "--baseline", DEMO_BASELINE, *DEMO_ARGS], id="demo"),
        pytest.param([ACS_2018, "--baseline", ACS_2015, *ACS_ARGS], id="acs-2018-vs-2015"),
    ],
)
def test_same_report_and_exit_code_as_the_cargo_binary(cargo_bin, wheel_bin, args):
    cargo_code, cargo_report = cli_json(cargo_bin, *args)
    wheel_code, wheel_report = cli_json(wheel_bin, *args)
    assert wheel_code == cargo_code
    assert without_run(wheel_report) == without_run(cargo_report)
    assert wheel_report["findings"], "the comparison needs findings to compare"


def test_demo_gate_fails_with_exit_code_1(wheel_bin):
    p = run(wheel_bin, "scan", DEMO_CURRENT, "--baseline", DEMO_BASELINE, *DEMO_ARGS, "--quiet")
    assert p.returncode == 1
    assert "verdict: FAIL" in p.stdout


def test_out_dir_files_match(cargo_bin, wheel_bin, tmp_path: Path):
    for name, binary in (("cargo", cargo_bin), ("wheel", wheel_bin)):
        p = run(
            binary,
            "scan",
            DEMO_CURRENT,
            "--baseline",
            DEMO_BASELINE,
            *DEMO_ARGS,
            "--fail-on",
            "never",
            "--quiet",
            "--out",
            tmp_path / name,
            "--rows-out",
            tmp_path / f"{name}-rows.parquet",
        )
        assert p.returncode == 0, p.stderr
    for f in ("report.md", "junit.xml"):
        assert (tmp_path / "wheel" / f).read_text() == (tmp_path / "cargo" / f).read_text(), f
    wheel = json.loads((tmp_path / "wheel/report.json").read_text())
    cargo = json.loads((tmp_path / "cargo/report.json").read_text())
    assert without_run(wheel) == without_run(cargo)
    assert (tmp_path / "wheel-rows.parquet").read_bytes() == (
        tmp_path / "cargo-rows.parquet"
    ).read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["scan", "no/such/dir", "--label", "label"], id="missing-path"),
        pytest.param(["scan", DEMO_CURRENT, "--label", "no_such_column"], id="wrong-label"),
        pytest.param(["scan", DEMO_CURRENT, "--fail-on", "sometimes"], id="usage"),
        pytest.param(["explain", "XYZ999"], id="unknown-code"),
    ],
)
def test_errors_are_the_same(cargo_bin, wheel_bin, args):
    p_cargo = run(cargo_bin, *args)
    p_wheel = run(wheel_bin, *args)
    assert p_wheel.returncode == p_cargo.returncode == 2
    assert p_wheel.stderr == p_cargo.stderr
    assert p_wheel.stdout == p_cargo.stdout


def test_version_help_and_schema(cargo_bin, wheel_bin):
    for args in (["--version"], ["--help"], ["schema", "rows"], ["explain", "TRG001"]):
        p_cargo, p_wheel = run(cargo_bin, *args), run(wheel_bin, *args)
        assert p_wheel.returncode == p_cargo.returncode == 0, args
        assert p_wheel.stdout == p_cargo.stdout, args


def test_python_m_poisonscan(cargo_bin):
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "poisonscan", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0
    assert p.stdout == run(cargo_bin, "--version").stdout


def test_cli_error_helper_reads_the_message(cargo_bin):
    message = cli_error(cargo_bin, "scan", "no/such/dir")
    assert message.startswith("input `no/such/dir` does not exist")


def test_arguments_that_are_not_utf8(cargo_bin, wheel_bin):
    import subprocess

    args = [b"scan", b"/tmp/\xff-no-such.parquet", b"--label", b"label"]
    p_cargo = subprocess.run([bytes(cargo_bin), *args], capture_output=True, check=False)
    p_wheel = subprocess.run([bytes(wheel_bin), *args], capture_output=True, check=False)
    assert p_wheel.returncode == p_cargo.returncode == 2
    assert p_wheel.stderr == p_cargo.stderr
