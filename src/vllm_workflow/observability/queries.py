"""Every PromQL expression our dashboards and `vllm-monitor` use, in one place, so tests can
check each metric name against the live /metrics of a real engine and router."""

from __future__ import annotations

import re

BY = "instance"


def quantile(q: float, histogram: str, window: str = "1m") -> str:
    return f"histogram_quantile({q}, sum by ({BY}, le) (rate({histogram}_bucket[{window}])))"


#: title -> (PromQL, unit). Engine series carry `instance` (host:port); the router's `worker`.
ENGINE_PANELS: dict[str, tuple[str, str]] = {
    "Engines up": ("up{job=\"vllm-engines\"}", "none"),
    "Requests finished per second": (f"sum by ({BY}) (rate(vllm:request_success_total[1m]))", "reqps"),
    "TTFT p50": (quantile(0.5, "vllm:time_to_first_token_seconds"), "s"),
    "TTFT p95": (quantile(0.95, "vllm:time_to_first_token_seconds"), "s"),
    "ITL p50": (quantile(0.5, "vllm:inter_token_latency_seconds"), "s"),
    "ITL p95": (quantile(0.95, "vllm:inter_token_latency_seconds"), "s"),
    "E2E latency p50": (quantile(0.5, "vllm:e2e_request_latency_seconds"), "s"),
    "E2E latency p95": (quantile(0.95, "vllm:e2e_request_latency_seconds"), "s"),
    "Running requests": (f"sum by ({BY}) (vllm:num_requests_running)", "none"),
    "Waiting requests": (f"sum by ({BY}) (vllm:num_requests_waiting)", "none"),
    "KV-cache usage": (f"max by ({BY}) (vllm:kv_cache_usage_perc)", "percentunit"),
    "Prefix-cache hit rate": (f"sum by ({BY}) (rate(vllm:prefix_cache_hits_total[5m])) / "
                              f"sum by ({BY}) (rate(vllm:prefix_cache_queries_total[5m]))", "percentunit"),
    "Preemptions per second": (f"sum by ({BY}) (rate(vllm:num_preemptions_total[1m]))", "none"),
}
ROUTER_PANELS: dict[str, tuple[str, str]] = {
    "Router: engine health": ("vllm_router_worker_health", "none"),
    "Router: requests per engine per second": ("sum by (worker) (rate(vllm_router_processed_requests_total[1m]))",
                                               "reqps"),
    "Router: routing decisions per second": ("sum by (policy, worker) (rate(vllm_router_policy_decisions_total[1m]))",
                                             "reqps"),
}
#: The compact per-engine summary of `make vllm-monitor`: column -> title in ENGINE_PANELS.
MONITOR_COLUMNS = {"req/s": "Requests finished per second", "TTFT p50": "TTFT p50", "TTFT p95": "TTFT p95",
                   "cache hits": "Prefix-cache hit rate", "KV used": "KV-cache usage"}

_NAME = re.compile(r"\b(vllm[:_][a-z0-9_:]+)")
_FUNCTIONS = {"vllm_router"}  # never a bare name


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (histograms by their ``_bucket`` series)."""
    return {m for m in _NAME.findall(expr) if m not in _FUNCTIONS}


def all_metric_names() -> set[str]:
    names: set[str] = set()
    for expr, _ in (*ENGINE_PANELS.values(), *ROUTER_PANELS.values()):
        names |= metric_names(expr)
    return names
