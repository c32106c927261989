"""Helpers shared by the tests."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_target(name: str) -> ModuleType:
    """Import a target-side helper (src/vllm_workflow/target/NAME.py, or a backend's own under
    local/target or kubernetes/target), which is not a package module."""
    if name in sys.modules:
        return sys.modules[name]
    src = ROOT / "src/vllm_workflow"
    path = next(p for p in (src / "target", src / "local/target", src / "kubernetes/target") if (p / f"{name}.py").is_file())
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))  # as on a host: the agent imports its modules from beside it
    spec = importlib.util.spec_from_file_location(name, path / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module



def stub_project(root: Path, v: dict, stacks: dict[str, dict]) -> Path:
    """A project root whose state describes stacks served by stub servers (test doubles):
    extra_vars.yaml and .secrets.yaml from ``v``, one stack file per name in ``stacks``."""
    import json

    import yaml

    (root / "workflows/vllm/state/stacks").mkdir(parents=True)
    v = dict(v)
    secrets = {k: v.pop(k) for k in ("vllm_api_key", "vllm_hf_token", "vllm_grafana_api_token") if k in v}
    (root / "extra_vars.yaml").write_text(yaml.safe_dump(v))
    (root / ".secrets.yaml").write_text(yaml.safe_dump(secrets))
    for name, stack in stacks.items():
        (root / f"workflows/vllm/state/stacks/{name}.json").write_text(json.dumps(stack))
    return root


def stub_stack(url: str, host: str, model: str, arm: str | None = None) -> dict:
    """The stack description of one stub "engine" serving ``model`` at ``url``."""
    return {"schema_version": 1, "backend": "test-double", "arm": arm, "host": host, "model": model,
            "routing": "roundrobin", "api_url": url, "session_header": "x-user-id", "router": None,
            "engines": [{"name": "stub", "url": url, "metrics_url": url + "/metrics"}]}


class HealthHandler(BaseHTTPRequestHandler):
    """A test double of an engine or router: 200 on /health, 404 elsewhere, quiet."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's API
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *a) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler] = HealthHandler) -> Iterator[str]:
    """Run ``handler`` on a free loopback port for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
