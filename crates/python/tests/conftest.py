"""Fixtures of the Python tests: the checkout's root (scenario paths are
given relative to it, as the command line's tests give them), the command
line binary to compare against, and a scratch folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def cli() -> Path:
    exe = Path(os.environ.get("BACKLOG_RISK_BIN", ROOT / "target" / "release" / "backlog-risk"))
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build it with `cargo build --release` (scripts/test.sh does)")
    return exe


def run_cli(cli: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the command line from the checkout's root; fail with its output
    when it fails."""
    p = subprocess.run([str(cli), *args], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, f"backlog-risk {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p
