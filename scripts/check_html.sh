#!/usr/bin/env bash
# Render an HTML report in headless Chromium and check it in the browser: the page loads with no
# request outside the file, every chart has a size on screen, nothing is wider than the window,
# and the numbers of figures, bars and findings are the ones the report holds. Writes a
# screenshot. Needs the Debian package `chromium`.
#
#   scripts/check_html.sh REPORT.html [SCREENSHOT.png] [WIDTHxHEIGHT]
#
# Exit code 0 when every check holds; the failures are printed otherwise.
set -euo pipefail
report=$(realpath "$1")
shot=${2:-}
size=${3:-1280,2400}
size=${size/x/,}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "check_html: no chromium on PATH (Debian: apt-get install chromium)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --user-data-dir="$work/profile" --window-size="$size")
# The checks run in a copy of the report with a script added; the report itself has none.
cp "$report" "$work/page.html"
python3 - "$work/page.html" <<'PY'
import sys
path = sys.argv[1]
page = open(path, encoding="utf-8").read()
check = r"""<script>
window.addEventListener('load', () => {
  const fail = [];
  const sections = {};
  for (const s of document.querySelectorAll('section[id]')) sections[s.id] = Math.round(s.getBoundingClientRect().top + window.scrollY);
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1)
    fail.push('the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + vw + ' px window');
  for (const el of document.querySelectorAll('details')) el.open = true;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 && !Array.from(el.children).some(c => c.getBoundingClientRect().right > vw + 1))
      fail.push('wider than the window with every finding open: ' + el.tagName + ' ' + el.textContent.slice(0, 80));
  }
  for (const svg of document.querySelectorAll('svg')) {
    const r = svg.getBoundingClientRect();
    if (r.width < 100 || r.height < 40) fail.push('a chart is not drawn: ' + svg.getAttribute('aria-label'));
  }
  for (const rect of document.querySelectorAll('svg rect')) {
    const w = Number(rect.getAttribute('width'));
    if (w > 0 && rect.getBoundingClientRect().width <= 0) fail.push('a bar has no width on screen');
  }
  const res = performance.getEntriesByType('resource').map(e => e.name);
  if (res.length) fail.push('the page fetched: ' + res.join(' '));
  const count = s => document.querySelectorAll(s).length;
  const out = document.createElement('pre');
  out.id = 'poisonscan-check';
  out.textContent = JSON.stringify({
    fail: fail.slice(0, 20),
    findings: count('details.finding'),
    drift_charts: count('#drift figure svg'),
    histograms: count('#scores svg'),
    bars: count('svg rect.bar'),
    bins: count('svg rect.bin'),
    height: document.documentElement.scrollHeight,
    sections,
  });
  document.body.appendChild(out);
});
</script>"""
open(path, "w", encoding="utf-8").write(page.replace("</body>", check + "</body>"))
PY
timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$work/page.html" 2>/dev/null > "$work/dom.html"
python3 - "$work/dom.html" "$report" <<'PY'
import html, json, os, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="poisonscan-check">(.*?)</pre>', dom, re.S)
if not m:
    sys.exit("check_html: the page did not finish loading in chromium")
got = json.loads(html.unescape(m.group(1)))
# The JSON report beside it (as `--out DIR` writes them), when there is one.
twin = re.sub(r"\.html$", ".json", sys.argv[2])
report = json.load(open(twin)) if twin != sys.argv[2] and os.path.exists(twin) else None
fail = list(got["fail"])
if report is not None:
    want = len(report["findings"])
    if got["findings"] != want:
        fail.append(f"{got['findings']} findings shown, the JSON report has {want}")
    if report.get("scores") and got["histograms"] != 2:
        fail.append(f"{got['histograms']} score histograms, want 2")
    if report.get("scores") and got["bins"] != 2 * report["scores"]["bins"]:
        fail.append(f"{got['bins']} histogram bins drawn, want {2 * report['scores']['bins']}")
print(json.dumps(got))
if fail:
    print("\n".join("FAIL: " + f for f in fail))
    sys.exit(1)
print("check_html: ok")
PY
if [ -n "$shot" ]; then
    timeout 120 "$browser" "${flags[@]}" --screenshot="$(realpath -m "$shot")" "file://$report" 2>/dev/null >/dev/null
    echo "screenshot: $shot"
fi
