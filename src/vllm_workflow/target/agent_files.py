"""The supervisor agent's files on the target: private writes, and Prometheus' configuration
written only once promtool accepted it. Standard library only (see supervisor_agent.py)."""

from __future__ import annotations

import os
import subprocess
from typing import Any


def write_private(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0600, atomically) unless it already holds it; True if written."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)
    return True


def read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def prometheus_config(spec: dict[str, Any]) -> dict[str, Any]:
    """Write Prometheus' configuration once promtool accepted it (a file promtool refused never
    replaces a good one), and create its data directory. ``error``: what is wrong, nothing written."""
    promtool = spec["promtool"]
    if not os.access(promtool, os.X_OK):
        return {"changed": False, "error": "promtool_missing", "detail": promtool}
    if read_file(spec["conf"]) == spec["config"]:  # checked when it was written
        return {"changed": False}
    staged = spec["conf"] + ".new"
    write_private(staged, spec["config"])
    check = subprocess.run([promtool, "check", "config", staged], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        os.remove(staged)
        return {"changed": False, "error": "config_refused",
                "detail": (check.stderr + check.stdout).replace(staged, spec["conf"]).strip()[-2000:]}
    os.makedirs(spec["data"], mode=0o700, exist_ok=True)
    os.replace(staged, spec["conf"])
    return {"changed": True}
