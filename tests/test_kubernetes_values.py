"""Helm values for chart vllm-stack 0.1.12: every emitted key is one the templates read, the
upstream schema accepts them, and each setting reaches the key that acts on it."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllm_workflow import validate
from vllm_workflow.kubernetes import values

DATA = Path(__file__).parent / "data/chart"
SHARED = Path(__file__).resolve().parents[2] / "shared/upstream/production-stack"
K8S_DEFCONFIGS = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "defconfigs").iterdir()
                        if "CONFIG_VLLM_DEPLOY_KUBERNETES=y" in p.read_text())
HARDWARE = {"cpu": [], "cuda": ["CONFIG_VLLM_TARGET_DEVICE_CUDA=y"], "rocm": ["CONFIG_VLLM_TARGET_DEVICE_ROCM=y"]}
ROUTING = {"roundrobin": "CONFIG_VLLM_ROUTER_ROUND_ROBIN=y", "session": "CONFIG_VLLM_ROUTER_SESSION_AFFINITY=y",
           "prefixaware": "CONFIG_VLLM_ROUTER_PREFIX_AWARE=y", "kvaware": "CONFIG_VLLM_ROUTER_KV_AWARE=y"}


def key_list(name: str) -> list[str]:
    return [line.strip() for line in (DATA / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")]


CHART_KEYS = key_list("vllm-stack-0.1.12-keys.txt")
KPS_KEYS = ["kube-prometheus-stack." + k for k in key_list("kube-prometheus-stack-82.4.3-keys.txt")]


def consumed(path: str, keys: list[str]) -> bool:
    for key in keys:
        if key.endswith(".*"):
            if path == key[:-2] or path.startswith(key[:-2] + ".") or path.startswith(key[:-2] + "["):
                return True
        elif path == key:
            return True
    return False


def unread(rendered: dict[str, Any]) -> list[str]:
    return [p for p in values.flatten(rendered) if not consumed(p, CHART_KEYS + KPS_KEYS)]


def merge(base: Any, over: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    return copy.deepcopy(over)


def schema_errors(rendered: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads((SHARED / "values.schema.json").read_text())
    defaults = yaml.safe_load((SHARED / "values.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(merge(defaults, rendered))]


needs_shared = pytest.mark.skipif(not (SHARED / "values.schema.json").exists(),
                                  reason=f"the chart's schema and values ({SHARED}) are absent")


def test_flatten_and_consumed_helpers() -> None:
    assert values.flatten({"a": {"b": 1, "c": [{"d": 1}, {"e": 2}], "f": ["x"]}}) == ["a.b", "a.c[].d", "a.c[].e", "a.f"]
    assert consumed("routerSpec.resources.requests.cpu", CHART_KEYS)
    assert not consumed("routerSpec.resourcesX", CHART_KEYS)
    # kdevops' settings that the chart never reads must not pass
    for dead in ("routerSpec.routingStrategy", "servingEngineSpec.modelSpec[].lmcache.enabled",
                 "observability.prometheus.enabled", "servingEngineSpec.modelSpec[].device"):
        assert not consumed(dead, CHART_KEYS + KPS_KEYS), dead


@pytest.mark.parametrize("name", K8S_DEFCONFIGS)
@pytest.mark.parametrize("secrets", [False, True])
def test_defconfig_values_are_all_read_by_the_chart(vars_for, name: str, secrets: bool) -> None:
    v = vars_for(name)
    assert validate.check(v) == []
    rendered = values.render(v, hf_token=secrets, api_key=secrets)
    assert unread(rendered) == []


def matrix() -> list[tuple[str, str, bool, bool]]:
    out = []
    for hw, routing, lmcache, observe in itertools.product(HARDWARE, ROUTING, (False, True), (False, True)):
        if lmcache and hw != "cuda":
            continue  # LMCache depends on CUDA in Kconfig
        if routing == "kvaware" and not lmcache:
            continue
        out.append((hw, routing, lmcache, observe))
    return out


def matrix_vars(vars_for, hw: str, routing: str, lmcache: bool, observe: bool) -> dict[str, Any]:
    lines = ["CONFIG_VLLM_DEPLOY_KUBERNETES=y", *HARDWARE[hw], f"CONFIG_VLLM_LMCACHE_ENABLED={'y' if lmcache else 'n'}",
             ROUTING[routing], f"CONFIG_VLLM_OBSERVABILITY_ENABLED={'y' if observe else 'n'}"]
    v = vars_for("vllm-production-stack-cpu", *lines)
    assert validate.check(v) == []
    return v


@pytest.mark.parametrize(("hw", "routing", "lmcache", "observe"), matrix())
def test_matrix_values_are_read_and_settings_arrive(vars_for, hw: str, routing: str, lmcache: bool,
                                                    observe: bool) -> None:
    v = matrix_vars(vars_for, hw, routing, lmcache, observe)
    rendered = values.render(v, hf_token=True, api_key=False)
    assert unread(rendered) == []
    spec = rendered["servingEngineSpec"]["modelSpec"][0]
    router = rendered["routerSpec"]
    assert router["routingLogic"] == routing
    assert (router.get("sessionKey") == "x-user-id") is (routing in ("session", "kvaware"))
    assert ("lmcacheConfig" in spec) is lmcache
    if lmcache:
        assert spec["lmcacheConfig"]["enabled"] is True
        assert spec["lmcacheConfig"]["cpuOffloadingBufferSize"] == "4"
        assert spec["repository"] == "lmcache/vllm-openai"
    if routing == "kvaware":
        assert router["lmcacheControllerPort"] == 9000 and spec["lmcacheConfig"]["controllerPort"] == 9000
    if hw == "cpu":
        assert spec["requestGPU"] == 0 and "requestGPUType" not in spec
        assert rendered["servingEngineSpec"]["runtimeClassName"] == ""
        assert "gpuMemoryUtilization" not in spec["vllmConfig"]
    else:
        assert spec["requestGPU"] == 1 and spec["vllmConfig"]["gpuMemoryUtilization"] == 0.9
        assert spec["pvcStorage"] == "50Gi"
    if hw == "rocm":
        assert spec["requestGPUType"] == "amd.com/gpu" and spec["repository"] == "rocm/vllm"
    for part in ("servingEngineSpec", "routerSpec"):
        assert (rendered[part].get("serviceMonitor", {}).get("enabled") is True) is observe
    assert ("kube-prometheus-stack" in rendered) is observe
    assert spec["hf_token"] == {"secretName": "vllm-workflow-secrets", "secretKey": "hf_token"}


@needs_shared
@pytest.mark.parametrize(("hw", "routing", "lmcache", "observe"), matrix())
def test_matrix_values_pass_the_upstream_schema(vars_for, hw: str, routing: str, lmcache: bool,
                                                observe: bool) -> None:
    v = matrix_vars(vars_for, hw, routing, lmcache, observe)
    for secrets in (False, True):
        assert schema_errors(values.render(v, hf_token=secrets, api_key=secrets)) == []


@needs_shared
def test_schema_check_catches_a_wrong_type(vars_for) -> None:
    rendered = values.render(vars_for("vllm-production-stack-cpu"), hf_token=False, api_key=False)
    rendered["servingEngineSpec"]["modelSpec"][0]["requestCPU"] = "2"
    assert any("requestCPU" in e for e in schema_errors(rendered))


def test_cpu_defconfig_values(vars_for) -> None:
    rendered = values.render(vars_for("vllm-production-stack-cpu"), hf_token=False, api_key=False)
    engine = rendered["servingEngineSpec"]
    spec = engine["modelSpec"][0]
    assert engine["runtimeClassName"] == ""  # the chart's "nvidia" would leave CPU pods Pending
    assert spec["requestCPU"] == 1 and isinstance(spec["requestCPU"], int)
    assert (spec["replicaCount"], spec["requestMemory"], spec["requestGPU"]) == (2, "6Gi", 0)
    assert engine["strategy"] == {"type": "Recreate"}  # Minikube: a surge would not fit
    assert rendered["routerSpec"]["resources"]["requests"] == {"cpu": "500m", "memory": "2Gi"}
    assert spec["name"] == "facebook-opt-125m" and spec["modelURL"] == "facebook/opt-125m"
    assert spec["vllmConfig"] == {"enablePrefixCaching": True, "enableChunkedPrefill": True,
                                  "maxModelLen": 2048, "dtype": "auto",
                                  "extraArgs": ["--block-size", "128", "--enforce-eager"]}
    assert {"name": "VLLM_CPU_KVCACHE_SPACE", "value": "1"} in spec["env"]
    assert {"name": "VLLM_CPU_OMP_THREADS_BIND", "value": "auto"} in spec["env"]
    assert "hf_token" not in spec and "vllmApiKey" not in engine
    assert rendered["routerSpec"]["tag"] == "v0.1.12"


def test_secrets_are_referenced_never_embedded(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", 'CONFIG_VLLM_HF_TOKEN="hf_supersecret"', 'CONFIG_VLLM_API_KEY="sk-topsecret"')
    text = yaml.safe_dump(values.render(v, hf_token=True, api_key=True))
    assert "supersecret" not in text and "topsecret" not in text
    rendered = values.render(v, hf_token=True, api_key=True)
    ref = {"secretName": "vllm-workflow-secrets", "secretKey": "vllm_api_key"}
    assert rendered["servingEngineSpec"]["vllmApiKey"] == ref and rendered["routerSpec"]["vllmApiKey"] == ref


def test_settings_reach_their_keys(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_ENABLE_PREFIX_CACHING=n", "CONFIG_VLLM_MAX_MODEL_LEN=8192",
                 'CONFIG_VLLM_EXTRA_ENGINE_ARGS="--max-num-seqs 64"', 'CONFIG_VLLM_MODEL_NAME="opt"',
                 "CONFIG_VLLM_TENSOR_PARALLEL_SIZE=2", 'CONFIG_VLLM_GPU_TYPE="NVIDIA-A100-SXM4-80GB"',
                 'CONFIG_VLLM_ENGINE_IMAGE_TAG="v0.10.2"', "CONFIG_VLLM_REPLICA_COUNT=3")
    spec = values.render(v, hf_token=False, api_key=False)["servingEngineSpec"]["modelSpec"][0]
    assert spec["vllmConfig"]["enablePrefixCaching"] is False and spec["vllmConfig"]["maxModelLen"] == 8192
    assert spec["vllmConfig"]["extraArgs"] == ["--max-num-seqs", "64", "--served-model-name", "opt"]
    assert spec["vllmConfig"]["tensorParallelSize"] == 2 and spec["tag"] == "v0.10.2" and spec["replicaCount"] == 3
    assert spec["nodeSelectorTerms"] == [{"matchExpressions": [
        {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A100-SXM4-80GB"]}]}]


def test_router_off_and_rocm_gfx1100(vars_for) -> None:
    v = vars_for("vllm-production-stack-rocm", "CONFIG_VLLM_ROUTER_ENABLED=n", "CONFIG_VLLM_ROCM_GFX1100=y")
    rendered = values.render(v, hf_token=False, api_key=False)
    assert rendered["routerSpec"] == {"enableRouter": False}
    env = {e["name"]: e["value"] for e in rendered["servingEngineSpec"]["modelSpec"][0]["env"]}
    assert env == {"VLLM_USE_TRITON_FLASH_ATTN": "1", "VLLM_ROCM_USE_AITER": "0"}
    gfx942 = values.render(vars_for("vllm-production-stack-rocm"), hf_token=False, api_key=False)
    assert "env" not in gfx942["servingEngineSpec"]["modelSpec"][0]


def test_long_model_names_fit_the_service_name_limit(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", 'CONFIG_VLLM_MODEL_NAME="' + "Org/" + "Very-Long_Model.Name" * 5 + '"')
    name = values.model_spec_name(v)
    assert len(values.engine_service(v)) <= 63 and name == name.strip("-") and name.islower()


@needs_shared
def test_upstream_examples_pass_our_schema_check() -> None:
    """The schema check itself works on the chart's own CPU example (control)."""
    example = yaml.safe_load((SHARED / "examples/cpu/gcp-opt125m-cpu.yaml").read_text())
    example["servingEngineSpec"]["modelSpec"][0]["requestCPU"] = 2  # the example's 1.5 breaks the schema
    assert schema_errors(example) == []


def test_cpu_engine_knobs_reach_kubernetes(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_LOCAL_KVCACHE_GIB=3", "CONFIG_VLLM_LOCAL_BLOCK_SIZE=64",
                 "CONFIG_VLLM_LOCAL_ENFORCE_EAGER=n", "CONFIG_VLLM_LOCAL_OMP_BIND=n")
    spec = values.render(v, hf_token=False, api_key=False)["servingEngineSpec"]["modelSpec"][0]
    assert spec["vllmConfig"]["extraArgs"] == ["--block-size", "64"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert (env["VLLM_CPU_KVCACHE_SPACE"], env["VLLM_CPU_OMP_THREADS_BIND"]) == ("3", "all")
    gpu = values.render(vars_for("vllm-production-stack-gpu"), hf_token=False, api_key=False)
    assert "VLLM_CPU_KVCACHE_SPACE" not in str(gpu)  # GPU engines: none of the CPU knobs
    assert any("CONFIG_VLLM_LOCAL_BLOCK_SIZE: 48 is not a multiple of 32" in p
               for p in validate.check(v | {"vllm_local_block_size": 48}))


def test_router_image_pinned_by_digest(vars_for) -> None:
    digest = "sha256:" + "ab" * 32
    v = vars_for("vllm-production-stack-cpu", f'CONFIG_VLLM_ROUTER_IMAGE_DIGEST="{digest}"')
    assert validate.check(v) == []
    assert values.render(v, hf_token=False, api_key=False)["routerSpec"]["tag"] == f"v0.1.12@{digest}"
    bad = validate.check(v | {"vllm_router_image_digest": "sha256:xyz"})
    assert any(p.startswith("CONFIG_VLLM_ROUTER_IMAGE_DIGEST: 'sha256:xyz' is not an image digest") for p in bad)


def test_keda_triggers_budgets_and_router_autoscaling_from_kconfig(vars_for) -> None:
    from vllm_workflow.kubernetes import values as kv

    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_KEDA_ENABLED=y", "CONFIG_VLLM_K8S_KEDA_MIN_REPLICAS=2",
                 "CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS=4", "CONFIG_VLLM_K8S_KEDA_KV_USAGE_PERCENT=70",
                 "CONFIG_VLLM_K8S_ENGINE_PDB_MIN_AVAILABLE=1", "CONFIG_VLLM_K8S_ROUTER_AUTOSCALING=y",
                 "CONFIG_VLLM_K8S_ROUTER_MAX_REPLICAS=2")
    out = kv.render(v, hf_token=False, api_key=False, prometheus_namespace="elsewhere")
    keda = out["servingEngineSpec"]["modelSpec"][0]["keda"]
    assert (keda["minReplicaCount"], keda["maxReplicaCount"]) == (2, 4)
    assert [t["metadata"]["threshold"] for t in keda["triggers"]] == ["5", "70"]
    assert all(".elsewhere.svc:9090" in t["metadata"]["serverAddress"] for t in keda["triggers"])
    assert out["servingEngineSpec"]["modelSpec"][0]["pdb"] == {"enabled": True, "minAvailable": 1}
    assert out["routerSpec"]["autoscaling"] == {"enabled": True, "minReplicas": 1, "maxReplicas": 2,
                                                "targetCPUUtilizationPercentage": 80}
    assert "pdb" not in out["routerSpec"]
    plain = kv.render(vars_for("vllm-production-stack-cpu"), hf_token=False, api_key=False)
    assert "keda" not in plain["servingEngineSpec"]["modelSpec"][0] and "autoscaling" not in plain["routerSpec"]


def test_keda_needs_observability_and_sane_bounds(vars_for) -> None:
    from vllm_workflow import validate

    off = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_OBSERVABILITY_ENABLED=n", "CONFIG_VLLM_K8S_KEDA_ENABLED=y")
    assert not off.get("vllm_k8s_keda_enabled")  # Kconfig: depends on Observability
    bad = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_KEDA_ENABLED=y", "CONFIG_VLLM_K8S_KEDA_MIN_REPLICAS=3",
                   "CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS=2", 'CONFIG_VLLM_KEDA_CHART_SHA256="abc"',
                   "CONFIG_VLLM_K8S_ENGINE_PDB_MIN_AVAILABLE=3", "CONFIG_VLLM_K8S_ROUTER_PDB_MIN_AVAILABLE=1")
    problems = "\n".join(validate.check(bad))
    assert "CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS: 2 is below CONFIG_VLLM_K8S_KEDA_MIN_REPLICAS=3" in problems
    assert "CONFIG_VLLM_KEDA_CHART_SHA256: not a sha256" in problems
    assert "CONFIG_VLLM_K8S_ENGINE_PDB_MIN_AVAILABLE: 3 of 3 engine(s)" in problems
    assert "CONFIG_VLLM_K8S_ROUTER_PDB_MIN_AVAILABLE: at most 1 router(s)" in problems


def test_minikube_fit_counts_the_most_engines_keda_may_start(vars_for) -> None:
    from vllm_workflow import validate

    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_K8S_KEDA_ENABLED=y", "CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS=12")
    problems = "\n".join(validate.check(v))
    assert "engine facebook-opt-125m: 12 × (1 CPU, 6.0 GiB)" in problems
    assert "counted at KEDA's most: CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS" in problems
