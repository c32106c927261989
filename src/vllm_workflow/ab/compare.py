"""Compare two sets of benchmark bundles (baseline and dev repetitions) metric by metric."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..benchmark.records import RequestRecord
from ..benchmark.stats import measured
from . import stats


def _get(*path: str) -> Callable[[Mapping[str, Any]], float | None]:
    def read(summary: Mapping[str, Any]) -> float | None:
        node: Any = summary
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None
    return read


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    read: Callable[[Mapping[str, Any]], float | None]
    higher_is_better: bool
    absolute: bool = False  # already a fraction: compare differences, not ratios
    per_request: str | None = None  # RequestRecord attribute for the over-requests CI
    quantile: float = 50.0
    unit: str = "ms"
    primary: bool = True  # tails (p95) are noisy: they cannot make the overall verdict inconclusive


METRICS = (
    Metric("ttft_p50", "TTFT p50", _get("latency_ms", "ttft", "p50"), False, per_request="ttft"),
    Metric("ttft_p95", "TTFT p95", _get("latency_ms", "ttft", "p95"), False, per_request="ttft", quantile=95, primary=False),
    Metric("itl_p50", "ITL p50", _get("latency_ms", "itl", "p50"), False, per_request="itls"),
    Metric("itl_p95", "ITL p95", _get("latency_ms", "itl", "p95"), False, per_request="itls", quantile=95, primary=False),
    Metric("tpot_p50", "TPOT p50", _get("latency_ms", "tpot", "p50"), False, per_request="tpot"),
    Metric("tpot_p95", "TPOT p95", _get("latency_ms", "tpot", "p95"), False, per_request="tpot", quantile=95, primary=False),
    Metric("e2e_p50", "E2E p50", _get("latency_ms", "e2e", "p50"), False, per_request="e2e"),
    Metric("e2e_p95", "E2E p95", _get("latency_ms", "e2e", "p95"), False, per_request="e2e", quantile=95, primary=False),
    Metric("requests_per_s", "throughput (requests/s)", _get("throughput", "requests_per_s"), True, unit="req/s"),
    Metric("output_tokens_per_s", "throughput (output tokens/s)", _get("throughput", "output_tokens_per_s"), True,
           unit="tok/s"),
    Metric("error_rate", "error rate", _get("requests", "error_rate"), False, absolute=True, unit="fraction"),
    Metric("prefix_cache_hit_rate", "prefix-cache hit rate", _get("engine_metrics", "total", "prefix_cache_hit_rate"),
           True, absolute=True, unit="fraction"),
)

MAX_REQUEST_VALUES = 20000  # per arm, for the over-requests bootstrap


def request_values(records: Sequence[RequestRecord], attr: str, rng: np.random.Generator) -> np.ndarray:
    """Per-request (or per-gap, for ITL) values in ms from measured, successful requests."""
    values: list[float] = []
    for r in measured(records):
        if not r.ok:
            continue
        v = getattr(r, attr)
        if isinstance(v, list):
            values.extend(v)
        elif v is not None:
            values.append(v)
    arr = np.asarray(values, dtype=float) * 1000
    if len(arr) > MAX_REQUEST_VALUES:
        arr = rng.choice(arr, MAX_REQUEST_VALUES, replace=False)
    return arr


def _quantile_ci(a: np.ndarray, b: np.ndarray, q: float, rng: np.random.Generator,
                 samples: int = 1000) -> tuple[float, float] | None:
    if len(a) < 2 or len(b) < 2:
        return None
    qa = np.percentile(a[rng.integers(0, len(a), size=(samples, len(a)))], q, axis=1)
    qb = np.percentile(b[rng.integers(0, len(b), size=(samples, len(b)))], q, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(qa == 0, 0.0, qb / qa - 1)
    lo, hi = np.percentile(d, [2.5, 97.5])
    return float(lo), float(hi)


def orient(value: float, higher_is_better: bool) -> float:
    """Change re-signed so that positive means better."""
    return value if higher_is_better else -value


def compare_metric(m: Metric, base: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]],
                   rule: stats.Rule, seed: int = 0,
                   base_records: Sequence[Sequence[RequestRecord]] = (),
                   dev_records: Sequence[Sequence[RequestRecord]] = ()) -> dict[str, Any]:
    a = [x for x in (m.read(s) for s in base) if x is not None and math.isfinite(x)]
    b = [x for x in (m.read(s) for s in dev) if x is not None and math.isfinite(x)]
    out: dict[str, Any] = {"metric": m.key, "label": m.label, "unit": m.unit,
                           "better": "higher" if m.higher_is_better else "lower",
                           "kind": "difference" if m.absolute else "relative", "n": [len(a), len(b)],
                           "baseline": float(np.mean(a)) if a else None, "dev": float(np.mean(b)) if b else None,
                           "baseline_values": a, "dev_values": b}
    if not a or not b:
        return out | {"delta": None, "ci": None, "ci_requests": None, "p_value": None, "p_adjusted": None,
                      "effect_size": None, "verdict": stats.INCONCLUSIVE, "why": "no values in one arm"}
    delta = stats.change(a, b, m.absolute)
    ci = stats.bootstrap_ci(a, b, m.absolute, seed=seed) if min(len(a), len(b)) >= 2 else (math.nan, math.nan)
    _, p = stats.mann_whitney_u(a, b)
    effect = stats.cliffs_delta(a, b)
    if not m.higher_is_better:
        effect = -effect  # positive effect = dev better, like the oriented change
    ci_requests = None
    if m.per_request and base_records and dev_records:
        rng = np.random.default_rng(seed)
        ra = np.concatenate([request_values(r, m.per_request, rng) for r in base_records])
        rb = np.concatenate([request_values(r, m.per_request, rng) for r in dev_records])
        ci_requests = _quantile_ci(ra, rb, m.quantile, rng)
    return out | {"delta": delta, "ci": list(ci), "ci_requests": list(ci_requests) if ci_requests else None,
                  "p_value": p, "effect_size": effect, "verdict": None}


def decide(row: dict[str, Any], higher_is_better: bool, rule: stats.Rule) -> str:
    """The verdict of one compared metric, from its Holm-adjusted p-value."""
    if row["delta"] is None:
        return stats.INCONCLUSIVE
    better = orient(row["delta"], higher_is_better)
    ci = row["ci"]
    ci_better = tuple(sorted((orient(ci[0], higher_is_better), orient(ci[1], higher_is_better))))
    return stats.verdict(better, ci_better, row["p_adjusted"], rule, tuple(row["n"]))  # type: ignore[arg-type]


def compare(base: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]], rule: stats.Rule,
            seed: int = 0, base_records: Sequence[Sequence[RequestRecord]] = (),
            dev_records: Sequence[Sequence[RequestRecord]] = ()) -> dict[str, Any]:
    """Every metric compared, and the overall verdict."""
    rows = [compare_metric(m, base, dev, rule, seed, base_records, dev_records) for m in METRICS]
    # Twelve metrics tested at once: Holm's correction keeps the chance of any false alarm at alpha.
    tested = [r for r in rows if r["p_value"] is not None]
    for r, adj in zip(tested, stats.holm([r["p_value"] for r in tested])):
        r["p_adjusted"] = adj
    for m, r in zip(METRICS, rows):
        if r["verdict"] is None:
            r["verdict"] = decide(r, m.higher_is_better, rule)
    # A metric neither arm reports (e.g. cache-hit rate without engine metrics) does not count; an
    # inconclusive tail percentile is shown but only a primary metric can make the whole inconclusive.
    counted = [r["verdict"] for m, r in zip(METRICS, rows)
               if (r["n"][0] or r["n"][1]) and (m.primary or r["verdict"] != stats.INCONCLUSIVE)]
    return {"metrics": rows, "verdict": stats.overall(counted)}


EXIT_CODES = {stats.IMPROVEMENT: 0, stats.NO_CHANGE: 0, stats.REGRESSION: 1, stats.INCONCLUSIVE: 2}
BISECT_CODES = {stats.IMPROVEMENT: 0, stats.NO_CHANGE: 0, stats.REGRESSION: 1, stats.INCONCLUSIVE: 125}


def schedule(repetitions: int) -> list[str]:
    """Interleaved, counterbalanced order of runs: A B B A A B B A ..."""
    out: list[str] = []
    for i in range(repetitions):
        out += ["baseline", "dev"] if i % 2 == 0 else ["dev", "baseline"]
    return out
