#!/usr/bin/env bash
# Before/after timing of `poisonscan scan` on one current/baseline pair: the two binaries
# alternate, RUNS times each, and the median of each is printed with their ratio (new / old),
# so that the machine's noise falls on both alike.
# Usage: benches/ab_scan.sh OLD_BINARY NEW_BINARY CURRENT BASELINE [RUNS=7] [SCAN FLAGS...]
# (default flags: --label label --no-config; each run writes its JSON report to a temp file).
set -euo pipefail
old=$1 new=$2 cur=$3 base=$4 runs=${5:-7}
shift $(( $# < 5 ? $# : 5 ))
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(--label label --no-config)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for _ in $(seq 1 "$runs"); do
  for which in old new; do
    bin=${!which}
    s=$(date +%s.%N)
    "$bin" scan "$cur" --baseline "$base" "${flags[@]}" --format json --fail-on never --quiet \
      > "$work/report.json"
    e=$(date +%s.%N)
    echo "$which $(echo "$e - $s" | bc)" >> "$work/times"
  done
done
median() { grep "^$1 " "$work/times" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
o=$(median old) n=$(median new)
echo "old median ${o}s, new median ${n}s, ratio $(echo "scale=3; $n / $o" | bc)"
