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
    primary: bool = False  # decides the verdict (Holm over these); the others explain it
    host: bool = False  # a host figure (issue 25): explains, corrected among the host figures
    model: str = ""  # one model's figure of a mixed load (issue 27): explains, corrected among those


METRICS = (
    Metric("ttft_p50", "TTFT p50", _get("latency_ms", "ttft", "p50"), False, per_request="ttft", primary=True),
    Metric("ttft_p95", "TTFT p95", _get("latency_ms", "ttft", "p95"), False, per_request="ttft", quantile=95),
    Metric("itl_p50", "ITL p50", _get("latency_ms", "itl", "p50"), False, per_request="itls"),
    Metric("itl_p95", "ITL p95", _get("latency_ms", "itl", "p95"), False, per_request="itls", quantile=95),
    Metric("tpot_p50", "TPOT p50", _get("latency_ms", "tpot", "p50"), False, per_request="tpot", primary=True),
    Metric("tpot_p95", "TPOT p95", _get("latency_ms", "tpot", "p95"), False, per_request="tpot", quantile=95),
    Metric("e2e_p50", "E2E p50", _get("latency_ms", "e2e", "p50"), False, per_request="e2e", primary=True),
    Metric("e2e_p95", "E2E p95", _get("latency_ms", "e2e", "p95"), False, per_request="e2e", quantile=95),
    Metric("requests_per_s", "throughput (requests/s)", _get("throughput", "requests_per_s"), True, unit="req/s",
           primary=True),
    Metric("output_tokens_per_s", "throughput (output tokens/s)", _get("throughput", "output_tokens_per_s"), True,
           unit="tok/s"),
    Metric("error_rate", "error rate", _get("requests", "error_rate"), False, absolute=True, unit="fraction"),
    Metric("prefix_cache_hit_rate", "prefix-cache hit rate", _get("engine_metrics", "total", "prefix_cache_hit_rate"),
           True, absolute=True, unit="fraction"),
    # The host's share of the run, read on each arm's own host (benchmark/hostmetrics.py).
    Metric("host_cpu_ms_per_request", "host CPU per request", _get("host", "cpu_ms_per_request"), False, host=True),
    Metric("host_system_cpu_ms_per_request", "host system CPU per request",
           _get("host", "system_cpu_ms_per_request"), False, host=True),
    Metric("host_context_switches_per_request", "context switches per request",
           _get("host", "context_switches_per_request"), False, unit="", host=True),
    Metric("host_psi_cpu_some_pct", "CPU pressure (PSI some)", _get("host", "psi_cpu_some_pct"), False,
           unit="% of time", host=True),
    Metric("engine_cpu_ms_per_request", "engine CPU per request", _get("host", "engine_cpu_ms_per_request"), False,
           host=True),
    Metric("engine_nonvoluntary_ctxt_switches_per_s", "engine involuntary context switches",
           _get("host", "engine_nonvoluntary_ctxt_switches_per_s"), False, unit="/s", host=True),
    Metric("engine_throttled_fraction", "engine CPU-throttled periods", _get("host", "engine_throttled_fraction"),
           False, absolute=True, unit="fraction", host=True),
)
PRIMARY = tuple(m.key for m in METRICS if m.primary)
#: The figures compared for each model of a mixed load (the load's model mix).
PER_MODEL = ("ttft_p50", "tpot_p50", "e2e_p50", "requests_per_s", "error_rate")


def _of_model(name: str, read: Callable[[Mapping[str, Any]], float | None]) -> Callable[[Mapping[str, Any]], float | None]:
    def of(summary: Mapping[str, Any]) -> float | None:
        figures = (summary.get("models") or {}).get(name)
        return read(figures) if isinstance(figures, Mapping) else None
    return of


def model_metrics(summaries: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """Per-model copies of the PER_MODEL metrics, for every model the runs' summaries give figures of
    (none when no run mixed models)."""
    names = sorted({str(n) for s in summaries for n in (s.get("models") or {})})
    by_key = {m.key: m for m in METRICS}
    return [Metric(f"{name}:{key}", f"{name}: {by_key[key].label}", _of_model(name, by_key[key].read),
                   by_key[key].higher_is_better, absolute=by_key[key].absolute, unit=by_key[key].unit, model=name)
            for name in names for key in PER_MODEL]
POWER = 0.8  # the power at which the minimum detectable effect is stated

MAX_REQUEST_VALUES = 10000  # per arm, for the over-requests bootstrap


def request_values(records: Sequence[RequestRecord], attr: str, rng: np.random.Generator,
                   most: int = MAX_REQUEST_VALUES) -> np.ndarray:
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
    if len(arr) > most:
        arr = rng.choice(arr, most, replace=False)
    return arr


def _quantile_ci(a: np.ndarray, b: np.ndarray, q: float, rng: np.random.Generator,
                 samples: int = 500) -> tuple[float, float] | None:
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


Floors = Mapping[str, Sequence[float]]  # metric -> each run's measurement variance of its value


def run_floors(runs: Sequence[Sequence[RequestRecord]], seed: int = 0) -> dict[str, list[float]]:
    """Each run's measurement variance of each per-request metric's value (log scale for relative
    metrics): the run's requests resampled. Computed once per run; a comparison averages them."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {}
    for m in METRICS:
        if not m.per_request:
            continue
        out[m.key] = [stats.run_value_variance(request_values(r, m.per_request, rng, most=5000), m.quantile,
                                               not m.absolute, rng) for r in runs]
    return out


def _floor(m: Metric, floors: Floors | None, log: bool) -> float:
    """An arm's mean per-run measurement variance of this metric (0 without request records)."""
    values = (floors or {}).get(m.key) or []
    if not values or not log:
        return 0.0
    return float(np.mean(values))


def _centre(values: Sequence[float], log: bool) -> float:
    """An arm's value: the geometric mean of its runs (the scale the test works on), or the mean."""
    return float(np.exp(np.mean(np.log(values)))) if log else float(np.mean(values))


def compare_metric(m: Metric, base: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]],
                   rule: stats.Rule, seed: int = 0,
                   base_records: Sequence[Sequence[RequestRecord]] = (),
                   dev_records: Sequence[Sequence[RequestRecord]] = (), level: float = 0.95,
                   floors: tuple[Floors | None, Floors | None] = (None, None),
                   request_ci: bool = True) -> dict[str, Any]:
    a = [x for x in (m.read(s) for s in base) if x is not None and math.isfinite(x)]
    b = [x for x in (m.read(s) for s in dev) if x is not None and math.isfinite(x)]
    log = not m.absolute and stats.loggable(a) and stats.loggable(b)
    out: dict[str, Any] = {"metric": m.key, "label": m.label, "unit": m.unit, "primary": m.primary,
                           "better": "higher" if m.higher_is_better else "lower",
                           "kind": "difference" if m.absolute else "relative", "n": [len(a), len(b)],
                           "baseline": _centre(a, log) if a else None, "dev": _centre(b, log) if b else None,
                           "baseline_values": a, "dev_values": b, "scale": "log" if log else "linear",
                           "level": level}
    empty = {"delta": None, "ci": None, "ci_requests": None, "p_value": None, "p_adjusted": None,
             "effect_size": None, "df": None, "sd": None, "floored": None, "verdict": stats.INCONCLUSIVE}
    if not a or not b:
        return out | empty | {"why": "no values in one arm"}
    if min(len(a), len(b)) < 2:
        return out | empty | {"delta": stats.change(a, b, m.absolute), "why": "fewer than two runs in one arm"}
    rng = np.random.default_rng(seed)
    floor = (_floor(m, floors[0], log), _floor(m, floors[1], log))
    if not m.absolute and not log:  # a run with a zero value (nothing completed): compare relative to the baseline
        scale = float(np.mean(a)) or 1.0
        a, b = [x / scale for x in a], [x / scale for x in b]
    test = stats.welch(a, b, log=log, floor=floor, level=level)
    effect = stats.cliffs_delta(a, b)
    if not m.higher_is_better:
        effect = -effect  # positive effect = dev better, like the oriented change
    ci_requests = None
    if request_ci and m.per_request and base_records and dev_records:
        ra = np.concatenate([request_values(r, m.per_request, rng) for r in base_records])
        rb = np.concatenate([request_values(r, m.per_request, rng) for r in dev_records])
        ci_requests = _quantile_ci(ra, rb, m.quantile, rng)
    return out | {"delta": test.delta, "ci": list(test.ci),
                  "ci_requests": list(ci_requests) if ci_requests else None, "p_value": test.p,
                  "df": test.df, "sd": list(test.sd), "floored": list(test.floored), "effect_size": effect,
                  "verdict": None}


def decide(row: dict[str, Any], higher_is_better: bool, rule: stats.Rule, alpha: float | None = None) -> str:
    """The verdict of one compared metric, from its Holm-adjusted p-value."""
    if row["delta"] is None or row["ci"] is None:
        return stats.INCONCLUSIVE
    better = orient(row["delta"], higher_is_better)
    ci = row["ci"]
    ci_better = tuple(sorted((orient(ci[0], higher_is_better), orient(ci[1], higher_is_better))))
    return stats.verdict(better, ci_better, row["p_adjusted"], rule, tuple(row["n"]), alpha)  # type: ignore[arg-type]


def detectable(row: dict[str, Any], alpha: float, family: int, n: int | None = None) -> float | None:
    """The change this metric's test would find with 80 % power at ``n`` runs per arm (default: the
    comparison's own), from its own run-to-run spread (the larger arm's)."""
    if not row.get("sd"):
        return None
    runs = n if n is not None else min(row["n"])
    return stats.mde(max(row["sd"]), runs, alpha, POWER, family, log=row["scale"] == "log")


def compare(base: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]], rule: stats.Rule,
            seed: int = 0, base_records: Sequence[Sequence[RequestRecord]] = (),
            dev_records: Sequence[Sequence[RequestRecord]] = (), alpha: float | None = None,
            floors: tuple[Floors | None, Floors | None] | None = None, request_ci: bool = True) -> dict[str, Any]:
    """Every metric compared, and the overall verdict from the primary metrics. ``alpha``: the level of
    this look (sequential testing spends the rule's alpha over looks); the CIs are at 1 - alpha.
    ``floors``: each arm's ``run_floors`` (computed from the records when not given);
    ``request_ci``: also the explanatory over-requests CI (costly; the verdict does not use it)."""
    level_alpha = rule.alpha if alpha is None else alpha
    if floors is None:
        floors = (run_floors(base_records, seed) if base_records else None,
                  run_floors(dev_records, seed) if dev_records else None)
    pairs = [(m, compare_metric(m, base, dev, rule, seed, base_records, dev_records, level=1 - level_alpha,
                                floors=floors, request_ci=request_ci))
             for m in (*METRICS, *model_metrics([*base, *dev]))]
    # Host figures neither arm recorded (Kubernetes, bundles from before them, switched off): left out.
    pairs = [(m, r) for m, r in pairs if not (m.host and r["n"] == [0, 0])]
    metrics = [m for m, _ in pairs]
    rows = [r for _, r in pairs]
    for m, r in pairs:
        r["family"] = "primary" if m.primary else "host" if m.host else "model" if m.model else "explanatory"
        if m.model:
            r["model"] = m.model
    # Holm within each family: the primary metrics decide (their correction counts only them); the
    # others explain — the latency and throughput ones corrected among themselves, the host figures
    # among theirs, each model's figures of a mixed load among theirs — and never change the verdict.
    for family_name in ("primary", "explanatory", "host", "model"):
        tested = [r for r in rows if r["family"] == family_name and r["p_value"] is not None]
        for r, adj in zip(tested, stats.holm([r["p_value"] for r in tested])):
            r["p_adjusted"] = adj
    family = max(1, sum(1 for m, r in pairs if m.primary and r["p_value"] is not None))
    for m, r in zip(metrics, rows):
        if r["verdict"] is None:
            r["verdict"] = decide(r, m.higher_is_better, rule, level_alpha)
        if m.host:  # a direction, not a judgement
            r["better"] = "neither"
            if r["verdict"] in (stats.IMPROVEMENT, stats.REGRESSION):
                r["verdict"] = stats.HIGHER if r["delta"] > 0 else stats.LOWER
        r["detectable"] = detectable(r, level_alpha, family if m.primary else 1) if r["p_value"] is not None else None
    counted = [r["verdict"] for m, r in pairs if m.primary and (r["n"][0] or r["n"][1])]
    verdict = stats.overall(counted) if counted else stats.INCONCLUSIVE  # no primary metric measured
    return {"metrics": rows, "verdict": verdict, "alpha": level_alpha, "family": family}


EXIT_CODES = {stats.IMPROVEMENT: 0, stats.NO_CHANGE: 0, stats.REGRESSION: 1, stats.INCONCLUSIVE: 2}
BISECT_CODES = {stats.IMPROVEMENT: 0, stats.NO_CHANGE: 0, stats.REGRESSION: 1, stats.INCONCLUSIVE: 125}


def looks(repetitions: int, sequential: bool) -> list[int]:
    """After how many runs per arm the comparison is made. Sequential: once halfway and at the end,
    each look at its own share of alpha (``look_levels``). Not before three runs per arm: with two,
    Welch's test can have a single degree of freedom and would spend alpha on a look that can
    hardly decide."""
    half = math.ceil(repetitions / 2)
    return [half, repetitions] if sequential and 3 <= half < repetitions else [repetitions]


def look_levels(plan: Sequence[int], alpha: float) -> list[float]:
    """Each look's alpha: O'Brien-Fleming-type spending at information fraction k / last look, the
    alpha spent since the previous look. They add up to ``alpha``, so testing each look at its own
    level keeps the chance of any false alarm over all looks at most ``alpha`` (a union bound:
    conservative, since looks are positively correlated)."""
    last = plan[-1]
    spent = [stats.spent(k / last, alpha) for k in plan]
    return [s - (spent[i - 1] if i else 0.0) for i, s in enumerate(spent)]


def stops(verdict: str) -> bool:
    """An interim look ends the A/B when it reached any verdict (a change, or equivalence)."""
    return verdict != stats.INCONCLUSIVE


def sequential(base: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]], rule: stats.Rule,
               plan: Sequence[int], seed: int = 0) -> tuple[dict[str, Any], int]:
    """The looks of ``plan`` over runs already made (the calibration replays them): the comparison
    where it stopped, and after how many runs per arm."""
    levels = look_levels(plan, rule.alpha)
    for k, level in zip(plan, levels):
        comp = compare(base[:k], dev[:k], rule, seed, alpha=level)
        if stops(comp["verdict"]) or k == plan[-1]:
            return comp, k
    raise ValueError("empty plan")


def schedule(repetitions: int) -> list[str]:
    """Interleaved, counterbalanced order of runs: A B B A A B B A ..."""
    out: list[str] = []
    for i in range(repetitions):
        out += ["baseline", "dev"] if i % 2 == 0 else ["dev", "baseline"]
    return out
