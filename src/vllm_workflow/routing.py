"""The router choice of the configuration, by the names each router uses (a leaf: imports nothing of ours).

Kconfig's "Routing logic" choice -> (the production-stack name, which is also the chart's
``routerSpec.routingLogic`` and the stack description's ``routing``; the local vllm-router policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROUTING = {
    "vllm_router_round_robin": ("roundrobin", "round_robin"),
    "vllm_router_session_affinity": ("session", "consistent_hash"),
    "vllm_router_prefix_aware": ("prefixaware", "cache_aware"),
    "vllm_router_kv_aware": ("kvaware", "kv_aware"),
}


def routing(v: Mapping[str, Any]) -> tuple[str, str]:
    """(routing name, vllm-router policy) for the configured choice (round robin when none is set)."""
    for key, value in ROUTING.items():
        if v.get(key):
            return value
    return ROUTING["vllm_router_round_robin"]
