"""The Stack description: what a backend deployed, read by every later phase.

Deploy writes one JSON file per target host under the state directory; quick
test, status, benchmark and monitor read them and never care which backend
made them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import WorkflowError
from .settings import Settings

DEFAULT_STATE_DIR = "workflows/vllm/state"
#: Where the controller keeps generated files (Helm values, dashboards), relative to the project root.
GENERATED_DIR = "workflows/vllm/generated"
#: Version of the stack description both backends write.
STACK_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    metrics_url: str
    instances: int = 1  # engines behind the URL (a Service picks one per connection)
    model: str = ""  # the model this engine serves ("": the stack's only model)


@dataclass(frozen=True)
class Stack:
    host: str
    backend: str
    model: str
    routing: str
    router_policy: str | None
    session_header: str
    api_url: str
    api_key_required: bool
    router: Endpoint | None
    engines: tuple[Endpoint, ...]
    process_manager: dict[str, Any]
    logs_dir: str
    raw: dict[str, Any]  # the whole description as recorded (stack.json in every bundle)
    arm: str = ""  # the A/B arm ("" outside an A/B)
    prometheus_url: str | None = None
    runtime_dir: str = ""
    target: dict[str, Any] = field(default_factory=dict)  # local: inventory host, connection, machine
    kubernetes: dict[str, Any] = field(default_factory=dict)  # Kubernetes: release, services, forwards
    grafana: dict[str, Any] = field(default_factory=dict)  # Kubernetes: where Grafana is

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stack:
        router = data.get("router")
        return cls(
            host=data["host"],
            backend=data["backend"],
            model=data["model"],
            routing=data["routing"],
            router_policy=data.get("router_policy"),
            session_header=data.get("session_header", "x-user-id"),
            api_url=data["api_url"],
            api_key_required=bool(data.get("api_key_required")),
            router=Endpoint("router", router["url"], router["metrics_url"]) if router else None,
            engines=tuple(Endpoint(e["name"], e["url"], e["metrics_url"], int(e.get("instances") or 1),
                                   str(e.get("model") or ""))
                          for e in data["engines"]),
            process_manager=data.get("process_manager") or {},
            logs_dir=data.get("logs_dir", ""),
            raw=data,
            arm=str(data.get("arm") or ""),
            prometheus_url=data.get("prometheus_url") or None,
            runtime_dir=str(data.get("runtime_dir") or ""),
            target=dict(data.get("target") or {}),
            kubernetes=dict(data.get("kubernetes") or {}),
            grafana=dict(data.get("grafana") or {}),
        )


    @property
    def models(self) -> tuple[str, ...]:
        """Every model the stack serves (several behind one router: issue 27), the first first."""
        return tuple(self.raw.get("models") or (self.model,))

    def serves(self, engine: Endpoint) -> str:
        """The model an engine serves."""
        return engine.model or self.model

    def for_model(self, model: str) -> Stack:
        """This stack seen as serving one model: its engines only, requests naming it."""
        from dataclasses import replace

        return replace(self, model=model, engines=tuple(e for e in self.engines if self.serves(e) == model))


def stacks_dir(state_dir: Path) -> Path:
    return state_dir / "stacks"


def description_head(v: Mapping[str, Any], backend: str, arm: str, host: str, routing: str,
                     policy: str | None) -> dict[str, Any]:
    """The fields every backend's stack description starts with (``routing``/``policy`` count
    only with the router on)."""
    s = Settings.of(v)
    router_on = s.router_enabled
    return {
        "schema_version": STACK_SCHEMA_VERSION,
        "backend": backend,
        "arm": arm or None,
        "host": host,
        "model": s.model_name,
        "routing": routing if router_on else "none",
        "router_policy": policy if router_on else None,
        "session_header": str(s.router_session_key or "x-user-id"),
    }


def grafana_state_path(state_dir: Path, host: str) -> Path:
    """What the last provisioning of a stack's Grafana did (read by `make vllm-monitor`)."""
    return state_dir / "grafana" / f"{host}.json"


def quick_test_path(state_dir: Path, host: str) -> Path:
    """The last quick-test result of one stack (each A/B arm has its own)."""
    return state_dir / "quick-test" / f"{host}.json"


def load_stacks(state_dir: Path) -> list[Stack]:
    """Every deployed stack, by host name; empty when nothing is deployed."""
    folder = stacks_dir(state_dir)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"it holds a {type(data).__name__}, not a stack description")
            out.append(Stack.from_dict(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkflowError(f"{path} is damaged ({exc}). Fix: run `make vllm-deploy` to rewrite it.") from exc
    return out


def require_stacks(state_dir: Path) -> list[Stack]:
    stacks = load_stacks(state_dir)
    if not stacks:
        raise WorkflowError(
            f"nothing is deployed (no stack description under {stacks_dir(state_dir)}). "
            "Fix: run `make bringup && make vllm-deploy`."
        )
    return stacks
