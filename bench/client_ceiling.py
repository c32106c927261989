#!/usr/bin/env python3
"""Load-generator ceiling: sustained requests/s against a zero-latency streaming stub.

The stub (tests/doubles/streaming_stub.py, a test double) is pinned to one
core, the client to the other, so the figure is the client's own limit. Three
clients run one after another against the same stub, each for the same time
with the same concurrency and 16 output tokens per request:

  ours      vllm_workflow's Runner (concurrent workload): every token time kept
  bare      an aiohttp client that only drains each stream (the practical limit)
  guidellm  guidellm's throughput profile, when --guidellm names its executable
            (it needs a local tokenizer directory: --processor, e.g. the built-in
            tiny model's folder under the runtime directory's models/)

Each of ours and bare runs --rounds times, alternating, and the median counts.
Goal (issue 5): ours >= 10x guidellm and >= 70 % of bare. Run from the project root:

    .venv/bin/python bench/client_ceiling.py --seconds 15 --users 64 \
        [--guidellm /path/to/venv/bin/guidellm --processor ~/.local/share/vllm-workflow/models/tiny-tiny]

guidellm is not one of our dependencies; a CPU build installs with
`pip install torch==2.13.0 guidellm` in a virtualenv of its own.

Prints one JSON object (also written to --output when given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.doubles
OUTPUT_TOKENS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: int):
    return lambda: os.sched_setaffinity(0, {core})


def wait_for(url: str, timeout: float = 20) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/v1/models", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"stub at {url} did not start")


def run_ours(url: str, users: int, seconds: float) -> dict:
    from tests.doubles.streaming_stub import MODEL
    from vllm_workflow.benchmark.client import Target
    from vllm_workflow.benchmark.runner import HttpTokenizer, Runner
    from vllm_workflow.benchmark.stats import summarize
    from vllm_workflow.benchmark.workloads import Workload

    target = Target(url, MODEL)
    w = Workload(name="concurrent", users=users, duration_s=seconds, warmup_s=1.0, prompt_tokens=16,
                 output_tokens=OUTPUT_TOKENS)
    runner = Runner(target, w, show_progress=False)
    runner.prepare(HttpTokenizer(target))
    records = asyncio.run(runner.run()).records
    s = summarize(records)
    ok = [r for r in records if r.ok and not r.warmup]
    return {"requests_per_s": s["throughput"]["requests_per_s"], "ok": s["requests"]["ok"],
            "failed": s["requests"]["failed"],
            "token_times_kept": sum(len(r.token_times) for r in ok), "tokens_expected": OUTPUT_TOKENS * len(ok)}


def run_bare(url: str, users: int, seconds: float) -> dict:
    import aiohttp

    body = json.dumps({"model": "stub-model", "prompt": [1] * 16, "max_tokens": OUTPUT_TOKENS, "stream": True})

    async def main() -> dict:
        done = 0
        measuring = False
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            start = time.perf_counter()
            stop_at = start + 1.0 + seconds

            async def user() -> None:
                nonlocal done
                while time.perf_counter() < stop_at:
                    async with http.post(url + "/v1/completions", data=body,
                                         headers={"content-type": "application/json"}) as r:
                        async for _ in r.content.iter_any():
                            pass
                    if measuring:
                        done += 1

            tasks = [asyncio.ensure_future(user()) for _ in range(users)]
            await asyncio.sleep(1.0)
            measuring, t0 = True, time.perf_counter()
            await asyncio.gather(*tasks)
            return {"requests_per_s": done / (time.perf_counter() - t0), "ok": done}

    return asyncio.run(main())


def run_guidellm(exe: str, processor: str, url: str, users: int, seconds: float, workdir: Path) -> dict:
    """guidellm 0.8.x throughput profile at the same concurrency, JSON output parsed."""
    out = workdir / "guidellm-ceiling.json"
    argv = [exe, "run", "--backend", f"kind=openai_http,target={url}",
            "--profile", f"kind=throughput,max_concurrency={users}",
            "--constraint", f"kind=max_duration,seconds={int(seconds)}",
            "--data", f"kind=synthetic_text,prompt_tokens=16,output_tokens={OUTPUT_TOKENS}",
            "--tokenizer", f"kind=hf_auto,model={processor}",
            "--output", f"kind=json,path={out}", "--disable-progress"]
    proc = subprocess.run(argv, capture_output=True, text=True, preexec_fn=pinned(0), timeout=seconds * 10 + 300)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-2000:]}
    bench = json.loads(out.read_text())["benchmarks"][0]
    text = proc.stdout + proc.stderr
    return {"requests_per_s": bench["metrics"]["requests_per_second"]["successful"]["mean"],
            "bottleneck_warning": "bottlenecked by the data generation" in " ".join(text.split())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3, help="runs per client, alternating; the median is reported")
    p.add_argument("--guidellm", default=None, help="path of a guidellm executable (optional)")
    p.add_argument("--processor", default=None, help="tokenizer directory for guidellm")
    p.add_argument("--output", default=None)
    p.add_argument("--client", choices=("ours", "bare"), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.client:  # child process: one client, pinned by the parent
        fn = run_ours if a.client == "ours" else run_bare
        print(json.dumps(fn(a.url, a.users, a.seconds)))
        return 0
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two cores (client and stub each get one)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stub = subprocess.Popen([sys.executable, "-m", "tests.doubles.streaming_stub", "--port", str(port)],
                            cwd=ROOT, preexec_fn=pinned(1), stdout=subprocess.DEVNULL)
    results: dict = {"seconds": a.seconds, "users": a.users, "output_tokens": OUTPUT_TOKENS,
                     "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release}}
    try:
        wait_for(url)
        runs: dict[str, list[dict]] = {"bare": [], "ours": []}
        for rnd in range(a.rounds):  # alternate, so drift on the machine hits both alike
            for name in ("bare", "ours") if rnd % 2 == 0 else ("ours", "bare"):
                child = subprocess.run([sys.executable, __file__, "--client", name, "--url", url, "--users",
                                        str(a.users), "--seconds", str(a.seconds)], capture_output=True, text=True,
                                       cwd=ROOT, preexec_fn=pinned(0), check=True)
                runs[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
                print(f"{name:9s} {runs[name][-1]['requests_per_s']:8.1f} req/s", file=sys.stderr)
        for name, rs in runs.items():
            rs.sort(key=lambda r: r["requests_per_s"])
            results[name] = rs[len(rs) // 2] | {"all_requests_per_s": [r["requests_per_s"] for r in rs]}
        if a.guidellm:
            results["guidellm"] = run_guidellm(a.guidellm, a.processor or "", url, a.users, a.seconds,
                                               Path(os.environ.get("TMPDIR", "/tmp")))
            print(f"guidellm  {results['guidellm'].get('requests_per_s')}", file=sys.stderr)
    finally:
        stub.terminate()
        stub.wait(10)
    ours = results["ours"]["requests_per_s"]
    results["ours_vs_bare"] = ours / results["bare"]["requests_per_s"]
    if results.get("guidellm", {}).get("requests_per_s"):
        results["ours_vs_guidellm"] = ours / results["guidellm"]["requests_per_s"]
    text = json.dumps(results, indent=2)
    print(text)
    if a.output:
        Path(a.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
