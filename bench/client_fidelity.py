#!/usr/bin/env python3
"""Load-generator fidelity: measured TTFT and ITL against a stub with known timing.

The stub (tests/doubles/streaming_stub.py, a test double) waits --ttft-ms before
the first token and --itl-ms between tokens; it runs pinned to one core and the
load generator (vllm_workflow's Runner, concurrent workload) to the other. The
error is measured minus configured, so it includes the stub's own timer
overshoot and loopback time: an upper bound on the client's error.

Goal (issue 5): |p50 error| <= 1 ms for both TTFT and ITL against the truth,
the stub's actual write times (exit 1 otherwise). Run from the project root:

    .venv/bin/python bench/client_fidelity.py --seconds 15

Prints one JSON object (also written to --output when given).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from client_ceiling import free_port, pinned, wait_for  # noqa: E402


def measure(url: str, users: int, seconds: float, tokens: int) -> dict:
    import asyncio

    from tests.doubles.streaming_stub import MODEL
    from vllm_workflow.benchmark.client import Target
    from vllm_workflow.benchmark.runner import HttpTokenizer, Runner
    from vllm_workflow.benchmark.stats import summarize
    from vllm_workflow.benchmark.workloads import Workload

    target = Target(url, MODEL)
    runner = Runner(target, Workload(name="concurrent", users=users, duration_s=seconds, warmup_s=1.0,
                                     prompt_tokens=32, output_tokens=tokens), show_progress=False)
    runner.prepare(HttpTokenizer(target))
    return summarize(asyncio.run(runner.run()).records)


def timestamp_error(url: str, users: int, seconds: float, tokens: int) -> dict:
    import asyncio
    import time

    import aiohttp

    from tests.doubles.streaming_stub import MODEL
    from vllm_workflow.benchmark.client import completion_body, stream_request
    from vllm_workflow.benchmark.records import RequestRecord
    from vllm_workflow.benchmark.stats import percentile

    lags: list[float] = []
    first_lags: list[float] = []
    gap_errors: list[float] = []

    async def main() -> None:
        stop = time.perf_counter() + seconds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            async def user() -> None:
                while time.perf_counter() < stop:
                    rec = RequestRecord(index=0, send=0.0)
                    text = await stream_request(http, url + "/v1/completions",
                                                completion_body(MODEL, [1] * 32, tokens),
                                                {"content-type": "application/json"}, rec, time.perf_counter,
                                                60.0, keep_text=True)
                    writes = [float(w) for w in text.split()]
                    if rec.ok and len(writes) == len(rec.token_times):
                        lags.extend(a - w for a, w in zip(rec.token_times, writes))
                        first_lags.append(rec.token_times[0] - writes[0])
                        gap_errors.extend((a2 - a1) - (w2 - w1) for a1, a2, w1, w2 in
                                          zip(rec.token_times, rec.token_times[1:], writes, writes[1:]))

            await asyncio.gather(*(user() for _ in range(users)))

    asyncio.run(main())
    ms = lambda v: v * 1000  # noqa: E731
    return {"tokens": len(lags),
            "ttft_minus_true_ms": {"p50": ms(percentile(first_lags, 50)), "p99": ms(percentile(first_lags, 99))},
            "arrival_minus_write_ms": {"p50": ms(percentile(lags, 50)), "p99": ms(percentile(lags, 99))},
            "itl_minus_write_gap_ms": {"p50": ms(percentile(gap_errors, 50)), "p99": ms(percentile(gap_errors, 99))}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ttft-ms", type=float, default=50.0)
    p.add_argument("--itl-ms", type=float, default=10.0)
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--output", default=None)
    p.add_argument("--child-url", help=argparse.SUPPRESS)
    p.add_argument("--child-mode", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child_url:
        fn = measure if a.child_mode == "runner" else timestamp_error
        print(json.dumps(fn(a.child_url, a.users, a.seconds, a.tokens)))
        return 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stub = subprocess.Popen([sys.executable, "-m", "tests.doubles.streaming_stub", "--port", str(port),
                             "--ttft-ms", str(a.ttft_ms), "--itl-ms", str(a.itl_ms)],
                            cwd=ROOT, preexec_fn=pinned(1), stdout=subprocess.DEVNULL)
    try:
        wait_for(url)
        def child(mode: str) -> dict:
            out = subprocess.run([sys.executable, __file__, "--child-url", url, "--child-mode", mode,
                                  "--users", str(a.users), "--seconds", str(a.seconds), "--tokens", str(a.tokens)],
                                 capture_output=True, text=True, cwd=ROOT, preexec_fn=pinned(0), check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        s = child("runner")
        clock = child("timestamps")
    finally:
        stub.terminate()
        stub.wait(10)
    lat = s["latency_ms"]
    out = {
        "configured_ms": {"ttft": a.ttft_ms, "itl": a.itl_ms},
        "measured_p50_ms": {"ttft": lat["ttft"]["p50"], "itl": lat["itl"]["p50"]},
        "error_p50_ms": {"ttft": lat["ttft"]["p50"] - a.ttft_ms, "itl": lat["itl"]["p50"] - a.itl_ms},
        "measured_p99_ms": {"ttft": lat["ttft"]["p99"], "itl": lat["itl"]["p99"]},
        "client_timestamp_error": clock,
        "requests": s["requests"]["ok"], "failed": s["requests"]["failed"], "users": a.users,
        "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
    }
    # truth = the stub's actual write times (its configured delays plus its own request handling)
    out["within_1ms"] = (abs(clock["ttft_minus_true_ms"]["p50"]) <= 1.0
                         and abs(clock["itl_minus_write_gap_ms"]["p50"]) <= 1.0)
    text = json.dumps(out, indent=2)
    print(text)
    if a.output:
        Path(a.output).write_text(text + "\n")
    return 0 if out["within_1ms"] else 1


if __name__ == "__main__":
    sys.exit(main())
