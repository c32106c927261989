"""The fault workload as the benchmark runs it: an ``Extension`` the command line registers.

Light on purpose: every command registers it at start-up, so the fault machinery (the driver,
its observer's HTTP client, the analysis) is imported only when a fault run or report needs it.
"""

from __future__ import annotations

from typing import Any

from ..benchmark.extensions import Extension


def _start(*args: Any) -> Any:
    from .session import driver_for

    return driver_for(*args)


def _finish(*args: Any) -> Any:
    from .session import finish

    return finish(*args)


def _tables(section: Any) -> Any:
    from .report import tables

    return tables(section)


def _plot(*args: Any) -> None:
    from .report import plot

    plot(*args)


EXTENSION = Extension(workload="fault", start=_start, finish=_finish, tables=_tables, plot=_plot,
                      plot_file="fault-timeline.png")
