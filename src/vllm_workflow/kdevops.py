"""The workflow inside a kdevops tree: our settings from kdevops' .config and inventory.

The plugin (``.kdevops/``) gives kdevops our Kconfig with every symbol renamed ``VLLM_X`` ->
``VLLM_WF_X`` (kdevops' built-in vllm workflow has its own ``VLLM_`` symbols). kdevops writes
``.config`` (and, through ``output yaml``, its extra_vars.yaml); `vllm-workflow kdevops-vars` turns
that into what the standalone workflow has after ``make``: the same typed, complete, checked
settings file, the secrets apart (mode 0600), plus what only kdevops knows — the hosts of its
inventory, which of them is the baseline and which the dev node, and the kernel it built for them.
"""

from __future__ import annotations

import configparser
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import WorkflowError
from .kconfig import Tree

PREFIX = "VLLM_WF_"
OURS = "VLLM_"
#: The bring-up symbols kdevops' inventory decides (the plugin's Kconfig does not ask for them).
BRINGUP = ("VLLM_BRINGUP_LOCALHOST", "VLLM_BRINGUP_DECLARED_HOSTS", "VLLM_DECLARED_HOSTS", "VLLM_AB_BASELINE_HOST",
           "VLLM_AB_DEV_HOST", "VLLM_TARGET_PYTHON")
#: kdevops' extra vars that say which kernel a node runs (bootlinux builds it from these).
KERNEL_KEYS = re.compile(r"^(bootlinux_|target_linux_|kdevops_baseline_and_dev$|kdevops_version$)")
_LINE = re.compile(r"^(?:CONFIG_(\w+)=(.*)|# CONFIG_(\w+) is not set)$")


def package_tree() -> Path:
    """The workflow's own source tree (the plugin installs the package from it, editable)."""
    return Path(__file__).resolve().parents[2]


def ours(config_text: str) -> list[str]:
    """The plugin's lines of a kdevops .config, under our own names (``CONFIG_VLLM_WF_X`` -> ``CONFIG_VLLM_X``)."""
    out = []
    for line in config_text.splitlines():
        m = _LINE.match(line.strip())
        name = m and (m.group(1) or m.group(3))
        if not name or not name.startswith(PREFIX):
            continue
        own = OURS + name[len(PREFIX):]
        out.append(f"CONFIG_{own}={m.group(2)}" if m.group(1) else f"# CONFIG_{own} is not set")
    return out


def builtin_lines(config_text: str, our_symbols: set[str]) -> list[str]:
    """Settings of kdevops' built-in vllm workflow that look like ours: one message each naming ours."""
    out = []
    for line in config_text.splitlines():
        m = _LINE.match(line.strip())
        name = m and (m.group(1) or m.group(3))
        if name and name.startswith(OURS) and not name.startswith(PREFIX):
            if name in our_symbols:
                out.append(f"CONFIG_{name} is kdevops' built-in vllm workflow's setting; this plugin reads "
                           f"CONFIG_{PREFIX}{name[len(OURS):]} (make menuconfig → vllm-workflow (plugin)).")
            else:
                out.append(f"CONFIG_{name} belongs to kdevops' built-in vllm workflow; this plugin has no "
                           "such setting and ignores it.")
    return out


def kdevops_names(text: str, our_symbols: set[str]) -> str:
    """A message about our settings with the names the user sees in kdevops (``VLLM_WF_X``)."""
    return re.sub(r"(?<![A-Za-z0-9])VLLM_[A-Z0-9_]+\b",
                  lambda m: PREFIX + m.group(0)[len(OURS):] if m.group(0) in our_symbols else m.group(0), text)


def inventory_hosts(path: Path) -> tuple[list[str], dict[str, list[str]], str]:
    """kdevops' inventory: its hosts (not localhost), its groups' hosts, and the Python it names."""
    parser = configparser.ConfigParser(allow_no_value=True, delimiters=("=",), strict=False,
                                       interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(path.read_text())
    except (OSError, configparser.Error) as exc:
        raise WorkflowError(f"cannot read kdevops' inventory {path}: {exc}. Fix: run `make bringup` in the "
                            "kdevops tree first.") from None
    groups: dict[str, list[str]] = {}
    python = ""
    for section in parser.sections():
        if section.endswith(":vars"):
            python = python or str(parser[section].get("ansible_python_interpreter") or "").strip('"')
            continue
        groups[section] = [h.split()[0] for h in parser[section] if h.split()[0] != "localhost"]
    hosts: list[str] = []
    for members in groups.values():
        hosts += [h for h in members if h not in hosts]
    return hosts, groups, python


def arms(hosts: list[str], groups: Mapping[str, list[str]]) -> dict[str, str]:
    """host -> arm: kdevops' baseline and dev groups when it wrote both, else its own rule for
    declared hosts (odd-numbered hosts baseline, even-numbered dev: its templates without a
    dedicated workflow put every host in baseline)."""
    if groups.get("baseline") and groups.get("dev"):
        return {h: a for a in ("baseline", "dev") for h in groups[a]}
    return {h: ("baseline" if i % 2 == 0 else "dev") for i, h in enumerate(hosts)}


def kernel_facts(kdevops_vars: Mapping[str, Any]) -> dict[str, Any]:
    """What kdevops knows about the kernel under test (bootlinux's tree, ref, commit), for provenance."""
    return {k: v for k, v in kdevops_vars.items() if KERNEL_KEYS.match(str(k)) and isinstance(v, (str, int, bool))}


def bringup_lines(hosts: list[str], host_arms: Mapping[str, str], ab: bool, python: str) -> list[str]:
    """Our bring-up settings from kdevops' inventory."""
    if not hosts:
        raise WorkflowError("kdevops' inventory (hosts) lists no node. Fix: `make bringup` in the kdevops tree "
                            "(with DECLARE_HOSTS=\"...\" for declared hosts).")
    lines = ["CONFIG_VLLM_BRINGUP_DECLARED_HOSTS=y", f'CONFIG_VLLM_DECLARED_HOSTS="{",".join(hosts)}"']
    if python:
        lines.append(f'CONFIG_VLLM_TARGET_PYTHON="{python}"')
    if ab:
        base = next((h for h in hosts if host_arms.get(h) == "baseline"), "")
        dev = next((h for h in hosts if host_arms.get(h) == "dev"), "")
        if not base or not dev:
            raise WorkflowError("A/B testing (CONFIG_VLLM_WF_AB_TESTING) needs a baseline and a dev node; kdevops' "
                                f"inventory has {', '.join(hosts)}. Fix: CONFIG_KDEVOPS_BASELINE_AND_DEV=y and "
                                "two nodes (DECLARE_HOSTS=\"base dev\"), then `make bringup`.")
        lines += [f'CONFIG_VLLM_AB_BASELINE_HOST="{base}"', f'CONFIG_VLLM_AB_DEV_HOST="{dev}"']
    return lines


def settings(config: Path, kdevops_vars: Path, inventory: Path) -> tuple[Any, dict[str, Any], list[str]]:
    """Our loaded Kconfig, the kdevops-only settings, and notes about built-in workflow lines."""
    from .kconfig import load_config

    text = config.read_text()
    if "CONFIG_KDEVOPS_PLUGIN_VLLM_WORKFLOW=y" not in text:
        raise WorkflowError("the vllm-workflow plugin is not enabled in kdevops' .config. Fix: "
                            "CONFIG_KDEVOPS_PLUGIN_VLLM_WORKFLOW=y (make menuconfig, or make defconfig-<base>+vllm-workflow).")
    hosts, groups, python = inventory_hosts(inventory)
    host_arms = arms(hosts, groups)
    lines = ours(text)
    ab = "CONFIG_VLLM_AB_TESTING=y" in lines
    lines = [ln for ln in lines if not any(ln.startswith(f"CONFIG_{b}=") or ln == f"# CONFIG_{b} is not set"
                                           for b in BRINGUP)]
    lines += bringup_lines(hosts, host_arms, ab, python)
    tree = Tree(package_tree())
    with tempfile.TemporaryDirectory() as tmp:
        ours_config = Path(tmp) / ".config"
        ours_config.write_text("\n".join(lines) + "\n")
        try:
            kconf = load_config(tree, ours_config, strict=False)
        except WorkflowError as exc:
            raise WorkflowError(kdevops_names(str(exc), set(kconf_symbols(tree)))) from None
    try:
        theirs = yaml.safe_load(kdevops_vars.read_text()) or {} if kdevops_vars.exists() else {}
    except yaml.YAMLError:
        theirs = {}
    extra = {"vllm_kdevops": {"topdir": str(config.parent), "arms": host_arms, "kernel": kernel_facts(theirs)}}
    notes = builtin_lines(text, set(kconf_symbols(tree)))
    return kconf, extra, notes


def protect_secrets(kconf: Any, config: Path) -> None:
    """kdevops' .config (and its .old copy) holding one of our secrets: readable by its owner only."""
    from .symbols import SECRET_SYMBOLS

    if any(kconf.syms[name].str_value for name in SECRET_SYMBOLS if name in kconf.syms):
        for path in (config, config.with_name(config.name + ".old")):
            if path.exists():
                path.chmod(0o600)


def kconf_symbols(tree: Tree) -> list[str]:
    from .kconfig import load_kconfig

    return [s.name for s in load_kconfig(tree).unique_defined_syms if s.name.startswith(OURS)]
