#!/usr/bin/env python3
"""What reading the host's counters costs (issue 25): the reader's wall time, its CPU time and the
size of a snapshot, measured in one run as the benchmark takes them (its source handed to
``python3 -c``), twice per benchmark run.

With a stack deployed on this machine (``make bringup && make vllm-deploy``) its supervisord.conf
is read, so the per-program part walks the real engine and router processes; otherwise pass
``--conf``. The snapshots sit outside the measured window (before the run starts and after it
ends), so their cost never lands inside the figures; this says how long they add to a run and
what one costs the host.

    .venv/bin/python bench/host_metrics_cost.py --count 40
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READER = ROOT / "src/vllm_workflow/target/host_counters.py"


def default_conf() -> str:
    for path in sorted((ROOT / "workflows/vllm/state/stacks").glob("*.json")):
        conf = (json.loads(path.read_text()).get("process_manager") or {}).get("conf")
        if conf:
            return conf
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=40, help="snapshots to take (default 40)")
    ap.add_argument("--conf", default=None, help="a supervisord.conf (default: the deployed stack's)")
    args = ap.parse_args()
    conf = args.conf if args.conf is not None else default_conf()
    source = READER.read_text()
    request = json.dumps({"conf": conf})
    walls, sizes = [], []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(args.count):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", source, request], capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
        sizes.append(len(out.stdout))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / args.count
    snap = json.loads(out.stdout)
    programs = snap.get("programs") or {}
    walls.sort()
    result = {
        "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
        "conf": conf or None,
        "programs": sorted(programs) if "unavailable" not in programs else programs,
        "snapshots": args.count,
        "wall_ms": {"p50": walls[len(walls) // 2] * 1000, "max": walls[-1] * 1000},
        "cpu_ms_per_snapshot": cpu * 1000,
        "bytes_per_snapshot": sum(sizes) / len(sizes),
        "per_run": "two snapshots, outside the measured window",
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
