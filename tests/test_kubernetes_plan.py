"""The Kubernetes deploy plan, our own manifests, `make vllm-values`, and a --check run of the
deploy play that must stop at the first cluster call with an actionable message."""

from __future__ import annotations

import base64
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vllm_workflow import cli, validate
from vllm_workflow.kubernetes import manifests, plan, tools

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def k8s_plan(v: dict, **facts) -> dict:
    return plan.plan(v, plan.Facts.from_dict({"home": "/home/u", **facts}))


def test_plan_for_the_cpu_defconfig(vars_for) -> None:
    p = k8s_plan(vars_for("vllm-production-stack-cpu"))
    assert p["errors"] == []
    assert [(d["tool"], d["version"]) for d in p["downloads"]] == [("minikube", "1.38.1"), ("kubectl", "1.35.0"),
                                                                   ("helm", "3.18.4")]
    helm = p["downloads"][2]
    assert helm["url"] == "https://get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz"
    assert helm["checksum"] == "sha256:" + tools.CHECKSUMS[("helm", "3.18.4", "amd64")]
    root = "/home/u/.local/share/vllm-workflow/k8s"
    assert p["paths"]["helm"] == f"{root}/bin/helm-3.18.4/linux-amd64/helm"
    assert p["paths"]["kubectl"] == f"{root}/bin/kubectl-1.35.0"
    start = p["minikube"]["start"]
    assert start[:4] == [f"{root}/bin/minikube-1.38.1", "--profile", "vllm-workflow", "start"]
    assert "--driver=docker" in start and "--cpus=4" in start and "--memory=16384mb" in start
    assert not any(a.startswith(("--gpus", "--registry-mirror", "--force")) for a in start)
    assert p["cluster"] == {"kubeconfig": "/home/u/.kube/config", "context": "vllm-workflow"}
    assert p["helm"]["chart_ref"].endswith("/vllm-stack") and p["helm"]["chart_version"] == "0.1.12"
    assert p["helm"]["timeout"] == "20m"
    api = shlex.split(p["forwards"][0])
    assert api[-2:] == ["service/vllm-router-service", "8000:80"] and "--address=127.0.0.1" in api
    assert "--context=vllm-workflow" in api and "--namespace=vllm-system" in api
    assert shlex.split(p["forwards"][1])[-2:] == ["service/vllm-facebook-opt-125m-engine-service", "8001:80"]
    assert "[program:port-forward-api]" in p["supervisord_conf"] and "autorestart=true" in p["supervisord_conf"]
    stack = p["stack"]
    assert (stack["backend"], stack["api_url"], stack["routing"]) == ("kubernetes", "http://127.0.0.1:8000", "session")
    assert stack["kubernetes"]["ports"] | {} == {"api": 8000, "engines": 8001, "engine_pods": [8002, 8003],
                                                 "engine_http": 8000, "lmcache_zmq": 55555,
                                                 "lmcache_ucx": 9999, "router_lmcache_controller": 9000}
    # each engine pod its own forward (a slot that re-claims a replaced pod)
    assert [(e["name"], e["url"]) for e in stack["engines"]] == [("engine-0", "http://127.0.0.1:8002"),
                                                                  ("engine-1", "http://127.0.0.1:8003")]
    assert "[program:port-forward-engine-1]" in p["supervisord_conf"]
    slot = shlex.split(next(f for f in p["forwards"] if "--slot 1" in f))
    assert slot[slot.index("--port") + 1] == "8003" and slot[slot.index("--selector") + 1] == (
        "model=facebook-opt-125m,helm-release-name=vllm")
    assert slot[slot.index("--") + 1:][-1] == "--namespace=vllm-system"
    assert yaml.safe_load(p["values_yaml"])["routerSpec"]["routingLogic"] == "session"


def test_plan_gpu_mirror_existing_cluster_and_remote_address(vars_for) -> None:
    gpu = k8s_plan(vars_for("vllm-production-stack-gpu", 'CONFIG_VLLM_REGISTRY_MIRROR_URL="https://mirror.example"',
                            "CONFIG_VLLM_MINIKUBE_TEARDOWN_DELETE=y"), architecture="aarch64")
    assert "--gpus=all" in gpu["minikube"]["start"] and "--registry-mirror=https://mirror.example" in gpu["minikube"]["start"]
    assert gpu["minikube"]["on_teardown"] == "delete" and gpu["gpu"] == "cuda"
    assert all("arm64" in d["url"] for d in gpu["downloads"])
    existing = k8s_plan(vars_for("vllm-production-stack-declared-hosts", 'CONFIG_VLLM_KUBE_CONTEXT="prod"',
                                 'CONFIG_VLLM_KUBECONFIG="~/k/config"'), client_address="10.0.0.5", hostname="node1")
    assert existing["minikube"] is None and [d["tool"] for d in existing["downloads"]] == ["kubectl", "helm"]
    assert existing["cluster"] == {"kubeconfig": "/home/u/k/config", "context": "prod"}
    assert "--address=127.0.0.1,10.0.0.5" in shlex.split(existing["forwards"][0])
    assert existing["stack"]["api_url"] == "http://10.0.0.5:8000" and existing["stack"]["host"] == "node1"


def test_unknown_architecture_and_unverifiable_versions_are_errors(vars_for) -> None:
    assert "architecture s390x" in k8s_plan(vars_for("vllm-production-stack-cpu"), architecture="s390x")["errors"][0]
    v = vars_for("vllm-production-stack-cpu", 'CONFIG_VLLM_HELM_VERSION="3.99.0"')
    problems = validate.check(v)
    assert any(p.startswith("CONFIG_VLLM_HELM_VERSION: no published sha256 of helm '3.99.0'") and "3.18.4" in p
               for p in problems)


def test_kubernetes_client_pin_matches_the_controller() -> None:
    assert plan.KUBERNETES_CLIENT in (ROOT / "requirements.txt").read_text().splitlines()


@pytest.mark.parametrize(("line", "setting"), [
    ('CONFIG_VLLM_ROUTER_IMAGE_TAG="latest"', "VLLM_ROUTER_IMAGE_TAG"),
    ('CONFIG_VLLM_ROUTER_REQUEST_CPU="one"', "VLLM_ROUTER_REQUEST_CPU"),
    ('CONFIG_VLLM_K8S_MODEL_STORAGE="lots"', "VLLM_K8S_MODEL_STORAGE"),
    ('CONFIG_VLLM_K8S_RUNTIME_CLASS="Not_A_Name"', "VLLM_K8S_RUNTIME_CLASS"),
    ('CONFIG_VLLM_HELM_NAMESPACE="Bad_NS"', "VLLM_HELM_NAMESPACE"),
])
def test_bad_kubernetes_settings_name_the_setting(vars_for, line: str, setting: str) -> None:
    problems = validate.check(vars_for("vllm-production-stack-cpu", line))
    assert any(p.startswith(f"CONFIG_{setting}:") and "Fix:" in p for p in problems), problems


def test_lmcache_needs_an_lmcache_image(vars_for) -> None:
    v = vars_for("vllm-production-stack-gpu", "CONFIG_VLLM_LMCACHE_ENABLED=y",
                 'CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY="vllm/vllm-openai"')
    assert any(p.startswith("CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY: LMCache is on") for p in validate.check(v))


def test_our_manifests_pass_kubernetes_validate(vars_for) -> None:
    import kubernetes_validate

    v = vars_for("vllm-production-stack-cpu")
    secret = manifests.secret(v, {"hf_token": "hf_x", "vllm_api_key": "sk-y", "unused": ""})
    assert secret["data"] == {"hf_token": base64.b64encode(b"hf_x").decode(), "vllm_api_key": base64.b64encode(b"sk-y").decode()}
    for manifest in (manifests.namespace(v), secret, manifests.secret(v, {})):
        kubernetes_validate.validate(manifest, "1.35.0", strict=True)
    broken = manifests.namespace(v) | {"metadata": {"name": "x", "labelz": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.35.0", strict=True)


def test_plan_and_gpu_commands_read_stdin(monkeypatch, capsys, vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"vars": v, "facts": {"home": "/h"}})))
    assert cli.main(["k8s-plan"]) == 0
    assert json.loads(capsys.readouterr().out)["paths"]["root"] == "/h/.local/share/vllm-workflow/k8s"
    monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
    assert cli.main(["k8s-plan"]) == 2
    assert "k8s-plan needs JSON" in capsys.readouterr().err


def project(tmp_path: Path, defconfig: str, *lines: str) -> Path:
    """extra_vars.yaml, .secrets.yaml and a localhost inventory for a defconfig (in tmp_path)."""
    config = tmp_path / ".config"
    env = {**os.environ, "HF_TOKEN": "", "VLLM_API_KEY": ""}
    wf = [str(BIN / "vllm-workflow"), "--root", str(ROOT), "--config", str(config)]
    subprocess.run(wf + ["defconfig", defconfig], check=True, capture_output=True, env=env)
    if lines:
        with config.open("a") as fh:
            fh.write("".join(line + "\n" for line in lines))
        subprocess.run(wf + ["olddefconfig"], check=True, capture_output=True, env=env)
    subprocess.run(wf + ["vars", "--output", str(tmp_path / "extra_vars.yaml"), "--secrets",
                         str(tmp_path / ".secrets.yaml")], check=True, capture_output=True, env=env)
    subprocess.run(wf + ["inventory", "--extra-vars", str(tmp_path / "extra_vars.yaml"), "--output",
                         str(tmp_path / "hosts"), "--python", sys.executable], check=True, capture_output=True, env=env)
    return tmp_path


def check_run(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "HOME": str(tmp_path / "home"),
           "PATH": f"{BIN}:/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1"}
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp_path / "hosts"), "-e", f"@{tmp_path / 'extra_vars.yaml'}",
         "-e", f"@{tmp_path / '.secrets.yaml'}", "-e", f"vllm_extra_vars_file={tmp_path / 'extra_vars.yaml'}",
         "-e", f"vllm_state_dir={tmp_path / 'state'}", str(ROOT / "playbooks/vllm.yml"), "--tags", "deploy", "--check"],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_check_run_against_an_unreachable_existing_cluster_stops_cleanly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "test"}}],
        "contexts": [{"name": "ctx-test", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "missing", "user": "u"}}]}))
    project(tmp_path, "vllm-production-stack-cpu", "CONFIG_VLLM_K8S_EXISTING=y",
            f'CONFIG_VLLM_KUBECONFIG="{kubeconfig}"', 'CONFIG_VLLM_KUBE_CONTEXT="ctx-test"')
    run = check_run(tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"Cannot reach the Kubernetes cluster (kubeconfig {kubeconfig}, context ctx-test)" in out
    assert f"port={port}" in out and "Connection refused" in out  # the configured context's server was tried
    assert "Fix: point CONFIG_VLLM_KUBECONFIG and CONFIG_VLLM_KUBE_CONTEXT at a cluster" in out
    assert "Traceback" not in out
    assert not (tmp_path / "state").exists() and not (tmp_path / "home/.local").exists()


@pytest.mark.slow
def test_check_run_with_minikube_and_no_docker_stops_cleanly(tmp_path: Path) -> None:
    project(tmp_path, "vllm-production-stack-cpu")
    run = check_run(tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    if "Cannot reach the Kubernetes cluster" in out:  # a host with Docker got as far as the cluster call
        assert "Fix: run make vllm-deploy without --check so that Minikube is started" in out
    else:
        assert "Minikube's docker driver needs a Docker engine" in out and "Fix: install Docker" in out
    assert "Traceback" not in out
    assert not (tmp_path / "home/.local").exists()


def test_ab_arms_get_their_own_namespace_ports_and_supervisor(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_ROUTER_ROUND_ROBIN=y",
                 'CONFIG_VLLM_AB_DEV_ENGINE_IMAGE_TAG="0.9.2-oe2403lts"')
    assert validate.check(v) == []
    base = k8s_plan(v, ab_arm="baseline", instance="baseline", hostname="ab-baseline")
    dev = k8s_plan(v, ab_arm="dev", instance="dev", hostname="ab-dev")
    assert base["namespace"]["metadata"]["name"] == "vllm-system-baseline"
    assert dev["namespace"]["metadata"]["name"] == "vllm-system-dev" and dev["helm"]["namespace"] == "vllm-system-dev"
    assert base["paths"]["tools_root"] == dev["paths"]["tools_root"] and base["paths"]["helm"] == dev["paths"]["helm"]
    assert base["paths"]["supervisord_conf"] != dev["paths"]["supervisord_conf"]
    dev_values, base_values = yaml.safe_load(dev["values_yaml"]), yaml.safe_load(base["values_yaml"])
    assert (base_values["routerSpec"]["routingLogic"], dev_values["routerSpec"]["routingLogic"]) == ("session", "roundrobin")
    assert dev_values["servingEngineSpec"]["modelSpec"][0]["tag"] == "0.9.2-oe2403lts"
    env = dev_values["servingEngineSpec"]["modelSpec"][0]["env"]
    assert {"name": "VLLM_SERVER_DEV_MODE", "value": "1"} in env  # prefix caches are reset between runs
    assert (base["stack"]["arm"], dev["stack"]["arm"]) == ("baseline", "dev")
    assert base["stack"]["api_url"] == "http://127.0.0.1:8000" and dev["stack"]["api_url"] == "http://127.0.0.1:9000"
    assert "--namespace=vllm-system-dev" in shlex.split(dev["forwards"][0])


def test_colocated_kubernetes_arms_need_room_for_two_forwards(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_PORT_OFFSET=1")
    assert ("CONFIG_VLLM_AB_DEV_PORT_OFFSET: the dev arm's VLLM_API_PORT is port 8001, which the baseline uses for "
            "VLLM_API_PORT+1. Fix: raise the offset.") in validate.check(v)


@pytest.mark.parametrize("lines,expected", [
    (("CONFIG_VLLM_PROMETHEUS_PORT=8001",), "CONFIG_VLLM_PROMETHEUS_PORT: VLLM_PROMETHEUS_PORT and VLLM_API_PORT+1 "
                                            "are both port 8001"),
    (("CONFIG_VLLM_GRAFANA_PORT=8000",), "CONFIG_VLLM_GRAFANA_PORT: VLLM_GRAFANA_PORT and VLLM_API_PORT are both "
                                         "port 8000"),
    (("CONFIG_VLLM_GRAFANA_PORT=9090",), "CONFIG_VLLM_GRAFANA_PORT: VLLM_GRAFANA_PORT and VLLM_PROMETHEUS_PORT are "
                                         "both port 9090"),
])
def test_kubernetes_port_forwards_must_not_share_a_port(vars_for, lines: tuple[str, ...], expected: str) -> None:
    problems = validate.check(vars_for("vllm-production-stack-cpu", *lines))
    assert any(p.startswith(expected) for p in problems), problems


def test_local_grafana_and_prometheus_ports_must_differ(vars_for) -> None:
    problems = validate.check(vars_for("vllm-local", "CONFIG_VLLM_GRAFANA_PORT=9090"))
    assert any(p.startswith("CONFIG_VLLM_GRAFANA_PORT: VLLM_GRAFANA_PORT and VLLM_PROMETHEUS_PORT are both port 9090")
               for p in problems), problems


def test_observability_forwards_prometheus_and_grafana_and_ships_our_dashboard(vars_for) -> None:
    import kubernetes_validate

    from vllm_workflow.observability.queries import metric_names

    v = vars_for("vllm-production-stack-cpu")  # observability on
    p = k8s_plan(v)
    names = [shlex.split(f)[-2:] for f in p["forwards"]]
    assert ["service/vllm-kube-prometheus-stack-prometheus", "9090:9090"] in names
    assert ["service/vllm-grafana", "3000:80"] in names
    assert p["stack"]["prometheus_url"] == "http://127.0.0.1:9090"
    assert p["stack"]["grafana"]["url"] == "http://127.0.0.1:3000"
    assert len(p["stack"]["kubernetes"]["port_forwards"]) == 6  # API, engines service, 2 engine pods, Prometheus, Grafana
    cm = p["dashboard"]
    kubernetes_validate.validate(cm, "1.35.0", strict=True)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1" and cm["metadata"]["namespace"] == "vllm-system"
    board = json.loads(cm["data"]["vllm-workflow.json"])
    assert board["uid"] == "vllm-workflow-vllm-system" and len(json.dumps(board)) < 1_000_000
    assert all('namespace="vllm-system"' in panel["targets"][0]["expr"] for panel in board["panels"])
    kv = next(pn for pn in board["panels"] if pn["title"] == "KV-cache usage")["targets"][0]["expr"]
    assert metric_names(kv) == {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}


def test_colocated_dev_arm_shares_the_baselines_monitoring_stack(vars_for) -> None:
    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_ROUTER_ROUND_ROBIN=y")
    base = k8s_plan(v, ab_arm="baseline", instance="baseline")
    dev = k8s_plan(v, ab_arm="dev", instance="dev")
    assert "kube-prometheus-stack" in yaml.safe_load(base["values_yaml"])
    assert "kube-prometheus-stack" not in yaml.safe_load(dev["values_yaml"])  # one operator per cluster
    assert dev["programs"] == ["port-forward-api", "port-forward-engines", "port-forward-engine-0", "port-forward-engine-1"]
    assert dev["stack"]["prometheus_url"] == base["stack"]["prometheus_url"] == "http://127.0.0.1:9090"
    assert dev["dashboard"]["metadata"]["namespace"] == "vllm-system-dev"


def test_benchmark_bundles_keep_each_arms_values(tmp_path: Path) -> None:
    from vllm_workflow.benchmark.service import copy_config
    from vllm_workflow.stack import Stack

    generated = tmp_path / "workflows/vllm/generated"
    generated.mkdir(parents=True)
    (generated / plan.values_file_name("dev")).write_text("routerSpec:\n  routingLogic: roundrobin\n# sk-leaked\n")
    (generated / plan.values_file_name()).write_text("routerSpec:\n  routingLogic: session\n")
    stack = Stack.from_dict({"backend": "kubernetes", "arm": "dev", "host": "ab-dev", "model": "m", "routing": "r",
                             "api_url": "http://x", "router": None, "engines": []})
    copy_config(tmp_path, tmp_path / "bundle", {}, stack, ["sk-leaked", ""])
    kept = (tmp_path / "bundle/vllm-stack-values.yaml").read_text()
    assert "roundrobin" in kept and "sk-leaked" not in kept


def test_values_command_writes_the_values_and_refuses_the_local_backend(tmp_path: Path, vars_for, capsys) -> None:
    v = vars_for("vllm-production-stack-cpu")
    secrets = {k: v.pop(k) for k in ("vllm_hf_token", "vllm_api_key", "vllm_grafana_api_token")}
    (tmp_path / "extra_vars.yaml").write_text(yaml.safe_dump(v))
    (tmp_path / ".secrets.yaml").write_text(yaml.safe_dump(secrets | {"vllm_hf_token": "hf_x"}))
    args = ["--root", str(tmp_path), "values", "--extra-vars", str(tmp_path / "extra_vars.yaml")]
    assert cli.main(args) == 0
    text = (tmp_path / "workflows/vllm/generated/vllm-stack-values.yaml").read_text()
    assert "hf_x" not in text and yaml.safe_load(text)["servingEngineSpec"]["modelSpec"][0]["hf_token"]["secretKey"] == "hf_token"
    assert "no cluster contacted" in capsys.readouterr().out
    (tmp_path / "extra_vars.yaml").write_text(yaml.safe_dump(v | {"vllm_deploy_kubernetes": False, "vllm_deploy_local": True}))
    assert cli.main(args) == 2
    assert "CONFIG_VLLM_DEPLOY_KUBERNETES is not set" in capsys.readouterr().err
