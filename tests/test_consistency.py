"""Name drift: every setting is used, every variable read is defined, defaults agree.

This is the class of bug that left kdevops' LMCache and routing settings dead:
a Kconfig symbol nobody reads, or a template reading a name nobody defines.
"""

from __future__ import annotations

import re
from pathlib import Path

import kconfiglib
import yaml

from vllm_workflow import config
from vllm_workflow.kconfig import Tree, load_kconfig

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK_FILES = sorted((ROOT / "playbooks").rglob("*.yml")) + sorted((ROOT / "playbooks").rglob("*.j2"))
#: settings.py is generated from Kconfig and names every symbol: it defines, it does not use.
GENERATED = ROOT / "src/vllm_workflow/settings.py"
PYTHON_FILES = [p for p in sorted((ROOT / "src").rglob("*.py")) if p != GENERATED]
VAR = re.compile(r"(?<![/\w])vllm_[a-z0-9_]+\b(?!/)")
#: A read through the typed view (settings.Settings): ``s.api_port`` reads ``vllm_api_port``.
SETTING_READ = re.compile(r"(?<![\w.])(?:s|conf|settings|Settings\.of\([\w.]+\))\.([a-z][a-z0-9_]*)\b(?!\()")


def python_names(text: str) -> set[str]:
    """The settings a Python source reads: by extra-var name, or through the typed view."""
    return set(VAR.findall(text)) | {f"vllm_{attr}" for attr in SETTING_READ.findall(text)}


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] if line.lstrip().startswith("#") else line for line in text.splitlines())


def used_names() -> set[str]:
    names: set[str] = set()
    for path in PLAYBOOK_FILES:
        if path.parts[-2:] == ("defaults", "main.yml"):
            continue  # a default is a definition, not a use
        names |= set(VAR.findall(_strip_comments(path.read_text())))
    for path in PYTHON_FILES:
        names |= python_names(_strip_comments(path.read_text()))
    return names


def kconfig_vars(tree: Tree) -> dict[str, kconfiglib.Symbol]:
    kconf = load_kconfig(tree)
    return {config.var_name(s.name): s for s in config.workflow_symbols(kconf)}


def role_defaults() -> dict[str, dict]:
    out = {}
    for path in (ROOT / "playbooks" / "roles").glob("*/defaults/main.yml"):
        out[path.parts[-3]] = yaml.safe_load(path.read_text()) or {}
    return out


def defined_in_playbooks() -> set[str]:
    """Names a playbook defines: registered results, set_fact, vars and defaults keys."""
    names: set[str] = set()
    for path in PLAYBOOK_FILES:
        text = path.read_text()
        names |= set(re.findall(r"(?:register|index_var|loop_var):\s*(vllm_\w+)", text))
        names |= set(re.findall(r"^\s*(vllm_\w+):", text, re.MULTILINE))
    return names


def derived_from(tree: Tree) -> set[str]:
    """Settings Kconfig itself reads: the choices a promptless, derived symbol is computed from
    (``default "session" if VLLM_ROUTER_SESSION_AFFINITY``); Python reads the derived name."""
    names: set[str] = set()
    for sym in config.workflow_symbols(load_kconfig(tree)):
        if any(node.prompt for node in sym.nodes):
            continue
        members: dict[object, set[str]] = {}
        for value, cond in sym.defaults:
            for s in kconfiglib.expr_items(value) | kconfiglib.expr_items(cond):
                if isinstance(s, kconfiglib.Symbol) and s.choice is not None:
                    members.setdefault(s.choice, set()).add(config.var_name(s.name))
        # A derived name maps a choice, naming its members; a lone member is an enclosing menu's
        # dependency (Kconfig adds those to every default), not what the symbol is derived from.
        names |= set().union(*(m for m in members.values() if len(m) > 1))
    return names


def test_every_setting_is_used(tree: Tree) -> None:
    used = used_names() | derived_from(tree)
    known = kconfig_vars(tree)
    assert {"vllm_router_session_affinity", "vllm_target_device_rocm"} <= derived_from(tree)
    assert len(known) > 150 and "vllm_fault_kill_at_s" in used
    unused = sorted(n for n in known if n not in used)
    assert unused == [], "settings nothing reads (dead like kdevops' LMCache knobs)"


def test_every_variable_read_is_defined(tree: Tree) -> None:
    roles = {p.name for p in (ROOT / "playbooks" / "roles").iterdir()}
    inventory_vars = set(re.findall(r'"(vllm_\w+)"\s*:', (ROOT / "src/vllm_workflow/inventory.py").read_text()))
    assert "vllm_local_instance" in inventory_vars  # host variables `make bringup` writes
    # what the kdevops plugin's targets pass: the play's host pattern, and kdevops-vars' own section
    plugin_vars = set(re.findall(r"-e (vllm_\w+)=", (ROOT / ".kdevops/workflows/vllm-workflow/Makefile").read_text()))
    plugin_vars |= set(re.findall(r'"(vllm_kdevops)"', (ROOT / "src/vllm_workflow/kdevops.py").read_text()))
    assert plugin_vars == {"vllm_play_hosts", "vllm_kdevops"}
    # our Jinja filters (playbooks/filter_plugins): names the roles call, not variables
    filters = {name for path in (ROOT / "playbooks/filter_plugins").glob("*.py")
               for name in re.findall(r'"(vllm_\w+)":\s*vllm_\w+', path.read_text())}
    assert {"vllm_local_plan", "vllm_k8s_plan", "vllm_k8s_gate", "vllm_k8s_release"} <= filters
    defined = set(kconfig_vars(tree)) | defined_in_playbooks() | roles | inventory_vars | plugin_vars | filters
    for defaults in role_defaults().values():
        defined |= set(defaults)
    read: dict[str, str] = {}
    for path in PLAYBOOK_FILES:
        for name in VAR.findall(_strip_comments(path.read_text())):
            read.setdefault(name, str(path.relative_to(ROOT)))
    undefined = {n: where for n, where in read.items() if n not in defined}
    assert undefined == {}


def kconfig_default(sym: kconfiglib.Symbol) -> config.VarValue:
    value = config.typed_value(sym)
    if value in ("", None) and sym.defaults:
        text = sym.defaults[-1][0].str_value
        return int(text) if sym.orig_type is kconfiglib.INT else text
    return value


def test_role_defaults_equal_kconfig_defaults(tree: Tree) -> None:
    symbols = kconfig_vars(tree)
    checked = 0
    for role, defaults in role_defaults().items():
        for name, value in defaults.items():
            if name in symbols:
                assert value == kconfig_default(symbols[name]), f"{role}: {name}"
                checked += 1
    assert checked >= 2


def test_python_reads_derived_names_not_the_choices_behind_them(tree: Tree) -> None:
    """A choice that Kconfig turns into a derived name (VLLM_ROUTING_LOGIC, VLLM_TARGET_DEVICE ...) is
    read by that name only: Python never re-maps the choice's own symbols (the A/B dev arm changes
    the derived name, so a choice symbol read in Python would be the baseline's)."""
    readers = {}
    for path in PYTHON_FILES:
        for name in python_names(_strip_comments(path.read_text())) & derived_from(tree):
            readers.setdefault(name, []).append(path.name)
    # The fault check names the choice the user made in its message; the dev arm's choices are words.
    allowed = {"vllm_benchmark_workload_fault": ["validate.py"]} | {
        n: ["arms.py"] for n in ("vllm_ab_dev_router_round_robin", "vllm_ab_dev_router_session_affinity",
                                 "vllm_ab_dev_router_prefix_aware", "vllm_ab_dev_router_kv_aware")}
    assert {n: sorted(w) for n, w in readers.items() if sorted(w) != allowed.get(n)} == {}
