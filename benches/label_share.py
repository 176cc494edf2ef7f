"""A class that stops arriving: DRF003 on every real set (reports/drift-real.md).

For each real set with a class label, and each of SEEDS random halves (the halves
`benches/clean_splits.py` writes, numpy's default_rng(1000 + seed)), the current half loses a
share of the rows of its rarest class (the baseline has at least 30 of them): all, 90%, 50% or
20% (the rows dropped chosen by default_rng(seed)). Each is scanned against the other half, as
`clean_splits.py` scans, and DRF003's severity and effect are printed, per build when OLD is
given. The unchanged halves are the control.

A pipeline that stopped delivering a class, or labels that arrive late for the rare class, look
like this. Whether that should block retraining is the severity policy's call; this measures what
each build says.

Usage (from the repository's root, with release builds and a venv holding numpy and pyarrow):

    POISONSCAN_BIN=new/poisonscan [POISONSCAN_OLD=old/poisonscan] \\
        /tmp/psvenv/bin/python benches/label_share.py [--seeds 5] [--data DIR] [--sets a,b]
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
import pyarrow.compute as pc
import pyarrow.parquet as pq
from real_sets import real_set_files

LOSSES = (0.0, 0.2, 0.5, 0.9, 1.0)


def drf003(binary: str, current: Path, baseline: Path) -> str:
    flags = ["--label", "label", "--no-config", "--fail-on", "never", "--quiet"]
    run = subprocess.run(
        [binary, "scan", str(current), "--baseline", str(baseline), *flags, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return "error: " + (run.stderr.strip().splitlines() or [""])[0]
    for f in json.loads(run.stdout)["findings"]:
        if f["code"] == "DRF003":
            e = f["effect"]
            return f"{f['severity']} ({e['name']} {e['value']:.3g})"
    return "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data", default="../shared/datasets/real")
    ap.add_argument("--sets", default="", help="comma-separated folder names (default: all)")
    args = ap.parse_args()
    builds = {"new": os.environ.get("POISONSCAN_BIN", "target/release/poisonscan")}
    if os.environ.get("POISONSCAN_OLD"):
        builds["old"] = os.environ["POISONSCAN_OLD"]
    tally: collections.Counter[tuple[str, float, str]] = collections.Counter()
    print(
        "| set | rarest class | its rows (current half) | rows lost | " + " | ".join(builds) + " |"
    )
    print("|---|---|---|---|" + "---|" * len(builds))
    for set_name, file in real_set_files(Path(args.data), {s for s in args.sets.split(",") if s}):
        table = pq.read_table(file)
        if "label" not in table.column_names:
            continue
        label = table.column("label")
        if pa.types.is_floating(label.type) or len(label.unique()) > 64:
            continue
        out = Path("bench-data/clean-splits") / set_name
        out.mkdir(parents=True, exist_ok=True)
        work = Path("bench-data/label-share") / set_name
        work.mkdir(parents=True, exist_ok=True)
        for seed in range(args.seeds):
            a, b = out / f"a{seed}.parquet", out / f"b{seed}.parquet"
            if not a.exists() or not b.exists():
                mask = np.random.default_rng(1000 + seed).random(table.num_rows) < 0.5
                pq.write_table(table.filter(mask), a)
                pq.write_table(table.filter(~mask), b)
            cur, base = pq.read_table(a), pq.read_table(b)
            counts = collections.Counter(base.column("label").to_pylist())
            rarest = min((c for c in counts if counts[c] >= 30), key=lambda c: (counts[c], str(c)))
            rows = np.flatnonzero(
                pc.equal(cur.column("label"), rarest).to_numpy(zero_copy_only=False)
            )
            order = np.random.default_rng(seed).permutation(rows)
            for loss in LOSSES:
                lost = round(loss * len(rows))
                keep = np.ones(cur.num_rows, dtype=bool)
                keep[order[:lost]] = False
                path = work / f"a{seed}-{loss}.parquet"
                pq.write_table(cur.filter(pa.array(keep)), path)
                said = {name: drf003(binary, path, b) for name, binary in builds.items()}
                for name, s in said.items():
                    tally[(name, loss, s.split(" ")[0])] += 1
                cells = " | ".join(said.values())
                print(f"| {set_name} s{seed} | `{rarest}` | {len(rows)} | {lost} | {cells} |")
    print()
    for (name, loss, severity), n in sorted(tally.items()):
        print(f"{name}: {loss:.0%} lost: {severity} {n}")


if __name__ == "__main__":
    main()
