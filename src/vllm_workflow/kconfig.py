"""Kconfig front end: load, defconfig, savedefconfig, olddefconfig, staleness.

kconfiglib prints warnings and carries on; we turn every warning about the
user's input into a :class:`WorkflowError` that names the setting and the fix,
before anything is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import kconfiglib

from .errors import WorkflowError
from .files import write_atomic
from .symbols import SECRET_SYMBOLS, SYMBOL_PREFIX

_ASSIGN_RE = re.compile(r"^CONFIG_(\w+)=(.*)$")
_UNSET_RE = re.compile(r"^# CONFIG_(\w+) is not set$")


@dataclass(frozen=True)
class Tree:
    """Where the Kconfig tree and its defconfigs live."""

    root: Path

    @property
    def kconfig(self) -> Path:
        return self.root / "Kconfig"

    @property
    def defconfigs(self) -> Path:
        return self.root / "defconfigs"

    def defconfig_names(self) -> list[str]:
        return sorted(p.name for p in self.defconfigs.iterdir() if p.is_file())


def load_kconfig(tree: Tree) -> kconfiglib.Kconfig:
    """Parse the Kconfig tree; a warning in our own Kconfig files is a bug."""
    cwd = os.getcwd()
    os.chdir(tree.root)  # `source` paths are relative to the tree root
    try:
        kconf = kconfiglib.Kconfig(str(tree.kconfig), warn_to_stderr=False, suppress_traceback=False)
    finally:
        os.chdir(cwd)
    kconf.warn_assign_undef = True
    kconf.warn_assign_override = True
    kconf.warn_assign_redun = False
    if kconf.warnings:
        raise WorkflowError("Kconfig tree has warnings:\n  " + "\n  ".join(kconf.warnings))
    return kconf


def _symbol_range(sym: kconfiglib.Symbol) -> str:
    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            return f" (allowed range {low.str_value}..{high.str_value})"
    return ""


def _assignment_problems(kconf: kconfiglib.Kconfig, source: str) -> list[str]:
    """Explain every assignment in ``source`` that did not take effect."""
    problems: list[str] = []
    for warning in kconf.warnings:
        match = re.search(r"attempt to assign the value '([^']*)' to the undefined symbol (\w+)", warning)
        if match:
            problems.append(
                f"CONFIG_{match.group(2)}={match.group(1)}: unknown setting in {source} "
                "(renamed or removed). Fix: remove the line, or run `make olddefconfig`."
            )
            continue
        bad_value = re.search(r"the value '([^']*)' is invalid for (\w+) .*which has type (\w+)", warning)
        if bad_value:
            value, name, kind = bad_value.groups()
            sym = kconf.syms.get(name)
            problems.append(
                f"CONFIG_{name}={value} in {source}: not a valid {kind} value"
                f"{_symbol_range(sym) if sym else ''}. Fix: set it with `make menuconfig`."
            )
            continue
        invalid = re.search(r"'([^']*)' is not a valid value for the (\w+) symbol (\w+)", warning)
        if invalid:
            value, kind, name = invalid.groups()
            choices = " (y or n)" if kind == "bool" else ""
            problems.append(f"CONFIG_{name}={value} in {source}: not a valid {kind} value{choices}. Fix: set it with "
                            "`make menuconfig`, or correct the line.")
            continue
        literal = re.search(r"malformed string literal in assignment to (\w+)", warning)
        if literal:
            problems.append(f"CONFIG_{literal.group(1)} in {source}: its value is not a well-formed string (a quote "
                            "or a carriage return from a Windows file inside it?); it was ignored. Fix: set it again "
                            "with `make menuconfig`, or write it as CONFIG_NAME=\"value\" on one line (for a secret, "
                            "the environment works too).")
            continue
        if "ignoring malformed line" in warning:
            problems.append(f"{source}: {warning.split('warning: ', 1)[-1]}. Fix: correct the line "
                            "(CONFIG_NAME=value), delete it, or start again with `make defconfig-<name>`.")
            continue
        problems.append(f"{source}: {warning}")
    for sym in kconf.unique_defined_syms:
        if sym.user_value is None or not sym.name.startswith(SYMBOL_PREFIX):
            continue
        user = sym.user_value
        if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            user_str = kconfiglib.TRI_TO_STR[user]
        else:
            user_str = str(user)
        if sym.orig_type in (kconfiglib.INT, kconfiglib.HEX) and sym.visibility and user_str != sym.str_value:
            problems.append(
                f"CONFIG_{sym.name}={user_str} in {source} is out of range{_symbol_range(sym)}; "
                f"it would become {sym.str_value}. Fix: choose a value in range with `make menuconfig`."
            )
        elif (
            sym.orig_type is kconfiglib.BOOL
            and user_str == "y"
            and sym.str_value != "y"
            and sym.choice is None
        ):
            problems.append(
                f"CONFIG_{sym.name}=y in {source} cannot be selected here: it depends on "
                f"{kconfiglib.expr_str(sym.direct_dep)}. Fix: enable that first, or drop the line."
            )
    for choice in kconf.unique_choices:
        for sym in choice.syms:
            if sym.user_value == 2 and choice.selection is not sym and sym.name.startswith(SYMBOL_PREFIX):
                selected = f"CONFIG_{choice.selection.name}" if choice.selection else "nothing"
                if choice.selection is None and not kconfiglib.expr_value(choice.direct_dep):
                    needs = kconfiglib.expr_str(choice.direct_dep)
                    problems.append(
                        f"CONFIG_{sym.name}=y in {source} belongs to a choice that applies only with {needs}, which "
                        "is off now (a line left over from an earlier setting?). Fix: drop the line, or turn "
                        f"{needs} back on."
                    )
                    continue
                problems.append(
                    f"CONFIG_{sym.name}=y in {source} cannot be selected (it depends on "
                    f"{kconfiglib.expr_str(sym.direct_dep)}); {selected} would be used instead. "
                    "Fix: change the setting it depends on first, or drop the line."
                )
    return problems


def load_config(tree: Tree, config: Path, *, strict: bool = True) -> kconfiglib.Kconfig:
    """Load ``config``; with ``strict``, any assignment that did not take is an error."""
    if not config.exists():
        raise WorkflowError(
            f"{config} does not exist. Fix: run `make defconfig-vllm-local` (or another "
            "`make defconfig-<name>`, see `make help`) or `make menuconfig`."
        )
    check_config_text(config)
    kconf = load_kconfig(tree)
    kconf.load_config(str(config), replace=True)
    problems = _assignment_problems(kconf, str(config.name))
    if strict and problems:
        raise WorkflowError("\n".join(problems))
    return kconf


def check_config_text(config: Path) -> None:
    """A .config that is not a readable UTF-8 text file with settings in it, explained."""
    fix = "Fix: start again from a defconfig (`make defconfig-vllm-local`, see `make help`)"
    if config.is_dir():
        raise WorkflowError(f"{config} is a directory, not a configuration. {fix} after moving it away.")
    try:
        data = config.read_bytes()
    except OSError as exc:
        raise WorkflowError(f"{config} cannot be read ({exc.strerror}). {fix}, or fix its permissions.") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise WorkflowError(f"{config}, line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text (a binary "
                            f"paste or another encoding). Fix: correct or delete that line, or {fix[5:]}.") from exc
    if not any(line.startswith(("CONFIG_", "# CONFIG_")) for line in text.splitlines()):
        raise WorkflowError(f"{config} holds no settings (empty or overwritten). {fix} or `make menuconfig`.")
    last = text.splitlines()[-1] if text.splitlines() else ""
    if text and not text.endswith("\n") and last.startswith("CONFIG_") and "=" not in last:
        raise WorkflowError(f"{config} ends in the middle of a line ('{last[:60]}'): it was cut off (a full disk or an "
                            f"interrupted copy?). {fix}, or `make olddefconfig` after removing that line.")


def _config_lines(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGN_RE.match(line)
        if match:
            values[match.group(1)] = match.group(2)
            continue
        match = _UNSET_RE.match(line)
        if match:
            values[match.group(1)] = "n"
    return values


def rendered_config(kconf: kconfiglib.Kconfig) -> str:
    """The .config text kconfiglib would write for the current values."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".config"
        kconf.write_config(str(path), header="", save_old=False)
        return path.read_text()


def stale_settings(kconf: kconfiglib.Kconfig, config: Path) -> list[str]:
    """Settings whose line in ``config`` differs from what the current Kconfig would write."""
    have = _config_lines(config.read_text())
    want = _config_lines(rendered_config(kconf))
    stale = []
    for name in sorted(set(want) | set(have)):
        if name not in have:
            stale.append(f"CONFIG_{name} (missing from the file: removed by hand, or new in this Kconfig; "
                         f"default {want[name]})")
        elif name not in want:
            stale.append(f"CONFIG_{name} (no longer applies)")
        elif have[name] != want[name]:
            stale.append(f"CONFIG_{name} ({have[name]} -> {want[name]})")
    return stale


def check_current(tree: Tree, config: Path) -> kconfiglib.Kconfig:
    """Load ``config`` and insist it matches the current Kconfig exactly."""
    kconf = load_config(tree, config)
    stale = stale_settings(kconf, config)
    if stale:
        raise WorkflowError(
            f"{config.name} does not match the current Kconfig (edited by hand, or written by an older version); "
            "these settings differ:\n  "
            + "\n  ".join(stale)
            + "\nFix: run `make olddefconfig` to take the defaults for them, or `make menuconfig` to choose."
        )
    return kconf


def _write(kconf: kconfiglib.Kconfig, config: Path) -> None:
    if config.exists():
        # The old copy may hold a token the new file no longer has: it is never world-readable.
        old = config.with_name(config.name + ".old")
        old.unlink(missing_ok=True)
        fd = os.open(old, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(config.read_bytes())
        config.unlink()  # kept in .config.old; kconfiglib would read a damaged file to compare
    kconf.write_config(str(config), save_old=False)
    protect_if_secret(kconf, config)


def protect_if_secret(kconf: kconfiglib.Kconfig, config: Path) -> None:
    """A .config that holds a token or key must not be world-readable."""
    if any(kconf.syms[name].str_value for name in SECRET_SYMBOLS if name in kconf.syms):
        os.chmod(config, 0o600)
        old = config.with_name(config.name + ".old")
        if old.exists():
            os.chmod(old, 0o600)


def defconfig(tree: Tree, name: str, config: Path) -> None:
    """Write ``config`` from ``defconfigs/<name>`` (minimal form) plus defaults."""
    source = tree.defconfigs / name
    if not source.is_file():
        raise WorkflowError(
            f"unknown defconfig '{name}'. Available: {', '.join(tree.defconfig_names())}. "
            f"Fix: `make defconfig-<one of those>`."
        )
    kconf = load_config(tree, source)
    _write(kconf, config)


def olddefconfig(tree: Tree, config: Path) -> list[str]:
    """Bring ``config`` up to date with the Kconfig; return the settings that changed."""
    kconf = load_config(tree, config, strict=False)
    stale = stale_settings(kconf, config)
    _write(kconf, config)
    return stale


def savedefconfig(tree: Tree, config: Path, output: Path) -> list[str]:
    """Write the minimal form of ``config`` (only what differs from defaults), without secrets:
    a defconfig is meant to be shared. Returns the secret settings left out."""
    kconf = check_current(tree, config)
    text = kconf._min_config_contents(header="")
    kept, dropped = [], []
    for line in text.splitlines(keepends=True):
        name = line.split("=", 1)[0].removeprefix("CONFIG_") if line.startswith("CONFIG_") else ""
        (dropped if name in SECRET_SYMBOLS else kept).append(name or line)
    if output.is_dir():
        raise WorkflowError(f"{output} is a directory. Fix: remove it or move it away, then run make savedefconfig.")
    write_atomic(output, "".join(line for line in text.splitlines(keepends=True)
                                 if line.split("=", 1)[0].removeprefix("CONFIG_") not in SECRET_SYMBOLS))
    return [f"CONFIG_{d}" for d in dropped]
