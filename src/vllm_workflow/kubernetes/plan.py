"""Plan a Kubernetes deploy: tools, cluster, values, port-forwards, preflight problems.

Like the local plan, a pure function of the settings and a few target facts;
the playbook runs it on the controller (`vllm-workflow k8s-plan`) and only
carries it out.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..arms import arm_vars, port_offset
from ..plans import K8sPlan, StackDescription
from ..supervision import Program, expand_home, paths as local_paths, process_manager, supervisord_conf
from ..stack import description_head
from . import gpu, manifests, tools, values
from ..settings import Settings

MINIKUBE_PROFILE = "vllm-workflow"
HELM_REPO_NAME = "vllm-workflow-production-stack"
#: The Kubernetes Python client the kubernetes.core modules need on the target (same pin as the controller).
KUBERNETES_CLIENT = "kubernetes==37.0.2"


@dataclass(frozen=True)
class Facts:
    home: str
    architecture: str = "x86_64"
    hostname: str = "localhost"
    client_address: str = "127.0.0.1"
    hf_token: bool = False
    api_key: bool = False
    ab_arm: str = ""  # "baseline" or "dev" in an A/B test
    instance: str = ""  # set when both arms share this host

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Facts:
        known = set(cls.__dataclass_fields__)
        kept = {k: v for k, v in data.items() if k in known}
        for flag in ("hf_token", "api_key"):
            if flag in kept:
                kept[flag] = str(kept[flag]).lower() in ("true", "1", "yes")
        return cls(**kept)


def paths(v: Mapping[str, Any], home: str, instance: str = "") -> dict[str, str]:
    s = Settings.of(v)
    root = expand_home(s.k8s_runtime_dir, home)
    p = local_paths(root, instance)  # tools shared; an A/B arm's supervisor, state and logs its own
    p |= {
        "venv": p["venv_supervisor"],  # runs supervisord and the kubernetes.core modules
        "python": f"{p['venv_supervisor']}/bin/python",
        # the pinned binaries; plan() replaces these with their versioned paths
        "kubectl": f"{p['bin']}/kubectl",
        "helm": f"{p['bin']}/helm",
        "minikube": f"{p['bin']}/minikube",
        "pod_forward": f"{p['bin']}/pod_forward.py",
        "values": f"{p['state']}/vllm-stack-values.yaml",
        "tools_root": root,
    }
    return p


def cluster(v: Mapping[str, Any], home: str) -> dict[str, str]:
    """kubeconfig and context every kubectl/helm/module call uses."""
    s = Settings.of(v)
    if s.k8s_existing:
        return {"kubeconfig": expand_home(str(s.kubeconfig or "~/.kube/config"), home),
                "context": s.kube_context}
    return {"kubeconfig": f"{home}/.kube/config", "context": MINIKUBE_PROFILE}  # minikube writes its profile there


def minikube(v: Mapping[str, Any], p: Mapping[str, str], home: str = "~") -> dict[str, Any] | None:
    s = Settings.of(v)
    if not s.k8s_minikube:
        return None
    base = [p["minikube"], "--profile", MINIKUBE_PROFILE]
    # --container-runtime=docker: GPUs need it, and newer Minikube releases default to another.
    start = base + ["start", "--driver=docker", "--container-runtime=docker", f"--cpus={s.minikube_cpus}",
                    f"--memory={s.minikube_memory_mb}mb", "--wait=all", "--interactive=false"]
    gpus = {"cuda": "--gpus=all", "rocm": "--gpus=amd"}.get(s.target_device)
    if gpus:
        start.append(gpus)
    mirror = s.registry_mirror_url
    if mirror:
        start.append(f"--registry-mirror={mirror}")
    on_teardown = str(s.minikube_teardown or "keep")  # Kconfig's derived name
    return {"profile": MINIKUBE_PROFILE, "start": start, "status": base + ["status", "--output=json"],
            # what the profile was first started with (Minikube keeps it on every later start)
            "profile_config": f"{home}/.minikube/profiles/{MINIKUBE_PROFILE}/config.json",
            "stop": base + ["stop"], "delete": base + ["delete"], "on_teardown": on_teardown}


def engine_pod_ports(v: Mapping[str, Any]) -> list[int]:
    """The port of each engine pod's own forward: VLLM_API_PORT + 2, + 3, ... (one per replica)."""
    s = Settings.of(v)
    return [s.api_port + 2 + i for i in range(s.replica_count)]


def forwards(v: Mapping[str, Any], c: Mapping[str, str], p: Mapping[str, str], address: str,
             monitoring_stack: bool = False) -> list[Program]:
    """Supervised `kubectl port-forward`s: the API (router, or the engines' service without one)
    on VLLM_API_PORT, the engines' service on VLLM_API_PORT + 1, and with the monitoring stack
    Prometheus and Grafana on VLLM_PROMETHEUS_PORT and VLLM_GRAFANA_PORT."""
    s = Settings.of(v)
    api_port = s.api_port
    base = [p["kubectl"], f"--kubeconfig={c['kubeconfig']}"] + ([f"--context={c['context']}"] if c["context"] else [])
    base += [f"--namespace={s.helm_namespace}", "port-forward", f"--address={address}"]
    api = values.router_service(v) if s.router_enabled else values.engine_service(v)
    progs = [Program("port-forward-api", base + [f"service/{api}", f"{api_port}:{values.SERVICE_PORT}"], {}, 10)]
    if s.router_enabled:
        progs.append(Program("port-forward-engines",
                             base + [f"service/{values.engine_service(v)}", f"{api_port + 1}:{values.SERVICE_PORT}"],
                             {}, 10))
    # One forward per engine pod (slots that re-claim a replaced pod): per-engine metrics, routing
    # check and prefix-cache resets reach every engine, not the one the Service picks.
    kubectl = [p["kubectl"], f"--kubeconfig={c['kubeconfig']}"] + ([f"--context={c['context']}"] if c["context"] else [])
    kubectl.append(f"--namespace={s.helm_namespace}")
    selector = f"model={values.model_spec_name(v)},helm-release-name={s.helm_release_name}"
    for i, port in enumerate(engine_pod_ports(v)):
        progs.append(Program(f"port-forward-engine-{i}", [
            p["python"], p["pod_forward"], "--slot", str(i), "--claims", f"{p['state']}/pod-forwards",
            "--port", str(port), "--selector", selector, "--address", address, "--", *kubectl], {}, 20))
    if monitoring_stack:
        progs.append(Program("port-forward-prometheus", base + [
            f"service/{values.prometheus_service(v)}", f"{s.prometheus_port}:{values.PROMETHEUS_SERVICE_PORT}"],
            {}, 10))
        progs.append(Program("port-forward-grafana", base + [
            f"service/{values.grafana_service(v)}", f"{s.grafana_port}:{values.GRAFANA_SERVICE_PORT}"], {}, 10))
    return progs


def monitoring(v: Mapping[str, Any], facts: Facts) -> dict[str, Any] | None:
    """Where Prometheus and Grafana are for this stack. A dev arm sharing the baseline's cluster
    uses the baseline's (whose Prometheus scrapes every namespace's ServiceMonitors)."""
    s = Settings.of(v)
    if not s.observability_enabled:
        return None
    own = facts.instance != "dev"
    offset = 0 if own else port_offset(v)  # the baseline's ports
    address = facts.client_address
    return {"own": own, "prometheus_url": f"http://{address}:{s.prometheus_port - offset}",
            "grafana_url": f"http://{address}:{s.grafana_port - offset}"}


def dashboard_configmap(v: Mapping[str, Any]) -> dict[str, Any]:
    """Our dashboard for this release's namespace, as a ConfigMap Grafana's sidecar imports."""
    s = Settings.of(v)
    import json

    from ..observability.dashboards import kubernetes_dashboard

    ns = s.helm_namespace
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{s.helm_release_name}-vllm-workflow-dashboard", "namespace": ns,
                         "labels": {values.DASHBOARD_LABEL[0]: values.DASHBOARD_LABEL[1], **manifests.MANAGED_BY}},
            "data": {"vllm-workflow.json": json.dumps(kubernetes_dashboard(ns), indent=1)}}


def stack_description(v: Mapping[str, Any], facts: Facts, p: Mapping[str, str], c: Mapping[str, str],
                      progs: list[Program] | None = None, mon: dict[str, Any] | None = None) -> StackDescription:
    s = Settings.of(v)
    address = facts.client_address
    api_port = s.api_port
    router_on = s.router_enabled
    api = f"http://{address}:{api_port}"
    engines_url = f"http://{address}:{api_port + 1}" if router_on else api
    logic = values.routing_logic(v)
    return {
        **description_head(v, "kubernetes", facts.ab_arm, facts.hostname, logic, logic),
        "api_url": api,
        "api_key_required": facts.api_key,
        "router": {"url": api, "metrics_url": f"{api}/metrics"} if router_on else None,
        # Each engine pod has its own forward (the engines' Service would pick a pod per connection).
        "engines": [{"name": f"engine-{i}", "url": f"http://{address}:{port}",
                     "metrics_url": f"http://{address}:{port}/metrics"}
                    for i, port in enumerate(engine_pod_ports(v))],
        "engines_service_url": engines_url,
        "prometheus_url": mon["prometheus_url"] if mon else None,
        "grafana": {"url": mon["grafana_url"], "provisioned": (
            "dashboard ConfigMap picked up by Grafana's sidecar; Prometheus datasource from kube-prometheus-stack")}
        if mon else None,
        "kubernetes": {
            "namespace": s.helm_namespace, "release": s.helm_release_name,
            "replicas": s.replica_count,
            "chart": f"{values.CHART_NAME} {s.helm_chart_version}", **c,
            "router_service": values.router_service(v) if router_on else None,
            "engine_service": values.engine_service(v),
            "ports": {"api": api_port, "engines": api_port + 1 if router_on else api_port,
                      "engine_pods": engine_pod_ports(v),
                      "engine_http": values.ENGINE_PORTS["http"], "lmcache_zmq": values.ENGINE_PORTS["zmq"],
                      "lmcache_ucx": values.ENGINE_PORTS["ucx"], "router_lmcache_controller": values.ROUTER_LMCACHE_PORT},
            "kubectl": p["kubectl"],
            "port_forwards": [shlex.join(prog.argv) for prog in progs or []],
        },
        "process_manager": process_manager(p),
        "runtime_dir": p["root"],
        "logs_dir": p["logs"],
    }


def values_file_name(arm: str = "") -> str:
    """The controller's copy of a release's values in workflows/vllm/generated/ (one per A/B arm)."""
    return f"vllm-stack-values-{arm}.yaml" if arm else "vllm-stack-values.yaml"


def values_yaml(v: Mapping[str, Any], *, hf_token: bool, api_key: bool, monitoring_stack: bool = True,
                prometheus_namespace: str | None = None) -> str:
    s = Settings.of(v)
    header = (f"# Helm values for {values.CHART_NAME} {s.helm_chart_version}, generated by vllm-workflow from "
              ".config.\n# Secrets are not here: the chart reads them from the Secret "
              f"{values.secret_name(v)}.\n")
    rendered = values.render(v, hf_token=hf_token, api_key=api_key, monitoring_stack=monitoring_stack,
                             prometheus_namespace=prometheus_namespace)
    return header + yaml.safe_dump(rendered, sort_keys=False, default_flow_style=False)


def arm_settings(base: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """The settings this host deploys: an A/B arm gets its own namespace, "<namespace>-<arm>"
    (two releases never share one), and the dev arm the A/B menu's changes."""
    v = arm_vars(base, facts.ab_arm, colocated=bool(facts.instance))
    if facts.ab_arm:
        v["vllm_helm_namespace"] = f"{Settings.of(base).helm_namespace}-{facts.ab_arm}"
    return v


def prometheus_namespace(base: Mapping[str, Any], facts: Facts) -> str:
    """The namespace of the Prometheus this release's metrics are in: its own, or for the dev arm
    of an A/B on one cluster the baseline's (see ``monitoring``)."""
    if facts.ab_arm and facts.instance == "dev":
        return f"{Settings.of(base).helm_namespace}-baseline"
    return Settings.of(arm_settings(base, facts)).helm_namespace


KEDA_REPO = ("kedacore", "https://kedacore.github.io/charts")
KEDA_NAMESPACE = "keda"


def keda_install(v: Mapping[str, Any], p: Mapping[str, str]) -> dict[str, Any] | None:
    """How deploy installs KEDA when the cluster has none: the pinned chart archive, checked by sha256."""
    s = Settings.of(v)
    if not (s.k8s_keda_enabled and s.observability_enabled):
        return None
    version = s.keda_chart_version
    return {"repo_name": KEDA_REPO[0], "repo_url": KEDA_REPO[1], "chart": f"{KEDA_REPO[0]}/keda",
            "version": version, "sha256": s.keda_chart_sha256.lower(),
            "archive": f"{p['bin']}/keda-{version}.tgz", "folder": p["bin"], "namespace": KEDA_NAMESPACE,
            "release": "keda", "crd": "scaledobjects.keda.sh"}


def plan(base: Mapping[str, Any], facts: Facts) -> K8sPlan:
    v = arm_settings(base, facts)
    s = Settings.of(v)
    errors = tools.problems(v)
    p = paths(v, facts.home, facts.instance)
    try:
        downloads = [d.as_dict(p["bin"]) for d in tools.downloads(v, facts.architecture)] if not errors else []
    except ValueError as exc:
        errors.append(f"{exc}.")
        downloads = []
    p |= {d["tool"]: d["binary"] for d in downloads}
    c = cluster(v, facts.home)
    address = "127.0.0.1" if facts.client_address in ("127.0.0.1", "localhost") else f"127.0.0.1,{facts.client_address}"
    mon = monitoring(v, facts)
    progs = forwards(v, c, p, address, monitoring_stack=bool(mon and mon["own"]))
    return {
        "errors": errors,
        "paths": p,
        "cluster": c,
        "downloads": downloads,
        "minikube": minikube(v, p, facts.home),
        "supervisor_spec": f"supervisor=={s.k8s_supervisor_version}",
        "kubernetes_spec": KUBERNETES_CLIENT,
        "helm": {
            "release": s.helm_release_name, "namespace": s.helm_namespace,
            "repo_name": HELM_REPO_NAME, "repo_url": s.helm_chart_repo_url,
            "chart_ref": f"{HELM_REPO_NAME}/{values.CHART_NAME}", "chart_version": s.helm_chart_version,
            "timeout": f"{s.helm_timeout_minutes}m",
            "atomic": s.helm_atomic,
        },
        "values_yaml": values_yaml(v, hf_token=facts.hf_token, api_key=facts.api_key,
                                   monitoring_stack=bool(mon and mon["own"]),
                                   prometheus_namespace=prometheus_namespace(base, facts)),
        "keda": keda_install(v, p),
        "dashboard": dashboard_configmap(v) if mon else None,
        "values_name": values_file_name(facts.ab_arm),
        "namespace": manifests.namespace(v),
        "secret": manifests.secret(v, {}),
        "secret_keys": {"hf_token": values.HF_TOKEN_KEY, "api_key": values.API_KEY_KEY},
        "gpu": values.device(v),
        "nvidia_smi": gpu.NVIDIA_SMI_QUERY,
        "programs": [prog.name for prog in progs],
        "forwards": [shlex.join(prog.argv) for prog in progs],
        "supervisord_conf": supervisord_conf(progs, p),
        "stack": stack_description(v, facts, p, c, progs, mon),
    }


def plan_from_input(data: Mapping[str, Any]) -> K8sPlan:
    """The plan from the role's ``{"vars": ..., "facts": ...}`` (the ``vllm_k8s_plan`` filter, in
    Ansible's own process, and ``vllm-workflow k8s-plan``)."""
    from ..errors import WorkflowError

    try:
        return plan(data["vars"], Facts.from_dict(data["facts"]))
    except (KeyError, TypeError) as exc:
        raise WorkflowError(f"k8s-plan: incomplete input ({exc})") from exc
