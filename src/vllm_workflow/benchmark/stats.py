"""Statistics over request records. Pure functions; times in seconds in, milliseconds out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .records import RequestRecord

PERCENTILES = (50, 90, 95, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (NumPy's default method) of unsorted values."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def distribution(values_s: Sequence[float]) -> dict[str, Any]:
    """Mean and percentiles in milliseconds; ``None`` fields when there are no values."""
    out: dict[str, Any] = {"n": len(values_s)}
    if not values_s:
        return out | {"mean": None, "min": None, "max": None} | {f"p{q}": None for q in PERCENTILES}
    ms = [v * 1000 for v in values_s]
    out |= {"mean": sum(ms) / len(ms), "min": min(ms), "max": max(ms)}
    out |= {f"p{q}": percentile(ms, q) for q in PERCENTILES}
    return out


@dataclass(frozen=True)
class Slo:
    """Goodput limits in milliseconds; 0 means no limit."""

    ttft_ms: float = 0
    tpot_ms: float = 0
    e2e_ms: float = 0

    def met(self, r: RequestRecord) -> bool:
        if not r.ok:
            return False
        checks = ((self.ttft_ms, r.ttft), (self.tpot_ms, r.tpot), (self.e2e_ms, r.e2e))
        return all(limit <= 0 or (value is not None and value * 1000 <= limit) for limit, value in checks)

    def to_json(self) -> dict[str, float | None]:
        return {"ttft_ms": self.ttft_ms or None, "tpot_ms": self.tpot_ms or None, "e2e_ms": self.e2e_ms or None}


def failure(r: RequestRecord) -> str:
    """Why a request did not succeed, in words."""
    if r.error:
        return r.error
    if r.status != 200:
        return f"HTTP {r.status}"
    return "no tokens streamed"


def error_kind(error: str) -> str:
    """A short class for an error message, for counting."""
    head = error.split(":", 1)[0].strip()
    return head[:60] or "error"


def measured(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """Records that count: not warm-up, not cancelled by a stop."""
    return [r for r in records if not r.warmup and not r.cancelled]


def window(records: Sequence[RequestRecord]) -> tuple[float, float]:
    """From the first measured send to the last measured end (or send)."""
    starts = [r.send for r in records]
    ends = [r.end if r.end is not None else r.send for r in records]
    return (min(starts), max(ends)) if records else (0.0, 0.0)


def summarize(records: Sequence[RequestRecord], slo: Slo = Slo()) -> dict[str, Any]:
    """Latency distributions, throughput, goodput and errors of the measured requests."""
    m = measured(records)
    ok = [r for r in m if r.ok]
    failed = [r for r in m if not r.ok]
    start, end = window(m)
    span = end - start
    per_s = (lambda n: n / span) if span > 0 else (lambda n: None)
    out_tokens = sum(r.output_tokens or len(r.token_times) for r in ok)
    in_tokens = sum(r.prompt_tokens or 0 for r in ok)
    good = sum(1 for r in m if slo.met(r))
    return {
        "requests": {
            "sent": len(records),
            "warmup": sum(1 for r in records if r.warmup),
            "cancelled": sum(1 for r in records if r.cancelled and not r.warmup),
            "measured": len(m),
            "ok": len(ok),
            "failed": len(failed),
            "error_rate": len(failed) / len(m) if m else None,
            "errors": dict(Counter(error_kind(failure(r)) for r in failed).most_common()),
        },
        "window_s": span,
        "latency_ms": {
            "ttft": distribution([r.ttft for r in ok if r.ttft is not None]),
            "itl": distribution([gap for r in ok for gap in r.itls]),
            "tpot": distribution([r.tpot for r in ok if r.tpot is not None]),
            "e2e": distribution([r.e2e for r in ok if r.e2e is not None]),
        },
        "throughput": {
            "requests_per_s": per_s(len(ok)),
            "output_tokens_per_s": per_s(out_tokens),
            "input_tokens_per_s": per_s(in_tokens),
        },
        "goodput": {
            "slo": slo.to_json(),
            "requests_per_s": per_s(good),
            "fraction": good / len(m) if m else None,
        },
        "tokens": {"input": in_tokens, "output": out_tokens},
    }


def per_second(records: Sequence[RequestRecord], bucket_s: float = 1.0) -> list[dict[str, float]]:
    """Completed requests and output tokens per time bucket (for throughput-over-time plots)."""
    done = [r for r in records if r.ok and r.end is not None]
    if not done:
        return []
    first = min(r.send for r in records)
    buckets: dict[int, list[float]] = {}
    for r in done:
        b = buckets.setdefault(int((r.end - first) // bucket_s), [0.0, 0.0])  # type: ignore[operator]
        b[0] += 1
    for r in done:
        for t in r.token_times:
            b = buckets.setdefault(int((t - first) // bucket_s), [0.0, 0.0])
            b[1] += 1
    last = max(buckets)
    return [
        {"t": first + i * bucket_s, "requests_per_s": buckets.get(i, [0, 0])[0] / bucket_s,
         "tokens_per_s": buckets.get(i, [0, 0])[1] / bucket_s}
        for i in range(last + 1)
    ]
