"""The exceptions of backlog_risk.

Every error of the package is a :class:`Error`; none is a bare
``RuntimeError`` or a panic. Messages are the command line's, with keyword
arguments where the command line names a flag.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["Error", "ScenarioError", "PortfolioError", "OptionError", "Cancelled", "SimulationError"]


class Error(Exception):
    """Base class of every backlog_risk error."""


class ScenarioError(Error, ValueError):
    """A scenario that cannot be used as written.

    ``file`` is the file (or ``<string>``/``<dict>``), ``line`` the 1-based
    line where known, ``field`` the dotted field path
    (``customers.openai.shift[0].target``) or ``None`` for the whole file.
    """

    file: Optional[str] = None
    line: Optional[int] = None
    field: Optional[str] = None


class PortfolioError(ScenarioError):
    """A portfolio that cannot be used as written (``file``, ``line``,
    ``field`` as for :class:`ScenarioError`)."""


class OptionError(Error, ValueError):
    """A keyword argument that cannot be used (``paths=0``,
    ``sampling="x"``); the message names it and says what to give."""


class Cancelled(Error):
    """The run was cancelled: the progress callback returned ``False``.
    (Ctrl-C raises ``KeyboardInterrupt`` itself, after the run stopped.)"""


class SimulationError(Error):
    """The simulation overflowed: an input too large to simulate (the
    message names the scenario and the metric)."""
