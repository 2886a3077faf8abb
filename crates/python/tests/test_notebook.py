"""examples/quickstart.ipynb runs headless without an error, and the
committed copy keeps its outputs (so it reads on a code host without
running it). `UPDATE_NOTEBOOK=1` writes the executed notebook back."""

from __future__ import annotations

import copy
import os

import pytest

from conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs_and_keeps_its_outputs():
    committed = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert code and all(c.outputs for c in code), "a code cell of the committed notebook has no output"
    nb = copy.deepcopy(committed)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert o.output_type != "error", f"{c.source}\n{o.get('ename')}: {o.get('evalue')}"
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs for c in ran)
    # The same kinds of output as committed (tables, charts, text).
    kinds = lambda cells: [sorted(k for o in c.outputs for k in o.get("data", {"stream": 1})) for c in cells]  # noqa: E731
    assert kinds(ran) == kinds(code)
    if os.environ.get("UPDATE_NOTEBOOK"):
        nbformat.write(nb, NOTEBOOK)
