"""Workloads defined outside the benchmark package plug into a run here (the fault test).

The benchmark runs every workload, but the fault workload's conductor, analysis and report section
live in ``fault/``, which builds on the benchmark (its records, statistics and runs). So the layering
stays one way, ``fault`` registers an ``Extension`` and the benchmark calls it by workload name;
the command line (``cli.py``, the composition root) registers it before any command runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from ..stack import Stack
from .records import RequestRecord

Table = tuple[str, list[str], list[list[str]]]


@dataclass(frozen=True)
class Extension:
    """What one workload adds to a benchmark run; its summary section is ``summary[workload]``."""

    workload: str
    #: Before the run: the runner's helper for this workload (``Runner(..., fault=helper)``), from
    #: the stack, the settings, the project root, the request headers and the run clock.
    start: Callable[[Stack, Mapping[str, Any], Path, dict[str, str], Callable[[], float]], Any]
    #: After the run: the summary section; may write its own files into the bundle folder.
    finish: Callable[[Any, Sequence[RequestRecord], float, Path], dict[str, Any]]
    #: The report's tables of the section.
    tables: Callable[[Mapping[str, Any]], list[Table]]
    #: The report's plot of the section on a matplotlib axis (with the run's records).
    plot: Callable[[Any, Mapping[str, Any], Sequence[RequestRecord]], None]
    plot_file: str


EXTENSIONS: dict[str, Extension] = {}


def register(ext: Extension) -> None:
    EXTENSIONS[ext.workload] = ext


def for_workload(name: str) -> Extension | None:
    """The extension a workload needs (None for the benchmark's own workloads)."""
    from .workloads import PROFILES

    if PROFILES[name].own:
        return None
    ext = EXTENSIONS.get(name)
    if ext is None:
        raise WorkflowError(f"the {name} workload is not available in this program (its package did not register). "
                            "Fix: run it through `vllm-workflow` / `make`.")
    return ext


def sections(summary: Mapping[str, Any]) -> list[tuple[Extension, Mapping[str, Any]]]:
    """The registered extensions whose section this summary has."""
    return [(ext, summary[name]) for name, ext in sorted(EXTENSIONS.items()) if summary.get(name)]
