#!/usr/bin/env bash
# The mutation fuzzer of tests/it/fuzz.rs run for a stated time (default 10
# minutes) with a fresh seed: mutated scenario and portfolio files (hostile
# numbers, dropped, doubled and damaged lines, files cut short) must load
# without a panic, and whatever loads must simulate to finite results
# (shares in [0, 1], backlogs >= 0, a long-only portfolio losing at most its
# value). A hang shows as the outer timeout firing.
#
#   scripts/fuzz.sh [SECONDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-600}
SEED=${2:-$(date +%s)}
cargo build --release --tests --quiet
FUZZ_SECONDS=$SECONDS_ FUZZ_SEED=$SEED timeout $((SECONDS_ + 120)) \
    cargo test --release --quiet --test it fuzz::mutated -- --nocapture 2>&1 | grep -E "fuzz:|panicked|test result|case "
