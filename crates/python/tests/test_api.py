"""The package's surface: documented names, readable results, the
README's example as written."""

from __future__ import annotations

import inspect
import re
import struct

import pandas as pd
import pytest

import backlog_risk as br
from conftest import ROOT

SCENARIO = "scenarios/openai-shift.toml"


def public_members(obj):
    for name, member in inspect.getmembers(obj):
        if not name.startswith("_"):
            yield name, member


def test_every_public_name_is_documented():
    missing = []
    for name in br.__all__:
        obj = getattr(br, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in public_members(obj):
                if attr in dir(float) or attr in ("metric",):
                    continue
                if not (inspect.getdoc(member) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing, f"public names without a docstring: {missing}"


def test_the_package_ships_its_types():
    import importlib.resources

    files = importlib.resources.files("backlog_risk")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def test_results_print_and_render_a_short_summary():
    r = br.run(SCENARIO, paths=8192, seed=3)
    text = repr(r)
    assert text.startswith("<RunResult openai-shift (run, 8,192 paths, seed 3, mc)>")
    es99 = r["loss.azure"].es99
    assert f"{float(es99):,.1f}" in text and "es99" in text
    page = r._repr_html_()
    assert "<table>" in page and f"{float(es99):,.1f}" in page
    assert "Scenario openai-shift" in repr(br.Scenario.load(SCENARIO))


def test_a_metric_figure_carries_its_error_and_interval():
    r = br.run(SCENARIO, paths=8192)
    es = r["loss.azure"].es99
    row = r.errors[(r.errors["metric"] == "loss.azure") & (r.errors["stat"] == "es99")].iloc[0]
    assert float(es) == r.summary.loc["loss.azure", "es99"]
    assert es.se == row["se"] and es.ci == (row["ci_low"], row["ci_high"])
    assert es.ci[0] < es < es.ci[1]
    # Not reported for a backlog: None, not NaN.
    assert r["backlog.azure"].es99 is None
    with pytest.raises(AttributeError, match="not a statistic"):
        r["loss.azure"].es100


def test_charts_are_png_of_the_asked_size():
    r = br.run(SCENARIO, paths=4096)
    for name in ["loss", "fan", "exceedance", "concentration", "loss-aws"]:
        png = r.chart(name, size=(800, 500))
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        assert struct.unpack(">II", png[16:24]) == (800, 500), name
    assert r.charts._repr_html_().count("data:image/png;base64,") == 4


def test_parameters_list_every_uncertain_input_with_the_file_comment():
    sc = br.Scenario.load(SCENARIO)
    p = sc.parameters
    assert p.index.name == "path"
    assert "customers.openai.shift[0].target" in p.index
    uncertain = set(p.index[p["uncertain"]])
    sampled = set(br.run(sc, paths=2048).samples(1).columns) - set(sc.metrics)
    # Severities are drawn per event, not per path: not in the samples.
    assert sampled <= uncertain
    assert uncertain - sampled and all(k.endswith(".severity") for k in uncertain - sampled)
    assert p["comment"].notna().any()
    # Every path of the frame is one with_values accepts.
    some = p.index[p["uncertain"]][0]
    sc.with_values({some: float(p.loc[some, "mean"])})


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "no python example in the README's Python section"
    # Relative to a scratch folder that sees the shipped scenarios, so that
    # r.write("output/") does not write into the checkout.
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    (tmp_path / "portfolios").symlink_to(ROOT / "portfolios")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert (tmp_path / "output" / "openai-shift" / "summary.csv").is_file()
    assert isinstance(scope["r"].summary, pd.DataFrame)
    # OpenAI keeping 10% of its new spend at Azure (the file: PERT 0.1 /
    # 0.2 / 0.4) loses Azure more on the same paths.
    assert scope["d"].paired.loc["loss.azure", "diff"] > 0
