#!/usr/bin/env bash
# Regenerates docs/metrics-ui.png (shown in the README): runs the quickstart with
# synthetic traffic, keeps the live page open in headless Chromium for real seconds
# (default 75) and saves what it shows. Needs chromium and python3.
#   scripts/screenshot.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-75}"
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --example quickstart
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
"$target/debug/examples/quickstart" --port "$port" --traffic 60 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "serving until" "$log" && break; sleep 0.1; done
grep -q "serving until" "$log" || { cat "$log"; exit 1; }
mkdir -p docs
python3 scripts/cdp_screenshot.py "http://127.0.0.1:$port/metrics/ui" docs/metrics-ui.png \
  --seconds "$seconds" --width 1280 --height 1040
echo "wrote docs/metrics-ui.png"
