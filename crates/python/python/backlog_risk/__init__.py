"""backlog_risk: Monte Carlo simulation of revenue-backlog concentration risk.

The engine of the ``backlog-risk`` command line, in-process, with results as
pandas DataFrames. The same seed and paths give the command line's numbers
bit for bit::

    import backlog_risk as br

    sc = br.Scenario.load("scenarios/openai-shift.toml")
    r = br.run(sc, paths=1_000_000, seed=42)
    r.summary                      # DataFrame, summary.csv's columns, by metric
    r["loss.azure"].es99           # 785.3..., with .se and .ci
    r.write("output/")             # the command line's files, byte for byte

Simulations release the GIL and stop on Ctrl-C (``KeyboardInterrupt``)
within a fraction of a second.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

import pandas as pd

from . import _native
from ._errors import Cancelled, Error, OptionError, PortfolioError, ScenarioError, SimulationError

__version__: str = _native.__version__

__all__ = [
    "Scenario",
    "RunResult",
    "MetricFigures",
    "Estimate",
    "Charts",
    "run",
    "run_paired",
    "Portfolio",
    "StressResult",
    "ExplainResult",
    "PathResult",
    "SweepResult",
    "stress",
    "explain",
    "path",
    "sweep",
    "read_csv",
    "Error",
    "ScenarioError",
    "PortfolioError",
    "OptionError",
    "Cancelled",
    "SimulationError",
]

#: A progress callback: called on the calling thread with (paths done,
#: paths in all) about every 50 ms and once at the end; returning ``False``
#: cancels the run (:class:`Cancelled`), raising stops it and re-raises.
Progress = Callable[[int, int], Any]

PathLike = Union[str, "os.PathLike[str]"]


# pandas before 3 parses floats with a fast reader that can be off by an
# ulp unless asked for round-trip parsing; pandas 3 always round-trips (and
# deprecates the option).
_ROUND_TRIP: Dict[str, Any] = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_csv(source: Any) -> pd.DataFrame:
    """Read a CSV file of the command line (a path or bytes) as a DataFrame,
    every number parsed to the bits the file holds, empty cells as NaN."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    return pd.read_csv(source, keep_default_na=False, na_values=[""], **_ROUND_TRIP)


def _table(data: bytes, index: Optional[str] = None) -> pd.DataFrame:
    """A CSV file of the command line as a DataFrame, every number parsed to
    the same bits the file holds."""
    df = read_csv(data)
    if index is not None:
        df = df.set_index(index)
    return df


class Scenario:
    """A validated scenario. Immutable: :meth:`with_values` returns a new one.

    Build it with :meth:`load` (a file, with the files it ``extends``),
    :meth:`from_toml` (text) or :meth:`from_dict` (the file's tables as a
    dict). A scenario that cannot be used raises :class:`ScenarioError` with
    ``file``, ``line`` and ``field``.
    """

    __slots__ = ("_native",)

    def __init__(self, native: "_native.Scenario") -> None:
        self._native = native

    @staticmethod
    def load(path: PathLike) -> "Scenario":
        """Read and validate a scenario file (and the files it ``extends``)."""
        return Scenario(_native.Scenario.load(os.fspath(path)))

    @staticmethod
    def from_toml(text: str, name: str = "<string>") -> "Scenario":
        """Validate scenario TOML; ``name`` stands for the file in messages."""
        return Scenario(_native.Scenario.from_toml(text, name))

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "Scenario":
        """Validate a scenario given as a dict of the file's tables, e.g.
        ``{"scenario": {"name": "x", ...}, "providers": {...}, ...}``."""
        return Scenario(_native.Scenario.from_dict(dict(d)))

    def with_values(self, values: Mapping[str, Any]) -> "Scenario":
        """A new scenario with the values at these field paths set (numbers,
        or dicts for distributions: ``{"dist": "uniform", "min": 0.1,
        "max": 0.3}``), validated as a file is::

            fast = sc.with_values({"customers.openai.shift[0].target": 0.35})
        """
        return Scenario(self._native.with_values(dict(values)))

    @property
    def name(self) -> str:
        """``scenario.name``: the folder ``write`` puts results in."""
        return self._native.name

    @property
    def file(self) -> str:
        """The file it was loaded from, or ``<string>`` / ``<dict>``."""
        return self._native.file

    @property
    def paths(self) -> int:
        """The paths of a run when ``paths=`` is not given."""
        return self._native.paths

    @property
    def seed(self) -> int:
        """The seed of a run when ``seed=`` is not given."""
        return self._native.seed

    @property
    def providers(self) -> list:
        """Provider names, in file order."""
        return self._native.providers

    @property
    def metrics(self) -> list:
        """Every metric a run records (``loss.azure``, ``share.openai.azure``...)."""
        return self._native.metrics

    @property
    def parameters(self) -> pd.DataFrame:
        """Every parameter, indexed by its dotted path (the key of
        :meth:`with_values`): group, distribution, mean, whether it is
        uncertain (drawn per path, or per event for a rule's severity) and
        the file's comment on it."""
        rows = self._native._parameters()
        df = pd.DataFrame(rows, columns=["group", "path", "distribution", "mean", "uncertain", "comment"])
        return df.set_index("path")

    def to_toml(self) -> str:
        """The scenario as TOML (with ``extends`` merged in)."""
        return self._native.to_toml()

    def __repr__(self) -> str:
        return repr(self._native)


def _scenario(s: Union[Scenario, PathLike]) -> Scenario:
    if isinstance(s, Scenario):
        return s
    if isinstance(s, (str, os.PathLike)):
        return Scenario.load(s)
    raise TypeError(f"expected a Scenario or the path of a scenario file, got {type(s).__name__}")


class Estimate(float):
    """A figure of a run (a float), with its standard error ``se`` and 95%
    interval ``ci`` (low, high) where ``errors.csv`` has them, else ``None``."""

    se: Optional[float]
    ci: Optional[Tuple[float, float]]

    def __new__(cls, value: float, se: Optional[float] = None, ci: Optional[Tuple[float, float]] = None) -> "Estimate":
        obj = super().__new__(cls, value)
        obj.se = se
        obj.ci = ci
        return obj

    def __repr__(self) -> str:
        if self.se is None:
            return float.__repr__(self)
        return f"{float.__repr__(self)} (se {self.se:.4g})"


class MetricFigures:
    """One metric's figures: every column of ``summary.csv`` as an attribute
    (``mean``, ``sd``, ``p50``, ``var99``, ``es99``...), each an
    :class:`Estimate` (with ``.se`` and ``.ci`` where they exist) or
    ``None`` where the statistic is not reported for the metric."""

    def __init__(self, metric: str, row: pd.Series, errors: pd.DataFrame) -> None:
        self.metric = metric
        self._values: Dict[str, Optional[Estimate]] = {}
        for stat, value in row.items():
            if pd.isna(value):
                self._values[str(stat)] = None
                continue
            se = ci = None
            hit = errors[(errors["metric"] == metric) & (errors["stat"] == stat)]
            if len(hit):
                e = hit.iloc[0]
                se, ci = float(e["se"]), (float(e["ci_low"]), float(e["ci_high"]))
            self._values[str(stat)] = Estimate(float(value), se, ci)

    def __getattr__(self, stat: str) -> Optional[Estimate]:
        try:
            return self.__dict__["_values"][stat]
        except KeyError:
            raise AttributeError(
                f"{stat!r}: not a statistic of summary.csv; give one of {', '.join(self.__dict__['_values'])}"
            ) from None

    def __dir__(self) -> list:
        return list(self._values) + ["metric"]

    def to_dict(self) -> Dict[str, Optional[float]]:
        """The figures as plain floats."""
        return {k: (None if v is None else float(v)) for k, v in self._values.items()}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={float(v):.4g}" for k, v in self._values.items() if v is not None and k in _KEY_STATS)
        return f"<MetricFigures {self.metric}: {shown}>"


_KEY_STATS = ("mean", "p5", "p50", "p95", "var99", "es99")
_CHARTS = ("loss", "fan", "exceedance", "concentration")


class Charts:
    """A run's charts, shown inline in Jupyter; ``charts["fan"]`` is the PNG
    bytes of one."""

    def __init__(self, result: "RunResult") -> None:
        self._result = result

    def __getitem__(self, name: str) -> bytes:
        return self._result.chart(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_CHARTS)

    def _repr_html_(self) -> str:
        parts = []
        for name in _CHARTS:
            png = base64.b64encode(self._result.chart(name, size=(1200, 750))).decode("ascii")
            parts.append(
                f'<figure style="margin:0 0 1em 0"><img alt="{name}" style="max-width:100%" '
                f'src="data:image/png;base64,{png}"><figcaption>{name}.png</figcaption></figure>'
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<Charts of {self._result.name}: {', '.join(_CHARTS)}>"


class RunResult:
    """A finished run (or paired run): every table of the command line's
    folder as a DataFrame, each figure equal to the file's bit for bit."""

    def __init__(self, native: "_native.RunResult") -> None:
        self._native = native
        self._cache: Dict[str, pd.DataFrame] = {}

    def _frame(self, name: str, index: Optional[str] = None) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = _table(self._native.file(name), index)
        return self._cache[name].copy()

    @property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: one row per metric (the index), its statistics as
        columns; VaR and ES only for ``loss.*``."""
        return self._frame("summary.csv", "metric")

    @property
    def errors(self) -> pd.DataFrame:
        """``errors.csv``: standard errors and 95% intervals of the headline
        statistics."""
        return self._frame("errors.csv")

    @property
    def fan(self) -> pd.DataFrame:
        """``fan.csv``: backlog bands per provider and quarter."""
        return self._frame("fan.csv")

    @property
    def revenue(self) -> pd.DataFrame:
        """``revenue.csv``: revenue bands per provider and quarter."""
        return self._frame("revenue.csv")

    @property
    def paired(self) -> Optional[pd.DataFrame]:
        """``paired-BASE.csv`` of a paired run (differences against the base,
        path by path, with standard errors), indexed by metric; ``None`` for
        a plain run."""
        if self._native.base is None:
            return None
        return self._frame("paired.csv", "metric")

    def file(self, name: str) -> bytes:
        """The bytes of one of the run's files as the command line writes it
        (``summary.csv``, ``errors.csv``, ``fan.csv``, ``revenue.csv``,
        ``summary.json``, ``run.json``, ``paired.csv``)."""
        return self._native.file(name)

    def __getitem__(self, metric: str) -> MetricFigures:
        summary = self._frame("summary.csv", "metric")
        if metric not in summary.index:
            import difflib

            close = difflib.get_close_matches(metric, list(summary.index), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"{metric!r}: not a metric of this run{hint} (see .summary.index)")
        return MetricFigures(metric, summary.loc[metric], self._frame("errors.csv"))

    def samples(self, n: int = 10_000) -> pd.DataFrame:
        """The first ``n`` paths: every uncertain parameter's draw and every
        metric, indexed by path (``samples.csv``'s rows, as float64 columns
        of one numpy block)."""
        if n < 1:
            raise OptionError(f"n={n}: give at least 1 path")
        columns, index, values = self._native._samples(int(n))
        return pd.DataFrame(values, columns=columns, index=pd.Index(index, name="path"), copy=False)

    def chart(self, name: str = "fan", size: Tuple[int, int] = (1600, 1000)) -> bytes:
        """A chart as PNG bytes: ``loss`` (the focus provider),
        ``loss-PROVIDER``, ``fan``, ``exceedance`` or ``concentration``."""
        return self._native.chart(name, tuple(size))

    @property
    def charts(self) -> Charts:
        """The key charts, shown inline in Jupyter."""
        return Charts(self)

    def write(
        self,
        out: PathLike = "output",
        charts: str = "key",
        chart_size: Tuple[int, int] = (1600, 1000),
        samples: Optional[int] = None,
        workbook: bool = True,
    ) -> Path:
        """Write the command line's files of this run into ``out/NAME/``
        (the same exporters and folder writer: a folder appears whole, the
        old one stays until then); returns the folder. ``workbook=False``
        leaves out ``report.xlsx``, as ``--no-xlsx`` does."""
        return Path(self._native.write(os.fspath(out), charts, tuple(chart_size), samples, workbook))

    @property
    def headline(self) -> str:
        """The command line's line for this run (the focus provider)."""
        return self._native.headline

    name = property(lambda self: self._native.name, doc="The scenario's name.")
    paths = property(lambda self: self._native.paths, doc="Paths simulated.")
    seed = property(lambda self: self._native.seed, doc="The seed of the run.")
    sampling = property(lambda self: self._native.sampling, doc="mc, lhs or sobol.")
    threads = property(lambda self: self._native.threads, doc="Worker threads (as run.json records).")
    wall_seconds = property(lambda self: self._native.wall_seconds, doc="Seconds the simulation took.")
    focus = property(lambda self: self._native.focus, doc="The focus provider of the headline.")
    base = property(lambda self: self._native.base, doc="The base scenario of a paired run, or None.")
    notes = property(lambda self: self._native.notes, doc="Notes of a paired run.")

    def _key_rows(self) -> list:
        loss = f"loss.{self.focus}"
        rows = []
        figures = self[loss]
        for stat in ("mean", "var99", "es99"):
            v = getattr(figures, stat)
            if v is None:
                continue
            ci = f"{v.ci[0]:,.1f} to {v.ci[1]:,.1f}" if v.ci else ""
            rows.append((f"{loss} {stat}", f"{float(v):,.1f}", ci))
        if self.base is not None:
            p = self.paired
            if p is not None and loss in p.index:
                row = p.loc[loss]
                rows.append((f"{loss} mean minus {self.base}", f"{row['diff']:+,.2f}", f"se {row['se_paired']:.2f}"))
        return rows

    def __repr__(self) -> str:
        kind = f"paired against {self.base}" if self.base else "run"
        lines = [f"<RunResult {self.name} ({kind}, {self.paths:,} paths, seed {self.seed}, {self.sampling})>"]
        lines += [f"  {k}: {v}" + (f"  [{c}]" if c else "") for k, v, c in self._key_rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        kind = f"paired against <b>{e(self.base)}</b>" if self.base else "run"
        head = f"<p><b>{e(self.name)}</b> ({kind}, {self.paths:,} paths, seed {self.seed}, {e(self.sampling)})</p>"
        body = "".join(
            f"<tr><td>{e(k)}</td><td style='text-align:right'>{e(v)}</td><td>{e(c)}</td></tr>"
            for k, v, c in self._key_rows()
        )
        return (
            head
            + "<table><thead><tr><th>figure ($bn)</th><th>value</th><th>95% interval / se</th></tr></thead>"
            + f"<tbody>{body}</tbody></table>"
        )


def run(
    scenario: Union[Scenario, PathLike],
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> RunResult:
    """Simulate a scenario: its ``paths`` paths under its ``seed`` unless
    given; ``sampling`` is ``"mc"``, ``"lhs"`` or ``"sobol"`` (default: the
    scenario's); ``threads=None`` uses one per logical CPU (the numbers do
    not depend on it). The GIL is released while paths are simulated."""
    return RunResult(_native.run(_scenario(scenario)._native, paths, seed, threads, sampling, progress))


def run_paired(
    scenario: Union[Scenario, PathLike],
    base: Union[Scenario, PathLike],
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> RunResult:
    """Simulate ``scenario`` and ``base`` on the same paths (common random
    numbers: every draw is keyed by the seed, the path and the name) and
    compare them path by path: ``.paired`` holds the differences with their
    standard errors (``paired-BASE.csv``)."""
    native = _native.run_paired(
        _scenario(scenario)._native, _scenario(base)._native, paths, seed, threads, sampling, progress
    )
    return RunResult(native)


class Portfolio:
    """A validated portfolio: holdings whose value moves with scenario
    metrics (``exposure = { "backlog.azure" = 0.2 }``). A portfolio that
    cannot be used raises :class:`PortfolioError` with ``file``, ``line``
    and ``field``."""

    __slots__ = ("_native",)

    def __init__(self, native: "_native.Portfolio") -> None:
        self._native = native

    @staticmethod
    def load(path: PathLike) -> "Portfolio":
        """Read and validate a portfolio file."""
        return Portfolio(_native.Portfolio.load(os.fspath(path)))

    @staticmethod
    def from_toml(text: str, name: str = "<string>") -> "Portfolio":
        """Validate portfolio TOML; ``name`` stands for the file in messages."""
        return Portfolio(_native.Portfolio.from_toml(text, name))

    name = property(lambda self: self._native.name, doc="``portfolio.name``.")
    file = property(lambda self: self._native.file, doc="The file it was loaded from, or ``<string>``.")
    value = property(lambda self: self._native.value, doc="The portfolio's value, in ``unit``.")
    unit = property(lambda self: self._native.unit, doc="The unit of the value and every P&L figure.")
    holdings = property(lambda self: self._native.holdings, doc="The holdings' names.")

    def __repr__(self) -> str:
        return repr(self._native)


def _portfolio(p: Union[Portfolio, PathLike]) -> Portfolio:
    if isinstance(p, Portfolio):
        return p
    if isinstance(p, (str, os.PathLike)):
        return Portfolio.load(p)
    raise TypeError(f"expected a Portfolio or the path of a portfolio file, got {type(p).__name__}")


def _png(files: Dict[str, bytes], name: str, what: str) -> bytes:
    key = name if name.endswith(".png") else f"{name}.png"
    if key not in files:
        charts = ", ".join(n[:-4] for n in files if n.endswith(".png"))
        raise OptionError(f"name={name!r}: not a chart of this {what}; give one of {charts}")
    return files[key]


class StressResult:
    """A portfolio's stress test on one or more scenarios: the command
    line's tables as DataFrames, indexed by scenario first."""

    def __init__(self, native: "_native.StressResult") -> None:
        self._native = native
        self._files: Dict[Tuple[Optional[str], str], bytes] = {
            (sc, name): data for sc, name, data in native._files("none")
        }

    def file(self, name: str, scenario: Optional[str] = None) -> bytes:
        """The bytes of one file as the command line writes it: a
        scenario's ``pnl.csv``, ``risk.csv``, ``contributions.csv``,
        ``tail.csv`` or ``paired-BASE.csv`` (give ``scenario``), or the
        table across scenarios ``portfolio-P.csv``."""
        if scenario is None and len(self.scenarios) == 1 and (self.scenarios[0], name) in self._files:
            scenario = self.scenarios[0]
        key = (scenario, name)
        if key not in self._files:
            names = sorted({n for _, n in self._files})
            raise OptionError(f"{name!r} of scenario {scenario!r}: no such file; give one of {', '.join(names)}")
        return self._files[key]

    def _by_scenario(self, name: str) -> pd.DataFrame:
        frames = {sc: _table(self._files[(sc, name)]) for sc in self.scenarios if (sc, name) in self._files}
        return pd.concat(frames, names=["scenario", "row"])

    @property
    def pnl(self) -> pd.DataFrame:
        """``pnl.csv`` of each scenario: the P&L's statistics."""
        return self._by_scenario("pnl.csv")

    @property
    def risk(self) -> pd.DataFrame:
        """``risk.csv`` of each scenario: expected P&L, VaR, ES, P(loss > 10%)..."""
        return self._by_scenario("risk.csv")

    @property
    def contributions(self) -> pd.DataFrame:
        """``contributions.csv`` of each scenario: each holding's share of
        the expected P&L, VaR99 and ES99 (shares sum to the total)."""
        return self._by_scenario("contributions.csv")

    @property
    def tail(self) -> pd.DataFrame:
        """``tail.csv`` of each scenario: each metric's mean in the tail
        (the worst 1% of paths) against its mean."""
        return self._by_scenario("tail.csv")

    @property
    def across(self) -> pd.DataFrame:
        """``portfolio-P.csv``: one row per scenario (with the paired
        differences against the base when there is one)."""
        return _table(self._files[(None, f"portfolio-{self.portfolio}.csv")])

    def chart(self, name: str = "pnl", scenario: Optional[str] = None, size: Tuple[int, int] = (1600, 1000)) -> bytes:
        """A chart as PNG bytes: a scenario's ``pnl`` or ``contributions``
        (the first scenario's unless ``scenario`` is given), or
        ``portfolio-P`` across scenarios."""
        files = {n: d for sc, n, d in self._native._files("key", tuple(size))
                 if sc == (scenario or self.scenarios[0]) or sc is None}
        return _png(files, name, "stress test")

    def write(
        self,
        out: PathLike = "output",
        charts: str = "key",
        chart_size: Tuple[int, int] = (1600, 1000),
        workbook: bool = True,
    ) -> Path:
        """Write the command line's files: ``out/NAME/portfolio-P/`` for
        each scenario (with ``portfolio.xlsx`` unless ``workbook=False``)
        and ``out/portfolio-P.csv``/``.png``; returns ``out``."""
        return Path(self._native.write(os.fspath(out), charts, tuple(chart_size), workbook))

    portfolio = property(lambda self: self._native.portfolio, doc="The portfolio's name.")
    scenarios = property(lambda self: self._native.scenarios, doc="The scenarios that ran, in the order given.")
    skipped = property(lambda self: self._native.skipped, doc="(scenario, why) of each scenario the portfolio does not fit.")

    def __repr__(self) -> str:
        lines = [f"<StressResult {self.portfolio} on {len(self.scenarios)} scenario(s)>"]
        lines += [f"  {line}" for line in self._native.lines]
        lines += [f"  skipped {sc}: {why}" for sc, why in self.skipped]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.portfolio)}</b></p>" + self.across.to_html(index=False)


def stress(
    portfolio: Union[Portfolio, PathLike],
    scenarios: Any,
    base: Union[Scenario, PathLike, None] = None,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> StressResult:
    """Stress-test a portfolio on every simulated path of each scenario (a
    Scenario, a path, or a list of them), at the portfolio's horizon;
    ``base`` pairs each with a base scenario, path by path. A scenario the
    portfolio does not fit is skipped (``.skipped``, and a warning); a
    metric no scenario records, or no scenario fitting, is a
    :class:`PortfolioError`."""
    import warnings

    if isinstance(scenarios, (Scenario, str, os.PathLike)):
        scenarios = [scenarios]
    natives = [_scenario(s)._native for s in scenarios]
    b = None if base is None else _scenario(base)._native
    result = StressResult(
        _native.stress(_portfolio(portfolio)._native, natives, b, paths, seed, threads, sampling, progress)
    )
    for sc, why in result.skipped:
        warnings.warn(f"skipped {sc}: {why}", stacklevel=2)
    return result


class ExplainResult:
    """What drives a metric: its attribution to the drivers of the risk
    (Shapley values, path by path; they sum to the total) and its
    sensitivity to each uncertain input (Sobol' indices, tornado)."""

    def __init__(self, native: "_native.ExplainResult") -> None:
        self._native = native
        self._files = dict(native._files("none"))

    def file(self, name: str) -> bytes:
        """The bytes of ``attribution.csv``, ``sensitivity.csv`` or
        ``explain.html`` (without charts) as the command line writes them."""
        if name not in self._files:
            raise OptionError(f"name={name!r}: not a file of this explanation; give one of {', '.join(self._files)}")
        return self._files[name]

    @property
    def attribution(self) -> Optional[pd.DataFrame]:
        """``attribution.csv``: each driver's contribution to the mean and to
        ES99 of the metric against plan; ``None`` when not asked for."""
        data = self._files.get("attribution.csv")
        return None if data is None else _table(data)

    @property
    def sensitivity(self) -> Optional[pd.DataFrame]:
        """``sensitivity.csv``: each uncertain input's Sobol' indices (with
        standard errors) and tornado swing; ``None`` when not asked for."""
        data = self._files.get("sensitivity.csv")
        return None if data is None else _table(data)

    @property
    def given(self) -> Optional[pd.DataFrame]:
        """``given.csv``: the reverse stress test. P(condition) with its
        standard error on every row, then every input, metric and (with the
        attribution) driver over the paths that meet the condition beside
        all paths, by the shift of its mean in sds; ``None`` without
        ``given``."""
        data = self._files.get("given.csv")
        return None if data is None else _table(data)

    @property
    def given_paths(self) -> Optional[pd.DataFrame]:
        """``given-paths.csv``: the most plausible paths that meet the
        condition (highest prior density of their inputs first); replay one
        with :func:`path`. ``None`` without ``given``."""
        data = self._files.get("given-paths.csv")
        return None if data is None else _table(data)

    def chart(self, name: str = "attribution", size: Tuple[int, int] = (1600, 1000)) -> bytes:
        """``attribution`` (waterfall) or ``tornado`` as PNG bytes."""
        return _png(dict(self._native._files("key", tuple(size))), name, "explanation")

    def write(
        self,
        out: PathLike = "output",
        charts: str = "key",
        chart_size: Tuple[int, int] = (1600, 1000),
        workbook: bool = True,
    ) -> Path:
        """Write the command line's files of ``explain`` into ``out/NAME/``
        (with ``explain.xlsx`` unless ``workbook=False``); returns the
        folder."""
        return Path(self._native.write(os.fspath(out), charts, tuple(chart_size), workbook))

    scenario = property(lambda self: self._native.scenario, doc="The scenario's name.")
    metric = property(lambda self: self._native.metric, doc="The metric explained.")
    plan = property(lambda self: self._native.plan, doc="The metric on the plan path.")
    mean = property(lambda self: self._native.mean, doc="The metric's mean over the paths.")
    paths = property(lambda self: self._native.paths, doc="Paths of the run.")
    seed = property(lambda self: self._native.seed, doc="The seed of the run.")

    def __repr__(self) -> str:
        return (f"<ExplainResult {self.metric} of {self.scenario} ({self.paths:,} paths): "
                f"plan {self.plan:,.1f}, mean {self.mean:,.1f}>")

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self.metric)}</b> of {html.escape(self.scenario)}</p>"]
        for df in (self.attribution, self.sensitivity):
            if df is not None:
                parts.append(df.head(12).to_html(index=False))
        return "".join(parts)


def explain(
    scenario: Union[Scenario, PathLike],
    metric: Optional[str] = None,
    by_rule: bool = False,
    attribution: bool = True,
    sensitivity: bool = True,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
    given: Optional[str] = None,
    top: int = 5,
    min_hits: Optional[int] = None,
    max_paths: int = 10_000_000,
) -> ExplainResult:
    """What drives ``metric`` (default: the focus provider's loss): the
    attribution to the drivers (``by_rule=True``: each shift and rule its
    own) and the Sobol' indices of every uncertain input. Costs 1 + k + 3
    runs for k inputs plus 2^d for d drivers: give fewer ``paths`` than a
    plain run.

    ``given="loss.azure>=600"`` (``METRIC>=VALUE`` or ``<=``, several joined
    by ``,``) adds the reverse stress test, as ``explain --given``: its
    probability and the paths that meet it (:attr:`ExplainResult.given`,
    :attr:`ExplainResult.given_paths`, the ``top`` most plausible listed);
    ``min_hits`` runs rounds of ``paths`` until that many paths met it or
    ``max_paths`` are done."""
    native = _native.explain(_scenario(scenario)._native, metric, by_rule, attribution, sensitivity,
                             paths, seed, threads, sampling, progress, given, top, min_hits, max_paths)
    return ExplainResult(native)


class PathResult:
    """One path of a run, replayed quarter by quarter, as ``backlog-risk
    path`` tells it: the same numbers the run recorded for that path."""

    def __init__(self, native: "_native.PathResult") -> None:
        self._native = native
        self._files = dict(native._files("none"))

    @property
    def quarters(self) -> pd.DataFrame:
        """``path-N.csv``: one row per quarter: each provider's backlog (and
        the plan's) and revenue, bookings, allocation, each rule's events
        and cuts."""
        return _table(self._files[f"path-{self.path}.csv"])

    @property
    def values(self) -> pd.DataFrame:
        """``path-N-values.csv``: the path's inputs and metrics against the plan."""
        return _table(self._files[f"path-{self.path}-values.csv"])

    def file(self, name: str) -> bytes:
        """The bytes of ``path-N.csv`` or ``path-N-values.csv`` as the command line writes them."""
        if name not in self._files:
            raise OptionError(f"name={name!r}: not a file of this path; give one of {', '.join(self._files)}")
        return self._files[name]

    def chart(self, size: Tuple[int, int] = (1600, 1000)) -> bytes:
        """``path-N.png``: the focus provider's backlog against the plan and the fan, as PNG bytes."""
        return dict(self._native._files("key", tuple(size)))[f"path-{self.path}.png"]

    def write(self, out: PathLike = "output", charts: str = "key", chart_size: Tuple[int, int] = (1600, 1000)) -> Path:
        """Write the command line's files into ``out/NAME/path-N/``; returns the folder."""
        return Path(self._native.write(os.fspath(out), charts, tuple(chart_size)))

    scenario = property(lambda self: self._native.scenario, doc="The scenario's name.")
    path = property(lambda self: self._native.path, doc="The path's index in the run.")
    paths = property(lambda self: self._native.paths, doc="Paths of the run.")
    seed = property(lambda self: self._native.seed, doc="The seed of the run.")

    def __repr__(self) -> str:
        return f"<PathResult path {self.path} of {self.scenario} ({self.paths:,} paths, seed {self.seed})>"


def path(
    scenario: Union[Scenario, PathLike],
    path: int,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> PathResult:
    """Replay path ``path`` of a run of ``scenario`` (with its ``paths``,
    ``seed`` and ``sampling``), as ``backlog-risk path``: every quarter, its
    inputs and metrics against the plan, a chart against the run's fan."""
    return PathResult(_native.path(_scenario(scenario)._native, path, paths, seed, threads, sampling, progress))


class SweepResult:
    """A scenario over a grid of one or two parameters, every point on the
    same paths (common random numbers)."""

    def __init__(self, native: "_native.SweepResult") -> None:
        self._native = native
        self._files = dict(native._files("none"))

    @property
    def table(self) -> pd.DataFrame:
        """``sweep-SLUG.csv``: one row per grid point, the varied values and
        every metric's statistics."""
        (name,) = [n for n in self._files if n.endswith(".csv")]
        return _table(self._files[name])

    def file(self) -> bytes:
        """The bytes of ``sweep-SLUG.csv`` as the command line writes it."""
        (name,) = [n for n in self._files if n.endswith(".csv")]
        return self._files[name]

    def chart(self, size: Tuple[int, int] = (1600, 1000)) -> bytes:
        """The sweep's chart (a line, or a heatmap for two parameters) as PNG bytes."""
        files = dict(self._native._files("key", tuple(size)))
        (name,) = [n for n in files if n.endswith(".png")]
        return files[name]

    def write(self, out: PathLike = "output", charts: str = "key", chart_size: Tuple[int, int] = (1600, 1000)) -> Path:
        """Write ``sweep-SLUG.csv`` and ``.png`` into ``out/NAME/``; returns the folder."""
        return Path(self._native.write(os.fspath(out), charts, tuple(chart_size)))

    scenario = property(lambda self: self._native.scenario, doc="The base scenario's name.")
    metric = property(lambda self: self._native.metric, doc="The metric charted.")
    stat = property(lambda self: self._native.stat, doc="The statistic charted.")
    vary = property(lambda self: self._native.vary, doc="The varied field paths and their values.")
    notes = property(lambda self: self._native.notes, doc="Notes of the plan.")

    def __repr__(self) -> str:
        axes = "; ".join(f"{p} over {len(v)} values" for p, v in self.vary)
        return f"<SweepResult {self.scenario}: {self.stat} of {self.metric}, {axes}>"

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, max_rows=20)


def sweep(
    scenario: Union[Scenario, PathLike],
    vary: Mapping[str, Any],
    stat: str = "es99",
    metric: Optional[str] = None,
    renormalise: bool = False,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    sampling: Optional[str] = None,
    progress: Optional[Progress] = None,
) -> SweepResult:
    """Run a scenario at every point of a grid: ``vary`` maps one or two
    field paths to their values (a list, or a spec such as
    ``"0.05..0.5:10"``); ``stat`` of ``metric`` is charted (default: ES99
    of the focus provider's loss). ``renormalise=True`` rescales a varied
    allocation share's siblings to sum to 1."""
    axes = [(path, v if isinstance(v, str) else [float(x) for x in v]) for path, v in vary.items()]
    native = _native.sweep(_scenario(scenario)._native, axes, stat, metric, renormalise,
                           paths, seed, threads, sampling, progress)
    return SweepResult(native)
