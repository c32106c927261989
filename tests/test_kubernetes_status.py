"""`make vllm-status-simplified` on the Kubernetes backend: pods, release and ports."""

from __future__ import annotations

import asyncio
import json
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from vllm_workflow import status
from vllm_workflow.errors import WorkflowError
from vllm_workflow.fault.inject import PodInjector
from vllm_workflow.kubernetes import forwards
from vllm_workflow.kubernetes.replicas import ReplicaSampler
from vllm_workflow.kubernetes import status as k8s
from vllm_workflow.stack import Stack
from tests.helpers import serving

PODS = Path(__file__).parent / "data/k8s/pods.json"


def k8s_stack(kubeconfig: str = "/k", runtime_dir: str = "/nonexistent") -> Stack:
    return Stack.from_dict({
        "backend": "kubernetes", "host": "localhost", "model": "facebook/opt-125m", "routing": "session",
        "router_policy": "session", "api_url": "http://127.0.0.1:9", "router": {"url": "http://127.0.0.1:9",
                                                                                  "metrics_url": "x"},
        "engines": [{"name": "engines", "url": "http://127.0.0.1:9", "metrics_url": "x"}],
        "kubernetes": {"namespace": "vllm-system", "release": "vllm", "chart": "vllm-stack 0.1.12",
                       "kubeconfig": kubeconfig, "context": "vllm-workflow", "kubectl": "kubectl",
                       "ports": {"api": 8000, "engines": 8001, "engine_http": 8000, "lmcache_zmq": 55555,
                                 "lmcache_ucx": 9999, "router_lmcache_controller": 9000}},
        "runtime_dir": runtime_dir})


def test_pod_rows() -> None:
    rows = k8s.pod_rows(json.loads(PODS.read_text()))
    assert [(r["component"], r["phase"], r["ready"], r["restarts"], r["waiting"]) for r in rows] == [
        ("serving-engine", "Running", "1/1", 0, ""), ("serving-engine", "Pending", "0/1", 3, "ImagePullBackOff"),
        ("router", "Running", "1/1", 1, "")]


class KubeApi(BaseHTTPRequestHandler):
    """A test double of the Kubernetes API server: the pods of pods.json, two Deployments, pod
    events; records each request (method, path, Authorization)."""

    seen: list[tuple[str, str, str]] = []
    ns = "/api/v1/namespaces/vllm-system"

    def _answer(self, body: dict | None, code: int = 200) -> None:
        KubeApi.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        data = json.dumps(body if body is not None else {"kind": "Status", "message": "nope"}).encode()
        self.send_response(code if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's API
        path = self.path.split("?")[0]
        if path == f"{self.ns}/pods":
            self._answer(json.loads(PODS.read_text()))
        elif path == "/apis/apps/v1/namespaces/vllm-system/deployments":
            self._answer({"items": [{"metadata": {"name": "vllm-deployment-router"}, "spec": {"replicas": 1},
                                     "status": {"readyReplicas": 1}},
                                    {"metadata": {"name": "vllm-opt-deployment-vllm"}, "spec": {"replicas": 3},
                                     "status": {"readyReplicas": 2}}]})
        elif path == f"{self.ns}/events":
            self._answer({"items": [{"involvedObject": {"kind": "Pod", "name": "engine-pod-a"}, "reason": "Killing",
                                     "lastTimestamp": "2026-12-06T10:00:01Z"}]})
        else:
            self._answer(None)

    def do_DELETE(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == f"{self.ns}/pods/engine-pod-a":
            self._answer({"kind": "Pod", "metadata": {"name": "engine-pod-a"}})
        else:
            self._answer(None)

    def log_message(self, *a) -> None:
        pass


def kubeconfig(tmp_path: Path, server: str) -> str:
    """A kubeconfig whose context vllm-workflow points at ``server`` with a bearer token."""
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": server}}, {"name": "o", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "vllm-workflow", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "o", "user": "u"}}]}))
    return str(path)


@pytest.fixture
def api(tmp_path: Path):
    KubeApi.seen = []
    with serving(KubeApi) as url:
        yield kubeconfig(tmp_path, url)


def test_status_lines_with_pods_ports_and_a_failing_pod(api: str) -> None:
    stack = k8s_stack(api)
    pods, error = k8s.get_pods(stack)
    assert error == "" and len(pods) == 3
    # the release's namespace, on the context the deploy used (not the kubeconfig's current one)
    assert KubeApi.seen == [("GET", "/api/v1/namespaces/vllm-system/pods", "Bearer t0ken")]
    out = k8s.lines(stack, pods, error)
    assert out[0].startswith("☸️  release vllm (vllm-stack 0.1.12) in namespace vllm-system")
    assert any(line.startswith("   ❌ vllm-facebook-opt-125m-deployment-vllm-7d9f-fghij") and "ImagePullBackOff" in line
               for line in out)
    assert ("LMCache ZMQ 55555 and UCX 9999 (disaggregated prefill only), router LMCache controller 9000 "
            "(KV-aware only)") in out[-1]


def test_unreachable_cluster_is_reported_not_raised(tmp_path: Path) -> None:
    pods, error = k8s.get_pods(k8s_stack(kubeconfig(tmp_path, "http://127.0.0.1:1")), timeout=5)
    assert pods is None and "Connection refused" in error and "context vllm-workflow" in error, error
    pods, error = k8s.get_pods(k8s_stack(str(tmp_path / "missing")))
    assert pods is None and "cannot list pods" in error


def test_a_refusing_cluster_is_named_with_its_status(api: str) -> None:
    stack = Stack.from_dict({**k8s_stack(api).raw, "kubernetes": {**k8s_stack(api).kubernetes, "namespace": "gone"}})
    pods, error = k8s.get_pods(stack)
    assert pods is None and error == "the cluster refused to list pods in namespace gone: 404 nope"


def test_replica_sampler_and_pod_injector_read_the_release_namespace(api: str, tmp_path: Path) -> None:
    sampler = ReplicaSampler(k8s_stack(api))
    assert asyncio.run(sampler._read()) == [{"deployment": "vllm-deployment-router", "desired": 1, "ready": 1},
                                            {"deployment": "vllm-opt-deployment-vllm", "desired": 3, "ready": 2}]
    claims = tmp_path / "rt/state/pod-forwards"
    claims.mkdir(parents=True)
    (claims / "slot-0").write_text("engine-pod-a\n")
    injector = PodInjector(k8s_stack(api, str(tmp_path / "rt")))
    assert injector.kill("engine-0")["detail"] == "pod engine-pod-a deleted"
    delete = [s for s in KubeApi.seen if s[0] == "DELETE"]
    assert delete == [("DELETE", "/api/v1/namespaces/vllm-system/pods/engine-pod-a?gracePeriodSeconds=0", "Bearer t0ken")]
    events = injector.events(0.0, ["engine-0"])
    assert [(e["engine"], e["event"], e["pod"]) for e in events] == [("engine-0", "exited", "engine-pod-a")]
    assert "fieldSelector=involvedObject.kind%3DPod" in KubeApi.seen[-1][1]
    (claims / "slot-1").write_text("engine-pod-b\n")  # not a pod the cluster knows
    with pytest.raises(WorkflowError, match="the cluster refused to delete pod engine-pod-b in namespace vllm-system: 404"):
        injector.kill("engine-1")


def test_simplified_status_on_kubernetes(tmp_path: Path) -> None:
    with serving(KubeApi) as url:
        stack = k8s_stack(kubeconfig(tmp_path, url))
        h = status.health(stack, "")
        lines: list[str] = []
        verdict = status.simplified(stack, h, tmp_path, lines.append)
    assert verdict == status.DOWN  # nothing answers on port 9
    assert lines[0] == "🧭 localhost: kubernetes backend — 🔴 down"
    assert any("ImagePullBackOff" in line for line in lines)


def test_quick_test_restarts_dead_port_forwards(tmp_path: Path) -> None:
    """The supervisor agent is replaced by a test double that reports having started the forwards."""
    agent = tmp_path / "agent-test-double.py"
    agent.write_text("import json, sys, pathlib\n"
                     f"pathlib.Path({str(tmp_path / 'calls')!r}).open('a').write(sys.argv[1] + '\\n')\n"
                     "print(json.dumps({'changed': sys.argv[1] == 'apply'}))\n")
    conf = tmp_path / "supervisord.conf"
    conf.write_text("")
    raw = k8s_stack().raw | {"process_manager": {"python": sys.executable, "agent": str(agent),
                                                          "conf": str(conf)}}
    note = forwards.ensure_forwards(Stack.from_dict(raw), timeout=0.5)
    assert (tmp_path / "calls").read_text().split() == ["ensure-daemon", "apply"]
    assert note == "port-forwards restarted, but http://127.0.0.1:9 does not answer yet"
    assert forwards.ensure_forwards(Stack.from_dict(raw | {"backend": "local"})) is None
