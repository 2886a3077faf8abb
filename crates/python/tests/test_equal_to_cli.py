"""In-process results equal the command line's files, bit for bit."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import backlog_risk as br
from conftest import run_cli

SCENARIO = "scenarios/openai-shift.toml"
VARIANT = "scenarios/variants/openai-shift-fast.toml"
TABLES = ["summary.csv", "errors.csv", "fan.csv", "revenue.csv", "summary.json"]


def timing_blanked(name: str, data: bytes) -> bytes:
    """A file with the fields that measure time blanked, by the rules of
    scripts/compare-builds.sh: run.json's wall_seconds and paths_per_second
    and their echo in the pages."""
    if not name.endswith((".json", ".html")):
        return data
    text = data.decode()
    text = re.sub(r'"(wall_seconds|paths_per_second)": [0-9.e+-]+', r'"\1": T', text)
    text = re.sub(r"[0-9.,]+ (s|seconds) on [0-9]+ threads?", "T", text)
    text = re.sub(r"[0-9.,]+k? paths/s", "T paths/s", text)
    return text.encode()


def same_folder(a: Path, b: Path) -> None:
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b
    for name in names_a:
        da, db = (a / name).read_bytes(), (b / name).read_bytes()
        assert timing_blanked(name, da) == timing_blanked(name, db), f"{name} differs"


@pytest.mark.parametrize("sampling", ["mc", "lhs", "sobol"])
def test_run_tables_are_the_cli_files(cli, tmp_path, sampling):
    run_cli(cli, "run", SCENARIO, "--paths", "20000", "--seed", "7", "--sampling", sampling,
            "--out", str(tmp_path), "--quiet", "--no-charts")
    r = br.run(br.Scenario.load(SCENARIO), paths=20_000, seed=7, sampling=sampling)
    folder = tmp_path / "openai-shift"
    for name in TABLES:
        assert r.file(name) == (folder / name).read_bytes(), name
    cli_summary = br.read_csv(folder / "summary.csv").set_index("metric")
    pd.testing.assert_frame_equal(r.summary, cli_summary, check_exact=True)
    pd.testing.assert_frame_equal(
        r.fan, br.read_csv(folder / "fan.csv"), check_exact=True
    )
    assert r["loss.azure"].es99 == cli_summary.loc["loss.azure", "es99"]


def test_write_is_the_cli_folder(cli, tmp_path):
    # A variant: its extends chain reaches run.json and the report.
    run_cli(cli, "run", VARIANT, "--paths", "20000", "--out", str(tmp_path / "cli"), "--quiet", "--samples", "40")
    r = br.run(br.Scenario.load(VARIANT), paths=20_000)
    folder = r.write(tmp_path / "py", samples=40)
    assert folder == tmp_path / "py" / "openai-shift-fast"
    same_folder(tmp_path / "cli" / "openai-shift-fast", folder)
    assert (folder / "report.xlsx").stat().st_size > 0


def test_write_without_the_workbook_is_the_cli_no_xlsx_folder(cli, tmp_path):
    run_cli(cli, "run", SCENARIO, "--paths", "8192", "--out", str(tmp_path / "cli"), "--quiet", "--no-charts",
            "--no-xlsx")
    folder = br.run(SCENARIO, paths=8192).write(tmp_path / "py", charts="none", workbook=False)
    assert not (folder / "report.xlsx").exists()
    same_folder(tmp_path / "cli" / "openai-shift", folder)


def test_paired_is_the_cli_paired_run(cli, tmp_path):
    run_cli(cli, "run", VARIANT, "--paired", SCENARIO, "--paths", "30000", "--out", str(tmp_path / "cli"), "--quiet")
    d = br.run_paired(VARIANT, base=SCENARIO, paths=30_000)
    cli_folder = tmp_path / "cli" / "openai-shift-fast"
    assert d.file("paired.csv") == (cli_folder / "paired-openai-shift.csv").read_bytes()
    cli_paired = br.read_csv(cli_folder / "paired-openai-shift.csv").set_index("metric")
    pd.testing.assert_frame_equal(d.paired, cli_paired, check_exact=True)
    same_folder(cli_folder, d.write(tmp_path / "py"))


def test_samples_are_the_cli_samples(cli, tmp_path):
    run_cli(cli, "run", SCENARIO, "--paths", "8192", "--samples", "300", "--out", str(tmp_path), "--quiet",
            "--no-charts")
    cli_samples = br.read_csv(tmp_path / "openai-shift" / "samples.csv")
    s = br.run(SCENARIO, paths=8192).samples(300)
    assert list(s.columns) == list(cli_samples.columns[1:])
    assert list(s.index) == list(cli_samples["path"])
    pd.testing.assert_frame_equal(s.reset_index(drop=True), cli_samples.drop(columns="path"), check_exact=True)
    # One float64 block, not a column per value.
    assert s.to_numpy().dtype == "float64"


def test_with_values_is_the_edited_file(cli, tmp_path):
    sc = br.Scenario.load(SCENARIO)
    fast = sc.with_values({"customers.openai.shift[0].target": 0.35})
    edited = tmp_path / "edited.toml"
    edited.write_text(fast.to_toml())
    run_cli(cli, "run", str(edited), "--paths", "16384", "--out", str(tmp_path / "out"), "--quiet", "--no-charts")
    r = br.run(fast, paths=16_384)
    assert r.file("summary.csv") == (tmp_path / "out" / "openai-shift" / "summary.csv").read_bytes()
    # And it changed the result: the base differs.
    assert br.run(sc, paths=16_384).file("summary.csv") != r.file("summary.csv")


def test_threads_change_no_bit():
    sc = br.Scenario.load(SCENARIO)
    one = br.run(sc, paths=12_288, threads=1)
    two = br.run(sc, paths=12_288, threads=2)
    assert one.file("summary.csv") == two.file("summary.csv")
    assert one.file("fan.csv") == two.file("fan.csv")


def test_from_dict_and_from_toml_agree():
    text = Path(SCENARIO).read_text()
    a = br.run(br.Scenario.from_toml(text), paths=4096)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    b = br.run(br.Scenario.from_dict(tomllib.loads(text)), paths=4096)
    assert a.file("summary.csv") == b.file("summary.csv")
