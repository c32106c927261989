"""HTTP to a deployed stack, one way: the API key as a Bearer header, and sessions that retry
what is safe to retry (a GET whose connection failed), never a request that reached the server."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter, Retry  # urllib3's, as requests uses it


def auth_headers(api_key: str = "", **extra: str) -> dict[str, str]:
    """``{"Authorization": "Bearer <key>"}`` when a key is set, plus ``extra`` headers."""
    return ({"Authorization": f"Bearer {api_key}"} if api_key else {}) | extra


def session(api_key: str = "", retries: int = 2, backoff_s: float = 0.2) -> requests.Session:
    """A session sending the key on every request; GET/HEAD retried on connection errors only."""
    s = requests.Session()
    s.headers.update(auth_headers(api_key))
    retry = Retry(total=retries, connect=retries, read=0, status=0, other=0, backoff_factor=backoff_s,
                  allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def served_models(body: Any) -> list[str]:
    """Model names from /v1/models: OpenAI's {"data": [{"id": ...}]}, or the router's inference-gateway
    mode (several models), which answers {"models": [...]}."""
    if isinstance(body, dict) and isinstance(body.get("models"), list):
        return [str(m) for m in body["models"]]
    return [m.get("id") for m in (body or {}).get("data", []) if isinstance(m, dict)]
