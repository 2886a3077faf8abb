#!/usr/bin/env bash
# The Python package's tests: build the wheel of crates/python with maturin,
# install it into a fresh virtual environment (target/py-venv, made anew
# each time from PyPI's packages: crates/python/requirements-test.txt) and
# run its pytest suite, which compares in-process results with the command
# line's files (target/release/backlog-risk, or $BACKLOG_RISK_BIN).
#
#   scripts/test-python.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found: the Python tests need CPython 3.9 or later with venv" >&2; exit 1; }
export BACKLOG_RISK_BIN=${BACKLOG_RISK_BIN:-$PWD/target/release/backlog-risk}
[ -x "$BACKLOG_RISK_BIN" ] || { echo "error: $BACKLOG_RISK_BIN is missing: run cargo build --release first" >&2; exit 1; }
VENV=target/py-venv
rm -rf "$VENV" target/wheels
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r crates/python/requirements-test.txt
"$VENV/bin/maturin" build --release --quiet -m crates/python/Cargo.toml --out target/wheels
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps target/wheels/backlog_risk-*.whl
# From the tests' folder, so that `import backlog_risk` is the installed wheel.
cd crates/python/tests
"../../../$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
