"""`vllm-workflow local-plan`: the local backend's plan, for inspection and debugging."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..errors import WorkflowError


def cmd_local_plan(args: argparse.Namespace) -> int:
    """The local deploy plan as JSON, from ``{"vars", "facts"}`` on stdin (what deploy computes
    in-process through the vllm_local_plan filter; here for inspection and debugging)."""
    from .plan import plan_from_input

    try:
        result = plan_from_input(json.load(sys.stdin))
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkflowError(f"local-plan needs JSON {{'vars': ..., 'facts': ...}} on stdin: {exc}") from exc
    json.dump(result, sys.stdout)
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    add("local-plan", cmd_local_plan,
        "plan the local stack from JSON {vars, facts} on stdin; print the plan as JSON (used by deploy)")
