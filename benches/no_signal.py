"""False alarms when no feature predicts the label (reports/labels.md).

For each of 1 and 2 noise features and seeds 0..5, numpy's default_rng(seed) draws a baseline
and a current half of 5,000 rows each: the features standard normal, the label 1 on 30% of the
rows at random. The current half is scanned against the baseline with `--label label`; every
medium or high finding is a false alarm (both halves are one sample, and nothing can be learnt).
Printed: per pair, its medium and high findings; then their total.

Usage (from the repository's root, with a venv holding numpy and pyarrow):

    cargo build --release
    /tmp/psvenv/bin/python benches/no_signal.py

POISONSCAN_BIN names the binary (default target/release/poisonscan). The pairs are written under
bench-data/no-signal/ (not committed).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    binary = os.environ.get("POISONSCAN_BIN", str(ROOT / "target" / "release" / "poisonscan"))
    work = ROOT / "bench-data" / "no-signal"
    loud_total = 0
    for features in (1, 2):
        for seed in range(6):
            rng = np.random.default_rng(seed)
            pair = work / f"f{features}-s{seed}"
            pair.mkdir(parents=True, exist_ok=True)
            for side in ("base", "cur"):
                n = 5000
                cols: dict[str, np.ndarray] = {f"x{j}": rng.normal(size=n) for j in range(features)}
                cols["label"] = (rng.random(n) < 0.3).astype("int8")
                pq.write_table(pa.table(cols), pair / f"{side}.parquet")
            out = subprocess.run(
                [
                    binary,
                    "scan",
                    str(pair / "cur.parquet"),
                    "--baseline",
                    str(pair / "base.parquet"),
                    "--label",
                    "label",
                    "--no-config",
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                    "--quiet",
                ],
                capture_output=True,
                check=True,
            ).stdout
            report = json.loads(out)
            loud = [
                f"{f['severity']} {f['code']}: {f['title']}"
                for f in report["findings"]
                if f["severity"] in ("medium", "high")
            ]
            loud_total += len(loud)
            print(f"{features} feature(s), seed {seed}: {len(loud)} loud")
            for line in loud:
                print(f"  {line}")
    print(f"medium or high findings in all: {loud_total}")


if __name__ == "__main__":
    main()
