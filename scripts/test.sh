#!/usr/bin/env bash
# Every test of the project, what the README's test command and .ci/run
# run: the Rust workspace (`cargo test --release`: unit, integration and
# doc tests of the core, the file crate, the explorer and the command line,
# with the browser tests in headless Chromium and the workbooks through
# LibreOffice, which the tests install from Debian when missing), then the
# Python package (scripts/test-python.sh: a wheel built into a fresh
# virtual environment and its pytest suite, compared with the command line
# built here). Fails if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
cargo build --release --bin backlog-risk
scripts/test-python.sh
