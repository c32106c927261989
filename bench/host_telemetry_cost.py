#!/usr/bin/env python3
"""Does the host telemetry perturb what it measures? (issue 25) Measured in one run, interleaved.

On a deployed local stack with observability on (``make defconfig-vllm-local && make bringup &&
make vllm-deploy``: Prometheus and the node exporter run under the stack's supervisord), this
bench runs the configured benchmark ``--pairs`` times in each condition, interleaved and
counterbalanced (on off off on …):

- **on**: everything as configured: the node exporter running and scraped, the host snapshots
  and ``perf stat`` on the engines for the run;
- **off**: the node exporter stopped (``supervisorctl stop``), no snapshots, no perf stat.

Then it compares TTFT p50 and requests/s between the conditions with the A/B's own procedure
(Welch's t on the runs' log values, 95 % CI) and reports, from the "on" runs' own host figures,
the CPU the collectors used (the node exporter's and Prometheus' share of a core, as our reader
measured them). Goals: a difference within ±2 % and the collectors' CPU ≤ 2 % of a core.

    .venv/bin/python bench/host_telemetry_cost.py --pairs 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def supervisorctl(stack: Any, action: str, program: str) -> None:
    pm = stack.process_manager
    python = Path(pm["python"])
    out = subprocess.run([str(python.parent / "supervisorctl"), "-c", pm["conf"], action, program],
                         capture_output=True, text=True, check=False, timeout=60)
    already = ("already started", "not running")
    if "ERROR" in out.stdout and not any(a in out.stdout for a in already):
        print(f"⚠️  supervisorctl {action} {program}: {out.stdout.strip()} {out.stderr.strip()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=6, help="runs per condition (default 6)")
    ap.add_argument("--results-dir", default="/var/tmp/vllm-workflow-telemetry-cost")
    ap.add_argument("--output", default=None, help="write the JSON here too")
    args = ap.parse_args()

    from vllm_workflow.ab import stats
    from vllm_workflow.ab.compare import schedule
    from vllm_workflow.benchmark.service import RunOptions, run_one, settings
    from vllm_workflow.config import secrets
    from vllm_workflow.stack import DEFAULT_STATE_DIR, require_stacks

    o = RunOptions(root=ROOT, state_dir=ROOT / DEFAULT_STATE_DIR, results_dir=Path(args.results_dir),
                   extra_vars=ROOT / "extra_vars.yaml", progress=False)
    v = settings(o)
    stack = require_stacks(o.state_dir)[0]
    if stack.backend != "local" or not v.get("vllm_local_node_exporter"):
        raise SystemExit("needs a local stack with the node exporter (make defconfig-vllm-local && make bringup "
                         "&& make vllm-deploy)")
    key = secrets(ROOT)["vllm_api_key"]
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    order = ["on" if arm == "baseline" else "off" for arm in schedule(args.pairs)]
    try:
        for i, cond in enumerate(order, 1):
            supervisorctl(stack, "start" if cond == "on" else "stop", "node-exporter")
            flags = {"vllm_benchmark_host_metrics": cond == "on", "vllm_benchmark_perf_stat": cond == "on"}
            _, out, summary = run_one(o, {**v, **flags}, stack, key, label=f"telemetry-{cond}-{len(runs[cond]) + 1}")
            host = json.loads((out / "host-metrics.json").read_text())["figures"] if cond == "on" else {}
            runs[cond].append({"bundle": out.name, "ttft_p50": summary["latency_ms"]["ttft"]["p50"],
                               "requests_per_s": summary["throughput"]["requests_per_s"],
                               "collectors_pct_of_core": {n: p["cpu_pct_of_core"] for n, p in
                                                          (host.get("programs") or {}).items()
                                                          if n in ("node-exporter", "prometheus")}})
            print(f"   run {i}/{len(order)} {cond}: TTFT p50 {runs[cond][-1]['ttft_p50']:.1f} ms, "
                  f"{runs[cond][-1]['requests_per_s']:.2f} req/s", flush=True)
    finally:
        supervisorctl(stack, "start", "node-exporter")
    result: dict[str, Any] = {"pairs": args.pairs, "runs": runs, "compared": {}}
    for metric in ("ttft_p50", "requests_per_s"):
        test = stats.welch([r[metric] for r in runs["off"]], [r[metric] for r in runs["on"]], log=True)
        result["compared"][metric] = {"change_on_vs_off": test.delta, "ci95": list(test.ci), "p": test.p}
        print(f"{metric}: telemetry on vs off {test.delta * 100:+.2f} % (95 % CI {test.ci[0] * 100:+.2f} %, "
              f"{test.ci[1] * 100:+.2f} %), p {test.p:.3g}")
    for name in ("node-exporter", "prometheus"):
        shares = [r["collectors_pct_of_core"].get(name) for r in runs["on"] if r["collectors_pct_of_core"].get(name)
                  is not None]
        if shares:
            result[f"{name}_pct_of_core"] = {"median": statistics.median(shares), "max": max(shares)}
            print(f"{name}: {statistics.median(shares):.2f} % of a core (median over the 'on' runs, max "
                  f"{max(shares):.2f} %)")
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
