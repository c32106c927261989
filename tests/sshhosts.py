"""Test hosts that are real to Ansible: network namespaces with their own sshd.

Each host is a network namespace with its own address (198.18.0.0/15, the range set
aside for network benchmark testing, RFC 2544) on a veth pair to this machine, its own
hostname (UTS namespace) and its own view of the test user's home (a mount namespace
in which a per-host directory is bind-mounted over it), so each host keeps its own
runtime and state directories. Ansible reaches it over SSH with a generated key, as the
non-root user ``vwftest`` with passwordless sudo. Only these addresses and loopback are
used.

`TestHosts.create()` makes them, `TestHosts.destroy()` removes everything it made
(processes, namespaces, links, the user, its sudoers file, the per-host directories),
and is safe to call after a failure or twice. Needs root, iproute2, openssh-server
and sudo; `missing()` says what is absent so callers can skip.

By hand: ``python -m tests.sshhosts up`` / ``down``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

USER = "vwftest"
PREFIX = "vwft"  # namespaces vwft1.., links vwft1r/vwft1h
BASE = Path(os.environ.get("VLLM_WORKFLOW_TESTHOSTS_DIR", "/var/tmp/vllm-workflow-testhosts"))
NAMES = ("vwf-baseline", "vwf-dev")
#: PID 1 of a test host: start the command, reap every orphan, end with it.
_INIT = """
import os, sys
child = os.fork()
if child == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    pid, status = os.wait()
    if pid == child:
        sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


def missing() -> list[str]:
    """What this machine lacks to make test hosts (empty when it can)."""
    lacks = [] if os.geteuid() == 0 else ["root"]
    for tool, package in (("ip", "iproute2"), ("/usr/sbin/sshd", "openssh-server"), ("sudo", "sudo"),
                          ("unshare", "util-linux"), ("ssh-keygen", "openssh-client")):
        if not shutil.which(tool):
            lacks.append(package)
    return lacks


def cgroup_mounts() -> str:
    """Shell commands that mount this machine's cgroup hierarchies again inside a test host:
    `ip netns exec` gives the host a fresh /sys without them, and a real host has them (the host
    figures read its processes' CPU throttling there). The same hierarchies, so a CPU quota set
    from outside shows inside."""
    cmds = []
    for line in Path("/proc/mounts").read_text().splitlines():
        _, path, kind, opts, *_ = line.split()
        if path == "/sys/fs/cgroup" and kind == "tmpfs":
            cmds.insert(0, "mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup || true; ")
        elif path.startswith("/sys/fs/cgroup") and kind in ("cgroup", "cgroup2"):
            keep = ",".join(o for o in opts.split(",") if o not in ("rw", "ro", "relatime", "nosuid", "nodev",
                                                                     "noexec"))
            option = f"-o {shlex.quote(keep)} " if keep else ""
            cmds.append(f"mkdir -p {shlex.quote(path)} && mount -t {kind} {option}{kind} {shlex.quote(path)} || true; ")
    return "".join(cmds)


@dataclass
class TestHost:
    name: str
    index: int
    address: str
    netns: str
    home: str  # this host's directory mounted over the user's home
    sshd_pid: int = 0


@dataclass
class TestHosts:
    base: Path
    hosts: list[TestHost]
    user: str = USER

    @property
    def key(self) -> Path:
        return self.base / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.base / "ssh_config"

    @property
    def user_home(self) -> Path:
        return Path("/home") / self.user

    def env(self) -> dict[str, str]:
        """Environment for Ansible (and ssh) to reach the hosts with the generated key."""
        return {"ANSIBLE_SSH_COMMON_ARGS": f"-F {self.ssh_config}"}

    def ssh(self, host: TestHost, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return _run("ssh", "-F", str(self.ssh_config), host.address, command, check=False, timeout=timeout)

    # -- making ---------------------------------------------------------------------------
    @classmethod
    def create(cls, count: int = 2, base: Path = BASE) -> TestHosts:
        lacks = missing()
        if lacks:
            raise RuntimeError("cannot make test hosts; missing: " + ", ".join(lacks))
        destroy(base)  # whatever an interrupted run left
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o755)
        hosts = [TestHost(NAMES[i] if i < len(NAMES) else f"vwf-host{i + 1}", i + 1, f"198.18.{i + 1}.2",
                          f"{PREFIX}{i + 1}", str(base / f"host{i + 1}" / "home")) for i in range(count)]
        made = cls(base, hosts)
        try:
            made._user()
            made._keys()
            for host in hosts:
                made._network(host)
                made._sshd(host)
            made._wait_for_ssh()
        except BaseException:
            destroy(base)
            raise
        (base / "hosts.json").write_text(json.dumps([asdict(h) for h in hosts]))
        return made

    def _user(self) -> None:
        if _run("id", "-u", self.user, check=False).returncode != 0:
            _run("useradd", "--create-home", "--shell", "/bin/bash", self.user)
        _run("usermod", "-p", "*", self.user)  # no password, but not "locked" for sshd
        sudoers = Path(f"/etc/sudoers.d/{self.user}")
        sudoers.write_text(f"{self.user} ALL=(ALL) NOPASSWD:ALL\n")
        os.chmod(sudoers, 0o440)
        (self.base / "created-user").write_text(self.user)

    def _keys(self) -> None:
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vllm-workflow-test", "-f", str(self.key))
        auth = self.base / "authorized_keys"
        shutil.copy(self.key.with_suffix(".pub"), auth)
        os.chmod(auth, 0o644)

    def _network(self, host: TestHost) -> None:
        ns, outer, inner = host.netns, f"{host.netns}r", f"{host.netns}h"
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", inner, "netns", ns)
        _run("ip", "addr", "add", f"198.18.{host.index}.1/24", "dev", outer)
        _run("ip", "link", "set", outer, "up")
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{host.address}/24", "dev", inner],
                    ["ip", "link", "set", inner, "up"]):
            _run("ip", "netns", "exec", ns, *cmd)

    def _sshd(self, host: TestHost) -> None:
        hdir = Path(host.home).parent
        home = Path(host.home)
        home.mkdir(parents=True, exist_ok=True)
        for item in self.user_home.glob(".*"):  # skeleton files (.bashrc, .profile)
            if item.is_file():
                shutil.copy(item, home / item.name)
                shutil.chown(home / item.name, self.user, self.user)
        shutil.chown(home, self.user, self.user)
        (hdir / "hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {host.name}\n{host.address} {host.name}\n")
        os.chmod(home, 0o750)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hdir / "ssh_host_ed25519_key"))
        Path("/run/sshd").mkdir(exist_ok=True)
        conf = hdir / "sshd_config"
        conf.write_text("\n".join([
            f"ListenAddress {host.address}:22",
            f"HostKey {hdir / 'ssh_host_ed25519_key'}",
            f"PidFile {hdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.base / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin no", "X11Forwarding no", "PrintMotd no", "MaxStartups 50:30:100",
            "MaxSessions 50", "StrictModes no", "Subsystem sftp internal-sftp", "LogLevel ERROR", "",
        ]))
        # sshd and every process it starts live in the host's network, UTS, mount and PID
        # namespaces: like a real machine, a host sees only its own processes (/proc remounted),
        # so one host's process manager cannot mistake the other's processes for its own.
        script = (f"set -e; hostname {host.name}; mount --make-rprivate /; "
                  f"mount --bind {home} {self.user_home}; mount --bind {hdir / 'hosts'} /etc/hosts; "
                  f"{cgroup_mounts()}"
                  f"exec {sys.executable} -c {shlex.quote(_INIT)} /usr/sbin/sshd -D -e -f {conf}")
        log = open(hdir / "sshd.log", "ab")  # noqa: SIM115 - the daemon keeps it
        proc = subprocess.Popen(["ip", "netns", "exec", host.netns, "unshare", "--mount", "--uts", "--pid", "--fork",
                                 "--mount-proc", "sh", "-c", script],
                                stdout=log, stderr=log, start_new_session=True)
        host.sshd_pid = proc.pid

    def _wait_for_ssh(self) -> None:
        known = self.base / "known_hosts"
        lines = []
        for host in self.hosts:
            pub = (Path(host.home).parent / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{host.address} {pub[0]} {pub[1]}")
        known.write_text("\n".join(lines) + "\n")
        self.ssh_config.write_text("\n".join([
            "Host 198.18.*",
            f"  User {self.user}",
            f"  IdentityFile {self.key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  ConnectTimeout 10",
            "",
        ]))
        deadline = time.monotonic() + 30
        for host in self.hosts:
            while True:
                out = self.ssh(host, "hostname", timeout=15)
                if out.returncode == 0 and out.stdout.strip() == host.name:
                    break
                if time.monotonic() > deadline:
                    log = (Path(host.home).parent / "sshd.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"sshd on {host.address} did not answer: {out.stderr.strip()} {log}")
                time.sleep(0.3)

    def limit_cpu(self, host: TestHost, cpus: float) -> Any:
        """Confine every process of ``host`` (and all it starts later: they descend from its sshd) to
        ``cpus`` CPUs with a cgroup CPU quota: a real, kernel-level slowdown. ``close()`` lifts it."""
        from tests.cpuquota import CpuQuota

        quota = CpuQuota(f"{PREFIX}-{host.name}", cpus)
        pids = _run("ip", "netns", "pids", host.netns).stdout.split()
        quota.add(int(p) for p in pids)
        return quota

    def destroy(self) -> None:
        destroy(self.base)


def _kill_namespace(ns: str) -> None:
    for _ in range(20):
        pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        time.sleep(0.1)


def destroy(base: Path = BASE) -> None:
    """Remove every test host and what was made for them (idempotent)."""
    namespaces = [ns for ns in _run("ip", "netns", "list", check=False).stdout.split()
                  if ns.startswith(PREFIX) and ns[len(PREFIX):].isdigit()]
    for ns in namespaces:
        _kill_namespace(ns)
        _run("ip", "link", "del", f"{ns}r", check=False)
        _run("ip", "netns", "del", ns, check=False)
    if _run("id", "-u", USER, check=False).returncode == 0:
        _run("pkill", "-KILL", "-u", USER, check=False)
        time.sleep(0.2)
        _run("userdel", "--remove", USER, check=False)
    Path(f"/etc/sudoers.d/{USER}").unlink(missing_ok=True)
    if base.exists():
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["up"]:
        made = TestHosts.create()
        for h in made.hosts:
            print(f"{h.name} {h.address}")
        print(f"export ANSIBLE_SSH_COMMON_ARGS='-F {made.ssh_config}'")
        return 0
    if argv[:1] == ["down"]:
        destroy()
        return 0
    print("usage: python -m tests.sshhosts up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
