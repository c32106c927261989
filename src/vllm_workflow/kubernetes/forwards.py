"""What repairs, kept apart from what reads (``status.py``): restart a Kubernetes stack's
port-forwards when they are down (after a reboot, say). The quick test calls it before checking,
and says what it did."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import requests

from ..stack import Stack


def ensure_forwards(stack: Stack, timeout: float = 20.0) -> str | None:
    """Start the stack's port-forward supervisor and forwards when they are down (after a reboot,
    say), then wait until the API answers; what was done, or None when nothing was needed or
    the supervisor is not on this machine."""
    pm = stack.process_manager
    python, agent, conf = pm.get("python", ""), pm.get("agent", ""), pm.get("conf", "")
    if stack.backend != "kubernetes" or not all(Path(x).exists() for x in (python, agent, conf)):
        return None
    changed = False
    for command in ("ensure-daemon", "apply"):
        try:
            out = subprocess.run([python, agent, command, conf], capture_output=True, text=True, timeout=60)
            changed = changed or bool(json.loads(out.stdout or "{}").get("changed"))
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            return f"could not start the port-forwards ({type(exc).__name__}); run make vllm-deploy"
    if not changed:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"{stack.api_url}/health", timeout=2)
            return "port-forwards were down and have been restarted"
        except requests.RequestException:
            time.sleep(0.5)
    return f"port-forwards restarted, but {stack.api_url} does not answer yet"
