"""The router choice of the configuration, by the names each router uses (a leaf: imports nothing of ours).

Kconfig names the choice (the derived VLLM_ROUTING_LOGIC: the production-stack name, which is also
the chart's ``routerSpec.routingLogic`` and the stack description's ``routing``); this maps it to
the local vllm-router's policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import Settings

#: Routing name (Kconfig's derived VLLM_ROUTING_LOGIC) -> the local vllm-router's policy for it.
POLICIES = {
    "roundrobin": "round_robin",
    "session": "consistent_hash",
    "prefixaware": "cache_aware",
    "kvaware": "kv_aware",
}


def routing(v: Mapping[str, Any]) -> tuple[str, str]:
    """(routing name, vllm-router policy) of the settings (round robin when no router is configured)."""
    s = Settings.of(v)
    name = str(s.routing_logic or "roundrobin")
    return name, POLICIES[name]
