"""The models one router serves (issue 27): the first from the "Model" and "Engine" menus, up to
three more from "More models behind the same router". Typed specs, and the problems a set of
models can have, named with the setting and the fix."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .settings import Settings

MAX_MODELS = 4
#: A served name the router and the OpenAI clients route by: no spaces, quotes or control characters.
ROUTABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,255}$")


#: Each further model's settings, by field (written out: the consistency test finds every name read).
SETTINGS: dict[int, dict[str, str]] = {
    2: {
        "enabled": "vllm_model2_enabled",
        "name": "vllm_model2_name",
        "source": "vllm_model2_source",
        "url": "vllm_model2_url",
        "path": "vllm_model2_path",
        "preset": "vllm_model2_preset",
        "replicas": "vllm_model2_replicas",
        "request_cpu": "vllm_model2_request_cpu",
        "request_memory": "vllm_model2_request_memory",
        "request_gpu": "vllm_model2_request_gpu",
        "extra_engine_args": "vllm_model2_extra_engine_args",
    },
    3: {
        "enabled": "vllm_model3_enabled",
        "name": "vllm_model3_name",
        "source": "vllm_model3_source",
        "url": "vllm_model3_url",
        "path": "vllm_model3_path",
        "preset": "vllm_model3_preset",
        "replicas": "vllm_model3_replicas",
        "request_cpu": "vllm_model3_request_cpu",
        "request_memory": "vllm_model3_request_memory",
        "request_gpu": "vllm_model3_request_gpu",
        "extra_engine_args": "vllm_model3_extra_engine_args",
    },
    4: {
        "enabled": "vllm_model4_enabled",
        "name": "vllm_model4_name",
        "source": "vllm_model4_source",
        "url": "vllm_model4_url",
        "path": "vllm_model4_path",
        "preset": "vllm_model4_preset",
        "replicas": "vllm_model4_replicas",
        "request_cpu": "vllm_model4_request_cpu",
        "request_memory": "vllm_model4_request_memory",
        "request_gpu": "vllm_model4_request_gpu",
        "extra_engine_args": "vllm_model4_extra_engine_args",
    },
}


@dataclass(frozen=True)
class ModelSpec:
    """One served model and the engines that serve it."""

    index: int  # 1..4: the menu it comes from
    name: str  # the served model name (the request's "model")
    source: str  # hub | path | tiny
    url: str = ""  # hub id
    path: str = ""  # directory on the target
    preset: str = ""  # built-in model size
    replicas: int = 1
    request_cpu: int = 1
    request_memory: str = ""
    request_gpu: int = 0
    extra_args: str = ""

    @property
    def prefix(self) -> str:
        """The settings' prefix: CONFIG_VLLM_MODEL_ (first model) or CONFIG_VLLM_MODEL<n>_."""
        return "CONFIG_VLLM_MODEL_" if self.index == 1 else f"CONFIG_VLLM_MODEL{self.index}_"

    @property
    def replicas_setting(self) -> str:
        return "CONFIG_VLLM_REPLICA_COUNT" if self.index == 1 else f"CONFIG_VLLM_MODEL{self.index}_REPLICAS"


def _first(v: Mapping[str, Any]) -> ModelSpec:
    s = Settings.of(v)
    source = "tiny" if s.model_source_tiny else "path" if s.model_source_path else "hub"
    return ModelSpec(1, str(s.model_name or ""), source, str(s.model_url or ""),
                     s.model_path, str(s.tiny_model_preset or "tiny"),
                     s.replica_count, int(s.request_cpu or 1),
                     str(s.request_memory or ""), s.request_gpu,
                     s.extra_engine_args)


def models(v: Mapping[str, Any]) -> list[ModelSpec]:
    """Every configured model, the first first."""
    out = [_first(v)]
    for n in range(2, MAX_MODELS + 1):
        k = SETTINGS[n]
        if not v.get(k["enabled"]):
            break
        out.append(ModelSpec(n, str(v.get(k["name"]) or ""), str(v.get(k["source"]) or "hub"),
                             str(v.get(k["url"]) or ""), str(v.get(k["path"]) or ""),
                             str(v.get(k["preset"]) or "tiny"), int(v.get(k["replicas"]) or 1),
                             int(v.get(k["request_cpu"]) or 1), str(v.get(k["request_memory"]) or ""),
                             int(v.get(k["request_gpu"]) or 0), str(v.get(k["extra_engine_args"]) or "")))
    return out


def several(v: Mapping[str, Any]) -> bool:
    return bool(v.get(SETTINGS[2]["enabled"]))


def problems(v: Mapping[str, Any]) -> list[str]:
    """What makes a set of models unservable: a missing or duplicate served name, a name the router
    cannot route, a model without its source."""
    specs = models(v)
    if len(specs) == 1:
        return []
    out = []
    seen: dict[str, ModelSpec] = {}
    for m in specs:
        if not m.name:
            out.append(f"{m.prefix}NAME: model {m.index} has no served name. Fix: set it (what clients put in "
                       "\"model\"), e.g. small-llama.")
            continue
        if not ROUTABLE.match(m.name):
            out.append(f"{m.prefix}NAME: '{m.name[:80]}' cannot be routed (spaces, quotes or control characters, or "
                       "longer than 256). Fix: a name of letters, digits and . _ : / @ + -.")
        if m.name in seen:
            out.append(f"{m.prefix}NAME: '{m.name}' is also model {seen[m.name].index}'s served name; the router "
                       "could not tell them apart. Fix: give each model its own name.")
        seen.setdefault(m.name, m)
        if m.index > 1 and m.source == "hub" and not m.url:
            out.append(f"{m.prefix}URL: model {m.index} comes from the hub but names no model id. Fix: set it, e.g. "
                       "facebook/opt-125m.")
        if m.index > 1 and m.source == "path" and not m.path.startswith("/"):
            out.append(f"{m.prefix}PATH: must be an absolute path on the target. Fix: set it, e.g. /srv/models/x.")
        try:
            shlex.split(m.extra_args)
        except ValueError as exc:
            out.append(f"{m.prefix}EXTRA_ENGINE_ARGS: cannot be split into arguments ({exc}). Fix: balance the "
                       "quotes.")
    return out
