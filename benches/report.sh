#!/usr/bin/env bash
# Runs every bench target of the workspace with shortened criterion times, then the
# allocation report, and writes BENCHMARKS.md from criterion's estimates.json medians.
# Every number in BENCHMARKS.md comes from this run; never edit that file by hand.
#
# Usage: benches/report.sh [output.md]     (default: BENCHMARKS.md at the repo root)
# Env:   CARGO_TARGET_DIR (criterion writes to $CARGO_TARGET_DIR/criterion),
#        BENCH_ARGS (criterion arguments; default "--warm-up-time 1 --measurement-time 2").
# Budget: about 6-8 minutes on 2 cores, plus compilation.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-$root/BENCHMARKS.md}"
target="${CARGO_TARGET_DIR:-$root/target}"
bench_args="${BENCH_ARGS:---warm-up-time 1 --measurement-time 2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

started_epoch="$(date +%s)"
started_utc="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== compiling bench targets" >&2
cargo bench --workspace --benches --no-run --message-format=json >"$work/build.json"

# The compiled executables are run directly (as `cargo bench` would, from their package
# directory): other work in the tree cannot trigger a rebuild halfway through the run.
python3 - "$work/build.json" >"$work/benches.tsv" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and "bench" in msg["target"]["kind"] and msg.get("executable"):
        print("\t".join([msg["target"]["name"], msg["executable"], os.path.dirname(msg["manifest_path"])]))
PY

# Marks the start of this run: only estimates written after it are reported.
touch "$work/stamp"
sleep 1
export CRITERION_HOME="$target/criterion"

failed=()
alloc_status="not run"
: >"$work/alloc.txt"
while IFS=$'\t' read -r bench exe dir; do
    # Not a criterion bench: the attack suite behind RELIABILITY.md (benches/reliability.sh).
    [[ "$bench" == "reliability" ]] && continue
    if [[ "$bench" == "alloc_report" ]]; then
        echo "== allocation report" >&2
        alloc_status=0
        (cd "$dir" && "$exe") >"$work/alloc.txt" 2>"$work/alloc.err" || alloc_status=$?
        continue
    fi
    echo "== $bench ($(date -u +%H:%M:%S))" >&2
    # shellcheck disable=SC2086 # bench_args is a list of words
    if ! (cd "$dir" && "$exe" --bench $bench_args) >"$work/$bench.log" 2>&1; then
        echo "   FAILED (log kept in the report)" >&2
        failed+=("$bench")
    fi
done <"$work/benches.tsv"

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
elapsed=$(( $(date +%s) - started_epoch ))
for f in "${failed[@]+"${failed[@]}"}"; do
    log="$work/$f.log"
    { echo "### $f failed"; echo '```'; tail -n 30 "$log"; echo '```'; } >>"$work/failures.md"
done
[[ -f "$work/failures.md" ]] || : >"$work/failures.md"

export REPORT_TARGET="$target" REPORT_WORK="$work" REPORT_OUT="$out" REPORT_STARTED="$started_utc" \
    REPORT_LOAD_BEFORE="$load_before" REPORT_LOAD_AFTER="$load_after" REPORT_ELAPSED="$elapsed" \
    REPORT_BENCH_ARGS="$bench_args" REPORT_ALLOC_STATUS="$alloc_status"
python3 "$root/benches/report.py"
echo "wrote $out in ${elapsed}s" >&2
