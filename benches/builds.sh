#!/usr/bin/env bash
# Two builds of the binary side by side, in one run, on the commands whose
# speed a change must not lose: run, run --paired, stress, explain and
# sweep, each timed as a whole process (every output written), the builds
# alternating within each round, with the numba peer's own rate measured
# in every round (the machine's speed drifts; a ratio is read within a
# round). Prints each round, then the median wall time of every command
# per build and the after/before ratio, and the paired/plain ratio of each
# build.
#
#   benches/builds.sh BEFORE AFTER [ROUNDS] [PATHS]
#
# Env: PYTHON (a python with numpy and numba, for the peer; without one
# the peer's column is empty), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 BEFORE AFTER [ROUNDS] [PATHS]" >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
ROUNDS=${3:-5}
PATHS=${4:-10000000}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SC=scenarios/openai-shift.toml
FAST=scenarios/variants/openai-shift-fast.toml
SMALL=$((PATHS / 5))
q=(--threads "$THREADS" --quiet --out "$OUT/o")

# name|arguments (word-split)
CASES=(
    "run|run $FAST --paths $PATHS --no-charts"
    "run --paired|run $FAST --paired $SC --paths $PATHS --no-charts"
    "stress|stress --portfolio portfolios/ai-infra.toml $SC --paths $SMALL --no-charts"
    "stress --paired|stress --portfolio portfolios/aws-vs-msft.toml --paired scenarios/status-quo.toml $SC --paths $SMALL --no-charts"
    "explain|explain $SC --paths $((PATHS / 100)) --no-charts"
    "sweep|sweep scenarios/litigation-shock.toml --vary renegotiation[0].hazard=0.05..0.5:5 --paths $((PATHS / 20)) --no-charts"
)

seconds() { # binary args... -> wall seconds of one run
    local t0 t1 bin=$1
    shift
    t0=$(date +%s.%N)
    # shellcheck disable=SC2068
    "$bin" $@ "${q[@]}" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
peer_rate() {
    NUMBA_NUM_THREADS=$THREADS "$PYTHON" ../shared/peers/ref_numba.py "$SC" --paths 1000000 --out "$OUT/nb.csv" 2>&1 >/dev/null |
        sed -n 's/.* = \([0-9,]*\) paths\/s.*/\1/p' | tr -d , || true
}

declare -A T
printf '%s paths (stress %s, explain %s, sweep %s per point), %s threads, %s interleaved rounds\n' \
    "$PATHS" "$SMALL" "$((PATHS / 100))" "$((PATHS / 20))" "$THREADS" "$ROUNDS"
for r in $(seq "$ROUNDS"); do
    peer=$(peer_rate)
    line="round $r: numba peer ${peer:-n/a} paths/s"
    for c in "${CASES[@]}"; do
        name=${c%%|*}
        args=${c#*|}
        # Alternate which build goes first.
        if [ $((r % 2)) -eq 1 ]; then order=(before after); else order=(after before); fi
        for side in "${order[@]}"; do
            bin=$BEFORE
            [ "$side" = after ] && bin=$AFTER
            # shellcheck disable=SC2086
            T["$name|$side|$r"]=$(seconds "$bin" $args)
        done
        line+=$(printf '; %s %.2f/%.2f s' "$name" "${T["$name|before|$r"]}" "${T["$name|after|$r"]}")
    done
    echo "$line (before/after)"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo
printf '| command | before (s) | after (s) | after/before |\n|---|---|---|---|\n'
declare -A M
for c in "${CASES[@]}"; do
    name=${c%%|*}
    for side in before after; do
        M["$name|$side"]=$(for r in $(seq "$ROUNDS"); do echo "${T["$name|$side|$r"]}"; done | median)
    done
    printf '| `%s` | %.2f | %.2f | %.3f |\n' "$name" "${M["$name|before"]}" "${M["$name|after"]}" \
        "$(echo "${M["$name|after"]} / ${M["$name|before"]}" | bc -l)"
done
for side in before after; do
    ratios=$(for r in $(seq "$ROUNDS"); do echo "${T["run --paired|$side|$r"]} / ${T["run|$side|$r"]}" | bc -l; done)
    printf 'paired/plain wall, %s: median %.3f (rounds: %s)\n' "$side" "$(echo "$ratios" | median)" \
        "$(echo "$ratios" | xargs printf '%.3f ')"
done
