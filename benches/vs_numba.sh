#!/usr/bin/env bash
# Side by side, in one run: the engine (release binary) against the numba
# speed peer of ../shared/peers/ref_numba.py on the same scenario, the same
# paths and the same threads. Prints paths/s of each and the ratio.
#
#   benches/vs_numba.sh [SCENARIO] [PATHS] [THREADS] [ROUNDS]
#
# Env: PYTHON (a python with numpy and numba; default python3),
#      ENGINE (binary; default target/release/backlog-risk),
#      BEFORE (optional second engine binary, e.g. an older build, timed too).
# The engine's figure is its whole run with every output (statistics, CSV
# files and charts); the peer's excludes its JIT compile and its statistics
# (its own report).
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-scenarios/openai-shift.toml}
PATHS=${2:-1000000}
THREADS=${3:-2}
ROUNDS=${4:-3}
PYTHON=${PYTHON:-python3}
ENGINE=${ENGINE:-target/release/backlog-risk}
PEER=../shared/peers/ref_numba.py
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$ENGINE" ] || cargo build --release --quiet

engine_rate() { # binary -> paths/s of one whole run
    local t0 t1
    t0=$(date +%s.%N)
    "$1" run "$SCENARIO" --paths "$PATHS" --threads "$THREADS" --quiet --out "$OUT/e" >/dev/null
    t1=$(date +%s.%N)
    echo "$PATHS / ($t1 - $t0)" | bc -l
}
peer_rate() {
    NUMBA_NUM_THREADS=$THREADS "$PYTHON" "$PEER" "$SCENARIO" --paths "$PATHS" --out "$OUT/nb.csv" 2>&1 >/dev/null |
        sed -n 's/.* = \([0-9,]*\) paths\/s.*/\1/p' | tr -d ,
}
printf 'scenario %s, %s paths, %s threads, %s interleaved rounds\n' "$SCENARIO" "$PATHS" "$THREADS" "$ROUNDS"
for r in $(seq "$ROUNDS"); do
    e=$(engine_rate "$ENGINE")
    p=$(peer_rate)
    line=$(printf 'round %s: engine %.0f paths/s, numba %.0f paths/s, ratio %.2f' "$r" "$e" "$p" "$(echo "$e / $p" | bc -l)")
    if [ -n "${BEFORE:-}" ]; then
        b=$(engine_rate "$BEFORE")
        line+=$(printf '; before %.0f paths/s, ratio %.2f' "$b" "$(echo "$b / $p" | bc -l)")
    fi
    echo "$line"
done
