"""What differs between the two arms' kernels and hosts: the kernel configuration (options added,
removed, changed — not the whole file), the command line, serving sysctls, and the other facts
deploy's probe read (transparent hugepages, cpufreq, NUMA, microcode, mitigations, clocksource,
cgroup version, CPU flags). Pure functions over provenance's ``host`` and the bundles'
kernel-config.gz.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Facts that always differ between two boots or hosts and say nothing about the kernel.
IGNORED = frozenset({"boot_time"})
#: Facts compared on their own terms below, not as flattened values.
SEPARATE = frozenset({"config", "sysctl", "cmdline", "cpu_flags"})


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def _pairs(base: Mapping[str, Any], dev: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [base.get(k), dev.get(k)] for k in sorted(set(base) | set(dev)) if base.get(k) != dev.get(k)}


def config_diff(base: Mapping[str, str], dev: Mapping[str, str]) -> dict[str, Any]:
    """Kernel config options added (set only in dev), removed (set only in baseline), changed."""
    return {"added": {k: dev[k] for k in sorted(set(dev) - set(base))},
            "removed": {k: base[k] for k in sorted(set(base) - set(dev))},
            "changed": {k: [base[k], dev[k]] for k in sorted(set(base) & set(dev)) if base[k] != dev[k]}}


def differences(base: Mapping[str, Any], dev: Mapping[str, Any],
                base_config: Mapping[str, str] | None = None,
                dev_config: Mapping[str, str] | None = None,
                limits: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {})) -> dict[str, Any]:
    """The kernel-level differences between two hosts' provenance (``host`` with ``kernel_details``),
    and between the cgroup limits of their programs (``limits``: program -> {cpus, memory_mb}).

    Returns {} when neither side has kernel details (bundles from before they were recorded)."""
    kb, kd = base.get("kernel_details"), dev.get("kernel_details")
    if not isinstance(kb, Mapping) and not isinstance(kd, Mapping):
        return {}
    kb, kd = dict(kb or {}), dict(kd or {})
    out: dict[str, Any] = {}
    lb: dict[str, Any] = {}
    ld: dict[str, Any] = {}
    _flat("", limits[0], lb)
    _flat("", limits[1], ld)
    limit_pairs = {k: pair for k, pair in _pairs(lb, ld).items() if k in lb and k in ld}  # programs on both
    if limit_pairs:
        out["limits"] = limit_pairs
    cb, cd = kb.get("config") or {}, kd.get("config") or {}
    if base_config is not None and dev_config is not None:
        diff = config_diff(base_config, dev_config)
        out["kernel_config"] = {"same": not any(diff.values()), **diff,
                                "sha256": [cb.get("sha256"), cd.get("sha256")]}
    elif cb.get("sha256") and cb.get("sha256") == cd.get("sha256"):
        out["kernel_config"] = {"same": True, "added": {}, "removed": {}, "changed": {}, "sha256": [cb["sha256"]] * 2}
    else:
        why = [f"{arm}: {c.get('unavailable') or 'no kernel-config.gz in its bundle'}"
               for arm, c, opts in (("baseline", cb, base_config), ("dev", cd, dev_config)) if opts is None]
        out["kernel_config"] = {"unavailable": "; ".join(why) or "not recorded",
                                "sha256": [cb.get("sha256"), cd.get("sha256")]}
    if kb.get("cmdline") != kd.get("cmdline"):
        out["cmdline"] = [kb.get("cmdline"), kd.get("cmdline")]
    sysctl = _pairs(kb.get("sysctl") or {}, kd.get("sysctl") or {})
    if sysctl:
        out["sysctl"] = sysctl
    fb, fd = set(kb.get("cpu_flags") or []), set(kd.get("cpu_flags") or [])
    if fb != fd:
        out["cpu_flags"] = {"added": sorted(fd - fb), "removed": sorted(fb - fd)}
    flat_b: dict[str, Any] = {}
    flat_d: dict[str, Any] = {}
    _flat("", {k: v for k, v in kb.items() if k not in SEPARATE | IGNORED}, flat_b)
    _flat("", {k: v for k, v in kd.items() if k not in SEPARATE | IGNORED}, flat_d)
    facts = _pairs(flat_b, flat_d)
    if facts:
        out["facts"] = facts
    return out


def _clip(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def lines(diff: Mapping[str, Any], limit: int = 12) -> list[str]:
    """The differences in words, one line per kind, long lists clipped to ``limit`` items."""
    out = []
    config = diff.get("kernel_config") or {}
    if config.get("unavailable"):
        out.append(f"Kernel config: not compared ({config['unavailable']}).")
    elif config and not config.get("same"):
        parts = []
        for kind in ("added", "removed"):
            if config[kind]:
                parts.append(f"{len(config[kind])} {kind} (" + _clip(
                    [f"{k}={v}" for k, v in config[kind].items()], limit) + ")")
        if config["changed"]:
            parts.append(f"{len(config['changed'])} changed (" + _clip(
                [f"{k} {b} → {d}" for k, (b, d) in config["changed"].items()], limit) + ")")
        out.append("Kernel config options, baseline → dev: " + "; ".join(parts) + ".")
    if "cmdline" in diff:
        b, d = diff["cmdline"]
        out.append(f"Kernel command line: baseline `{b}`, dev `{d}`.")
    if "sysctl" in diff:
        out.append("Sysctls differ: " + _clip([f"{k} {b} → {d}" for k, (b, d) in diff["sysctl"].items()], limit) + ".")
    if "cpu_flags" in diff:
        f = diff["cpu_flags"]
        out.append(f"CPU flags: {len(f['added'])} only in dev ({_clip(f['added'], limit)}), "
                   f"{len(f['removed'])} only in baseline ({_clip(f['removed'], limit)}).")
    if "limits" in diff:
        def shown(value: Any) -> str:
            return "unlimited" if value is None else f"{value:g}"
        out.append("Cgroup limits differ: " + _clip([f"{k} {shown(b)} → {shown(d)}"
                                                     for k, (b, d) in diff["limits"].items()], limit) + ".")
    if "facts" in diff:
        out.append("Host facts differ: " + _clip([f"{k} {b} → {d}" for k, (b, d) in diff["facts"].items()], limit) + ".")
    return out
