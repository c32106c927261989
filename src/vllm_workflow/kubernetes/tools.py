"""The pinned minikube, kubectl and helm binaries bringup installs, with their sha256.

A version is installable only when its checksum is listed here: a download
that does not match fails before anything runs it. Add a version by adding
the release's published sha256 for each architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..settings import Settings

#: (tool, version, architecture) -> sha256 of the published download.
#: minikube: the release's "Binary Checksums"; kubectl: dl.k8s.io's .sha256;
#: helm: the tarball's .sha256sum on get.helm.sh.
CHECKSUMS: dict[tuple[str, str, str], str] = {
    ("minikube", "1.38.1", "amd64"): "099477eaf248bcb5bcea8ce78a2898e93ac01461c35189da1848c3de82ecd22e",
    ("minikube", "1.38.1", "arm64"): "a0b8a1ebfc8c07a247271d8df98ac0ddd7c8c855b601d402463e2e50c08c6bab",
    ("kubectl", "1.35.0", "amd64"): "a2e984a18a0c063279d692533031c1eff93a262afcc0afdc517375432d060989",
    ("kubectl", "1.35.0", "arm64"): "58f82f9fe796c375c5c4b8439850b0f3f4d401a52434052f2df46035a8789e25",
    ("helm", "3.18.4", "amd64"): "f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1",
    ("helm", "3.18.4", "arm64"): "c0a45e67eef0c7416a8a8c9e9d5d2d30d70e4f4d3f7bea5de28241fffa8f3b89",
}
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
SETTINGS = {"minikube": "vllm_minikube_version", "kubectl": "vllm_kubectl_version", "helm": "vllm_helm_version"}


@dataclass(frozen=True)
class Download:
    tool: str
    version: str
    url: str
    sha256: str
    archive_member: str  # the binary inside a tarball; "" for a plain binary

    def layout(self, bin_dir: str) -> dict[str, str]:
        """Where it is saved, unpacked and run from. Names carry the version, so changing a
        version downloads the new one and an unchanged one is never fetched again."""
        if self.archive_member:
            unpack = f"{bin_dir}/{self.tool}-{self.version}"
            return {"dest": f"{bin_dir}/{self.url.rsplit('/', 1)[1]}", "unpack_dir": unpack,
                    "binary": f"{unpack}/{self.archive_member}"}
        dest = f"{bin_dir}/{self.tool}-{self.version}"
        return {"dest": dest, "unpack_dir": "", "binary": dest}

    def as_dict(self, bin_dir: str) -> dict[str, str]:
        return {"tool": self.tool, "version": self.version, "url": self.url,
                "checksum": f"sha256:{self.sha256}", "archive_member": self.archive_member, **self.layout(bin_dir)}


def url(tool: str, version: str, arch: str) -> tuple[str, str]:
    """Download URL and, for tarballs, the member that is the binary."""
    if tool == "minikube":
        return f"https://github.com/kubernetes/minikube/releases/download/v{version}/minikube-linux-{arch}", ""
    if tool == "kubectl":
        return f"https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubectl", ""
    if tool == "helm":
        return f"https://get.helm.sh/helm-v{version}-linux-{arch}.tar.gz", f"linux-{arch}/helm"
    raise ValueError(tool)


def wanted(v: Mapping[str, Any]) -> list[str]:
    """The tools this configuration needs on the target."""
    s = Settings.of(v)
    return (["minikube"] if s.k8s_minikube else []) + ["kubectl", "helm"]


def known_versions(tool: str) -> list[str]:
    return sorted({ver for (t, ver, _) in CHECKSUMS if t == tool})


def problems(v: Mapping[str, Any]) -> list[str]:
    """Configured versions without a known checksum, as user-facing messages."""
    out = []
    for tool in wanted(v):
        version = str(v.get(SETTINGS[tool]) or "")
        if not any(t == tool and ver == version for (t, ver, _) in CHECKSUMS):
            out.append(f"CONFIG_{SETTINGS[tool].upper()}: no published sha256 of {tool} '{version}' is known, so it "
                       f"cannot be verified. Fix: use {' or '.join(known_versions(tool))}, or add the release's "
                       "checksums to src/vllm_workflow/kubernetes/tools.py.")
    return out


def downloads(v: Mapping[str, Any], machine: str) -> list[Download]:
    """What to fetch for a target whose ``uname -m`` is ``machine``."""
    arch = ARCHITECTURES.get(machine)
    if arch is None:
        raise ValueError(f"the target's architecture {machine} has no minikube/kubectl/helm builds we pin; "
                         f"supported: {', '.join(sorted(ARCHITECTURES))}")
    out = []
    for tool in wanted(v):
        version = str(v[SETTINGS[tool]])
        link, member = url(tool, version, arch)
        out.append(Download(tool, version, link, CHECKSUMS[(tool, version, arch)], member))
    return out
