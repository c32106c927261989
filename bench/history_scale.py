#!/usr/bin/env python3
"""The results history at scale (issue 26): 10,000 bundles made from a real bundle's files with
varied figures, then in one run: a full reindex, a filtered query with its table, the trend report
(`vllm-workflow history`, every comparable run plotted), and the index's size on disk.

Goals: query + table < 1 s, trend report < 10 s, reindex < 60 s, index < 50 MB.

The bundles: 20 varied copies of ``tests/data/bundles/concurrent`` (a real 5 s benchmark) made
with the tests' generator, so their figures and per-request intervals agree; each of the N
bundles takes one variant's requests.jsonl and configuration as hard links, and its own
summary.json (latency figures scaled by a run's noise, a +20 % TTFT step after kernel 15 of 30)
and provenance.json (its kernel, commit, host and time).

    .venv/bin/python bench/history_scale.py --bundles 10000 --out /tmp/history-scale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOALS = {"query_and_table_s": 1.0, "trend_report_s": 10.0, "reindex_s": 60.0, "index_mb": 50.0}


def _scaled(summary: dict, factor: float) -> dict:
    out = json.loads(json.dumps(summary))
    for metric in ("ttft", "itl", "tpot", "e2e"):
        for k, v in out["latency_ms"][metric].items():
            if k != "n" and isinstance(v, (int, float)):
                out["latency_ms"][metric][k] = v * (factor if metric == "ttft" else 1.0)
    return out


def generate(out: Path, n: int, seed: int = 1) -> float:
    import numpy as np

    from tests.bundlegen import START, vary

    t0 = time.perf_counter()
    pool = out / "_variants"
    pool.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    variants = [vary(pool, i, scale=float(np.exp(rng.normal(0, 0.03)))) for i in range(20)]
    summaries = [json.loads((v / "summary.json").read_text()) for v in variants]
    provs = [json.loads((v / "provenance.json").read_text()) for v in variants]
    results = out / "results"
    results.mkdir()
    kernels = [f"6.{10 + k // 10}.{k % 10}" for k in range(30)]
    for i in range(n):
        v = i % len(variants)
        k = i * len(kernels) // n
        when = START + timedelta(minutes=i)
        folder = results / f"{when.strftime('%Y%m%dT%H%M%SZ')}-nightly"
        (folder / "config").mkdir(parents=True)
        for name in ("requests.jsonl", "kernel-config.gz"):
            os.link(variants[v] / name, folder / name)
        for name in ("extra_vars.yaml", "stack.json"):
            os.link(variants[v] / "config" / name, folder / "config" / name)
        step = 1.2 if k >= 15 else 1.0
        summary = _scaled(summaries[v], step * float(np.exp(rng.normal(0, 0.03))))
        summary["created"] = when.isoformat(timespec="seconds")
        (folder / "summary.json").write_text(json.dumps(summary))
        commit = hashlib.sha1(kernels[k].encode()).hexdigest()
        prov = provs[v] | {"project": {"git_revision": commit, "git_dirty": False}}
        prov["host"] = prov["host"] | {"kernel": kernels[k], "hostname": "bench-host" if i % 2 else "other-host"}
        (folder / "provenance.json").write_text(json.dumps(prov))
    shutil.rmtree(pool)
    return time.perf_counter() - t0


def size_mb(results: Path) -> float:
    return sum(p.stat().st_size for p in results.glob("history.sqlite*")) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundles", type=int, default=10000)
    ap.add_argument("--out", default="/tmp/history-scale", help="a scratch folder (emptied first)")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    made = generate(out, args.bundles)
    results = out / "results"
    print(f"generated {args.bundles} bundles in {made:.1f} s", file=sys.stderr)

    from vllm_workflow.console import table_lines
    from vllm_workflow.history import report, service
    from vllm_workflow.history.index import Index

    t0 = time.perf_counter()
    with Index(results) as index:
        index.rebuild()
        index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reindex = time.perf_counter() - t0

    t0 = time.perf_counter()
    with Index(results) as index:
        sync = index.sync()
        runs = service.select(index, service.Filters(host="bench-host", kernel="6.12"))
        newest, series = service.comparable(runs)
        head, rows = report.table(series, index.ab_of([r.path for r in series]))
        lines = table_lines(head, rows)
    query = time.perf_counter() - t0

    t0 = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "history", "--results-dir", str(results),
                          "--extra-vars", str(out / "none.yaml")], capture_output=True, text=True, cwd=ROOT)
    trend = time.perf_counter() - t0
    if cli.returncode:
        print(cli.stdout[-2000:], cli.stderr[-2000:], file=sys.stderr)
        return 1
    steps = [line for line in cli.stdout.splitlines() if "(worse) at" in line]
    figures = {"bundles": args.bundles, "reindex_s": round(reindex, 2), "query_and_table_s": round(query, 3),
               "query_rows": len(runs), "table_lines": len(lines), "sync_read": sync.added,
               "trend_report_s": round(trend, 2), "index_mb": round(size_mb(results), 1),
               "change_points_found": steps[:4], "machine": f"{os.cpu_count()} CPUs"}
    figures["goals_met"] = {k: figures[k] < goal for k, goal in GOALS.items()}
    print(json.dumps(figures, indent=1))
    return 0 if all(figures["goals_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
