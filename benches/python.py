"""The Python package's speed, side by side in one process, in interleaved
rounds: ``br.run`` against the command line's own time for the same work
(simulation and statistics, no file writes: ``wall_seconds`` of its
``run.json``), and the numba speed peer (../shared/peers/ref_numba.py)
called from this same process on the same scenario, paths and threads.

    python benches/python.py [--scenario S] [--paths 100000 1000000]
                             [--threads 2] [--rounds 5]

Needs a Python with the wheel installed (scripts/test-python.sh builds one),
numpy and numba; the binary is target/release/backlog-risk (or
$BACKLOG_RISK_BIN). Prints each round's rates (the peer's among them: its
speed drifts on shared machines) and the medians. The peer's figure excludes
its JIT compile (a warm-up run) and its statistics, which flatters it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_peer(path: Path):
    spec = importlib.util.spec_from_file_location("ref_numba", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="scenarios/openai-shift.toml")
    ap.add_argument("--paths", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--peer", default=str(ROOT.parent / "shared" / "peers" / "ref_numba.py"))
    a = ap.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(a.threads))

    import backlog_risk as br

    peer = load_peer(Path(a.peer))
    peer.nb.set_num_threads(a.threads)
    exe = os.environ.get("BACKLOG_RISK_BIN", str(ROOT / "target" / "release" / "backlog-risk"))
    sc = br.Scenario.load(a.scenario)
    with open(a.scenario, "rb") as fh:
        model = peer.Model(tomllib.load(fh), a.scenario)
    model.run(1000, sc.seed)  # the peer's JIT compile, untimed
    br.run(sc, paths=20_000, threads=a.threads)  # page in the engine

    print(f"# {a.scenario}, {a.threads} threads, {a.rounds} interleaved rounds; paths/s")
    print(f"# {sys.version.split()[0]}, backlog_risk {br.__version__}, numba {peer.nb.__version__}")
    print("paths,round,cli,python,python_vs_cli,numba,python_vs_numba")
    with tempfile.TemporaryDirectory() as out:
        for n in a.paths:
            rows = []
            for k in range(1, a.rounds + 1):
                subprocess.run(
                    [exe, "run", a.scenario, "--paths", str(n), "--threads", str(a.threads), "--no-charts",
                     "--quiet", "--out", out],
                    check=True,
                )
                cli = n / json.loads((Path(out) / sc.name / "run.json").read_text())["wall_seconds"]
                t0 = time.perf_counter()
                br.run(sc, paths=n, threads=a.threads)
                py = n / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                model.run(n, sc.seed)
                nb = n / (time.perf_counter() - t0)
                rows.append((cli, py, nb))
                print(f"{n},{k},{cli:.0f},{py:.0f},{py / cli:.3f},{nb:.0f},{py / nb:.2f}", flush=True)
            cli, py, nb = (statistics.median(c) for c in zip(*rows))
            print(f"{n},median,{cli:.0f},{py:.0f},{py / cli:.3f},{nb:.0f},{py / nb:.2f}", flush=True)


if __name__ == "__main__":
    main()
