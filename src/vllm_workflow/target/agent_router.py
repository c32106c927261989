"""The supervisor agent and the router: the router's settings file (0600: it may hold the API
key), its workers added and removed on the running router, engines drained before they stop.
Standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

try:  # a package module in the controller's tests; beside this file on a host
    from .agent_files import write_private
except ImportError:
    from agent_files import write_private  # type: ignore[no-redef]


def _router_call(base: str, path: str, key: str, method: str = "GET") -> Any:
    request = urllib.request.Request(base + path, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    try:
        return json.loads(body)
    except ValueError:
        return body


def live_workers(base: str, key: str) -> list[str]:
    data = _router_call(base, "/list_workers", key)
    if isinstance(data, dict):
        data = data.get("urls") or data.get("workers") or []
    return [w if isinstance(w, str) else w.get("url", "") for w in data]


def engine_busy(url: str, key: str) -> float:
    """Requests an engine is running or holding (its /metrics); 0 when it cannot be read."""
    try:
        text = _router_call(url, "/metrics", key)
    except (OSError, urllib.error.URLError):
        return 0.0
    busy = 0.0
    for line in str(text).splitlines():
        if line.startswith(("vllm:num_requests_running", "vllm:num_requests_waiting")):
            try:
                busy += float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
    return busy


def drain(urls: list[str], key: str, timeout: float = 60.0, quiet_s: float = 1.0,
          busy: Any = None, clock: Any = time.monotonic, sleep: Any = time.sleep) -> dict[str, float]:
    """Wait until engines taken out of the router have finished their requests (or ``timeout``).
    An engine counts as drained once it has shown no running or waiting request for ``quiet_s`` in a
    row: a request the router sent just before the removal can still be in the engine's API server,
    not yet counted by its scheduler (a stream was seen cut that way while scaling down)."""
    busy = busy or engine_busy
    start = clock()
    waited: dict[str, float] = {}
    for url in urls:
        idle_since = None
        while clock() - start < timeout:
            now = clock()
            if busy(url, key) > 0:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= quiet_s:
                break
            sleep(0.2)
        waited[url] = round(clock() - start, 1)
    return waited


def router_sync(conf: str, settings_path: str, new: dict[str, Any], live: bool,
                drain_removed: bool = False) -> dict[str, Any]:
    """Write the router settings. ``live``: also add and remove workers on the running router.
    ``drain_removed`` (before engines are stopped): only take out the workers that are going
    away, and wait until they have finished what they were serving, so scaling down fails no
    request."""
    try:
        with open(settings_path, encoding="utf-8") as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        old = None
    result: dict[str, Any] = {"changed": False, "restart_needed": False, "added": [], "removed": []}
    if old != new:
        write_private(settings_path, json.dumps(new, indent=2, sort_keys=True))
        result["changed"] = True
        if old is not None and (old.get("args") != new.get("args") or old.get("api_key") != new.get("api_key")):
            result["restart_needed"] = True
    if not (live or drain_removed) or result["restart_needed"] or old is None:
        return result
    args = new["args"]
    host, port = args[args.index("--host") + 1], args[args.index("--port") + 1]
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    key = new.get("api_key", "")
    try:
        current = live_workers(base, key)
    except (OSError, urllib.error.URLError) as exc:
        result["error"] = f"router at {base} unreachable: {exc}"
        return result
    for url in new["workers"] if live else []:
        if url not in current:
            _router_call(base, "/add_worker?url=" + urllib.parse.quote(url, safe=""), key, "POST")
            result["added"].append(url)
    for url in current:
        if url not in new["workers"]:
            _router_call(base, "/remove_worker?url=" + urllib.parse.quote(url, safe=""), key, "POST")
            result["removed"].append(url)
    if drain_removed and result["removed"]:
        result["drained_after_s"] = drain(result["removed"], key)
    result["changed"] = result["changed"] or bool(result["added"] or result["removed"])
    return result
