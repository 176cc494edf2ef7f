#!/usr/bin/env bash
# Before/after timing of CSV block planning (reports/csv-record-scan.md): `poisonscan profile`
# on two generated CSV files, a 19 MB one (one block; now also scanned for an unclosed quote)
# and a 93 MB one (three blocks), alternating the binary before and after, 7 runs each.
# Usage: benches/csv/record_scan.sh OLD_BINARY NEW_BINARY PYTHON (with numpy and pandas)
set -euo pipefail
old=$1 new=$2 py=$3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" - "$work" <<'PY'
import sys
import numpy as np
import pandas as pd
rng = np.random.default_rng(0)
n = 2_000_000
pd.DataFrame({
    "a": rng.normal(size=n).round(4), "b": rng.integers(0, 1000, n),
    "c": rng.exponential(size=n).round(3), "d": rng.choice(["red", "green", "blue", "x y", "q,z"], n),
    "e": rng.normal(size=n).round(2), "f": rng.integers(0, 10**6, n),
    "g": rng.choice(["alpha", 'beta "quoted"', "gamma"], n), "label": rng.integers(0, 2, n),
}).to_csv(f"{sys.argv[1]}/2m.csv", index=False)
PY
head -n 400000 "$work/2m.csv" > "$work/400k.csv"
for f in 400k 2m; do
  for _ in 1 2 3 4 5 6 7; do
    for which in old new; do
      bin=${!which}
      s=$(date +%s.%N)
      "$bin" profile "$work/$f.csv" --label label --no-config -q -o "$work/p.psprof" --threads 2
      e=$(date +%s.%N)
      echo "$f $which $(echo "$e - $s" | bc)"
      rm -f "$work/p.psprof"
    done
  done
done
