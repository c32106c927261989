"""Render the real production-stack chart with our values (helm-python-sdk bundles Helm) and check
what the engines and the router would run. The chart: VLLM_WORKFLOW_CHART_DIR, else the packaged
vllm-stack 0.1.12 in ../shared/upstream/production-stack/chart (CI has it). Skips only when the SDK
is not installed (`make venv-chart`, requirements-chart.txt) or the chart directory is absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllm_workflow.kubernetes import values

helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed (pip install -r requirements-chart.txt)")
SHARED_CHART = Path(__file__).resolve().parents[2] / "shared" / "upstream" / "production-stack" / "chart"
CHART = Path(os.environ.get("VLLM_WORKFLOW_CHART_DIR") or SHARED_CHART)
pytestmark = pytest.mark.skipif(not (CHART / "Chart.yaml").is_file(),
                                reason=f"no vllm-stack chart at {CHART} (VLLM_WORKFLOW_CHART_DIR names another)")
KUBERNETES_DEFCONFIGS = ("vllm", "vllm-production-stack-cpu", "vllm-production-stack-declared-hosts",
                         "vllm-production-stack-gpu", "vllm-production-stack-rocm")


def render(v: dict, *, hf_token: bool = False, api_key: bool = False) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        assert (chart.name, chart.version) == ("vllm-stack", "0.1.12")
        out = chart.render(values.render(v, hf_token=hf_token, api_key=api_key),
                           name=str(v["vllm_helm_release_name"]), namespace=str(v["vllm_helm_namespace"]))
    return [doc for text in out.values() for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[dict], kind: str, name_part: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and name_part in d["metadata"]["name"]]
    assert len(matches) == 1, [d["metadata"]["name"] for d in docs if d["kind"] == kind]
    return matches[0]


def container(deployment: dict) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("name", KUBERNETES_DEFCONFIGS)
def test_every_kubernetes_defconfig_renders_through_the_real_chart(vars_for, name: str) -> None:
    v = vars_for(name)
    assert v["vllm_deploy_kubernetes"] is True
    docs = render(v)
    engine = find(docs, "Deployment", "deployment-vllm")
    c = container(engine)
    assert engine["spec"]["replicas"] == int(v["vllm_replica_count"])
    args = c["command"] + c.get("args", [])
    assert ["--max-model-len", str(v["vllm_max_model_len"])] in [args[i:i + 2] for i in range(len(args))]
    routers = [d for d in docs if d["kind"] == "Deployment" and "deployment-router" in d["metadata"]["name"]]
    assert len(routers) == (1 if v["vllm_router_enabled"] else 0)
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert values.engine_service(v) in services
    if v["vllm_router_enabled"]:
        assert values.router_service(v) in services


def test_cpu_defconfig_renders_what_we_configured(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu")
    docs = render(v)
    engine = find(docs, "Deployment", "deployment-vllm")
    c = container(engine)
    assert c["image"] == "openeuler/vllm-cpu:0.9.1-oe2403lts" and engine["spec"]["replicas"] == 2
    args = c["command"] + c.get("args", [])
    assert args[:3] == ["vllm", "serve", "facebook/opt-125m"]
    for flag in (["--enable-prefix-caching"], ["--enable-chunked-prefill"], ["--max-model-len", "2048"],
                 ["--dtype", "auto"]):
        assert any(args[i:i + len(flag)] == flag for i in range(len(args))), flag
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "6Gi"}
    assert engine["spec"]["strategy"] == {"type": "Recreate"}  # Minikube: the chart's 100 % surge would not fit
    assert "nvidia.com/gpu" not in str(c["resources"]) and "runtimeClassName" not in engine["spec"]["template"]["spec"]
    router = container(find(docs, "Deployment", "deployment-router"))
    assert router["image"] == "lmcache/lmstack-router:v0.1.12"
    rargs = router["args"]
    assert rargs[rargs.index("--routing-logic") + 1] == "session" and rargs[rargs.index("--session-key") + 1] == "x-user-id"
    # the port-forwards point at Services the chart really creates
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert values.router_service(v) in services and values.engine_service(v) in services
    assert {p["port"] for p in services[values.engine_service(v)]["spec"]["ports"]} == {80, 55555, 9999}
    assert 9000 in {p["port"] for p in services[values.router_service(v)]["spec"]["ports"]}
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceMonitor"} == {
        "vllm-engine-servicemonitor", "vllm-router-servicemonitor"}


def test_secrets_come_from_our_secret(vars_for) -> None:
    docs = render(vars_for("vllm-production-stack-cpu"), hf_token=True, api_key=True)
    env = {e["name"]: e for e in container(find(docs, "Deployment", "deployment-vllm"))["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "vllm-workflow-secrets", "key": "hf_token"}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "vllm-workflow-secrets", "key": "vllm_api_key"}
    renv = {e["name"]: e for e in container(find(docs, "Deployment", "deployment-router")).get("env", [])}
    assert renv["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "vllm-workflow-secrets"
    chart_secret = find(docs, "Secret", "vllm-secrets")
    assert not chart_secret.get("data")  # the chart's own Secret holds nothing of ours


def test_cuda_lmcache_kv_aware(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_ROUTER_KV_AWARE=y")
    docs = render(v)
    c = container(find(docs, "Deployment", "deployment-vllm"))
    assert c["command"][0] == "/opt/venv/bin/vllm" and c["image"] == "lmcache/vllm-openai:v0.3.9post2"
    assert "--kv-transfer-config" in c["command"] + c.get("args", [])
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["LMCACHE_LOCAL_CPU"] == "True" and env["LMCACHE_MAX_LOCAL_CPU_SIZE"] == "4"
    assert env["LMCACHE_CONTROLLER_PULL_URL"] == "vllm-router-service:9000"
    assert c["resources"]["requests"]["nvidia.com/gpu"] == "1"
    rargs = container(find(docs, "Deployment", "deployment-router"))["args"]
    assert rargs[rargs.index("--routing-logic") + 1] == "kvaware" and "--lmcache-controller-port" in rargs


def test_rocm_gfx1100_without_router(vars_for) -> None:
    v = vars_for("vllm-production-stack-rocm", "CONFIG_VLLM_ROCM_GFX1100=y", "CONFIG_VLLM_ROUTER_ENABLED=n")
    docs = render(v)
    assert not [d for d in docs if d["kind"] == "Deployment" and "router" in d["metadata"]["name"]]
    c = container(find(docs, "Deployment", "deployment-vllm"))
    assert c["resources"]["requests"]["amd.com/gpu"] == "1"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["VLLM_USE_TRITON_FLASH_ATTN"] == "1" and env["VLLM_ROCM_USE_AITER"] == "0"


def test_rendered_core_objects_pass_kubernetes_validate(vars_for) -> None:
    import kubernetes_validate

    for name in ("vllm-production-stack-cpu", "vllm-production-stack-gpu"):
        for doc in render(vars_for(name), hf_token=True, api_key=True):
            if doc["apiVersion"] in ("v1", "apps/v1", "rbac.authorization.k8s.io/v1"):
                kubernetes_validate.validate(doc, "1.35.0", strict=True)


def test_rocm_on_minikube_recreates_and_requests_amd_gpus(vars_for) -> None:
    docs = render(vars_for("vllm-production-stack-rocm"))
    engine = find(docs, "Deployment", "deployment-vllm")
    assert engine["spec"]["strategy"] == {"type": "Recreate"}
    assert str(container(engine)["resources"]["requests"]["amd.com/gpu"]) == "1"


def test_existing_cluster_with_three_replicas_keeps_the_rolling_update(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_EXISTING=y", "CONFIG_VLLM_REPLICA_COUNT=3")
    engine = find(render(v), "Deployment", "deployment-vllm")
    assert engine["spec"]["replicas"] == 3
    assert engine["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}


def test_kv_aware_with_cache_server_wires_engines_router_and_cache(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_ROUTER_KV_AWARE=y",
                 "CONFIG_VLLM_LMCACHE_CACHE_SERVER=y", "CONFIG_VLLM_K8S_EXISTING=y")
    docs = render(v)
    env = {e["name"]: e.get("value") for e in container(find(docs, "Deployment", "deployment-vllm"))["env"]}
    assert env["LMCACHE_CONTROLLER_PULL_URL"] == "vllm-router-service:9000"
    assert env["LMCACHE_CONTROLLER_REPLY_URL"] == "vllm-router-service:9001"
    assert env["LMCACHE_LMCACHE_WORKER_PORTS"] == "8001"
    assert env["LMCACHE_REMOTE_URL"] == "lm://vllm-cache-server-service:81"
    router_ports = {p["port"] for p in find(docs, "Service", "router-service")["spec"]["ports"]}
    assert {9000, 9001, 9002} <= router_ports  # the replies and heartbeats reach the controller
    rargs = container(find(docs, "Deployment", "deployment-router"))["args"]
    for flag, port in (("--lmcache-controller-port", "9000"), ("--lmcache-controller-reply-port", "9001"),
                       ("--lmcache-controller-heartbeat-port", "9002")):
        assert rargs[rargs.index(flag) + 1] == port
    cache = find(docs, "Deployment", "cache-server")
    assert container(cache)["command"][-1] == "8100"


def test_router_digest_reaches_the_router_image(vars_for) -> None:
    digest = "sha256:" + "cd" * 32
    docs = render(vars_for("vllm-production-stack-cpu", f'CONFIG_VLLM_ROUTER_IMAGE_DIGEST="{digest}"'))
    assert container(find(docs, "Deployment", "deployment-router"))["image"] == f"lmcache/lmstack-router:v0.1.12@{digest}"


def test_keda_pdb_and_router_autoscaling_render_through_the_chart(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_KEDA_ENABLED=y", "CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS=3",
                 "CONFIG_VLLM_K8S_KEDA_QUEUE_THRESHOLD=4", "CONFIG_VLLM_K8S_ENGINE_PDB_MIN_AVAILABLE=1",
                 "CONFIG_VLLM_K8S_ROUTER_AUTOSCALING=y", "CONFIG_VLLM_K8S_ROUTER_PDB_MIN_AVAILABLE=1")
    docs = render(v)
    scaled = find(docs, "ScaledObject", "scaledobject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == find(docs, "Deployment", "deployment-vllm")["metadata"]["name"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["pollingInterval"], spec["cooldownPeriod"]) == (
        1, 3, 15, 120)
    queue, kv = spec["triggers"]
    ns, svc = v["vllm_helm_namespace"], values.engine_service(v)
    assert queue["metadata"]["query"] == f'sum(vllm:num_requests_waiting{{namespace="{ns}",job="{svc}"}})'
    assert queue["metadata"]["threshold"] == "4" and queue["metricType"] == "AverageValue"
    assert kv["metricType"] == "Value" and kv["metadata"]["threshold"] == "80"
    # the Prometheus Service of this release's kube-prometheus-stack (a subchart this chart copy lacks)
    assert queue["metadata"]["serverAddress"] == f"http://{values.prometheus_service(v)}.{ns}.svc:9090"
    pdbs = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    engine_pdb = next(p for n, p in pdbs.items() if "pdb-vllm" in n)
    assert engine_pdb["minAvailable"] == 1
    hpa = find(docs, "HorizontalPodAutoscaler", "router")
    assert hpa["spec"]["maxReplicas"] == 3 and hpa["spec"]["minReplicas"] == 1


def test_several_models_render_one_engine_deployment_each(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_MODEL2_ENABLED=y", 'CONFIG_VLLM_MODEL2_URL="Qwen/Qwen3-0.6B"',
                 'CONFIG_VLLM_MODEL2_NAME="qwen3"', "CONFIG_VLLM_MODEL2_REPLICAS=3")
    docs = render(v)
    engines = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"
               and "deployment-vllm" in d["metadata"]["name"]}
    assert len(engines) == 2, sorted(engines)
    qwen = next(d for name, d in engines.items() if "qwen3" in name)
    args = container(qwen)["command"] + container(qwen).get("args", [])
    assert qwen["spec"]["replicas"] == 3 and args[:3] == ["vllm", "serve", "Qwen/Qwen3-0.6B"]
    assert ["--served-model-name", "qwen3"] in [args[i:i + 2] for i in range(len(args))]
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert {f"{v['vllm_helm_release_name']}-qwen3-engine-service", values.engine_service(v)} <= services
