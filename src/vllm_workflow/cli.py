"""vllm-workflow: the one command-line entry point the make targets call.

Every subcommand prints what it did; errors name the setting and the fix and
exit 2 without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import WorkflowError
from .files import write_atomic

Handler = Callable[[argparse.Namespace], int]

# make turns every failing command into its own exit status 2, so a verdict's code (A/B: 1 regression,
# 2 inconclusive; --bisect: 125 skip) cannot come through `make`. scripts/make-verdict runs make with
# this variable naming a file; the commands below, whose exit code is a verdict, write it there.
EXIT_FILE_ENV = "VLLM_WORKFLOW_EXIT_FILE"
VERDICT_COMMANDS = frozenset({"ab", "ab-compare", "measure", "history", "quick-test", "fault-test", "routing-check"})


def _tree(args: argparse.Namespace):
    from .kconfig import Tree

    return Tree(Path(args.root).resolve())


def cmd_defconfig(args: argparse.Namespace) -> int:
    from .kconfig import defconfig

    defconfig(_tree(args), args.name, Path(args.config))
    print(f"Configuration written to {args.config} from defconfigs/{args.name}. Next: make && make bringup")
    return 0


def cmd_olddefconfig(args: argparse.Namespace) -> int:
    from .kconfig import olddefconfig

    changed = olddefconfig(_tree(args), Path(args.config))
    if changed:
        print(f"Updated {args.config} (old copy in {args.config}.old):\n  " + "\n  ".join(changed))
    else:
        print(f"{args.config} is up to date.")
    return 0


def cmd_savedefconfig(args: argparse.Namespace) -> int:
    from .kconfig import savedefconfig

    dropped = savedefconfig(_tree(args), Path(args.config), Path(args.output))
    print(f"Minimal configuration written to {args.output}")
    if dropped:
        print(f"Left out {', '.join(dropped)}: a defconfig is meant to be shared. Keep secrets in .config "
              "(mode 0600) or give them in the environment (HF_TOKEN, VLLM_API_KEY).")
    return 0


def cmd_vars(args: argparse.Namespace) -> int:
    from . import config, files, validate
    from .kconfig import check_current, protect_if_secret

    kconf = check_current(_tree(args), Path(args.config))
    values = config.extra_vars(kconf)
    problems = validate.check(values)
    if problems:
        raise WorkflowError("the configuration cannot work:\n  " + "\n  ".join(problems))
    protect_if_secret(kconf, Path(args.config))
    changed = files.write_if_changed(Path(args.output), config.dump_yaml(values, config.VARS_HEADER), 0o644)
    secrets = config.secret_vars(kconf, os.environ)
    bad = config.secret_problems(secrets)
    if bad:
        raise WorkflowError("the configuration cannot work:\n  " + "\n  ".join(bad))
    dropped = config.dropped_secrets(Path(args.secrets), secrets)
    files.write_if_changed(Path(args.secrets), config.dump_yaml(secrets, config.SECRETS_HEADER), 0o600)
    for name in dropped:
        print(f"⚠️  {name} was set for the last deploy and is empty now (it came from the environment of one "
              f"command?): the next deploy runs WITHOUT it. Fix: set it in .config or export it for every make.",
              file=sys.stderr)
    if changed:
        print(f"Wrote {args.output} ({len(values)} settings) and {args.secrets} (mode 0600).")
    return 0


def cmd_kdevops_vars(args: argparse.Namespace) -> int:
    """From a kdevops tree: our settings from kdevops' .config and inventory (the plugin's make step)."""
    from . import config, files, kdevops, validate
    from .settings import Settings

    kconf, extra, notes = kdevops.settings(Path(args.config), Path(args.kdevops_vars), Path(args.inventory))
    names = set(kdevops.kconf_symbols(kdevops.Tree(kdevops.package_tree())))
    for note in notes:
        print(f"⚠️  {note}", file=sys.stderr)
    values = config.extra_vars(kconf) | extra
    problems = validate.check(values)
    if problems:
        raise WorkflowError(kdevops.kdevops_names("the configuration cannot work:\n  " + "\n  ".join(problems), names))
    secrets = config.secret_vars(kconf, os.environ)
    kdevops.protect_secrets(kconf, Path(args.config))
    bad = config.secret_problems(secrets)
    if bad:
        raise WorkflowError(kdevops.kdevops_names("the configuration cannot work:\n  " + "\n  ".join(bad), names))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    changed = files.write_if_changed(out, config.dump_yaml(values, config.VARS_HEADER), 0o644)
    files.write_if_changed(Path(args.secrets), config.dump_yaml(secrets, config.SECRETS_HEADER), 0o600)
    if changed:
        s = Settings(values)
        arms = extra["vllm_kdevops"]["arms"] if s.ab_testing else {}
        where = ", ".join(f"{h} ({a})" for h, a in arms.items()) or s.declared_hosts
        print(f"Wrote {out} ({len(values)} settings) for {where}, and {args.secrets} (mode 0600).")
    return 0


def cmd_inventory(args: argparse.Namespace) -> int:
    from . import config, files, inventory

    values = config.load_vars(Path(args.extra_vars))
    text = inventory.render(values, args.python)
    if files.write_if_changed(Path(args.output), text, 0o644):
        print(f"Inventory written to {args.output}:")
        print(text.split("\n", 1)[1], end="")
    else:
        print(f"Inventory {args.output} is up to date.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vllm-workflow",
        description="Deploy, check, benchmark and A/B-compare the vLLM Production Stack. "
        "The make targets call these subcommands; `make help` lists the targets.",
    )
    parser.add_argument("--root", default=".", help="project root holding Kconfig and defconfigs/ (default: .)")
    parser.add_argument("--config", default=".config", help="the .config file (default: .config)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("defconfig", cmd_defconfig, "write .config from defconfigs/NAME plus the Kconfig defaults")
    p.add_argument("name", help="a file name in defconfigs/, e.g. vllm-local")
    add("olddefconfig", cmd_olddefconfig, "update .config for the current Kconfig, taking defaults for new settings")
    p = add("savedefconfig", cmd_savedefconfig, "write the minimal form of .config (what differs from defaults)")
    p.add_argument("--output", default="defconfig", help="where to write it (default: defconfig)")
    p = add("kdevops-vars", cmd_kdevops_vars,
            "from a kdevops tree (the plugin's make targets): check the plugin's settings in kdevops' .config and write "
            "ours, with the hosts and arms of kdevops' inventory and the kernel kdevops built")
    p.add_argument("--kdevops-vars", default="extra_vars.yaml", help="kdevops' extra_vars.yaml (kernel facts)")
    p.add_argument("--inventory", default="hosts", help="kdevops' inventory (default: hosts)")
    p.add_argument("--output", required=True, help="our settings file to write")
    p.add_argument("--secrets", default=".secrets.yaml", help="secrets file, mode 0600 (default: .secrets.yaml)")
    p = add("vars", cmd_vars, "check .config and write extra_vars.yaml and the 0600 secrets file")
    p.add_argument("--output", default="extra_vars.yaml", help="extra vars file (default: extra_vars.yaml)")
    p.add_argument("--secrets", default=".secrets.yaml", help="secrets file (default: .secrets.yaml)")
    p = add("inventory", cmd_inventory, "write the Ansible inventory for the configured hosts")
    p.add_argument("--extra-vars", default="extra_vars.yaml", help="generated extra vars (default: extra_vars.yaml)")
    p.add_argument("--output", default="hosts", help="inventory file (default: hosts)")
    p.add_argument("--python", default=sys.executable, help="Python for localhost (default: this one)")
    from . import stack_cli
    from .local import cli as local_cli

    local_cli.register(add)
    stack_cli.register(add)
    from .benchmark import cli as benchmark_cli

    benchmark_cli.register(add)
    from .ab import cli as ab_cli

    ab_cli.register(add)
    from .fault import cli as fault_cli

    fault_cli.register(add)
    from .history import cli as history_cli

    history_cli.register(add)
    from . import measure

    measure.register(add)
    from .kubernetes import cli as kubernetes_cli

    kubernetes_cli.register(add)
    return parser


def _record(results: Path, folder: Path) -> None:
    """Record one written folder in the results index (its SQLite and NumPy load only then)."""
    from .history.index import record

    record(results, folder)


def _record_results() -> None:
    """Every bundle and comparison a command writes goes into the results index (issue 26), and the
    fault workload plugs into the benchmark (so benchmark does not import fault)."""
    from .benchmark import bundle, extensions
    from .fault.extension import EXTENSION

    if _record not in bundle.WRITTEN:
        bundle.WRITTEN.append(_record)
    extensions.register(EXTENSION)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _record_results()
    args = parser.parse_args(argv)
    code = _run(args)
    if args.command in VERDICT_COMMANDS:
        write_exit_code(code)
    return code


def write_exit_code(code: int) -> None:
    """Leave the verdict's own exit code where scripts/make-verdict reads it (only when it asked)."""
    path = os.environ.get(EXIT_FILE_ENV)
    if not path:
        return
    try:
        write_atomic(Path(path), f"{code}\n")
    except OSError as exc:
        print(f"warning: could not record the exit code in {path} ({EXIT_FILE_ENV}): {exc.strerror}",
              file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IsADirectoryError as exc:
        print(f"error: {exc.filename} is a directory where a file belongs. Fix: move it away; make writes the "
              "file again.", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(f"error: no permission to write or read {exc.filename}. Fix: run make as the owner of the checkout, or "
              "make it writable (a read-only checkout cannot hold .config, extra_vars.yaml and results).",
              file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"error: {exc.filename}: {exc.strerror}. Fix: check the file and the disk (free space, a read-only "
              "file system), then run the command again.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
