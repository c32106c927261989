"""`vllm-workflow measure`: what `make vllm` runs after the quick test.

The A/B comparison when CONFIG_VLLM_AB_TESTING is on, else the benchmark when
CONFIG_VLLM_BENCHMARK_ENABLED is on, else a line saying the benchmark was skipped. It sits above
both commands, so neither imports the other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_OK = 0


def cmd_measure(args: argparse.Namespace) -> int:
    from .benchmark import bundle
    from .benchmark import cli as bench

    if args.label:  # bad input first, before looking for a stack
        bundle.check_label(args.label)
    v = bench.settings(args)
    if v.get("vllm_ab_testing"):
        from .ab.cli import run_ab

        args.bisect = False
        return run_ab(args, v)
    if not v.get("vllm_benchmark_enabled"):
        print("📊 benchmark skipped: CONFIG_VLLM_BENCHMARK_ENABLED is off (`make vllm-benchmark` runs it anyway).")
        return EXIT_OK
    args.host = None
    return bench.cmd_benchmark(args)


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    from .benchmark.cli import add_run_options

    p = add("measure", cmd_measure,
            "after deploy and quick test (`make vllm`): the A/B comparison when CONFIG_VLLM_AB_TESTING, else the "
            "benchmark when CONFIG_VLLM_BENCHMARK_ENABLED, else nothing; exit codes as those commands'")
    add_run_options(p)
