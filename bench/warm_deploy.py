#!/usr/bin/env python3
"""Measure warm deploy -> first verified completion through the router.

"Warm": the runtimes and the model are already installed (a previous deploy
ran), the stack is torn down. We time `make vllm-deploy` and then the first
completion through the router, from the start of deploy, and report each
repetition plus the median as JSON.

Goal (issue 3): <= 60 s on 2 cores. Run from the project root after
`make defconfig-vllm-local && make bringup && make vllm-deploy` once:

    .venv/bin/python bench/warm_deploy.py --repeat 3

It tears the stack down before each repetition and leaves it deployed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def first_completion(api_url: str, model: str, deadline: float) -> float:
    body = {"model": model, "prompt": "warm deploy probe", "max_tokens": 4}
    while time.monotonic() < deadline:
        try:
            r = requests.post(f"{api_url}/v1/completions", json=body, timeout=30)
            if r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1:
                return time.monotonic()
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("no completion before the deadline")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        subprocess.run(["make", "-C", str(ROOT), "vllm-teardown"], check=True, capture_output=True)
        start = time.monotonic()
        subprocess.run(["make", "-C", str(ROOT), "vllm-deploy"], check=True, capture_output=True)
        deployed = time.monotonic()
        stack = json.loads(next((ROOT / "workflows/vllm/state/stacks").glob("*.json")).read_text())
        done = first_completion(stack["api_url"], stack["model"], start + 600)
        runs.append({"deploy_s": round(deployed - start, 1), "first_completion_s": round(done - start, 1)})
        print(json.dumps({"run": i + 1, **runs[-1]}), flush=True)
    summary = {
        "metric": "warm deploy to first verified completion through the router",
        "goal_s": 60,
        "runs": runs,
        "median_first_completion_s": statistics.median(r["first_completion_s"] for r in runs),
        "median_deploy_s": statistics.median(r["deploy_s"] for r in runs),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
