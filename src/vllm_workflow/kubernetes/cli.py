"""Subcommands of the Kubernetes backend: values, k8s-plan, the preflight gates (gpu-check, k8s-capacity,
minikube-check), k8s-release, k8s-diagnose."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import WorkflowError

from ..stack import GENERATED_DIR
from .plan import values_file_name
from ..settings import Settings

VALUES_PATH = f"{GENERATED_DIR}/{values_file_name()}"


def _stdin_json(command: str, needs: str) -> dict[str, Any]:
    try:
        data = json.load(sys.stdin)
    except ValueError as exc:
        raise WorkflowError(f"{command} needs JSON {needs} on stdin: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkflowError(f"{command} needs JSON {needs} on stdin")
    return data


def cmd_values(args: argparse.Namespace) -> int:
    from .. import config, files
    from ..config import secrets
    from .plan import values_yaml

    root = Path(args.root).resolve()
    v = config.load_vars(Path(args.extra_vars) if args.extra_vars else config.extra_vars_path(Path(args.root)))
    if not Settings.of(v).deploy_kubernetes:
        raise WorkflowError("CONFIG_VLLM_DEPLOY_KUBERNETES is not set: the local backend uses no Helm values. "
                            "Fix: make defconfig-vllm-production-stack-cpu (or choose Kubernetes in make menuconfig).")
    given = secrets(root)
    text = values_yaml(v, hf_token=bool(given.hf_token), api_key=bool(given.api_key))
    out = Path(args.output) if args.output else root / VALUES_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    files.write_if_changed(out, text, 0o644)
    print(f"Helm values for the current .config written to {out} (no cluster contacted; secrets are not in it).")
    return 0


def cmd_k8s_plan(args: argparse.Namespace) -> int:
    from .plan import plan_from_input

    json.dump(plan_from_input(_stdin_json("k8s-plan", "{'vars': ..., 'facts': ...}")), sys.stdout)
    return 0


def _gate(name: str, data: dict[str, Any]) -> int:
    """A preflight gate's verdict: exit 1 listing each problem on stderr, else 0 with one line."""
    from .gates import GATES, failure

    lines = failure(name, data)
    if lines:
        print("\n".join(lines), file=sys.stderr)
        return 1
    print(GATES[name].passed(data))
    return 0


def cmd_gpu_check(args: argparse.Namespace) -> int:
    return _gate("gpu", _stdin_json("gpu-check", "{'device': ..., 'nvidia_smi' or 'rocminfo' or 'nodes': ...}"))


def cmd_k8s_release(args: argparse.Namespace) -> int:
    from .release import decide

    data = _stdin_json("k8s-release", "{'status': helm_info's status or null, 'release': ..., 'namespace': ...}")
    json.dump(decide(data.get("status"), str(data.get("release") or ""), str(data.get("namespace") or "")), sys.stdout)
    return 0


def cmd_k8s_capacity(args: argparse.Namespace) -> int:
    return _gate("capacity", _stdin_json("k8s-capacity", "{'values_yaml': ..., 'nodes': [...]}"))


def cmd_minikube_check(args: argparse.Namespace) -> int:
    return _gate("minikube", _stdin_json("minikube-check", "{'facts': {...}, 'start': [...], 'profile': ...}"))


def cmd_k8s_diagnose(args: argparse.Namespace) -> int:
    from .diagnose import explain

    data = _stdin_json("k8s-diagnose", "{'pods': [...], 'error': ...}")
    head, *why = explain(list(data.get("pods") or []), str(data.get("error") or ""))
    print("\n  ".join([head, *why]))
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("values", cmd_values,
            f"render the vllm-stack Helm values for the current configuration to {VALUES_PATH} "
            "without contacting a cluster (deploy uses the same renderer)")
    p.add_argument("--extra-vars", default=None, help="generated extra vars (default: ROOT/extra_vars.yaml)")
    p.add_argument("--output", default=None, help=f"where to write them (default: ROOT/{VALUES_PATH})")
    add("k8s-plan", cmd_k8s_plan,
        "plan the Kubernetes deploy from JSON {vars, facts} on stdin; print it as JSON (used by deploy)")
    add("k8s-release", cmd_k8s_release,
        "decide from the release's status (JSON on stdin) whether to install, upgrade, retry a failed "
        "release or refuse a pending one; print the decision as JSON (used by deploy)")
    add("k8s-capacity", cmd_k8s_capacity,
        "check the release's pod requests against an existing cluster's nodes (JSON on stdin: values_yaml, "
        "nodes); exit 1 naming what does not fit and the settings to change")
    add("minikube-check", cmd_minikube_check,
        "check what deploy read on the host (user, Docker runtimes, bpf_jit_harden, /dev/kfd, the profile's first "
        "start) against the planned minikube start (JSON on stdin); exit 1 naming each problem and its fix")
    add("k8s-diagnose", cmd_k8s_diagnose,
        "explain, from the release's pods (JSON on stdin), why it did not become ready, naming the fix "
        "(deploy asks the same in its own process: the vllm_k8s_diagnosis filter)")
    add("gpu-check", cmd_gpu_check,
        "check captured nvidia-smi/rocminfo output or node labels (JSON on stdin) against what vLLM needs; "
        "exit 1 naming each GPU that cannot run it")
