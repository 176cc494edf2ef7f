"""The Python package's costs, for reports/python.md: the wheel's size, `import poisonscan`'s
time, and a scan from Python against the cargo-built command on the same 1M-row Parquet file.

Run it with the Python of a virtual environment the wheel is installed in (with pyarrow and
pandas), after `cargo bench --bench e2e -- 1000000` has written bench-data/:

    POISONSCAN_BIN=$CARGO_TARGET_DIR/release/poisonscan \\
        VENV/bin/python benches/python.py --wheel target/wheels/poisonscan-*.whl --runs 5

Every variant runs once per round, in turn, so that the machine's noise falls on all of them
alike; the table gives medians and each variant's ratio to the command line's median of the
same run. The scan is the e2e bench's: the data against a baseline profile of another synthetic
set, with `--label label`, the JSON report written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def timed(f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()

    import pyarrow.parquet as pq

    import poisonscan

    data = ROOT / f"bench-data/synthetic_{args.rows}.parquet"
    # The labelled baseline profile of the newest format the e2e bench wrote
    # (`synthetic_base_N.vK.psprof`; older formats no longer load).
    profiles = (ROOT / "bench-data").glob(f"synthetic_base_{args.rows}.v*.psprof")
    baseline = max(profiles, key=lambda p: int(p.name.rsplit(".v", 1)[1].split(".")[0]))
    cargo_bin = os.environ["POISONSCAN_BIN"]
    wheel_bin = str(Path(sys.executable).parent / "poisonscan")
    cli_args = ["scan", str(data), "--baseline", str(baseline), "--label", "label"]
    cli_args += ["--format", "json", "--quiet", "--fail-on", "never"]

    # Import time: a fresh interpreter importing poisonscan, against one that imports nothing.
    imports: dict[str, list[float]] = {"python -c pass": [], "python -c 'import poisonscan'": []}
    for _ in range(10):
        imports["python -c pass"].append(timed(lambda: run([sys.executable, "-c", "pass"])))
        imports["python -c 'import poisonscan'"].append(
            timed(lambda: run([sys.executable, "-c", "import poisonscan"]))
        )

    table = pq.read_table(data)
    frame = table.to_pandas()

    def api(d: object) -> Callable[[], object]:
        return lambda: poisonscan.scan(
            d, baseline=baseline, label="label", fail_on="never"
        ).to_json()

    variants: dict[str, Callable[[], object]] = {
        "cargo-built `poisonscan scan` (reference)": lambda: run([cargo_bin, *cli_args]),
        "the wheel's `poisonscan scan`": lambda: run([wheel_bin, *cli_args]),
        "`scan(path)`": api(str(data)),
        "`scan(pyarrow_table)` (table already read)": api(table),
        "`scan(pandas_df)` (DataFrame already read)": api(frame),
        "`pq.read_table(path)` (for comparison)": lambda: pq.read_table(data),
        "`pq.read_table(path).to_pandas()` (for comparison)": lambda: pq.read_table(
            data
        ).to_pandas(),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.runs):
        for name, f in variants.items():
            times[name].append(timed(f))

    ref = statistics.median(times["cargo-built `poisonscan scan` (reference)"])
    print(f"Command: `{' '.join(sys.argv)}`\n")
    print(f"Wheel: `{args.wheel.name}`, {args.wheel.stat().st_size / 1e6:.1f} MB\n")
    print("| import | median s (10 runs) |\n|---|---|")
    for name, ts in imports.items():
        print(f"| `{name}` | {statistics.median(ts):.3f} |")
    base = statistics.median(imports["python -c pass"])
    imp = statistics.median(imports["python -c 'import poisonscan'"])
    print(f"\n`import poisonscan` adds {1000 * (imp - base):.0f} ms.\n")
    print(f"Scan of {args.rows:,} rows ({data.name}, against {baseline.name}, --label label):\n")
    print(f"| variant | median s ({args.runs} runs) | ratio to the cargo-built command |")
    print("|---|---|---|")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {m:.3f} | {m / ref:.3f} |")


if __name__ == "__main__":
    main()
