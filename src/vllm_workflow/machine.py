"""What a target machine is (kernel, OS, CPU, memory), from what deploy's host probe read on it.

Deploy records this in the stack description, so each A/B arm's provenance comes from
its own host, not from the controller that runs the benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cpu_model(processor: Any) -> str | None:
    """The CPU model name: the probe's list of model names, or Ansible's ``ansible_processor``
    ([index, vendor, model, index, vendor, model, ...])."""
    if isinstance(processor, str) and processor.startswith("["):
        import ast

        try:
            processor = ast.literal_eval(processor)
        except (ValueError, SyntaxError):
            processor = []
    items = [str(p) for p in processor] if isinstance(processor, list | tuple) else []
    names = [p for p in items if p and not p.isdigit() and p not in ("GenuineIntel", "AuthenticAMD")]
    return names[0] if names else None


def from_host_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance fields (the keys the benchmark bundle uses) from the host probe's ``machine`` facts."""
    if not facts:
        return {}
    mem = _int(facts.get("memtotal_mb"))
    return {
        "collected_on": "target",
        "hostname": str(facts.get("hostname") or "") or None,
        "kernel": str(facts.get("kernel") or "") or None,
        "kernel_version": str(facts.get("kernel_version") or "") or None,
        "os": str(facts.get("os") or "").strip() or None,
        "cpu_model": cpu_model(facts.get("processor")),
        "cpus": _int(facts.get("cpus")),
        "memory_bytes": mem * 1024 * 1024 if mem is not None else None,
        "python": str(facts.get("python") or "") or None,
        **({"kernel_details": dict(facts["kernel_details"])} if isinstance(facts.get("kernel_details"), Mapping) else {}),
        **({"gpus": list(facts["gpus"])} if isinstance(facts.get("gpus"), list) else {}),
    }
