"""What OUT002's joint model costs a scan: the same scan with OUT002 on and off, alternated.

    cargo build --release
    python3 benches/joint_cost.py CURRENT BASELINE [--runs 5] [--label label]

Each run is one `poisonscan scan CURRENT --baseline BASELINE --label LABEL --format json` with
POISONSCAN_TIMINGS=1, once with the default checks and once with a config file that turns
OUT002 off, in alternation (the machine is shared and noisy: each pair is measured close
together). Prints the medians of the wall time and of the row pass's phase (which includes the
models' fits), and their ratios on to off, as a Markdown table for reports/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def run(binary: str, args: list[str]) -> tuple[float, float]:
    env = dict(os.environ, POISONSCAN_TIMINGS="1")
    t = time.perf_counter()
    p = subprocess.run([binary, *args], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({p.returncode}): {p.stderr.strip()[:400]}")
    row_pass = sum(
        float(line.split()[3])
        for line in p.stderr.splitlines()
        if line.startswith("timing: row pass ")
    )
    return wall, row_pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("current")
    ap.add_argument("baseline")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--label", default="label")
    args = ap.parse_args()
    binary = os.environ.get("POISONSCAN_BIN", "target/release/poisonscan")
    with tempfile.TemporaryDirectory() as tmp:
        off = Path(tmp) / "poisonscan.toml"
        off.write_text("[checks.OUT002]\nenabled = false\n")
        common = [
            "scan",
            args.current,
            "--baseline",
            args.baseline,
            "--label",
            args.label,
            "--format",
            "json",
            "--fail-on",
            "never",
            "--quiet",
        ]
        on_runs, off_runs = [], []
        for _ in range(args.runs):
            on_runs.append(run(binary, [*common, "--no-config"]))
            off_runs.append(run(binary, [*common, "--config", str(off)]))
    med = [statistics.median(x) for x in zip(*on_runs)] + [
        statistics.median(x) for x in zip(*off_runs)
    ]
    print("| | wall s (median) | row pass s (median) |")
    print("|---|---:|---:|")
    print(f"| OUT002 on | {med[0]:.2f} | {med[1]:.2f} |")
    print(f"| OUT002 off | {med[2]:.2f} | {med[3]:.2f} |")
    print(f"| on / off | {med[0] / med[2]:.2f} | {med[1] / max(med[3], 1e-9):.2f} |")
    print(f"\n{args.runs} runs each, alternated.")


if __name__ == "__main__":
    main()
