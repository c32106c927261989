"""Kubernetes objects vllm-workflow creates itself (everything else comes from the chart)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from . import values
from ..settings import Settings

MANAGED_BY = {"app.kubernetes.io/managed-by": "vllm-workflow"}


def namespace(v: Mapping[str, Any]) -> dict[str, Any]:
    s = Settings.of(v)
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": s.helm_namespace, "labels": dict(MANAGED_BY)}}


def secret(v: Mapping[str, Any], data: Mapping[str, str]) -> dict[str, Any]:
    """The Secret holding the HF token and API key; ``data`` maps values.HF_TOKEN_KEY /
    values.API_KEY_KEY to the secrets. Deploy builds the same object from the plan's skeleton
    (``secret(v, {})``) with no_log; the secrets never reach a file or a log. Base64 ``data``
    (not ``stringData``) so that a second apply compares equal and reports no change."""
    conf = Settings.of(v)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": values.secret_name(v), "namespace": conf.helm_namespace,
                         "labels": dict(MANAGED_BY)},
            "data": {k: base64.b64encode(s.encode()).decode() for k, s in data.items() if s}}
