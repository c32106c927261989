"""Helm values for the production-stack chart (vllm-stack 0.1.12), generated from the configuration.

Every key emitted here is one the chart's templates read (tests hold that
list as data and check it): the chart's schema accepts unknown keys, which is
how kdevops' routing, LMCache and monitoring settings silently did nothing.
Secrets never appear in the values: the HF token and the API key live in a
Kubernetes Secret the deploy creates, and the values only name it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from . import gpu, resources
from ..settings import Settings

CHART_NAME = "vllm-stack"
#: The Secret deploy creates for the HF token and API key (never in the values).
SECRET_NAME_SUFFIX = "-workflow-secrets"
HF_TOKEN_KEY = "hf_token"
API_KEY_KEY = "vllm_api_key"
#: Engine ports of the chart (containers and service): HTTP, LMCache ZMQ, LMCache UCX.
ENGINE_PORTS = {"http": 8000, "zmq": 55555, "ucx": 9999}
#: The router service's LMCache controller port.
ROUTER_LMCACHE_PORT = 9000
#: The LMCache controller inside the router (KV-aware routing): engines push KV events to
#: 9000 (the router Service's own lmcache-port), get replies on 9001 and send heartbeats
#: to 9002; the Service has no ports for those two, so we add them (routerSpec.extraPorts).
#: Each engine's LMCache worker answers the controller on 8001 (pod IP). As in the chart's
#: own KV-aware CI values (examples/ci-tests/values-09-kvaware-routing.yaml).
ROUTER_LMCACHE_REPLY_PORT = 9001
ROUTER_LMCACHE_HEARTBEAT_PORT = 9002
LMCACHE_WORKER_PORTS = "8001"
LMCACHE_P2P = {"p2pHost": "localhost", "p2pInitPorts": "30081"}
LMCACHE_WORKER_HEARTBEAT_S = "30"
#: LMCache's remote cache server (cacheserverSpec): one pod every engine stores KV in and
#: reads it from, so a prefix computed by one engine is reused by the others.
CACHE_SERVER_PORT = 8100
CACHE_SERVER_SERVICE_PORT = 81
SERVICE_PORT = 80
#: Node label that names the GPU model, per vendor (GPU feature discovery / AMD node labeller).
GPU_PRODUCT_LABEL = {"cuda": "nvidia.com/gpu.product", "rocm": "amd.com/gpu.product-name"}
DNS_LABEL_MAX = 63


def device(v: Mapping[str, Any]) -> str:
    """cpu, cuda or rocm (Kconfig's derived VLLM_TARGET_DEVICE)."""
    s = Settings.of(v)
    return str(s.target_device or "cpu")


def routing_logic(v: Mapping[str, Any]) -> str:
    """The chart's routerSpec.routingLogic: the stack's routing names are the chart's."""
    from ..routing import routing

    return routing(v)[0]


def secret_name(v: Mapping[str, Any]) -> str:
    s = Settings.of(v)
    return f"{s.helm_release_name}{SECRET_NAME_SUFFIX}"


def model_spec_name(v: Mapping[str, Any]) -> str:
    """A DNS-safe modelSpec name from the served model name. The chart builds the
    service "<release>-<name>-engine-service" from it, which must fit 63 characters."""
    s = Settings.of(v)
    budget = DNS_LABEL_MAX - len(s.helm_release_name) - len("--engine-service")
    name = re.sub(r"[^a-z0-9]+", "-", s.model_name.lower()).strip("-")[:max(budget, 1)].strip("-")
    return name or "model"


def engine_service(v: Mapping[str, Any]) -> str:
    s = Settings.of(v)
    return f"{s.helm_release_name}-{model_spec_name(v)}-engine-service"


def router_service(v: Mapping[str, Any]) -> str:
    s = Settings.of(v)
    return f"{s.helm_release_name}-router-service"


def router_image_tag(v: Mapping[str, Any]) -> str:
    """The router tag, pinned to its digest when one is configured (the chart writes repository:tag)."""
    s = Settings.of(v)
    tag, digest = s.router_image_tag, s.router_image_digest.strip()
    return f"{tag}@{digest}" if digest else tag


def _extra_args(v: Mapping[str, Any]) -> list[str]:
    s = Settings.of(v)
    args = shlex.split(s.extra_engine_args)
    served, url = s.model_name, str(s.model_url or "")
    if served != url and "--served-model-name" not in args:
        args += ["--served-model-name", served]
    return args


def _vllm_config(v: Mapping[str, Any], dev: str) -> dict[str, Any]:
    s = Settings.of(v)
    config: dict[str, Any] = {
        "enablePrefixCaching": s.enable_prefix_caching,
        "enableChunkedPrefill": s.enable_chunked_prefill,
        "maxModelLen": s.max_model_len,
        "dtype": s.dtype,
    }
    if dev != "cpu":
        # The key also mounts a memory-backed /dev/shm, which multi-GPU engines need.
        config["tensorParallelSize"] = s.tensor_parallel_size
        config["gpuMemoryUtilization"] = float(s.gpu_memory_utilization)
    args = _extra_args(v)
    if dev == "cpu":  # the CPU engine knobs the local backend passes too
        if "--block-size" not in args:
            args += ["--block-size", str(s.local_block_size)]
        if s.local_enforce_eager and "--enforce-eager" not in args:
            args.append("--enforce-eager")
        if s.local_kv_cache_blocks and "--num-gpu-blocks-override" not in args:
            args += ["--num-gpu-blocks-override", str(s.local_kv_cache_blocks)]
    if args:
        config["extraArgs"] = args
    return config


def _env(v: Mapping[str, Any], dev: str) -> list[dict[str, str]]:
    s = Settings.of(v)
    env: dict[str, str] = {}
    if s.ab_testing and s.ab_reset_prefix_cache:
        env["VLLM_SERVER_DEV_MODE"] = "1"  # POST /reset_prefix_cache between A/B repetitions
    if dev == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(s.local_kvcache_gib)
        env["VLLM_CPU_OMP_THREADS_BIND"] = "auto" if s.local_omp_bind else "all"
    if dev == "rocm":
        arch = gpu.ROCM_ARCHS[gpu.configured_rocm_arch(v)]
        if not arch.flash_attention:
            env |= gpu.NO_CK_FLASH_ATTENTION_ENV
    return [{"name": k, "value": val} for k, val in sorted(env.items())]


def _model_spec(v: Mapping[str, Any], dev: str, hf_token: bool) -> dict[str, Any]:
    s = Settings.of(v)
    spec: dict[str, Any] = {
        "name": model_spec_name(v),
        "repository": s.engine_image_repository,
        "tag": s.engine_image_tag,
        "modelURL": s.model_url,
        "replicaCount": s.replica_count,
        "requestCPU": s.request_cpu,
        "requestMemory": s.request_memory,
        "requestGPU": 0 if dev == "cpu" else s.request_gpu,
        "vllmConfig": _vllm_config(v, dev),
    }
    if dev == "rocm":
        spec["requestGPUType"] = "amd.com/gpu"
    storage = s.k8s_model_storage
    if storage:
        spec["pvcStorage"] = storage
    if s.lmcache_enabled:
        lmcache: dict[str, Any] = {
            "enabled": True,
            "cpuOffloadingBufferSize": str(s.lmcache_cpu_offload_buffer_gib),
        }
        if routing_logic(v) == "kvaware":
            lmcache |= {"enableController": True, "controllerPort": ROUTER_LMCACHE_PORT,
                        "controllerReplyPort": ROUTER_LMCACHE_REPLY_PORT, "workerPorts": LMCACHE_WORKER_PORTS,
                        **LMCACHE_P2P, "workerHeartbeatTime": LMCACHE_WORKER_HEARTBEAT_S}
        spec["lmcacheConfig"] = lmcache
    if hf_token:
        spec["hf_token"] = {"secretName": secret_name(v), "secretKey": HF_TOKEN_KEY}
    env = _env(v, dev)
    if env:
        spec["env"] = env
    gpu_type = s.gpu_type
    if dev != "cpu" and gpu_type:
        spec["nodeSelectorTerms"] = [{"matchExpressions": [
            {"key": GPU_PRODUCT_LABEL[dev], "operator": "In", "values": [gpu_type]}]}]
    return spec


def keda(v: Mapping[str, Any], prometheus_namespace: str) -> dict[str, Any]:
    """modelSpec.keda: scale the engines from this release's own metrics in its own Prometheus
    (the kube-prometheus-stack one; a dev A/B arm reads the baseline's, which scrapes both).

    Queue: the waiting requests of all engines against the threshold per engine (KEDA's
    AverageValue divides by the replicas). KV cache: the engines' average usage in percent
    against the threshold (Value: the HPA scales by current/target). Older engine images name
    the gauge gpu_cache_usage_perc, so the query reads either."""
    s = Settings.of(v)
    sel = f'namespace="{s.helm_namespace}",job="{engine_service(v)}"'
    server = f"http://{prometheus_service(v)}.{prometheus_namespace}.svc:{PROMETHEUS_SERVICE_PORT}"
    return {
        "enabled": True,
        "minReplicaCount": s.k8s_keda_min_replicas,
        "maxReplicaCount": s.k8s_keda_max_replicas,
        "pollingInterval": s.k8s_keda_polling_interval_s,
        "cooldownPeriod": s.k8s_keda_cooldown_s,
        "triggers": [
            {"type": "prometheus", "metricType": "AverageValue", "metadata": {
                "serverAddress": server, "metricName": "vllm_requests_waiting",
                "query": f"sum(vllm:num_requests_waiting{{{sel}}})",
                "threshold": str(s.k8s_keda_queue_threshold)}},
            {"type": "prometheus", "metricType": "Value", "metadata": {
                "serverAddress": server, "metricName": "vllm_kv_cache_usage_percent",
                "query": f"avg(vllm:kv_cache_usage_perc{{{sel}}} or vllm:gpu_cache_usage_perc{{{sel}}}) * 100",
                "threshold": str(s.k8s_keda_kv_usage_percent)}},
        ],
    }


def _service_monitor(v: Mapping[str, Any]) -> dict[str, Any]:
    s = Settings.of(v)
    interval = s.prometheus_scrape_interval
    return {"enabled": True, "interval": f"{interval}s", "scrapeTimeout": f"{max(1, interval - 1)}s"}


def more_model_specs(v: Mapping[str, Any], dev: str, hf_token: bool) -> list[dict[str, Any]]:
    """One modelSpec per further model (issue 27): the first model's engine settings with its own
    name, hub id, replicas, resources and extra engine arguments (the chart's router finds each
    model's pods by the model label and routes by the request's "model")."""
    from ..models import models

    out = []
    for m in models(v)[1:]:
        own = {**v, "vllm_model_name": m.name, "vllm_model_url": m.url, "vllm_replica_count": m.replicas,
               "vllm_request_cpu": m.request_cpu, "vllm_request_memory": m.request_memory,
               "vllm_request_gpu": m.request_gpu, "vllm_extra_engine_args": m.extra_args}
        out.append(_model_spec(own, dev, hf_token))
    return out


def render(v: Mapping[str, Any], *, hf_token: bool, api_key: bool, monitoring_stack: bool = True,
           prometheus_namespace: str | None = None) -> dict[str, Any]:
    """The values for one release. ``hf_token``/``api_key``: whether those secrets are set
    (their values go into the Secret, never here). ``monitoring_stack``: install the chart's
    kube-prometheus-stack (off for a dev A/B arm sharing the baseline's cluster, which scrapes both);
    ``prometheus_namespace``: where that Prometheus runs (default: this release's namespace)."""
    s = Settings.of(v)
    dev = device(v)
    observe = s.observability_enabled
    spec = _model_spec(v, dev, hf_token)
    if observe and s.k8s_keda_enabled:
        spec["keda"] = keda(v, prometheus_namespace or s.helm_namespace)
    if s.k8s_engine_pdb_min_available:
        spec["pdb"] = {"enabled": True, "minAvailable": s.k8s_engine_pdb_min_available}
    engine: dict[str, Any] = {
        "enableEngine": True,
        # The chart's default is "nvidia": CPU pods would never schedule on a cluster without it.
        "runtimeClassName": s.k8s_runtime_class,
        "imagePullPolicy": "IfNotPresent",
        "modelSpec": [spec, *more_model_specs(v, dev, hf_token)],
    }
    strategy = resources.engine_strategy(v, dev)
    if strategy:
        engine["strategy"] = strategy
    if api_key:
        engine["vllmApiKey"] = {"secretName": secret_name(v), "secretKey": API_KEY_KEY}
    if observe:
        engine["serviceMonitor"] = _service_monitor(v)
    router_on = s.router_enabled
    router: dict[str, Any] = {"enableRouter": router_on}
    if router_on:
        logic = routing_logic(v)
        memory = s.router_request_memory
        router |= {
            "repository": s.router_image_repository,
            "tag": router_image_tag(v),
            "imagePullPolicy": "IfNotPresent",
            "routingLogic": logic,
            "resources": {"requests": {"cpu": s.router_request_cpu, "memory": memory},
                          "limits": {"memory": memory}},
        }
        if logic in ("session", "kvaware"):
            router["sessionKey"] = s.router_session_key
        if logic == "kvaware":
            router |= {"lmcacheControllerPort": ROUTER_LMCACHE_PORT,
                       "lmcacheControllerReplyPort": ROUTER_LMCACHE_REPLY_PORT,
                       "lmcacheControllerHeartbeatPort": ROUTER_LMCACHE_HEARTBEAT_PORT,
                       "extraPorts": [{"name": name, "port": port, "targetPort": port, "protocol": "TCP"}
                                      for name, port in (("lmcache-reply", ROUTER_LMCACHE_REPLY_PORT),
                                                         ("lmcache-heartbeat", ROUTER_LMCACHE_HEARTBEAT_PORT))]}
        if api_key:
            router["vllmApiKey"] = {"secretName": secret_name(v), "secretKey": API_KEY_KEY}
        if observe:
            router["serviceMonitor"] = _service_monitor(v)
        if s.k8s_router_autoscaling:
            router["autoscaling"] = {"enabled": True, "minReplicas": 1,
                                     "maxReplicas": s.k8s_router_max_replicas,
                                     "targetCPUUtilizationPercentage": s.k8s_router_cpu_target_percent}
        if s.k8s_router_pdb_min_available:
            router["pdb"] = {"enabled": True, "minAvailable": s.k8s_router_pdb_min_available}
    values: dict[str, Any] = {"servingEngineSpec": engine, "routerSpec": router}
    if s.lmcache_enabled and s.lmcache_cache_server:
        memory = s.lmcache_cache_server_memory
        values["cacheserverSpec"] = {
            "enabled": True,
            "image": {"repository": s.engine_image_repository, "tag": s.engine_image_tag},
            "imagePullPolicy": "IfNotPresent",
            "replicaCount": 1,
            "containerPort": CACHE_SERVER_PORT,
            "servicePort": CACHE_SERVER_SERVICE_PORT,
            "serde": "naive",
            "resources": {"requests": {"cpu": "1", "memory": memory}, "limits": {"memory": memory}},
        }
    if observe and monitoring_stack:
        values["kube-prometheus-stack"] = kube_prometheus_stack(v)
    return values


def prometheus_service(v: Mapping[str, Any]) -> str:
    """kube-prometheus-stack names its objects "<release>-kube-prometheus-stack" cut to 26 characters."""
    s = Settings.of(v)
    return f"{s.helm_release_name}-kube-prometheus-stack"[:26].rstrip("-") + "-prometheus"


def grafana_service(v: Mapping[str, Any]) -> str:
    s = Settings.of(v)
    return f"{s.helm_release_name}-grafana"


#: Service ports of the kube-prometheus-stack Prometheus and Grafana.
PROMETHEUS_SERVICE_PORT = 9090
GRAFANA_SERVICE_PORT = 80


#: Grafana's dashboard sidecar imports ConfigMaps carrying this label.
DASHBOARD_LABEL = ("grafana_dashboard", "1")


NODE_EXPORTER = "prometheus-node-exporter"


def kube_prometheus_stack(v: Mapping[str, Any]) -> dict[str, Any]:
    """The chart's kube-prometheus-stack dependency (pinned by the chart: 82.4.3): Prometheus
    picking up the chart's ServiceMonitors, Grafana loading labelled dashboard ConfigMaps."""
    s = Settings.of(v)
    return {
        "enabled": True,
        "alertmanager": {"enabled": False},
        "prometheus": {"prometheusSpec": {
            "retention": str(s.prometheus_retention or "7d"),
            "scrapeInterval": f"{s.prometheus_scrape_interval}s",
            # The chart's ServiceMonitors, and the node exporter's that kube-prometheus-stack brings
            # (its prometheus-node-exporter subchart labels it part-of prometheus-node-exporter):
            # the host's series beside the engines' (issue 25).
            "serviceMonitorSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/part-of", "operator": "In", "values": [CHART_NAME, NODE_EXPORTER]}]},
        }},
        "grafana": {"sidecar": {"dashboards": {
            "enabled": True, "label": DASHBOARD_LABEL[0], "labelValue": DASHBOARD_LABEL[1], "searchNamespace": "ALL",
        }}},
    }


def flatten(values: Any, prefix: str = "") -> list[str]:
    """Dotted key paths of every leaf (``a.b[].c``); lists of scalars count as leaves."""
    if isinstance(values, Mapping):
        out: list[str] = []
        for key, value in values.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(values, list) and values and all(isinstance(x, Mapping) for x in values):
        out = []
        for item in values:
            out += [p for p in flatten(item, f"{prefix}[]") if p not in out]
        return out
    return [prefix]
