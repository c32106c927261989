"""The kernel and host beside the numbers (issue 25, part 1): what deploy's probe reads about the
running kernel, how a bundle keeps it, and what the A/B says differs between the arms' hosts."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from vllm_workflow import machine
from vllm_workflow.ab import hostdiff
from vllm_workflow.benchmark import bundle

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "src/vllm_workflow/target/host_probe.py"


def probe_here() -> dict:
    """The probe as deploy runs it: its source handed to python3 -c (so stdlib only)."""
    out = subprocess.run([sys.executable, "-c", PROBE.read_text(), json.dumps({"runtime_dir": "/nonexistent"})],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_the_probe_reads_this_kernel() -> None:
    details = probe_here()["machine"]["kernel_details"]
    assert details["cmdline"] == Path("/proc/cmdline").read_text().strip()
    release = os.uname().release
    config = details["config"]
    if Path("/proc/config.gz").exists() or Path(f"/boot/config-{release}").exists():
        assert config["source"] in ("/proc/config.gz", f"/boot/config-{release}")
        assert len(config["sha256"]) == 64 and len(config["options"]) > 100
        assert all(not k.startswith("CONFIG_") for k in config["options"])
    else:
        assert "CONFIG_IKCONFIG_PROC" in config["unavailable"]
    assert "sysctl" not in details  # read with each run's host counters (they change without a reboot)
    assert details["cgroup"] in ("v1", "v2", "hybrid", "none")
    assert details["transparent_hugepage"]["enabled"] in ("always", "madvise", "never", None)
    cpufreq = details["cpufreq"]
    assert ("unavailable" in cpufreq) != Path("/sys/devices/system/cpu/cpu0/cpufreq").is_dir()
    assert isinstance(details["boot_time"], int) and details["boot_time"] > 1_000_000_000


def test_bracketed_choice() -> None:
    sys.path.insert(0, str(PROBE.parent))
    try:
        import host_probe
    finally:
        sys.path.remove(str(PROBE.parent))
    assert host_probe.bracketed("always [madvise] never") == "madvise"
    assert host_probe.bracketed(None) is None
    assert host_probe.bracketed("tsc") == "tsc"


def facts(options: dict[str, str], **details) -> dict:
    base = {"cmdline": "quiet", "config": {"source": "/proc/config.gz", "sha256": "a" * 64, "options": options},
            "sysctl": {"net.ipv4.tcp_slow_start_after_idle": "1", "vm.swappiness": "60"},
            "transparent_hugepage": {"enabled": "madvise", "defrag": "madvise"},
            "cpufreq": {"unavailable": "no cpufreq"}, "cpu_flags": ["avx2", "sse4_2"], "cgroup": "v1", "boot_time": 1}
    return {"hostname": "h", "kernel": "6.1.0", "kernel_details": {**base, **details}}


def test_a_bundle_keeps_the_config_out_of_provenance_and_in_a_file(tmp_path: Path) -> None:
    options = {"PREEMPT": "y", "HZ": "250"}
    target = machine.from_host_facts(facts(options))
    prov = bundle.provenance(ROOT, {}, "h", target)
    config = prov["host"]["kernel_details"]["config"]
    assert config == {"source": "/proc/config.gz", "sha256": "a" * 64, "option_count": 2}
    assert target["kernel_details"]["config"]["options"] == options  # the caller's facts are not changed
    assert bundle.write_kernel_config(tmp_path, target)
    with gzip.open(tmp_path / bundle.KERNEL_CONFIG, "rt") as fh:
        assert fh.read() == "CONFIG_HZ=250\nCONFIG_PREEMPT=y\n"
    assert bundle.read_kernel_config(tmp_path) == options
    assert not bundle.write_kernel_config(tmp_path / "x", machine.from_host_facts(facts({}, config={"unavailable": "no"})))
    assert bundle.read_kernel_config(tmp_path / "x") is None


def test_differences_name_what_changed_and_only_that() -> None:
    base = facts({"PREEMPT": "y", "HZ": "250", "DEBUG_KERNEL": "y"})
    dev = facts({"PREEMPT": "y", "HZ": "1000", "SCHED_CLASS_EXT": "y"}, cmdline="quiet mitigations=off",
                sysctl={"net.ipv4.tcp_slow_start_after_idle": "0", "vm.swappiness": "60"},
                cpu_flags=["avx2", "avx512f", "sse4_2"], boot_time=2,
                transparent_hugepage={"enabled": "always", "defrag": "madvise"})
    d = hostdiff.differences(base, dev, base["kernel_details"]["config"]["options"],
                             dev["kernel_details"]["config"]["options"])
    assert d["kernel_config"]["added"] == {"SCHED_CLASS_EXT": "y"}
    assert d["kernel_config"]["removed"] == {"DEBUG_KERNEL": "y"}
    assert d["kernel_config"]["changed"] == {"HZ": ["250", "1000"]} and d["kernel_config"]["same"] is False
    assert d["cmdline"] == ["quiet", "quiet mitigations=off"]
    assert d["sysctl"] == {"net.ipv4.tcp_slow_start_after_idle": ["1", "0"]}
    assert d["cpu_flags"] == {"added": ["avx512f"], "removed": []}
    assert d["facts"] == {"transparent_hugepage.enabled": ["madvise", "always"]}  # boot time ignored
    words = hostdiff.lines(d)
    assert words[0] == ("Kernel config options, baseline → dev: 1 added (SCHED_CLASS_EXT=y); 1 removed "
                        "(DEBUG_KERNEL=y); 1 changed (HZ 250 → 1000).")
    assert "Sysctls differ: net.ipv4.tcp_slow_start_after_idle 1 → 0." in words
    assert "Host facts differ: transparent_hugepage.enabled madvise → always." in words


def test_identical_hosts_differ_in_nothing_and_old_bundles_in_nothing_said() -> None:
    one = facts({"PREEMPT": "y"})
    d = hostdiff.differences(one, facts({"PREEMPT": "y"}, boot_time=99), {"PREEMPT": "y"}, {"PREEMPT": "y"})
    assert d == {"kernel_config": {"same": True, "added": {}, "removed": {}, "changed": {}, "sha256": ["a" * 64] * 2}}
    assert hostdiff.lines(d) == []
    assert hostdiff.differences({"kernel": "6.1"}, {"kernel": "6.2"}) == {}


def test_a_missing_config_is_said_not_guessed() -> None:
    base = facts({}, config={"unavailable": "neither /proc/config.gz nor /boot/config-6.1 is readable"})
    dev = facts({"PREEMPT": "y"})
    d = hostdiff.differences(base, dev, None, {"PREEMPT": "y"})
    assert d["kernel_config"]["unavailable"] == "baseline: neither /proc/config.gz nor /boot/config-6.1 is readable"
    assert hostdiff.lines(d)[0].startswith("Kernel config: not compared (baseline: neither")


def test_long_lists_are_clipped() -> None:
    base = {f"OPT_{i}": "y" for i in range(40)}
    d = hostdiff.differences(facts(base), facts({}), base, {})
    assert d["kernel_config"]["removed"] == base
    assert hostdiff.lines(d, limit=3)[0].endswith("(OPT_0=y, OPT_1=y, OPT_10=y, … 37 more).")


def test_cgroup_limits_of_programs_on_both_hosts_are_compared() -> None:
    one = facts({"PREEMPT": "y"})
    limits = ({"engine-0": {"cpus": None, "memory_mb": None}, "router": {"cpus": None}},
              {"engine-0": {"cpus": 0.7, "memory_mb": None}, "router": {"cpus": None}, "node-exporter": {"cpus": 1}})
    d = hostdiff.differences(one, facts({"PREEMPT": "y"}), {"PREEMPT": "y"}, {"PREEMPT": "y"}, limits)
    assert d["limits"] == {"engine-0.cpus": [None, 0.7]}  # a program only one side runs is not a difference
    assert "Cgroup limits differ: engine-0.cpus unlimited → 0.7." in hostdiff.lines(d)
