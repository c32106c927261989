"""Set up a fault run for one stack and turn what it saw into ``summary["fault"]``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..benchmark.records import RequestRecord
from ..errors import WorkflowError
from ..stack import Stack
from . import analysis, inject
from .driver import FaultDriver, plan_from_vars
from .observe import Observer


def check_stack(stack: Stack) -> None:
    """A fault test needs a router and a second engine to fail over to."""
    if stack.router is None:
        raise WorkflowError(f"the stack on {stack.host} has no router: with nothing to fail over, the fault "
                            "workload has nothing to measure. Fix: set CONFIG_VLLM_ROUTER_ENABLED=y and "
                            "`make vllm-deploy`.")
    if len(stack.engines) < 2:
        raise WorkflowError(f"the stack on {stack.host} has {len(stack.engines)} engine: killing it leaves the "
                            "router nothing to fail over to. Fix: set CONFIG_VLLM_REPLICA_COUNT=2 (or more) "
                            "and `make vllm-deploy`.")


def driver_for(stack: Stack, v: Mapping[str, Any], root: Path, headers: dict[str, str],
               clock: Callable[[], float]) -> FaultDriver:
    check_stack(stack)
    plan = plan_from_vars(v, [e.name for e in stack.engines], {e.name: stack.serves(e) for e in stack.engines})
    observer = Observer([(e.name, e.url) for e in stack.engines],
                        stack.router.metrics_url if stack.router else None, headers, clock)
    return FaultDriver(plan, inject.for_stack(stack, root), observer)


def finish(driver: FaultDriver, records: Sequence[RequestRecord], warmup_s: float,
           out: Path | None = None) -> dict[str, Any]:
    """Read the process manager's record, then analyse; with ``out`` (the bundle folder) also keep
    the observations there (fault-observations.jsonl)."""
    if out is not None:
        from ..benchmark.bundle import write_jsonl

        write_jsonl(out / "fault-observations.jsonl", driver.observer.rows)
    engines = sorted({f["engine"] for f in driver.faults})
    pm: list[dict[str, Any]] = []
    note = driver.note
    if driver.faults:
        try:
            raw = driver.injector.events(driver.started_at, engines)
            pm = [{**e, "t": round(float(e["at"]) - driver.started_at, 3)} for e in raw]
        except WorkflowError as exc:
            note = (note + "; " if note else "") + f"process manager record unreadable: {exc}"
    run_end = max([r.end for r in records if r.end is not None] + [0.0])
    out = analysis.analyse(driver.faults, driver.observer.rows, pm, records, run_end, warmup_s,
                           driver.plan.goals, outage_model=driver.plan.model)
    if not driver.faults:
        out["verdict"] = "fail"
        note = note or "the run ended before the fault was injected"
    return {**out, "plan": driver.plan.describe(), "note": note}
