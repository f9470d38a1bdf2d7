#!/usr/bin/env bash
# Browser check of capsim's HTML report: generates the quickstart report, loads it in headless
# Chromium, fails unless every expected chart is in the rendered DOM as an <svg> element, and
# saves a screenshot.
#
#   tests/browser/check.sh [SCREENSHOT.png]      (default: target/browser/quickstart-report.png)
#
# Installs Debian's chromium with apt-get when no chromium is on PATH (needs root).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
shot="${1:-target/browser/quickstart-report.png}"
case "$shot" in /*) ;; *) shot="$root/$shot" ;; esac
work="$root/target/browser"
mkdir -p "$work" "$(dirname "$shot")"

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
  echo "check.sh: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
  browser=chromium
fi

cargo build --release --quiet
./target/release/capsim run scenarios/quickstart.toml --out "$work/quickstart" --report >/dev/null
report="$work/quickstart/report.html"

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions)
dom="$work/quickstart.dom.html"
"$browser" "${flags[@]}" --dump-dom "file://$report" >"$dom" 2>"$work/chromium.log"

status=0
for id in traffic replicas latency gpus cost-rate cost-total; do
  n=$(grep -o "<svg id=\"chart-$id\"" "$dom" | wc -l)
  if [ "$n" -ne 1 ]; then
    echo "check.sh: chart-$id: expected 1 <svg> element in the rendered DOM, found $n"
    status=1
  fi
done
total=$(grep -o '<svg ' "$dom" | wc -l)
if [ "$total" -ne 6 ]; then
  echo "check.sh: expected 6 <svg> elements in the rendered DOM, found $total"
  status=1
fi
if grep -q -E '(src|href)="https?:' "$dom"; then
  echo "check.sh: the report loads something from the network"
  status=1
fi
[ "$status" -eq 0 ] || exit "$status"

"$browser" "${flags[@]}" --window-size=1280,2000 --screenshot="$shot" "file://$report" \
  >>"$work/chromium.log" 2>&1
if [ ! -s "$shot" ]; then
  echo "check.sh: no screenshot written to $shot"
  exit 1
fi
echo "check.sh: ok: 6 charts rendered as <svg> in $browser; screenshot $shot"
