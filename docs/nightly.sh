#!/usr/bin/env bash
# Nightly scan: profile tonight's data, compare it with the anchored trusted profile, with the
# last accepted night and with the whole history of accepted nights (a sequential test that
# catches a change creeping a little every night: DRF005), keep a dated history of profiles and
# reports, and write the trend of the main statistics over the history.
#
#   docs/nightly.sh DATA HISTORY CONFIG
#
# DATA     tonight's files (a folder, a file or a quoted glob)
# HISTORY  where the history lives:
#          HISTORY/anchor.psprof              the anchored trusted profile: the first night's,
#                                             until a person replaces it with one they vetted
#                                             (a signed one, with baseline-pubkey in CONFIG)
#          HISTORY/nights/YYYY-MM-DD.psprof   every night's profile
#          HISTORY/accepted/YYYY-MM-DD.psprof the nights that passed the gate, oldest first
#          HISTORY/reports/YYYY-MM-DD/        report.json, report.md, report.html, junit.xml,
#                                             summary.txt, trend.md (every night against the
#                                             anchor)
# CONFIG   poisonscan.toml (label, id, fail-on, thresholds, allowlist)
#
# Exit code: poisonscan's (0 passed, 1 the gate failed, 2 the scan could not run). A night that
# fails keeps its profile in nights/ but is not accepted: the history it is tested against holds
# only accepted nights, so a creeping attack is not absorbed into it. The first night has nothing
# to compare with and becomes the anchor. POISONSCAN_DAY overrides the date (UTC today by
# default).
set -euo pipefail
data="$1"
history="$2"
config="$3"
day="${POISONSCAN_DAY:-$(date -u +%F)}"
reports="$history/reports/$day"
anchor="$history/anchor.psprof"
mkdir -p "$reports" "$history/nights" "$history/accepted"

poisonscan profile "$data" --config "$config" -o "$history/nights/$day.psprof" --quiet

status=0
if [ -f "$anchor" ]; then
    # The accepted nights so far (none on the second night: then the anchor alone).
    accepted=("$history"/accepted/*.psprof)
    with_history=()
    if [ -e "${accepted[0]}" ]; then
        with_history=(--history "$history/accepted")
    fi
    poisonscan scan "$data" --baseline "$anchor" "${with_history[@]}" --config "$config" \
        --out "$reports" --quiet > "$reports/summary.txt" || status=$?
    cat "$reports/summary.txt"
else
    echo "no anchored trusted profile yet: $day becomes the anchor"
    cp "$history/nights/$day.psprof" "$anchor"
fi
if [ "$status" -eq 0 ] && [ -f "$reports/summary.txt" ]; then
    cp "$history/nights/$day.psprof" "$history/accepted/$day.psprof"
fi

# The trend of every night (accepted or not) against the anchor, with DRF005's series.
poisonscan trend "$history"/nights/*.psprof --reference "$anchor" --format markdown \
    > "$reports/trend.md"
poisonscan trend "$history"/nights/*.psprof --reference "$anchor"
exit "$status"
