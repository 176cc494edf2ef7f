"""Shared fixtures: the repository's data and the cargo-built binary the wheel is compared with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_CURRENT = ROOT / "datasets/demo/current"
DEMO_BASELINE = ROOT / "datasets/demo/baseline"
ACS_2015 = ROOT / "datasets/real/acs_ma_2015.parquet"
ACS_2018 = ROOT / "datasets/real/acs_ma_2018.parquet"
DEMO_ARGS = ["--label", "label", "--id", "customer_id"]
ACS_ARGS = ["--label", "label", "--exclude", "year"]


def _cargo_binary() -> Path:
    explicit = os.environ.get("POISONSCAN_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "poisonscan"
        if candidate.is_file():
            return candidate
    raise RuntimeError("no cargo-built poisonscan: run `cargo build` first, or set POISONSCAN_BIN")


@pytest.fixture(scope="session")
def cargo_bin() -> Path:
    """The binary `cargo build` made (`.ci/run` sets POISONSCAN_BIN)."""
    return _cargo_binary()


@pytest.fixture(scope="session")
def wheel_bin() -> Path:
    """The `poisonscan` command the wheel installed into this environment."""
    found = shutil.which("poisonscan", path=str(Path(sys.executable).parent))
    assert found is not None, "the wheel installed no `poisonscan` command"
    return Path(found)


def run(binary: Path, *args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def without_run(report: dict[str, Any]) -> dict[str, Any]:
    """A report without `run` (start time, duration, threads): the part inputs decide."""
    return {k: v for k, v in report.items() if k != "run"}


def cli_json(binary: Path, *args: object, cwd: Path = ROOT) -> tuple[int, dict[str, Any]]:
    p = run(binary, "scan", *args, "--format", "json", "--quiet", cwd=cwd)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)


def cli_error(binary: Path, *args: object) -> str:
    """The command line's error message (`error: …` on stderr, exit code 2)."""
    p = run(binary, *args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("error: "), p.stderr
    return p.stderr[len("error: ") :].rstrip("\n")
