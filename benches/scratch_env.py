"""The scratch Python environment a benchmark script runs itself in (the peers it measures are
installed there, never as dependencies of poisonscan)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def ensure_env(venv: Path, requirements: Path, flag: str, script: str) -> None:
    """Re-run `script` inside `venv`, creating it (or bringing it up to `requirements`) first.

    `flag` names the environment variable that marks the run inside the venv, where this
    returns at once."""
    if os.environ.get(flag) == "1":
        return
    py = venv / "bin" / "python"
    stamp = venv / "requirements.stamp"
    req = requirements.read_text()
    if not py.exists() or not stamp.exists() or stamp.read_text() != req:
        print(f"creating the scratch environment {venv}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "-r", str(requirements)],
            check=True,
        )
        stamp.write_text(req)
    env = dict(os.environ, **{flag: "1"})
    os.execve(str(py), [str(py), str(Path(script).resolve()), *sys.argv[1:]], env)
