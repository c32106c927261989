"""Every PromQL expression our dashboards and `vllm-monitor` use, in one place, so tests can
check each metric name against the live /metrics of a real engine and router."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
def host_panels(job: str) -> dict[str, tuple[str, str]]:
    """The host, from a node exporter scraped as ``job``: title -> (PromQL, unit), per instance."""
    node = f'job="{job}"'
    cpus = f'count by ({BY}) (node_cpu_seconds_total{{{node},mode="idle"}})'
    return {
        "Host CPU busy": (f'1 - sum by ({BY}) (rate(node_cpu_seconds_total{{{node},mode=~"idle|iowait"}}[15s])) / {cpus}',
                          "percentunit"),
        "Host system CPU": (f'sum by ({BY}) (rate(node_cpu_seconds_total{{{node},mode="system"}}[15s])) / {cpus}',
                            "percentunit"),
        "Host CPU pressure": (f"rate(node_pressure_cpu_waiting_seconds_total{{{node}}}[15s])", "percentunit"),
        "Host context switches per second": (f"rate(node_context_switches_total{{{node}}}[15s])", "none"),
    }


#: The local backend's node exporter (job "node" in the generated configuration).
HOST_PANELS = host_panels("node")
#: The compact per-engine summary of `make vllm-monitor`: column -> title in ENGINE_PANELS.
MONITOR_COLUMNS = {"req/s": "Requests finished per second", "TTFT p50": "TTFT p50", "TTFT p95": "TTFT p95",
                   "cache hits": "Prefix-cache hit rate", "KV used": "KV-cache usage"}



def _k8s_quantile(q: float, selector: str, *histograms: str, window: str = "1m") -> str:
    """A per-pod quantile over the first of ``histograms`` an engine exports (older vLLM names follow)."""
    rates = " or ".join(f"rate({h}_bucket{{{selector}}}[{window}])" for h in histograms)
    return f"histogram_quantile({q}, sum by (pod, le) ({rates}))"


def kubernetes_panels(namespace: str) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """(engine panels, router panels) for the chart's engines and production-stack router in one
    namespace, scraped through the chart's ServiceMonitors (job = the Service's name). The chart's
    engine images predate vLLM's metric renames, so panels read the new name ``or`` the old one
    (KV usage: kv_cache_usage_perc or gpu_cache_usage_perc) and are never empty."""
    e = f'namespace="{namespace}",job=~".+-engine-service"'
    r = f'namespace="{namespace}",job=~".+-router-service"'
    by = "sum by (pod)"
    engine = {
        "Engines up": (f"up{{{e}}}", "none"),
        "Requests finished per second": (f"{by} (rate(vllm:request_success_total{{{e}}}[1m]))", "reqps"),
        "TTFT p50": (_k8s_quantile(0.5, e, "vllm:time_to_first_token_seconds"), "s"),
        "TTFT p95": (_k8s_quantile(0.95, e, "vllm:time_to_first_token_seconds"), "s"),
        "ITL p50": (_k8s_quantile(0.5, e, "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"), "s"),
        "ITL p95": (_k8s_quantile(0.95, e, "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
                    "s"),
        "E2E latency p50": (_k8s_quantile(0.5, e, "vllm:e2e_request_latency_seconds"), "s"),
        "E2E latency p95": (_k8s_quantile(0.95, e, "vllm:e2e_request_latency_seconds"), "s"),
        "Running requests": (f"{by} (vllm:num_requests_running{{{e}}})", "none"),
        "Waiting requests": (f"{by} (vllm:num_requests_waiting{{{e}}})", "none"),
        "KV-cache usage": (f"max by (pod) (vllm:kv_cache_usage_perc{{{e}}} or vllm:gpu_cache_usage_perc{{{e}}})",
                           "percentunit"),
        "Prefix-cache hit rate": (
            f"{by} (rate(vllm:prefix_cache_hits_total{{{e}}}[5m]) or rate(vllm:gpu_prefix_cache_hits_total{{{e}}}[5m])) / "
            f"{by} (rate(vllm:prefix_cache_queries_total{{{e}}}[5m]) or "
            f"rate(vllm:gpu_prefix_cache_queries_total{{{e}}}[5m]))", "percentunit"),
        "Preemptions per second": (f"{by} (rate(vllm:num_preemptions_total{{{e}}}[1m]))", "none"),
    }
    router = {
        "Router up": (f"up{{{r}}}", "none"),
        "Router: healthy engines": (f"max(vllm:healthy_pods_total{{{r}}})", "none"),
        "Router: requests per engine per second (routing decisions)": (f"max by (server) (vllm:current_qps{{{r}}})",
                                                                       "reqps"),
        "Router: incoming requests per second": (f"sum(rate(vllm:num_incoming_requests_total{{{r}}}[1m]))", "reqps"),
        "Router: latency p95 per engine": (
            f"histogram_quantile(0.95, sum by (server, le) (rate(vllm:request_latency_seconds_bucket{{{r}}}[1m])))", "s"),
        "Router: errors per second": (f"sum by (server, error_type) (rate(vllm:request_errors_total{{{r}}}[1m]))",
                                      "reqps"),
    }
    return engine, router


@dataclass(frozen=True)
class PanelSet:
    """The panels of one backend and the labels that name an engine in their series."""

    engine: dict[str, tuple[str, str]]
    router: dict[str, tuple[str, str]]
    by: str  # the label naming one engine
    router_by: str  # the label naming one engine in the router's series
    engine_job: str  # a regular expression matching the engines' scrape job
    host: dict[str, tuple[str, str]] = field(default_factory=dict)  # the node exporter's (local backend)

    def is_engine_job(self, job: str) -> bool:
        return re.fullmatch(self.engine_job, job) is not None


LOCAL = PanelSet(ENGINE_PANELS, ROUTER_PANELS, BY, "worker", "vllm-engines", HOST_PANELS)


def kubernetes(namespace: str) -> PanelSet:
    engine, router = kubernetes_panels(namespace)
    # kube-prometheus-stack's node exporter: job "node-exporter", one instance per node
    return PanelSet(engine, router, "pod", "server", ".+-engine-service", host_panels("node-exporter"))


def for_stack(raw: dict) -> PanelSet:
    """The panel set of a stack description."""
    if raw.get("backend") == "kubernetes":
        return kubernetes(str((raw.get("kubernetes") or {}).get("namespace", "")))
    return LOCAL


_NAME = re.compile(r"\b(vllm[:_][a-z0-9_:]+)")
_FUNCTIONS = {"vllm_router"}  # never a bare name


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (histograms by their ``_bucket`` series)."""
    return {m for m in _NAME.findall(expr) if m not in _FUNCTIONS}


def all_metric_names(panels: PanelSet = LOCAL) -> set[str]:
    names: set[str] = set()
    for expr, _ in (*panels.engine.values(), *panels.router.values()):
        names |= metric_names(expr)
    return names
