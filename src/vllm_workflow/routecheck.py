"""Prove that the configured routing takes effect, from engine counters.

Each check sends requests through the router and reads every engine's
``vllm:request_success_total`` (and prefix-cache counters) before and after,
so the evidence is the engines' own accounting, not the router's word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests

from . import metrics
from .stack import Stack
from .httpclient import auth_headers

SUCCESS = "vllm:request_success_total"
PREFIX_HITS = "vllm:prefix_cache_hits_total"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str


def engine_counts(stack: Stack, name: str = SUCCESS) -> dict[str, float]:
    return {e.name: metrics.total(metrics.fetch(e.metrics_url), name) for e in stack.engines}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}


def send(stack: Stack, api_key: str, prompt: str, session: str | None = None, max_tokens: int = 2,
         url: str | None = None) -> None:
    """One completion through the router (or straight to the engine at ``url``)."""
    headers = auth_headers(api_key)
    if session is not None:
        headers[stack.session_header] = session
    body = {"model": stack.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}
    r = requests.post(f"{url or stack.api_url}/v1/completions", json=body, headers=headers, timeout=120)
    r.raise_for_status()


def served_by(stack: Stack, api_key: str, prompt: str, session: str | None = None) -> str:
    """Send one request and return the engine whose success counter rose."""
    before = engine_counts(stack)
    send(stack, api_key, prompt, session)
    moved = [k for k, v in delta(before, engine_counts(stack)).items() if v > 0]
    if len(moved) != 1:
        raise AssertionError(f"expected exactly one engine to count the request, got {moved}")
    return moved[0]


def check_round_robin(stack: Stack, api_key: str, requests_n: int = 6) -> Outcome:
    order = [served_by(stack, api_key, f"round robin probe {i}") for i in range(requests_n)]
    n = len(stack.engines)
    cyclic = all(order[i] == order[i % n] for i in range(len(order))) and len(set(order[:n])) == n
    return Outcome(cyclic, f"engines in order: {order}")


def check_session(stack: Stack, api_key: str, users: int = 6, per_user: int = 3) -> Outcome:
    placement: dict[str, set[str]] = {}
    for u in range(users):
        key = f"routecheck-user-{u}"
        for i in range(per_user):
            placement.setdefault(key, set()).add(served_by(stack, api_key, f"session probe {i}", session=key))
    sticky = all(len(v) == 1 for v in placement.values())
    spread = {next(iter(v)) for v in placement.values() if len(v) == 1}
    return Outcome(sticky, f"{users} sessions x {per_user} requests; engines per session: "
                   f"{ {k: sorted(v) for k, v in placement.items()} }; engines used: {sorted(spread)}")


def check_prefix_aware(stack: Stack, api_key: str, repeats: int = 4) -> Outcome:
    prefix = " ".join(f"shared context line {i} about routing and caching." for i in range(60))
    first = served_by(stack, api_key, prefix + " question 0")
    hits_before = engine_counts(stack, PREFIX_HITS)
    chosen = [served_by(stack, api_key, prefix + f" question {i}") for i in range(1, repeats + 1)]
    hits = delta(hits_before, engine_counts(stack, PREFIX_HITS))
    ok = all(c == first for c in chosen) and hits.get(first, 0) > 0
    return Outcome(ok, f"first on {first}, repeats on {chosen}; prefix-cache hit tokens by engine: {hits}")


def check_kv_aware(stack: Stack, api_key: str, repeats: int = 3, cold: int = 8) -> Outcome:
    """KV-aware routing, from the engines' counters: a long prefix is first sent straight to one
    engine (each engine in turn), then requests sharing it go through the router: every one must land
    on the engine that holds the prefix's blocks, whose prefix-cache hits rise — whichever engine
    that is, so a router that favours one engine fails. Prompts no engine holds, sent at once, spread
    over the engines (the least loaded). A fresh nonce keeps a second check as cold as the first."""
    import secrets
    import time
    from concurrent.futures import ThreadPoolExecutor

    nonce = secrets.token_hex(4)
    placement: dict[str, list[str]] = {}
    hits_before = engine_counts(stack, PREFIX_HITS)
    for g, engine in enumerate(stack.engines):
        prefix = " ".join(f"kv probe {nonce} group {g} line {i} about cached blocks." for i in range(60))
        send(stack, api_key, prefix + " question 0", url=engine.url)
        time.sleep(0.3)  # the engine's KV events reach the router asynchronously
        placement[engine.name] = [served_by(stack, api_key, prefix + f" question {i}") for i in range(1, repeats + 1)]
    hits = delta(hits_before, engine_counts(stack, PREFIX_HITS))
    sticky = all(all(c == holder for c in chosen) for holder, chosen in placement.items())
    cached = all(hits.get(holder, 0) > 0 for holder in placement)
    before = engine_counts(stack)
    prompts = [" ".join(f"cold {nonce} prompt {k} word {i}" for i in range(120)) for k in range(cold)]
    with ThreadPoolExecutor(cold) as pool:
        list(pool.map(lambda text: send(stack, api_key, text, max_tokens=16), prompts))
    spread = {k: v for k, v in delta(before, engine_counts(stack)).items() if v > 0}
    return Outcome(sticky and cached and len(spread) >= 2,
                   f"a prefix cached on each engine, then {repeats} requests sharing it through the router: "
                   f"holder -> where they landed {placement}; prefix-cache hit tokens "
                   f"by engine: {hits}; {cold} cold prompts at once landed on {spread}"
                   + ("" if len(spread) >= 2 else " (expected two or more engines)"))


CHECKS: dict[str, Callable[[Stack, str], Outcome]] = {
    "roundrobin": check_round_robin,
    "session": check_session,
    "prefixaware": check_prefix_aware,
    "kvaware": check_kv_aware,
}


def check_model_isolation(stack: Stack, api_key: str, per_model: int = 3) -> Outcome:
    """Several models behind one router: requests for each model land only on that model's engines
    (their success counters), and a model nobody serves is refused at once with a 4xx."""
    wrong: dict[str, list[str]] = {}
    landed: dict[str, dict[str, float]] = {}
    for model in stack.models:
        mine = {e.name for e in stack.engines if stack.serves(e) == model}
        before = engine_counts(stack)
        for i in range(per_model):
            send(stack.for_model(model), api_key, f"model probe {i}")
        moved = {k: v for k, v in delta(before, engine_counts(stack)).items() if v > 0}
        landed[model] = moved
        if set(moved) - mine or sum(moved.values()) != per_model:
            wrong[model] = sorted(set(moved) - mine) or [f"{sum(moved.values()):g} of {per_model} counted"]
    headers = auth_headers(api_key)
    r = requests.post(f"{stack.api_url}/v1/completions", headers=headers, timeout=30,
                      json={"model": "no-such-model-routecheck", "prompt": "x", "max_tokens": 1})
    refused = 400 <= r.status_code < 500
    ok = not wrong and refused
    return Outcome(ok, f"{per_model} requests per model landed on {landed}"
                   + (f"; on other models' engines: {wrong}" if wrong else "")
                   + f"; an unknown model got HTTP {r.status_code}" + ("" if refused else " (expected a 4xx)"))


def check(stack: Stack, api_key: str) -> Outcome:
    """The configured routing; with several models, first that each model's requests stay on its
    engines, then the policy among the engines of every model that has two or more."""
    if len(stack.models) > 1:
        outcomes = [check_model_isolation(stack, api_key)]
        for model in stack.models:
            sub = stack.for_model(model)
            if len(sub.engines) >= 2 and stack.routing in CHECKS:
                one = CHECKS[stack.routing](sub, api_key)
                outcomes.append(Outcome(one.ok, f"{model}: {one.detail}"))
        return Outcome(all(o.ok for o in outcomes), " | ".join(o.detail for o in outcomes))
    if stack.routing not in CHECKS:
        return Outcome(False, f"no routing check for '{stack.routing}'")
    if stack.routing == "kvaware" and stack.backend != "local":  # LMCache's controller decides there
        return Outcome(False, "no routing check for 'kvaware' on Kubernetes: the check caches a prefix on each engine "
                              "directly, and the engines behind one Service cannot be addressed one by one")
    if len(stack.engines) < 2:
        return Outcome(False, "routing needs at least two engines (VLLM_REPLICA_COUNT >= 2)")
    return CHECKS[stack.routing](stack, api_key)
