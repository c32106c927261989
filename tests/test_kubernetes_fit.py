"""Kubernetes: what the release requests fits the node; rollouts that cannot surge replace;
GPU and LMCache settings that cannot work are refused by `make` (issue 12, items 1, 2, 5)."""

from __future__ import annotations

import pytest

from vllm_workflow import validate
from vllm_workflow.kubernetes import resources, values

K8S_DEFCONFIGS = ["vllm", "vllm-production-stack-cpu", "vllm-production-stack-gpu", "vllm-production-stack-rocm"]


@pytest.mark.parametrize("text,millicores", [("1", 1000), ("500m", 500), ("0.5", 500), ("2.25", 2250)])
def test_cpu_quantities(text: str, millicores: int) -> None:
    assert resources.cpu_millicores(text) == millicores


@pytest.mark.parametrize("text,size", [("6Gi", 6 * 2**30), ("512Mi", 2**29), ("1G", 10**9), ("100", 100)])
def test_memory_quantities(text: str, size: int) -> None:
    assert resources.memory_bytes(text) == size


@pytest.mark.parametrize("bad", ["1Gi", "x", "-1", ""])
def test_bad_cpu_quantity(bad: str) -> None:
    with pytest.raises(ValueError):
        resources.cpu_millicores(bad)


@pytest.mark.parametrize("name", K8S_DEFCONFIGS)
def test_stock_minikube_defconfigs_fit_their_node(vars_for, name: str) -> None:
    v = vars_for(name)
    assert v["vllm_k8s_minikube"]
    rendered = values.render(v, hf_token=True, api_key=True)
    reqs = resources.requests(rendered, minikube=True)
    cpu = sum(r.total_cpu_m for r in reqs)
    mem = sum(r.total_memory for r in reqs)
    assert cpu <= int(v["vllm_minikube_cpus"]) * 1000 and mem <= int(v["vllm_minikube_memory_mb"]) * 2**20
    assert resources.minikube_problems(rendered, v) == [] and validate.check(v) == []


def test_the_old_cpu_defconfig_sizes_are_refused_with_the_settings_to_change(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", 'CONFIG_VLLM_REQUEST_MEMORY="8Gi"', "CONFIG_VLLM_REQUEST_CPU=2",
                 'CONFIG_VLLM_ROUTER_REQUEST_CPU="1"')
    problems = validate.check(v)
    cpu = next(p for p in problems if "CPUs" in p)
    mem = next(p for p in problems if "memory" in p)
    # 2 × 2 + 1 + 0.5 (monitoring) + 0.75 (control plane) = 6.25 CPUs; 2 × 8 + 2 + 1.5 + 0.17 = 19.7 GiB
    assert "requests 6.25 CPUs but the Minikube node has 4" in cpu
    assert "requests 19.7 GiB of memory but the Minikube node has 16.0 GiB" in mem
    assert "engine facebook-opt-125m: 2 × (2 CPU, 8.0 GiB)" in cpu
    for setting in ("CONFIG_VLLM_MINIKUBE_CPUS", "CONFIG_VLLM_REPLICA_COUNT", "CONFIG_VLLM_REQUEST_MEMORY"):
        assert setting in mem
    assert validate.check(v | {"vllm_minikube_cpus": 8, "vllm_minikube_memory_mb": 24576}) == []


def test_existing_cluster_is_not_held_to_the_minikube_size(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_EXISTING=y", "CONFIG_VLLM_REPLICA_COUNT=3",
                 "CONFIG_VLLM_REQUEST_CPU=8")
    assert not v["vllm_k8s_minikube"] and validate.check(v) == []


def test_engines_are_recreated_where_a_surge_cannot_schedule(vars_for) -> None:
    gpu = values.render(vars_for("vllm-production-stack-gpu"), hf_token=False, api_key=False)
    assert gpu["servingEngineSpec"]["strategy"] == {"type": "Recreate"}
    minikube_cpu = values.render(vars_for("vllm-production-stack-cpu"), hf_token=False, api_key=False)
    assert minikube_cpu["servingEngineSpec"]["strategy"] == {"type": "Recreate"}
    cluster_cpu = values.render(vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_EXISTING=y"),
                                hf_token=False, api_key=False)
    assert "strategy" not in cluster_cpu["servingEngineSpec"]  # the chart's rolling update: no outage


def test_tensor_parallel_larger_than_the_gpus_per_replica_is_refused(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_TENSOR_PARALLEL_SIZE=8")
    problems = validate.check(v)
    assert any(p.startswith("CONFIG_VLLM_TENSOR_PARALLEL_SIZE: 8 GPUs per engine, but each replica requests 1")
               and "CONFIG_VLLM_REQUEST_GPU to 8" in p for p in problems)
    assert validate.check(v | {"vllm_request_gpu": 8}) == []


def test_lmcache_buffer_larger_than_the_memory_request_is_refused(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y",
                 "CONFIG_VLLM_LMCACHE_CPU_OFFLOAD_BUFFER_GIB=20")
    problems = validate.check(v)
    assert any(p.startswith("CONFIG_VLLM_LMCACHE_CPU_OFFLOAD_BUFFER_GIB: 20 GiB") and "12Gi" in p for p in problems)
    assert not any("LMCACHE_CPU_OFFLOAD" in p for p in validate.check(v | {"vllm_lmcache_cpu_offload_buffer_gib": 4}))


@pytest.mark.parametrize("url", ["facebook/opt 125m", "a/b/c", "x" * 200, "face book", "/opt", "org/"])
def test_model_ids_that_cannot_be_on_a_hub_are_refused(vars_for, url: str) -> None:
    v = vars_for("vllm-production-stack-cpu") | {"vllm_model_url": url}
    assert any(p.startswith("CONFIG_VLLM_MODEL_URL:") and "Fix:" in p for p in validate.check(v))


def test_model_names_with_spaces_or_200000_characters_are_refused(vars_for) -> None:
    for name in ("my model", "m" * 200_000):
        problems = validate.check(vars_for("vllm-local") | {"vllm_model_name": name})
        assert any(p.startswith("CONFIG_VLLM_MODEL_NAME:") for p in problems)
        assert all(len(p) < 1000 for p in problems)  # the message quotes a prefix, not the whole value


def test_kv_aware_routing_gets_the_complete_lmcache_controller_set(vars_for) -> None:
    from tests.test_kubernetes_values import unread

    on_minikube = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_ROUTER_KV_AWARE=y",
                           "CONFIG_VLLM_LMCACHE_CACHE_SERVER=y")
    assert any("LMCache cache server: 1 × (1 CPU, 8.0 GiB)" in p for p in validate.check(on_minikube))
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_ROUTER_KV_AWARE=y",
                 "CONFIG_VLLM_LMCACHE_CACHE_SERVER=y", "CONFIG_VLLM_K8S_EXISTING=y")
    assert validate.check(v) == []
    rendered = values.render(v, hf_token=True, api_key=True)
    assert unread(rendered) == []
    lm = rendered["servingEngineSpec"]["modelSpec"][0]["lmcacheConfig"]
    assert lm == {"enabled": True, "cpuOffloadingBufferSize": "4", "enableController": True, "controllerPort": 9000,
                  "controllerReplyPort": 9001, "workerPorts": "8001", "p2pHost": "localhost", "p2pInitPorts": "30081",
                  "workerHeartbeatTime": "30"}
    router = rendered["routerSpec"]
    assert (router["lmcacheControllerPort"], router["lmcacheControllerReplyPort"],
            router["lmcacheControllerHeartbeatPort"]) == (9000, 9001, 9002)
    assert [p["port"] for p in router["extraPorts"]] == [9001, 9002]  # the Service only has 9000 of its own
    cache = rendered["cacheserverSpec"]
    assert cache["enabled"] is True and cache["image"] == {"repository": "lmcache/vllm-openai", "tag": "v0.3.9post2"}
    assert any(r.what == "LMCache cache server" and r.memory == 8 * 2**30
               for r in resources.requests(rendered, minikube=True))


def _node(name: str, cpu: str, memory: str, gpus: int = 0, **spec) -> dict:
    alloc = {"cpu": cpu, "memory": memory} | ({"nvidia.com/gpu": str(gpus)} if gpus else {})
    return {"metadata": {"name": name}, "spec": spec, "status": {"allocatable": alloc}}


def test_existing_cluster_nodes_are_read_for_capacity(vars_for) -> None:
    import json
    import subprocess
    import sys

    import yaml

    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_K8S_EXISTING=y", "CONFIG_VLLM_REPLICA_COUNT=3")
    rendered = values.render(v, hf_token=False, api_key=False)
    big = [_node("gpu-a", "31500m", "120Gi", 2), _node("gpu-b", "31500m", "120Gi", 2)]
    assert resources.cluster_problems(rendered, resources.nodes_from_api(big)) == []
    one_gpu = resources.cluster_problems(rendered, resources.nodes_from_api([_node("gpu-a", "32", "128Gi", 2)]))
    assert one_gpu == ["the release requests 3 GPUs but the cluster's schedulable nodes have 2. Fix: lower "
                       "CONFIG_VLLM_REPLICA_COUNT or CONFIG_VLLM_REQUEST_GPU."]
    small = resources.cluster_problems(rendered, resources.nodes_from_api(
        [_node("tiny", "4", "8Gi", 1), _node("cordoned", "64", "512Gi", 8, unschedulable=True)]))
    assert small[0].startswith("no node can hold one engine facebook-opt-125m pod (2 CPU, 12.0 GiB, 1 GPU); the "
                               "largest, tiny, has 4 CPU, 8.0 GiB, 1 GPU allocatable")
    out = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "k8s-capacity"], capture_output=True, text=True,
                         check=False, input=json.dumps({"values_yaml": yaml.safe_dump(rendered),
                                                        "nodes": [_node("tiny", "4", "8Gi", 1)]}))
    assert out.returncode == 1 and "nothing was installed" in out.stderr and "no node can hold" in out.stderr
