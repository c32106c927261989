"""`vllm-workflow measure`: what `make vllm` runs after the quick test.

The A/B comparison when CONFIG_VLLM_AB_TESTING is on, else the benchmark when
CONFIG_VLLM_BENCHMARK_ENABLED is on, else a line saying the benchmark was skipped. It sits above
both commands, so neither imports the other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .settings import Settings

EXIT_OK = 0


def cmd_measure(args: argparse.Namespace) -> int:
    from .benchmark import bundle
    from .benchmark import cli as bench
    from .benchmark import service

    o = bench.options(args)
    if o.label:  # bad input first, before looking for a stack
        bundle.check_label(o.label)
    v = service.settings(o)
    s = Settings.of(v)
    if s.ab_testing:
        from .ab import cli as ab_cli
        from .ab.service import AbOptions, run_ab

        return run_ab(AbOptions(run=o), v, show=bench.print_summary, shown=ab_cli.print_after_runs)
    if not s.benchmark_enabled:
        print("📊 benchmark skipped: CONFIG_VLLM_BENCHMARK_ENABLED is off (`make vllm-benchmark` runs it anyway).")
        return EXIT_OK
    code = service.run(o, v, show=bench.print_summary)
    if code == EXIT_OK and s.history_check:
        from .history.cli import check_newest

        return check_newest(o.results_dir, v)
    return code


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    from .benchmark.cli import add_run_options

    p = add("measure", cmd_measure,
            "after deploy and quick test (`make vllm`): the A/B comparison when CONFIG_VLLM_AB_TESTING, else the "
            "benchmark when CONFIG_VLLM_BENCHMARK_ENABLED, else nothing; exit codes as those commands'")
    add_run_options(p)
