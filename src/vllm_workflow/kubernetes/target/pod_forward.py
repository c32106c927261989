#!/usr/bin/env python3
"""Forward one engine pod: slot N of the release's engines (a target-side helper, standard library).

`kubectl port-forward service/...` reaches one pod per connection, so per-engine metrics,
the routing check and the A/B prefix-cache reset would see one engine of N. supervisord runs
one of these per replica ("slot"). Each picks a Running, ready engine pod that no other slot
has claimed (claims are files in a shared folder, taken under a lock), then becomes
`kubectl port-forward pod/<name> PORT:8000`. When that pod goes away the forward exits,
supervisord restarts the slot, and it claims the replacement.

    pod_forward.py --slot 0 --claims DIR --port 8002 --selector model=m,helm-release-name=r \\
        -- kubectl --kubeconfig=... --namespace=ns
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ENGINE_PORT = 8000


def ready_pods(pods: dict) -> list[str]:
    """Names of Running pods whose containers are all ready, oldest first (then by name)."""
    out = []
    for pod in pods.get("items") or []:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") != "Running":
            continue
        containers = status.get("containerStatuses") or []
        if containers and all(c.get("ready") for c in containers):
            out.append((str(meta.get("creationTimestamp") or ""), str(meta.get("name"))))
    return [name for _, name in sorted(out)]


def choose(slot: int, ready: list[str], claims: dict[int, str]) -> str | None:
    """This slot's pod: the one it holds if still ready, else the first ready pod no other slot holds."""
    mine = claims.get(slot)
    if mine in ready:
        return mine
    taken = {pod for s, pod in claims.items() if s != slot and pod in ready}
    return next((pod for pod in ready if pod not in taken), None)


def read_claims(folder: Path) -> dict[int, str]:
    out = {}
    for path in folder.glob("slot-*"):
        try:
            out[int(path.name.split("-", 1)[1])] = path.read_text().strip()
        except (OSError, ValueError):
            continue
    return out


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: pod_forward.py --slot N --claims DIR --port P --selector S -- kubectl ARGS...", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--slot", type=int, required=True)
    parser.add_argument("--claims", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--selector", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv[:split])
    kubectl = argv[split + 1:]
    folder = Path(args.claims)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        listed = subprocess.run([*kubectl, "get", "pods", f"--selector={args.selector}", "--output=json",
                                 "--request-timeout=10s"], capture_output=True, text=True, check=False)
        pod = None
        if listed.returncode == 0:
            with open(folder / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                pod = choose(args.slot, ready_pods(json.loads(listed.stdout)), read_claims(folder))
                if pod:
                    (folder / f"slot-{args.slot}").write_text(pod + "\n")
        if pod:
            print(f"slot {args.slot}: forwarding {args.address}:{args.port} to pod {pod}", flush=True)
            os.execvp(kubectl[0], [*kubectl, "port-forward", f"--address={args.address}", f"pod/{pod}",
                                   f"{args.port}:{ENGINE_PORT}"])
        print(f"slot {args.slot}: no free ready engine pod yet "
              f"({listed.stderr.strip() or 'waiting'}); trying again in 5 s", flush=True)
        time.sleep(5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
