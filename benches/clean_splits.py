"""False alarms on clean data: random halves of every real set (reports/clean-splits.md).

For each set in the real-data folder (default ../shared/datasets/real, one Parquet file per
folder with a `label` column), SEEDS random halves (numpy's default_rng(1000 + seed), each row
in the current half with probability 1/2) are scanned, the current half against the other as
the baseline, with `--label label`. A medium or high finding on such a pair is a false alarm:
both halves are one sample. Printed: per set, the rows, the pairs scanned and the loud
findings; then each (set, code, severity) with its count and one example title.

The label's type is left to auto (a numeric label with more than 64 values is a numeric target;
the report's `dataset.label_type` is printed). A set whose label is a number with 3 to 64 values
(a rating, a grade) is also scanned as a numeric target (`--label-type numeric`), as a second
entry. A set poisonscan refuses is reported as such, with the first line of its message.

With `--small-files` the current half is shuffled and written as a folder of files: files of 3,
5, 10 and 25 rows, then the rest in three files with row groups of 10,000 rows, so that the
checks that judge a handful of rows in their own file or row group (INT002, DUP001, OUT001) are
tried on fresh rows delivered that way.

Usage (from the repository's root, with a release build and a venv holding numpy and pyarrow):

    cargo build --release
    /tmp/psvenv/bin/python benches/clean_splits.py [--seeds 20] [--data DIR] [--sets a,b]
        [--small-files]

POISONSCAN_BIN names the binary (default target/release/poisonscan). The halves are written
under bench-data/clean-splits/ (not committed) and reused.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from real_sets import real_set_files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--data", default="../shared/datasets/real")
    ap.add_argument("--sets", default="", help="comma-separated folder names (default: all)")
    ap.add_argument(
        "--small-files",
        action="store_true",
        help="write the current half as files of 3, 5, 10 and 25 rows and three large ones",
    )
    args = ap.parse_args()
    binary = os.environ.get("POISONSCAN_BIN", "target/release/poisonscan")
    wanted = {s for s in args.sets.split(",") if s}
    loud: collections.Counter[tuple[str, str, str]] = collections.Counter()
    example: dict[tuple[str, str], str] = {}
    for set_name, file in real_set_files(Path(args.data), wanted):
        table = pq.read_table(file)
        if "label" not in table.column_names:
            print(f"{set_name}: no `label` column, skipped")
            continue
        out = Path("bench-data/clean-splits") / set_name
        out.mkdir(parents=True, exist_ok=True)
        variants: list[tuple[str, list[str]]] = [(set_name, [])]
        label = table.column("label")
        distinct = len(label.unique())
        numeric = pa.types.is_integer(label.type) or pa.types.is_floating(label.type)
        if numeric and 3 <= distinct <= 64:
            variants.append((f"{set_name} (numeric)", ["--label-type", "numeric"]))
        for name, extra in variants:
            count, refused, label_type = 0, "", ""
            for seed in range(args.seeds):
                a, b = out / f"a{seed}.parquet", out / f"b{seed}.parquet"
                if not a.exists() or not b.exists():
                    mask = np.random.default_rng(1000 + seed).random(table.num_rows) < 0.5
                    pq.write_table(table.filter(mask), a)
                    pq.write_table(table.filter(~mask), b)
                if args.small_files:
                    a = write_parts(a, out / f"a{seed}-parts")
                flags = ["--label", "label", "--no-config", "--fail-on", "never", "--quiet", *extra]
                run = subprocess.run(
                    [binary, "scan", str(a), "--baseline", str(b), *flags, "--format", "json"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if run.returncode != 0:
                    refused = run.stderr.strip().splitlines()[0]
                    break
                report = json.loads(run.stdout)
                label_type = report["dataset"].get("label_type") or ""
                for f in report["findings"]:
                    if f["severity"] in ("medium", "high"):
                        count += 1
                        loud[(name, f["code"], f["severity"])] += 1
                        example.setdefault((name, f["code"]), f["title"])
            if refused:
                print(f"{name}: {table.num_rows} rows, not scanned: {refused}")
            else:
                pairs = f"{args.seeds} pairs"
                print(
                    f"{name}: {table.num_rows} rows, label {label_type}, {pairs}, "
                    f"{count} loud findings"
                )
    for (name, code, severity), n in sorted(loud.items()):
        print(f"  {name} {code} {severity}: {n} (e.g. {example[(name, code)][:140]})")


def write_parts(half: Path, folder: Path) -> Path:
    """The current half, shuffled, as files of 3, 5, 10 and 25 rows, then three files of the
    rest."""
    if folder.exists():
        return folder
    table = pq.read_table(half)
    # The sets are stored in an order (some sorted by label): the files get random rows.
    table = table.take(np.random.default_rng(7).permutation(table.num_rows))
    folder.mkdir()
    at, k = 0, 0
    for n in (3, 5, 10, 25):
        pq.write_table(table.slice(at, n), folder / f"part-{k}.parquet")
        at, k = at + n, k + 1
    rest = table.num_rows - at
    for i in range(3):
        lo, hi = at + rest * i // 3, at + rest * (i + 1) // 3
        pq.write_table(
            table.slice(lo, hi - lo), folder / f"part-{k}.parquet", row_group_size=10_000
        )
        k += 1
    return folder


if __name__ == "__main__":
    main()
