#!/usr/bin/env bash
# Screenshots of an HTML report, one per section, for reports/html/: checks the report in
# headless Chromium (scripts/check_html.sh), takes one tall screenshot and cuts it at the
# sections. Needs chromium and a python with Pillow (a scratch venv: PYTHON=/path/to/python).
#
#   scripts/html_screenshots.sh REPORT.html OUT_PREFIX [SECTION...]
#
# writes OUT_PREFIX-SECTION.png for each section (default: summary drift scores evidence).
set -euo pipefail
here=$(dirname "$0")
report=$1
prefix=$2
shift 2
sections=("${@:-summary drift scores evidence}")
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/check_html.sh" "$report" "$work/tall.png" 1280x12000 | tee "$work/check.txt"
"$py" - "$work/tall.png" "$prefix" "$work/check.txt" ${sections[*]} <<'PY'
import json, sys
from PIL import Image
tall, prefix, check, *wanted = sys.argv[1:]
got = json.loads(open(check).readline())
tops = sorted(got["sections"].items(), key=lambda kv: kv[1])
im = Image.open(tall)
for name in wanted:
    if name not in got["sections"]:
        print(f"no section {name}")
        continue
    top = got["sections"][name]
    later = [t for _, t in tops if t > top]
    # The header and the verdict banner go with the summary.
    start = 0 if name == "summary" else max(top - 10, 0)
    end = min(later[0] if later else im.height, start + 1800, im.height)
    if start >= im.height:
        print(f"{name} starts below the screenshot")
        continue
    out = f"{prefix}-{name}.png"
    im.crop((0, start, im.width, end)).save(out, optimize=True)
    print(out)
PY
