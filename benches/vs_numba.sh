#!/usr/bin/env bash
# Side by side, in one run: the engine (release binary) against the numba
# speed peer of ../shared/peers/ref_numba.py on the same scenario, the same
# paths and the same threads. Prints paths/s of each and the ratio.
#
#   benches/vs_numba.sh [SCENARIO] [PATHS] [THREADS] [ROUNDS]
#
# THREADS may be a list ("1 2", the default): each round times every
# count, engine and peer interleaved, and the end prints the median rate
# and ratio per count. ROUNDS defaults to 5: the peer's speed drifts on a
# shared machine, so each round's own peer rate is printed beside the
# engine's, and a ratio is only taken within a round.
#
# Env: PYTHON (a python with numpy and numba; default python3),
#      ENGINE (binary; default target/release/backlog-risk),
#      BEFORE (optional second engine binary, e.g. an older build, timed too,
#      the two builds taking turns to go first).
# The engine's figure is its whole run with every output (statistics, CSV
# files and charts); the peer's excludes its JIT compile and its statistics
# (its own report).
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-scenarios/openai-shift.toml}
PATHS=${2:-1000000}
THREADS=${3:-1 2}
ROUNDS=${4:-5}
PYTHON=${PYTHON:-python3}
ENGINE=${ENGINE:-target/release/backlog-risk}
PEER=../shared/peers/ref_numba.py
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$ENGINE" ] || cargo build --release --quiet

engine_rate() { # binary threads -> paths/s of one whole run
    local t0 t1
    t0=$(date +%s.%N)
    "$1" run "$SCENARIO" --paths "$PATHS" --threads "$2" --quiet --out "$OUT/e" >/dev/null
    t1=$(date +%s.%N)
    echo "$PATHS / ($t1 - $t0)" | bc -l
}
peer_rate() { # threads -> the peer's own paths/s
    NUMBA_NUM_THREADS=$1 "$PYTHON" "$PEER" "$SCENARIO" --paths "$PATHS" --out "$OUT/nb.csv" 2>&1 >/dev/null |
        sed -n 's/.* = \([0-9,]*\) paths\/s.*/\1/p' | tr -d ,
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf 'scenario %s, %s paths, threads %s, %s interleaved rounds\n' "$SCENARIO" "$PATHS" "$THREADS" "$ROUNDS"
for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        # With BEFORE, the two builds take turns going first: odd rounds
        # engine, peer, BEFORE; even rounds BEFORE, peer, engine (neither
        # build always runs in the same place relative to the peer).
        b=
        if [ -n "${BEFORE:-}" ] && [ $((r % 2)) -eq 0 ]; then
            b=$(engine_rate "$BEFORE" "$t")
            p=$(peer_rate "$t")
            e=$(engine_rate "$ENGINE" "$t")
        else
            e=$(engine_rate "$ENGINE" "$t")
            p=$(peer_rate "$t")
            if [ -n "${BEFORE:-}" ]; then b=$(engine_rate "$BEFORE" "$t"); fi
        fi
        ratio=$(echo "$e / $p" | bc -l)
        line=$(printf 'round %s, %s thread(s): engine %.0f paths/s, numba %.0f paths/s, ratio %.2f' "$r" "$t" "$e" "$p" "$ratio")
        echo "$t $e $p $ratio" >>"$OUT/rates"
        if [ -n "$b" ]; then
            line+=$(printf '; before %.0f paths/s, ratio %.2f' "$b" "$(echo "$b / $p" | bc -l)")
        fi
        echo "$line"
    done
done
for t in $THREADS; do
    pick() { awk -v t="$t" -v c="$1" '$1 == t { print $c }' "$OUT/rates" | median; }
    printf 'median, %s thread(s): engine %.0f paths/s, numba %.0f paths/s, ratio %.2f (median of the rounds'"'"' ratios)\n' \
        "$t" "$(pick 2)" "$(pick 3)" "$(pick 4)"
done
