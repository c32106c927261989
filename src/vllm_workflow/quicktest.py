"""Quick test: the OpenAI API answers correctly through the router and on each engine.

One line per check with its timing; exit status 1 when any check fails, so a
CI step can run `make vllm-quick-test` as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from .stack import Endpoint, Stack
from .httpclient import auth_headers, served_models

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Check:
    target: str
    name: str
    ok: bool
    ms: float
    detail: str


def _headers(api_key: str) -> dict[str, str]:
    return auth_headers(api_key)


def parse_sse(lines: Iterable[str]) -> tuple[list[dict[str, Any]], bool]:
    """Chunks of an SSE stream and whether it ended with ``data: [DONE]``."""
    chunks: list[dict[str, Any]] = []
    done = False
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            done = True
            break
        chunks.append(json.loads(payload))
    return chunks, done


def check_health(session: requests.Session, base: str, model: str) -> str:
    r = session.get(f"{base}/health", timeout=TIMEOUT_S)
    if r.status_code != 200:
        raise AssertionError(f"HTTP {r.status_code}: {r.text[:200]}")
    return "HTTP 200"


def check_models(session: requests.Session, base: str, model: str) -> str:
    """``model``: one name, or several separated by newlines (every model behind one router)."""
    r = session.get(f"{base}/v1/models", timeout=TIMEOUT_S)
    r.raise_for_status()
    names = served_models(r.json())
    wanted = model.split("\n")
    missing = [m for m in wanted if m not in names]
    if missing:
        raise AssertionError(f"served models {names} do not include {', '.join(repr(m) for m in missing)} "
                             "(VLLM_MODEL_NAME / VLLM_MODELn_NAME)")
    return f"serves {', '.join(wanted)}"


def check_completion(session: requests.Session, base: str, model: str) -> str:
    body = {"model": model, "prompt": "The quick test says", "max_tokens": 8, "temperature": 0}
    r = session.post(f"{base}/v1/completions", json=body, timeout=TIMEOUT_S)
    r.raise_for_status()
    data = r.json()
    tokens = data.get("usage", {}).get("completion_tokens", 0)
    if not data.get("choices") or tokens < 1:
        raise AssertionError(f"no completion tokens in {str(data)[:200]}")
    return f"{tokens} tokens"


def check_chat(session: requests.Session, base: str, model: str) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "temperature": 0}
    r = session.post(f"{base}/v1/chat/completions", json=body, timeout=TIMEOUT_S)
    r.raise_for_status()
    data = r.json()
    message = data["choices"][0]["message"]
    if message.get("role") != "assistant" or data.get("usage", {}).get("completion_tokens", 0) < 1:
        raise AssertionError(f"unexpected chat answer {str(data)[:200]}")
    return f"{data['usage']['completion_tokens']} tokens"


def check_stream(session: requests.Session, base: str, model: str) -> str:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Stream please"}],
        "max_tokens": 8,
        "temperature": 0,
        "stream": True,
    }
    with session.post(f"{base}/v1/chat/completions", json=body, timeout=TIMEOUT_S, stream=True) as r:
        r.raise_for_status()
        if "text/event-stream" not in r.headers.get("content-type", ""):
            raise AssertionError(f"content-type {r.headers.get('content-type')} is not text/event-stream")
        chunks, done = parse_sse(r.iter_lines(decode_unicode=True))
    deltas = [c for c in chunks if c.get("choices") and c["choices"][0].get("delta", {}).get("content")]
    if not done:
        raise AssertionError("stream did not end with data: [DONE]")
    if not deltas:
        raise AssertionError("stream carried no content")
    return f"{len(deltas)} chunks, [DONE]"


CHECKS: list[tuple[str, Callable[[requests.Session, str, str], str]]] = [
    ("/health", check_health),
    ("/v1/models", check_models),
    ("/v1/completions", check_completion),
    ("/v1/chat/completions", check_chat),
    ("chat stream (SSE)", check_stream),
]


def run_checks(target: str, base: str, model: str, api_key: str, models: tuple[str, ...] = ()) -> list[Check]:
    """Every check of one endpoint; with several ``models`` (a router serving them all), /v1/models
    lists them all and each request check runs once per model, named with it."""
    session = requests.Session()
    session.headers.update(_headers(api_key))
    results = []
    plan: list[tuple[str, Callable[[requests.Session, str, str], str], str]] = []
    for name, fn in CHECKS:
        if len(models) > 1 and fn is check_models:
            plan.append((name, fn, "\n".join(models)))
        elif len(models) > 1 and fn is not check_health:
            plan += [(f"{name} [{m}]", fn, m) for m in models]
        else:
            plan.append((name, fn, model))
    for name, fn, arg in plan:
        start = time.perf_counter()
        try:
            detail = fn(session, base, arg)
            ok = True
        except (requests.RequestException, AssertionError, ValueError, KeyError, IndexError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
            if api_key:  # an error about the header would quote the key
                detail = detail.replace(api_key.strip(), "***").replace(api_key, "***")
            detail = detail[:300]
        results.append(Check(target, name, ok, (time.perf_counter() - start) * 1000, detail))
    return results


def targets(stack: Stack) -> list[Endpoint]:
    """The router (or the API endpoint) first, then every engine."""
    first = stack.router or Endpoint("api", stack.api_url, "")
    engines = [e for e in stack.engines if e.url != first.url]
    return [first, *engines]


def run(stack: Stack, api_key: str, emit: Callable[[str], None] = print) -> list[Check]:
    results: list[Check] = []
    for endpoint in targets(stack):
        label = f"{endpoint.name} ({endpoint.url})"
        engine = endpoint in stack.engines
        models = (stack.serves(endpoint),) if engine else stack.models
        for check in run_checks(endpoint.name, endpoint.url, models[0], api_key, models):
            mark = "✅" if check.ok else "❌"
            emit(f"{mark} {label:<34} {check.name:<22} {check.ms:7.0f} ms  {check.detail}")
            results.append(check)
    return results


def summary(stack: Stack, results: list[Check]) -> dict[str, Any]:
    failed = [r for r in results if not r.ok]
    return {
        "host": stack.host,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "checks": [asdict(r) for r in results],
    }


def check_deployed(root: Path, state: Path, api_key: str, say: Callable[[str], None] = print) -> int:
    """The quick test of every deployed stack (``make vllm-quick-test``, and the quick-test phase of
    ``make vllm`` in Ansible's process): dead port-forwards restarted first, each check said as it
    runs, each host's summary kept beside its stack description, JUnit XML and Markdown for CI.
    The number of failed checks."""
    from .files import write_atomic
    from .junit import write_reports
    from .kubernetes.forwards import ensure_forwards
    from .stack import quick_test_path, require_stacks

    failed = 0
    suites = []
    for stack in require_stacks(state):
        say(f"Quick test of {stack.host} ({stack.backend} backend, model {stack.model}):")
        note = ensure_forwards(stack)
        if note:
            say(f"🔌 {note}")
        results = run(stack, api_key, say)
        done = summary(stack, results)
        failed += done["failed"]
        path = quick_test_path(state, stack.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(done, indent=2))
        say(f"{done['passed']} passed, {done['failed']} failed")
        suites.append(junit_suite(stack, results))
    say(write_reports(root, "quick-test", suites))
    return failed


def junit_suite(stack: Stack, results: list[Check]) -> Any:
    """One JUnit test suite: a case per check."""
    from .junit import Case, Suite

    return Suite(f"quick-test {stack.host}", [
        Case(f"{r.target} {r.name}", f"quick-test.{stack.host}", r.ms / 1000, None if r.ok else r.detail,
             output=r.detail) for r in results])
