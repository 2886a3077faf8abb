#!/usr/bin/env bash
# The bit-flip campaign of tests/it/damaged.rs run for a stated time
# (default 10 minutes) with a fresh seed: one random bit of a shard file
# flipped must be refused by `decode`; the same flip with the checksum
# recomputed (a forged file) must be refused or merge into finite figures
# over the run's paths, never panic or abort.
#
#   scripts/shard-fuzz.sh [SECONDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-600}
SEED=${2:-$(date +%s)}
cargo build --release --tests --quiet
SHARD_FUZZ_SECONDS=$SECONDS_ SHARD_FUZZ_SEED=$SEED timeout $((SECONDS_ + 120)) \
    cargo test --release --quiet --test it damaged::bit_flip_campaign -- --nocapture 2>&1 |
    grep -E "shard fuzz|panicked|test result"
