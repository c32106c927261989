"""`make vllm-status-simplified` on the Kubernetes backend: pods, release and ports."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from vllm_workflow import status
from vllm_workflow.kubernetes import forwards
from vllm_workflow.kubernetes import status as k8s
from vllm_workflow.stack import Stack

PODS = Path(__file__).parent / "data/k8s/pods.json"


def k8s_stack(kubectl: str) -> Stack:
    return Stack.from_dict({
        "backend": "kubernetes", "host": "localhost", "model": "facebook/opt-125m", "routing": "session",
        "router_policy": "session", "api_url": "http://127.0.0.1:9", "router": {"url": "http://127.0.0.1:9",
                                                                                  "metrics_url": "x"},
        "engines": [{"name": "engines", "url": "http://127.0.0.1:9", "metrics_url": "x"}],
        "kubernetes": {"namespace": "vllm-system", "release": "vllm", "chart": "vllm-stack 0.1.12",
                       "kubeconfig": "/k", "context": "vllm-workflow", "kubectl": kubectl,
                       "ports": {"api": 8000, "engines": 8001, "engine_http": 8000, "lmcache_zmq": 55555,
                                 "lmcache_ucx": 9999, "router_lmcache_controller": 9000}}})


def test_pod_rows() -> None:
    rows = k8s.pod_rows(json.loads(PODS.read_text()))
    assert [(r["component"], r["phase"], r["ready"], r["restarts"], r["waiting"]) for r in rows] == [
        ("serving-engine", "Running", "1/1", 0, ""), ("serving-engine", "Pending", "0/1", 3, "ImagePullBackOff"),
        ("router", "Running", "1/1", 1, "")]


def kubectl_double(tmp_path: Path, body: str) -> str:
    """A test double for kubectl: records its argv, prints canned output."""
    script = tmp_path / "kubectl-test-double"
    script.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                      f"pathlib.Path({str(tmp_path / 'argv')!r}).write_text(' '.join(sys.argv[1:]))\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_status_lines_with_pods_ports_and_a_failing_pod(tmp_path: Path) -> None:
    kubectl = kubectl_double(tmp_path, f"print(open({str(PODS)!r}).read())")
    stack = k8s_stack(kubectl)
    pods, error = k8s.get_pods(stack)
    assert error == "" and len(pods) == 3
    argv = (tmp_path / "argv").read_text().split()
    assert "--context=vllm-workflow" in argv and "--namespace=vllm-system" in argv and "--output=json" in argv
    out = k8s.lines(stack, pods, error)
    assert out[0].startswith("☸️  release vllm (vllm-stack 0.1.12) in namespace vllm-system")
    assert any(line.startswith("   ❌ vllm-facebook-opt-125m-deployment-vllm-7d9f-fghij") and "ImagePullBackOff" in line
               for line in out)
    assert ("LMCache ZMQ 55555 and UCX 9999 (disaggregated prefill only), router LMCache controller 9000 "
            "(KV-aware only)") in out[-1]


def test_unreachable_cluster_is_reported_not_raised(tmp_path: Path) -> None:
    kubectl = kubectl_double(tmp_path, "sys.stderr.write('The connection to the server was refused\\n'); sys.exit(1)")
    pods, error = k8s.get_pods(k8s_stack(kubectl))
    assert pods is None and "connection to the server was refused" in error
    assert k8s.get_pods(k8s_stack(str(tmp_path / "missing")))[0] is None


def test_simplified_status_on_kubernetes(tmp_path: Path) -> None:
    stack = k8s_stack(kubectl_double(tmp_path, f"print(open({str(PODS)!r}).read())"))
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
    raw = k8s_stack("kubectl").raw | {"process_manager": {"python": sys.executable, "agent": str(agent),
                                                          "conf": str(conf)}}
    note = forwards.ensure_forwards(Stack.from_dict(raw), timeout=0.5)
    assert (tmp_path / "calls").read_text().split() == ["ensure-daemon", "apply"]
    assert note == "port-forwards restarted, but http://127.0.0.1:9 does not answer yet"
    assert forwards.ensure_forwards(Stack.from_dict(raw | {"backend": "local"})) is None
