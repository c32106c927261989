"""The engine pod forwarder: each slot holds one ready pod, re-claims a replaced one (issue 12, item 7)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, load_target

pf = load_target("pod_forward")


def pod(name: str, created: str, ready: bool = True, phase: str = "Running", deleting: bool = False) -> dict:
    meta = {"name": name, "creationTimestamp": created} | ({"deletionTimestamp": "x"} if deleting else {})
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": [{"ready": ready}]}}


def test_ready_pods_oldest_first_skipping_unready_and_terminating() -> None:
    pods = {"items": [pod("b", "2026-01-02"), pod("a", "2026-01-03"), pod("c", "2026-01-01", ready=False),
                      pod("d", "2026-01-01", deleting=True), pod("e", "2026-01-01", phase="Pending")]}
    assert pf.ready_pods(pods) == ["b", "a"]


def test_each_slot_keeps_its_pod_and_takes_a_free_one_after_a_replacement() -> None:
    assert pf.choose(0, ["p1", "p2"], {}) == "p1"
    assert pf.choose(1, ["p1", "p2"], {0: "p1"}) == "p2"
    assert pf.choose(1, ["p1", "p2"], {0: "p2", 1: "p1"}) == "p1"  # keeps what it holds
    # p1 was replaced by p3 (sorted first): slot 0 must not steal slot 1's p2
    assert pf.choose(0, ["p3", "p2"], {0: "p1", 1: "p2"}) == "p3"
    assert pf.choose(1, ["p1"], {0: "p1"}) is None  # fewer ready pods than slots: wait


def test_a_slot_claims_its_pod_and_becomes_the_port_forward(tmp_path: Path) -> None:
    fake = tmp_path / "kubectl"  # a test double: lists two pods, echoes the port-forward it was asked for
    pods = {"items": [pod("eng-a", "2026-01-01"), pod("eng-b", "2026-01-02")]}
    fake.write_text("#!/bin/sh\nif [ \"$2\" = get ]; then cat <<'EOF'\n" + json.dumps(pods) +
                    "\nEOF\nelse echo \"$@\"; fi\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "slot-0").write_text("eng-a\n")
    out = subprocess.run([sys.executable, str(ROOT / "src/vllm_workflow/kubernetes/target/pod_forward.py"), "--slot", "1",
                          "--claims", str(claims), "--port", "8003", "--selector", "model=m", "--", str(fake),
                          "--namespace=ns"], capture_output=True, text=True, timeout=20, check=True,
                         env={**os.environ})
    assert "slot 1: forwarding 127.0.0.1:8003 to pod eng-b" in out.stdout
    assert "--namespace=ns port-forward --address=127.0.0.1 pod/eng-b 8003:8000" in out.stdout
    assert (claims / "slot-1").read_text() == "eng-b\n"
