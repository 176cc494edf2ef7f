#!/usr/bin/env bash
# Nightly scan: profile tonight's data, compare it with the last known-good profile, keep a dated
# history of profiles and reports, and write the trend of the main statistics over the history.
#
#   docs/nightly.sh DATA HISTORY CONFIG
#
# DATA     tonight's files (a folder, a file or a quoted glob)
# HISTORY  where the history lives: HISTORY/YYYY-MM-DD.psprof (one per night),
#          HISTORY/known-good.psprof (the last night that passed the gate),
#          HISTORY/reports/YYYY-MM-DD/ (report.json, report.md, junit.xml, trend.md)
# CONFIG   poisonscan.toml (label, id, fail-on, thresholds, allowlist)
#
# Exit code: poisonscan's (0 passed, 1 the gate failed, 2 the scan could not run). A night that
# fails keeps its profile in the history but does not become the known-good profile. The first
# night has nothing to compare with and becomes the known-good profile. POISONSCAN_DAY overrides
# the date (UTC today by default).
set -euo pipefail
data="$1"
history="$2"
config="$3"
day="${POISONSCAN_DAY:-$(date -u +%F)}"
reports="$history/reports/$day"
good="$history/known-good.psprof"
mkdir -p "$reports"

poisonscan profile "$data" --config "$config" -o "$history/$day.psprof" --quiet

status=0
if [ -f "$good" ]; then
    poisonscan scan "$data" --baseline "$good" --config "$config" --out "$reports" --quiet \
        > "$reports/summary.txt" || status=$?
    cat "$reports/summary.txt"
else
    echo "no known-good profile yet: $day becomes the reference"
fi
if [ "$status" -eq 0 ]; then
    cp "$history/$day.psprof" "$good"
fi

# The trend over every dated profile (dated names sort by date), against the oldest.
poisonscan trend "$history"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].psprof --format markdown \
    > "$reports/trend.md"
poisonscan trend "$history"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].psprof
exit "$status"
