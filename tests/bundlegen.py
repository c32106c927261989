"""Test double for the results history: varied copies of a real benchmark bundle.

``tests/data/bundles/concurrent`` is a real bundle (a 5 s concurrent benchmark of the real stack,
kept whole except the kernel options inside config/stack.json). ``vary`` copies it and scales its
requests' timelines, then recomputes the summary's latency and throughput from the varied records
with the benchmark's own code, so the figures and the per-request intervals agree as they would in
a real run. Kernel, commit, host and time are set per copy.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vllm_workflow.benchmark import bundle
from vllm_workflow.benchmark.records import RequestRecord
from vllm_workflow.benchmark.stats import Slo, summarize

REAL = Path(__file__).resolve().parent / "data" / "bundles" / "concurrent"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _scaled(r: RequestRecord, scale: float, ttft_scale: float) -> RequestRecord:
    if not r.token_times:
        return r
    first = r.send + (r.token_times[0] - r.send) * scale * ttft_scale
    shift = first - r.token_times[0]
    times = [first + (t - r.token_times[0]) * scale for t in r.token_times]
    end = None if r.end is None else first + (r.end - r.token_times[0]) * scale
    del shift
    return RequestRecord(**{**r.__dict__, "token_times": times, "end": end})


def vary(results: Path, n: int, *, scale: float = 1.0, ttft_scale: float = 1.0, kernel: str = "6.18.0",
         commit: str = "a" * 40, host: str = "198.18.1.2", label: str = "nightly", source: Path = REAL,
         created: datetime | None = None, kdevops_ref: str | None = None) -> Path:
    """The n-th copy (its folder name and time follow n) with its timeline scaled."""
    when = created or START + timedelta(hours=n)
    folder = results / f"{when.strftime('%Y%m%dT%H%M%SZ')}-{label}"
    shutil.copytree(source, folder)
    records = [_scaled(r, scale, ttft_scale) for r in bundle.read_records(folder / "requests.jsonl")]
    bundle.write_records(folder / "requests.jsonl", records)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(summarize(records, Slo(2000.0, 200.0, 0.0)))
    summary["created"] = when.isoformat(timespec="seconds")
    summary["label"] = label
    summary["target"]["host"] = host
    bundle.write_json(folder / "summary.json", summary)
    prov = json.loads((folder / "provenance.json").read_text())
    prov["host"]["kernel"] = kernel
    prov["host"]["stack_host"] = host
    prov["project"]["git_revision"] = commit
    if kdevops_ref:
        prov["kdevops"] = {"node": host, "arm": "baseline",
                           "kernel": {"target_linux_tree": "linux", "target_linux_ref": kdevops_ref}}
    bundle.write_json(folder / "provenance.json", prov)
    return folder


def series(results: Path, factors: list[float], **kwargs: object) -> list[Path]:
    """One copy per factor (TTFT-only scaling when ttft=True in kwargs)."""
    ttft = bool(kwargs.pop("ttft", False))
    return [vary(results, i, **({"ttft_scale": f} if ttft else {"scale": f}), **kwargs)  # type: ignore[arg-type]
            for i, f in enumerate(factors)]
