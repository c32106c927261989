"""What the release asks the scheduler for, and whether it fits the node.

Pure: from the rendered Helm values (the same dict deploy installs) to a list of pod
requests, summed and compared with the Minikube node we create. A release that does not
fit leaves pods Pending until the Helm timeout; we refuse it before anything changes,
naming the settings to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..settings import Settings

_BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DEC = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QTY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")

#: Requests of Minikube's own control plane pods (etcd, apiserver, controller-manager,
#: scheduler, coredns) as its kubeadm manifests set them; they share the node with us.
MINIKUBE_SYSTEM = ("kube-system (control plane)", 750, 170 * 2**20)
#: kube-prometheus-stack sets no requests of its own for Prometheus, Grafana, the operator,
#: kube-state-metrics and node-exporter; this is what they use at rest on a small cluster,
#: counted so that a full node is caught before Prometheus is OOM-killed or starves an engine.
MONITORING = ("kube-prometheus-stack (Prometheus, Grafana, operator, exporters)", 500, 1536 * 2**20)


def cpu_millicores(quantity: Any) -> int:
    m = _QTY.match(str(quantity).strip())
    if not m or (m[2] and m[2] != "m"):
        raise ValueError(f"'{quantity}' is not a CPU quantity")
    value = float(m[1])
    return int(round(value if m[2] == "m" else value * 1000))


def memory_bytes(quantity: Any) -> int:
    m = _QTY.match(str(quantity).strip())
    if not m or m[2] == "m":
        raise ValueError(f"'{quantity}' is not a memory quantity")
    return int(float(m[1]) * (_BIN.get(m[2] or "", 0) or _DEC.get(m[2] or "", 1)))


@dataclass(frozen=True)
class Request:
    what: str
    count: int
    cpu_m: int  # each
    memory: int  # bytes, each
    gpus: int = 0  # each

    @property
    def total_cpu_m(self) -> int:
        return self.cpu_m * self.count

    @property
    def total_memory(self) -> int:
        return self.memory * self.count


def requests(values: Mapping[str, Any], minikube: bool) -> list[Request]:
    """Every pod's requests in the rendered values (plus Minikube's own and monitoring's)."""
    out = []
    engine = values.get("servingEngineSpec") or {}
    for spec in engine.get("modelSpec") or []:
        most = max(int(spec.get("replicaCount") or 1), int((spec.get("keda") or {}).get("maxReplicaCount") or 0))
        out.append(Request(f"engine {spec['name']}", most,
                           cpu_millicores(spec.get("requestCPU") or 0), memory_bytes(spec.get("requestMemory") or 0),
                           int(spec.get("requestGPU") or 0)))
    router = values.get("routerSpec") or {}
    if router.get("enableRouter"):
        req = (router.get("resources") or {}).get("requests") or {}
        routers = max(int(router.get("replicaCount") or 1), int((router.get("autoscaling") or {}).get("maxReplicas") or 0))
        out.append(Request("router", routers, cpu_millicores(req.get("cpu") or 0),
                           memory_bytes(req.get("memory") or 0)))
    cache = values.get("cacheserverSpec") or {}
    if cache:
        req = (cache.get("resources") or {}).get("requests") or {}
        out.append(Request("LMCache cache server", 1, cpu_millicores(req.get("cpu") or 0),
                           memory_bytes(req.get("memory") or 0)))
    if (values.get("kube-prometheus-stack") or {}).get("enabled"):
        out.append(Request(MONITORING[0], 1, MONITORING[1], MONITORING[2]))
    if minikube:
        out.append(Request(MINIKUBE_SYSTEM[0], 1, MINIKUBE_SYSTEM[1], MINIKUBE_SYSTEM[2]))
    return out


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def fit_problems(reqs: list[Request], cpus: int, memory_mb: int, where: str, fixes: str) -> list[str]:
    """Why the requests cannot all be scheduled on a node of ``cpus`` and ``memory_mb``."""
    cpu = sum(r.total_cpu_m for r in reqs)
    mem = sum(r.total_memory for r in reqs)
    have_cpu, have_mem = cpus * 1000, memory_mb * 2**20
    parts = "; ".join(f"{r.what}: {r.count} × ({r.cpu_m / 1000:g} CPU, {_gib(r.memory)})" for r in reqs)
    problems = []
    if cpu > have_cpu:
        problems.append(f"the release requests {cpu / 1000:g} CPUs but {where} has {cpus} ({parts}). Fix: {fixes}.")
    if mem > have_mem:
        problems.append(f"the release requests {_gib(mem)} of memory but {where} has {_gib(have_mem)} ({parts}). "
                        f"Fix: {fixes}.")
    return problems


def minikube_problems(values: Mapping[str, Any], v: Mapping[str, Any]) -> list[str]:
    """The Minikube node we create must hold every pod at once (engines × replicas, router,
    cache server, monitoring, Minikube's own control plane)."""
    s = Settings.of(v)
    reqs = requests(values, minikube=True)
    fixes = ("raise CONFIG_VLLM_MINIKUBE_CPUS / CONFIG_VLLM_MINIKUBE_MEMORY_MB (what this machine can give), or "
             "lower CONFIG_VLLM_REPLICA_COUNT, CONFIG_VLLM_REQUEST_CPU, CONFIG_VLLM_REQUEST_MEMORY, "
             "CONFIG_VLLM_ROUTER_REQUEST_CPU / _MEMORY, CONFIG_VLLM_LMCACHE_CACHE_SERVER_MEMORY")
    if s.model2_enabled:
        fixes += ", or the further models' CONFIG_VLLM_MODELn_REPLICAS / _REQUEST_CPU / _REQUEST_MEMORY"
    if s.k8s_keda_enabled:
        fixes += " (engines are counted at KEDA's most: CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS)"
    return fit_problems(reqs, s.minikube_cpus, s.minikube_memory_mb,
                        "the Minikube node", fixes)


def engine_strategy(v: Mapping[str, Any], device: str) -> dict[str, Any] | None:
    """The engines' rollout: the chart surges a full second set of pods (maxSurge 100 %),
    which can never schedule where the first set already holds the GPUs or the Minikube
    node; there engines are replaced (Recreate): a short outage instead of a hung upgrade."""
    s = Settings.of(v)
    if device != "cpu" or s.k8s_minikube:
        return {"type": "Recreate"}
    return None


GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")


@dataclass(frozen=True)
class Node:
    name: str
    cpu_m: int
    memory: int
    gpus: int


def nodes_from_api(items: list[Mapping[str, Any]]) -> list[Node]:
    """Schedulable nodes' allocatable resources, from Node objects as the API returns them."""
    out = []
    for item in items:
        if (item.get("spec") or {}).get("unschedulable"):
            continue
        taints = (item.get("spec") or {}).get("taints") or []
        if any(t.get("effect") == "NoSchedule" and "control-plane" in str(t.get("key")) for t in taints):
            continue
        alloc = (item.get("status") or {}).get("allocatable") or {}
        try:
            out.append(Node(str((item.get("metadata") or {}).get("name", "?")), cpu_millicores(alloc.get("cpu", 0)),
                            memory_bytes(alloc.get("memory", 0)),
                            sum(int(alloc.get(g, 0) or 0) for g in GPU_RESOURCES)))
        except ValueError:
            continue
    return out


def cluster_problems(values: Mapping[str, Any], nodes: list[Node]) -> list[str]:
    """Each pod must fit on some schedulable node, and all of them on the nodes together (their
    allocatable resources; what other workloads already hold is not subtracted)."""
    if not nodes:
        return ["the cluster has no schedulable node (all are cordoned or control-plane only). Fix: add a worker "
                "node, or uncordon one."]
    reqs = requests(values, minikube=False)
    out = []
    for r in reqs:
        if not any(n.cpu_m >= r.cpu_m and n.memory >= r.memory and n.gpus >= r.gpus for n in nodes):
            biggest = max(nodes, key=lambda n: (n.gpus, n.cpu_m, n.memory))
            out.append(f"no node can hold one {r.what} pod ({r.cpu_m / 1000:g} CPU, {_gib(r.memory)}, {r.gpus} GPU); "
                       f"the largest, {biggest.name}, has {biggest.cpu_m / 1000:g} CPU, {_gib(biggest.memory)}, "
                       f"{biggest.gpus} GPU allocatable. Fix: lower CONFIG_VLLM_REQUEST_CPU / _MEMORY / _GPU (or "
                       "the router's), or add a bigger node.")
    gpus = sum(r.gpus * r.count for r in reqs)
    have_gpus = sum(n.gpus for n in nodes)
    if gpus > have_gpus:
        out.append(f"the release requests {gpus} GPUs but the cluster's schedulable nodes have {have_gpus}. Fix: lower "
                   "CONFIG_VLLM_REPLICA_COUNT or CONFIG_VLLM_REQUEST_GPU.")
    if not out:
        out += fit_problems(reqs, sum(n.cpu_m for n in nodes) // 1000, sum(n.memory for n in nodes) // 2**20,
                            f"the cluster's {len(nodes)} schedulable node(s)",
                            "lower CONFIG_VLLM_REPLICA_COUNT, CONFIG_VLLM_REQUEST_CPU, CONFIG_VLLM_REQUEST_MEMORY, "
                            "or add nodes")
    return out
