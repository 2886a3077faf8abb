#!/usr/bin/env bash
# Run every command of the tool with two builds and diff their outputs, byte
# for byte: the check that a refactoring changed no result.
#
#   scripts/compare-builds.sh BEFORE_BINARY AFTER_BINARY [WORKDIR]
#
# It covers: run of every shipped scenario (mc, lhs, sobol, --charts all,
# --samples), run --paired, run --precision, stress of every shipped
# portfolio (plain and paired), explain (attribution and sensitivity, by
# driver and by rule), sweep (one and two parameters), and shards + merge of
# run, run --paired, stress, stress --paired and sweep (what merge writes is
# compared; see below for the shard files). Before diffing, the fields that
# measure time (wall_seconds, paths_per_second in run.json and their echo in
# the HTML pages) are blanked. Everything else must be identical.
# Exit status 0 when every file matches, 1 otherwise (the differing files
# are listed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [WORKDIR]" >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
WORK=${3:-$(mktemp -d /tmp/compare-builds.XXXXXX)}
P=20000

commands() {
    local bin=$1 out=$2
    local q=(--quiet --threads 2)
    "$bin" run scenarios/ --paths $P --charts all --out "$out/run" "${q[@]}" || true
    "$bin" run scenarios/openai-shift.toml --paths $P --sampling lhs --samples 50 --out "$out/lhs" "${q[@]}"
    "$bin" run scenarios/openai-shift.toml --paths $P --sampling sobol --out "$out/sobol" "${q[@]}"
    "$bin" run scenarios/variants/openai-shift-fast.toml --paired scenarios/openai-shift.toml --paths 120000 \
        --out "$out/paired" "${q[@]}"
    "$bin" run scenarios/openai-shift.toml --precision 'es99:loss.azure<=0.8%' --round-paths 16384 \
        --max-paths 196608 --out "$out/precision" "${q[@]}"
    "$bin" stress --portfolio portfolios/ai-infra.toml scenarios/openai-shift.toml scenarios/status-quo.toml \
        --paths $P --out "$out/stress" "${q[@]}"
    "$bin" stress --portfolio portfolios/msft-azure.toml scenarios/ --paths $P --out "$out/stress" "${q[@]}" || true
    "$bin" stress --portfolio portfolios/aws-vs-msft.toml --paired scenarios/status-quo.toml scenarios/openai-shift.toml \
        --paths $P --out "$out/stress-paired" "${q[@]}"
    "$bin" explain scenarios/openai-shift.toml --paths 4096 --out "$out/explain" "${q[@]}"
    "$bin" explain scenarios/litigation-shock.toml --paths 4096 --by rule --out "$out/explain-rule" "${q[@]}"
    "$bin" sweep scenarios/litigation-shock.toml --vary 'renegotiation[0].hazard=0.05..0.5:4' --paths 8192 \
        --out "$out/sweep" "${q[@]}"
    "$bin" sweep scenarios/openai-shift.toml --vary 'customers.openai.shift[0].target=0.1,0.3' \
        --vary 'renegotiation[0].hazard=0.1,0.2' --stat es99 --metric loss.azure --paths 8192 \
        --out "$out/sweep2" "${q[@]}"
    # What a user reads: the result lines of run, paired and precision runs,
    # stress and explain (stdout; stderr holds only the progress bar, which
    # is not drawn when stderr is not a terminal).
    mkdir -p "$out/console"
    {
        "$bin" run scenarios/ --paths $P --no-charts --out "$out/console/run" --threads 2 || true
        "$bin" run scenarios/variants/openai-shift-fast.toml --paired scenarios/openai-shift.toml --paths 120000 \
            --no-charts --out "$out/console/paired" --threads 2
        "$bin" run scenarios/openai-shift.toml --precision 'es99:loss.azure<=0.8%' --round-paths 16384 \
            --max-paths 196608 --no-charts --out "$out/console/precision" --threads 2
        "$bin" stress --portfolio portfolios/ai-infra.toml scenarios/openai-shift.toml --paths $P --no-charts \
            --out "$out/console/stress" --threads 2
        "$bin" explain scenarios/openai-shift.toml --paths 4096 --no-charts --out "$out/console/explain" --threads 2
    } >"$out/console/stdout.txt" 2>"$out/console/stderr.txt"
    for k in 0 1 2; do
        "$bin" run scenarios/openai-shift.toml --paths 50000 --shard $k/3 --out "$out/shards" "${q[@]}"
        "$bin" run scenarios/variants/openai-shift-fast.toml --paired scenarios/openai-shift.toml --paths 50000 \
            --shard $k/3 --out "$out/shards-paired" "${q[@]}"
        "$bin" stress --portfolio portfolios/ai-infra.toml scenarios/openai-shift.toml --paths 50000 --shard $k/3 \
            --out "$out/shards-stress" "${q[@]}"
        "$bin" stress --portfolio portfolios/aws-vs-msft.toml --paired scenarios/status-quo.toml \
            scenarios/openai-shift.toml --paths 50000 --shard $k/3 --out "$out/shards-stress-paired" "${q[@]}"
        "$bin" sweep scenarios/litigation-shock.toml --vary 'renegotiation[0].hazard=0.05..0.5:4' --paths 8192 \
            --shard $k/3 --out "$out/shards-sweep" "${q[@]}"
    done
    "$bin" merge "$out/shards/openai-shift" --out "$out/merged" "${q[@]}"
    "$bin" merge "$out/shards-paired/openai-shift-fast" --out "$out/merged-paired" "${q[@]}"
    "$bin" merge "$out/shards-stress/openai-shift/portfolio-ai-infra" --out "$out/merged-stress" "${q[@]}"
    "$bin" merge "$out/shards-stress-paired/openai-shift/portfolio-aws-vs-msft" --out "$out/merged-stress-paired" "${q[@]}"
    "$bin" merge "$out/shards-sweep/litigation-shock" --out "$out/merged-sweep" "${q[@]}"
}

normalise() {
    # Timing fields vary from run to run; every other byte must not.
    find "$1" -type f \( -name '*.json' -o -name '*.html' \) -print0 |
        xargs -0 sed -i -E \
            -e 's/"(wall_seconds|paths_per_second)": [0-9.e+-]+/"\1": T/' \
            -e 's/[0-9.,]+ (s|seconds) on [0-9]+ threads?/T/g' \
            -e 's/[0-9.,]+k? paths\/s/T paths\/s/g'
    # The console names the output folder, which differs by side.
    sed -i "s#$1#OUT#g" "$1/console/stdout.txt" "$1/console/stderr.txt"
}

for side in before after; do
    bin=$BEFORE
    [ $side = after ] && bin=$AFTER
    rm -rf "${WORK:?}/$side"
    mkdir -p "$WORK/$side"
    echo "$side: $bin" >&2
    (commands "$bin" "$WORK/$side") 2>"$WORK/$side.stderr"
    normalise "$WORK/$side"
done

# Shard files are compared through what merge makes of them: their bytes
# vary from run to run of one build (each worker thread's sketch holds the
# values it happened to see, stored in the order seen; the merged counts do
# not vary). The output lock's bytes are a process id.
if diff -r -q -x '*.bin' -x '.backlog-risk.lock' "$WORK/before" "$WORK/after" >"$WORK/diff.txt"; then
    echo "identical: $(find "$WORK/before" -type f | wc -l) files in $WORK/{before,after}"
    exit 0
fi
echo "DIFFERENT:"
cat "$WORK/diff.txt"
exit 1
