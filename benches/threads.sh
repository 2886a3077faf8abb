#!/usr/bin/env bash
# Throughput against thread count, as a markdown table: the engine's whole
# run (every output unless NO_CHARTS=1) at 1, 2, 4, ... threads, the best of
# ROUNDS runs each, with paths/s, the speed-up over one thread and the
# parallel efficiency (speed-up / threads).
#
#   benches/threads.sh [SCENARIO] [PATHS] [MAX_THREADS] [ROUNDS]
#
# Env: ENGINE (binary; default target/release/backlog-risk), NO_CHARTS=1.
# Needs only bash, date and awk beside the binary, so the release binary
# built here can be carried to a machine without a Rust toolchain:
#   ENGINE=./backlog-risk benches/threads.sh scenarios/openai-shift.toml 4000000 16
# The thread counts are the powers of two up to MAX_THREADS (default: the
# machine's cores), then MAX_THREADS itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-scenarios/openai-shift.toml}
PATHS=${2:-1000000}
MAX=${3:-$(nproc)}
ROUNDS=${4:-3}
ENGINE=${ENGINE:-target/release/backlog-risk}
[ -x "$ENGINE" ] || cargo build --release --quiet
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
extra=()
[ "${NO_CHARTS:-0}" = 1 ] && extra=(--no-charts)

counts=()
for ((t = 1; t < MAX; t *= 2)); do counts+=("$t"); done
counts+=("$MAX")

seconds() { # threads -> wall seconds of the fastest of ROUNDS runs
    local best="" t0 t1 s
    for _ in $(seq "$ROUNDS"); do
        t0=$(date +%s.%N)
        "$ENGINE" run "$SCENARIO" --paths "$PATHS" --threads "$1" --quiet "${extra[@]}" --out "$OUT/r" >/dev/null
        t1=$(date +%s.%N)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        best=$(awk -v a="${best:-$s}" -v b="$s" 'BEGIN { print (b < a ? b : a) }')
    done
    echo "$best"
}

printf '%s, %s paths, best of %s runs, %s, %s cores (%s)\n\n' "$SCENARIO" "$PATHS" "$ROUNDS" \
    "$([ ${#extra[@]} -eq 0 ] && echo 'every output' || echo 'no charts')" "$(nproc)" \
    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown CPU)"
echo '| threads | wall s | paths/s | speed-up | efficiency |'
echo '|---|---|---|---|---|'
base=""
for t in "${counts[@]}"; do
    s=$(seconds "$t")
    base=${base:-$s}
    awk -v t="$t" -v s="$s" -v b="$base" -v n="$PATHS" 'BEGIN {
        printf "| %d | %.3f | %.0f | %.2fx | %.0f%% |\n", t, s, n / s, b / s, 100 * b / s / t }'
done
