"""The plans' contract with the playbooks (issue 28): every key a plan holds is declared in
``vllm_workflow.plans``, real plans hold exactly what their type declares, and no playbook reads a
plan path the type does not declare."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest

from vllm_workflow import plans
from vllm_workflow.kubernetes import plan as kp
from vllm_workflow.local import plan as lp

ROOT = Path(__file__).resolve().parents[1]
LOCAL_FACTS = {"home": "/home/u", "cpus": 4, "mem_available_mb": 20000, "hostname": "h1"}
#: The plan variables the roles read, and the type each one has.
PLAN_VARS = {"vllm_local_plan": plans.LocalPlan, "vllm_k8s_plan": plans.K8sPlan}


def is_typed_dict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def typed_dict_in(tp: Any) -> Any:
    """The TypedDict a field's type holds (``X | None`` unwrapped), or None."""
    if get_origin(tp) in (typing.NotRequired, typing.Required):
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        found = [a for a in get_args(tp) if is_typed_dict(a)]
        return found[0] if found else None
    return tp if is_typed_dict(tp) else None


def mismatches(value: Any, tp: Any, where: str) -> list[str]:
    """Where a plan's keys differ from its declared type, recursively through nested TypedDicts."""
    out = []
    keys = set(value)
    undeclared = keys - tp.__required_keys__ - tp.__optional_keys__
    missing = tp.__required_keys__ - keys
    out += [f"{where}.{k}: in the plan, not declared in {tp.__name__}" for k in sorted(undeclared)]
    out += [f"{where}.{k}: declared required in {tp.__name__}, not in the plan" for k in sorted(missing)]
    hints = get_type_hints(tp)
    for key in keys & set(hints):
        inner = typed_dict_in(hints[key])
        if inner is not None and isinstance(value[key], dict):
            out += mismatches(value[key], inner, f"{where}.{key}")
        elif get_origin(hints[key]) is list and isinstance(value[key], list):
            (item,) = get_args(hints[key]) or (Any,)
            if is_typed_dict(item):
                for i, element in enumerate(value[key]):
                    out += mismatches(element, item, f"{where}.{key}[{i}]")
    return out


def local_plans(vars_for) -> dict[str, dict]:
    out = {}
    for name, lines in {"vllm-local": (), "vllm-local-multi-model": (), "vllm-local-ab": (),
                        "vllm-local-no-router": ("# CONFIG_VLLM_ROUTER_ENABLED is not set", "CONFIG_VLLM_REPLICA_COUNT=1"),
                        "vllm-local-no-observability": ("# CONFIG_VLLM_OBSERVABILITY_ENABLED is not set",)}.items():
        defconfig = name if not lines else "vllm-local"
        out[name] = lp.plan(vars_for(defconfig, *lines), lp.Facts.from_dict(LOCAL_FACTS))
    return out


def k8s_plans(vars_for) -> dict[str, dict]:
    names = ("vllm-production-stack-cpu", "vllm-production-stack-gpu", "vllm-production-stack-rocm",
             "vllm-production-stack-declared-hosts", "vllm")
    out = {name: kp.plan(vars_for(name), kp.Facts.from_dict({"home": "/home/u"})) for name in names}
    out["keda"] = kp.plan(vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_KEDA_ENABLED=y"),
                          kp.Facts.from_dict({"home": "/home/u"}))
    return out


def test_real_local_plans_hold_exactly_what_their_type_declares(vars_for) -> None:
    plans_made = local_plans(vars_for)
    assert plans_made["vllm-local-no-router"]["router_settings"] is None  # the optional parts are covered
    assert plans_made["vllm-local-no-observability"]["prometheus"] is None
    for name, plan in plans_made.items():
        assert mismatches(plan, plans.LocalPlan, name) == []


def test_real_kubernetes_plans_hold_exactly_what_their_type_declares(vars_for) -> None:
    plans_made = k8s_plans(vars_for)
    assert plans_made["keda"]["keda"] is not None and plans_made["vllm-production-stack-cpu"]["keda"] is None
    for name, plan in plans_made.items():
        assert mismatches(plan, plans.K8sPlan, name) == []


class Inner(typing.TypedDict):
    a: int


class Outer(typing.TypedDict):
    inner: Inner | None
    b: int


def test_the_checker_names_an_undeclared_and_a_missing_key() -> None:
    assert mismatches({"inner": {"a": 1, "z": 2}, "c": 3}, Outer, "p") == [
        "p.c: in the plan, not declared in Outer", "p.b: declared required in Outer, not in the plan",
        "p.inner.z: in the plan, not declared in Inner"]


PATH = re.compile(r"\b(vllm_local_plan|vllm_k8s_plan)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def playbook_paths() -> list[tuple[str, str, list[str]]]:
    """(file, variable, path segments) of every plan path the playbooks and their templates read."""
    out = []
    for path in sorted((ROOT / "playbooks").rglob("*")):
        if path.suffix not in (".yml", ".yaml", ".j2") or not path.is_file():
            continue
        for var, rest in PATH.findall(path.read_text()):
            out.append((str(path.relative_to(ROOT)), var, rest.lstrip(".").split(".")))
    return out


def resolve(tp: Any, segments: list[str]) -> str | None:
    """None when the path is declared; else why not."""
    for i, seg in enumerate(segments):
        if not is_typed_dict(tp):
            return f"{'.'.join(segments[:i])} is not a typed dict ({tp}), so .{seg} is not declared"
        hints = get_type_hints(tp)
        if seg not in hints:
            return f"{tp.__name__} declares no {seg!r}"
        nxt = typed_dict_in(hints[seg])
        tp = nxt if nxt is not None else hints[seg]
    return None


def test_no_playbook_reads_a_plan_key_the_type_does_not_declare() -> None:
    found = playbook_paths()
    assert len(found) > 150  # the roles read the plans in many places; the scan sees them
    assert {var for _, var, _ in found} == set(PLAN_VARS)
    problems = [f"{file}: {var}.{'.'.join(segs)}: {why}" for file, var, segs in found
                if (why := resolve(PLAN_VARS[var], segs))]
    assert problems == []


@pytest.mark.parametrize(("var", "path", "words"), [
    ("vllm_k8s_plan", "helm.relase", "HelmPlan declares no 'relase'"),
    ("vllm_local_plan", "paths.venv_engine.x", "is not a typed dict"),
    ("vllm_local_plan", "stak", "LocalPlan declares no 'stak'"),
])
def test_a_misspelt_plan_path_is_caught(var: str, path: str, words: str) -> None:
    why = resolve(PLAN_VARS[var], path.split("."))
    assert why is not None and words in why


def test_the_stack_reader_reads_only_declared_keys() -> None:
    """``stack.Stack`` (the typed reader every later phase uses) and ``StackDescription`` (what the
    plans write) name the same fields on purpose; this holds the reader to the contract."""
    import inspect

    from vllm_workflow.stack import Stack

    source = inspect.getsource(Stack)
    read = set(re.findall(r"""data(?:\.get\(|\[)["']([a-z_]+)["']""", source))
    read |= set(re.findall(r"""self\.raw\.get\(["']([a-z_]+)["']""", source))
    assert {"host", "backend", "engines", "router", "models"} <= read
    assert read <= set(get_type_hints(plans.StackDescription)), read - set(get_type_hints(plans.StackDescription))
