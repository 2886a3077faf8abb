"""stress, explain and sweep in-process equal the command line's files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import backlog_risk as br
from conftest import run_cli
from test_equal_to_cli import same_folder, timing_blanked

SCENARIO = "scenarios/openai-shift.toml"


def same_files(a: Path, b: Path, names) -> None:
    for name in names:
        da, db = (a / name).read_bytes(), (b / name).read_bytes()
        assert timing_blanked(name, da) == timing_blanked(name, db), f"{name} differs"


def test_stress_is_the_cli_stress(cli, tmp_path):
    run_cli(cli, "stress", "--portfolio", "portfolios/ai-infra.toml", SCENARIO, "--paths", "20000",
            "--out", str(tmp_path / "cli"), "--quiet")
    s = br.stress("portfolios/ai-infra.toml", [SCENARIO], paths=20_000)
    out = s.write(tmp_path / "py")
    same_folder(tmp_path / "cli" / "openai-shift" / "portfolio-ai-infra", out / "openai-shift" / "portfolio-ai-infra")
    same_files(tmp_path / "cli", out, ["portfolio-ai-infra.csv", "portfolio-ai-infra.png"])
    cli_risk = br.read_csv(tmp_path / "cli" / "openai-shift" / "portfolio-ai-infra" / "risk.csv")
    pd.testing.assert_frame_equal(s.risk.loc["openai-shift"].reset_index(drop=True), cli_risk, check_exact=True)
    assert s.file("contributions.csv") == (
        tmp_path / "cli" / "openai-shift" / "portfolio-ai-infra" / "contributions.csv").read_bytes()


def test_paired_stress_across_scenarios_is_the_cli_one(cli, tmp_path):
    run_cli(cli, "stress", "--portfolio", "portfolios/aws-vs-msft.toml", "--paired", "scenarios/status-quo.toml",
            SCENARIO, "scenarios/litigation-shock.toml", "--paths", "20000", "--out", str(tmp_path / "cli"), "--quiet")
    s = br.stress("portfolios/aws-vs-msft.toml", [SCENARIO, "scenarios/litigation-shock.toml"],
                  base="scenarios/status-quo.toml", paths=20_000)
    out = s.write(tmp_path / "py")
    for sc in s.scenarios:
        same_folder(tmp_path / "cli" / sc / "portfolio-aws-vs-msft", out / sc / "portfolio-aws-vs-msft")
    same_files(tmp_path / "cli", out, ["portfolio-aws-vs-msft.csv", "portfolio-aws-vs-msft.png"])
    across = s.across.set_index("scenario")
    assert across["base"].eq("status-quo").all()
    assert across["d_expected_pnl_se"].gt(0).all()


def test_explain_is_the_cli_explain(cli, tmp_path):
    run_cli(cli, "explain", SCENARIO, "--paths", "4096", "--out", str(tmp_path / "cli"), "--quiet")
    e = br.explain(SCENARIO, paths=4096)
    same_folder(tmp_path / "cli" / "openai-shift", e.write(tmp_path / "py"))
    a = e.attribution.set_index("driver")
    drivers = a.drop(index="total")
    # Shapley contributions sum to the total, exactly as the file says.
    assert drivers["mean"].sum() == pytest.approx(a.loc["total", "mean"], rel=1e-12, abs=1e-9)
    assert drivers["es99_contribution"].sum() == pytest.approx(a.loc["total", "es99_contribution"], rel=1e-12)


def test_explain_by_rule_and_another_metric(cli, tmp_path):
    run_cli(cli, "explain", "scenarios/litigation-shock.toml", "--by", "rule", "--metric", "loss.aws",
            "--paths", "4096", "--out", str(tmp_path / "cli"), "--quiet", "--no-charts")
    e = br.explain("scenarios/litigation-shock.toml", metric="loss.aws", by_rule=True, paths=4096)
    assert e.metric == "loss.aws"
    cli_dir = tmp_path / "cli" / "litigation-shock"
    assert e.file("attribution.csv") == (cli_dir / "attribution.csv").read_bytes()
    assert e.file("sensitivity.csv") == (cli_dir / "sensitivity.csv").read_bytes()


@pytest.mark.parametrize(
    "vary_cli, vary_py",
    [
        (["renegotiation[0].hazard=0.05..0.5:4"], {"renegotiation[0].hazard": "0.05..0.5:4"}),
        (["renegotiation[0].hazard=0.1,0.2", "customers.openai.shift[0].target=0.1,0.3"],
         {"renegotiation[0].hazard": [0.1, 0.2], "customers.openai.shift[0].target": [0.1, 0.3]}),
    ],
)
def test_sweep_is_the_cli_sweep(cli, tmp_path, vary_cli, vary_py):
    args = [a for v in vary_cli for a in ("--vary", v)]
    run_cli(cli, "sweep", SCENARIO, *args, "--paths", "8192", "--out", str(tmp_path / "cli"), "--quiet")
    w = br.sweep(SCENARIO, vary=vary_py, paths=8192)
    same_folder(tmp_path / "cli" / "openai-shift", w.write(tmp_path / "py"))
    assert len(w.table) == len(w.vary[0][1]) * (len(w.vary[1][1]) if len(w.vary) > 1 else 1)


def test_a_portfolio_error_carries_its_location(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('[portfolio]\nname = "p"\nvalue = 100.0\n\n[[holding]]\nname = "A"\nwieght = 1.0\n'
                   'exposure = { "backlog.azure" = 0.1 }\n')
    with pytest.raises(br.PortfolioError, match="unknown field `wieght`") as e:
        br.Portfolio.load(bad)
    assert e.value.file == str(bad) and e.value.line == 7 and e.value.field == "holding[0].wieght"
    assert isinstance(e.value, br.Error)


def test_a_metric_no_scenario_records_names_the_closest():
    p = br.Portfolio.from_toml('[portfolio]\nname = "p"\nvalue = 1.0\n[[holding]]\nname = "A"\nweight = 1.0\n'
                               'exposure = { "backlog.azrue" = 0.1 }\n')
    with pytest.raises(br.PortfolioError, match="did you mean `backlog.azure`") as e:
        br.stress(p, SCENARIO, paths=2048)
    assert e.value.field == 'holding[0].exposure."backlog.azrue"'


def test_a_portfolio_that_fits_no_scenario_is_an_error_and_a_skip_is_a_warning():
    with pytest.warns(UserWarning, match="skipped status-quo"):
        s = br.stress("portfolios/ai-infra.toml", [SCENARIO, "scenarios/status-quo.toml"], paths=2048)
    assert s.scenarios == ["openai-shift"] and s.skipped[0][0] == "status-quo"
    short = br.Scenario.load(SCENARIO).with_values({"scenario.quarters": 4})
    with pytest.raises(br.PortfolioError, match="fits none.*horizon of 8 quarters"):
        br.stress("portfolios/ai-infra.toml", short, paths=2048)


@pytest.mark.parametrize("call", ["stress", "explain", "sweep"])
def test_analyses_cancel_through_their_progress(call):
    stop = lambda done, total: False  # noqa: E731
    with pytest.raises(br.Cancelled):
        if call == "stress":
            br.stress("portfolios/ai-infra.toml", SCENARIO, paths=20_000_000, progress=stop)
        elif call == "explain":
            br.explain(SCENARIO, paths=2_000_000, progress=stop)
        else:
            br.sweep(SCENARIO, vary={"renegotiation[0].hazard": [0.1, 0.2]}, paths=10_000_000, progress=stop)


def test_bad_analysis_arguments_are_option_errors():
    with pytest.raises(br.OptionError, match="nothing to explain"):
        br.explain(SCENARIO, attribution=False, sensitivity=False)
    with pytest.raises(br.OptionError, match="metric"):
        br.explain(SCENARIO, metric="loss.azrue", paths=2048)
    with pytest.raises(br.OptionError, match="vary"):
        br.sweep(SCENARIO, vary={"renegotiation[0].hazard": "1..inf:3"}, paths=2048)


def test_a_refused_sensitivity_names_the_python_keywords(tmp_path):
    """The core names the command line's `--analysis attribution`; Python
    says `sensitivity=False` (it has no `analysis=`)."""
    (tmp_path / "base.toml").write_text(Path(SCENARIO).read_text())
    (tmp_path / "correlated.toml").write_text(
        'extends = "base.toml"\n[scenario]\nname = "correlated"\n'
        "[[correlation]]\n"
        'parameters = ["providers.azure.other.growth", "providers.aws.other.growth"]\n'
        "rank = [[1.0, 0.5], [0.5, 1.0]]\n"
    )
    with pytest.raises(br.Error) as err:
        br.explain(str(tmp_path / "correlated.toml"), paths=2048)
    message = str(err.value)
    assert "`sensitivity=False`" in message and "analysis" not in message, message
    result = br.explain(str(tmp_path / "correlated.toml"), paths=2048, sensitivity=False)
    assert result.attribution is not None


def same_tree(a: Path, b: Path) -> None:
    """Two folders with the same files and subfolders, byte for byte."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if (a / name).is_dir():
            same_folder(a / name, b / name)
        else:
            same_files(a, b, [name])


def test_reverse_stress_test_and_a_path_are_the_cli_ones(cli, tmp_path):
    run_cli(cli, "explain", SCENARIO, "--paths", "8192", "--given", "loss.azure>=300", "--top", "3",
            "--out", str(tmp_path / "cli"), "--quiet")
    e = br.explain(SCENARIO, paths=8192, given="loss.azure>=300", top=3)
    same_tree(tmp_path / "cli" / "openai-shift", e.write(tmp_path / "py"))
    g = e.given
    assert (g["probability"] == g["hits"] / g["paths"]).all()
    assert set(g["kind"]) == {"parameter", "metric", "driver"}
    top = e.given_paths
    assert list(top["rank"]) == [1, 2, 3] and (top["loss.azure"] >= 300).all()
    # The first listed path, replayed on its own, in-process and by the CLI.
    n = int(top["path"].iloc[0])
    run_cli(cli, "path", SCENARIO, "--paths", "8192", "--path", str(n), "--out", str(tmp_path / "cli2"), "--quiet")
    p = br.path(SCENARIO, n, paths=8192)
    same_folder(tmp_path / "cli2" / "openai-shift" / f"path-{n}", p.write(tmp_path / "py2"))
    values = p.values.set_index("name")
    assert values.loc["loss.azure", "value"] == top["loss.azure"].iloc[0]
    assert len(p.quarters) == 28 and p.chart()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_conditions_and_paths_are_errors():
    with pytest.raises(br.OptionError, match="no `>=` or `<=`"):
        br.explain(SCENARIO, given="loss.azure=3", paths=2048)
    with pytest.raises(br.OptionError, match="loss.azure, loss.aws"):
        br.explain(SCENARIO, given="loss.azrue>=3", paths=2048)
    with pytest.raises(br.Error, match=r"no path of 2048 met.*`paths=`, or `min_hits=` with `max_paths=`"):
        br.explain(SCENARIO, given="loss.azure>=1e9", paths=2048, attribution=False, sensitivity=False)
    with pytest.raises(br.OptionError, match="0 to 2047"):
        br.path(SCENARIO, 2048, paths=2048)
