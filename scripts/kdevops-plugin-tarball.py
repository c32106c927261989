#!/usr/bin/env python3
"""Write .kdevops-<version>.tar.xz: the kdevops plugin (.kdevops/) with the workflow's committed tree
inside it as payload.tar.gz, for `make kdevops-plugin-add URL=/path/to/.kdevops-<version>.tar.xz`
(kdevops copies only .kdevops/ of what it installs, so the tree travels inside it).

    python3 scripts/kdevops-plugin-tarball.py [--output DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", default=str(ROOT), help="folder to write the tarball to (default: the checkout)")
    args = ap.parse_args()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    if dirty:
        print("⚠️  uncommitted changes are not in the tarball (it holds the committed tree, HEAD)", file=sys.stderr)
    out = Path(args.output) / f".kdevops-{version}.tar.xz"
    with tempfile.TemporaryDirectory() as tmp:
        plugin = Path(tmp) / ".kdevops"
        shutil.copytree(ROOT / ".kdevops", plugin, ignore=shutil.ignore_patterns("__pycache__"))
        with open(plugin / "payload.tar.gz", "wb") as payload:
            subprocess.run(["git", "archive", "--format=tar.gz", "HEAD"], cwd=ROOT, stdout=payload, check=True)
        with tarfile.open(out, "w:xz") as tar:
            tar.add(plugin, arcname=".kdevops")
    print(f"Wrote {out}: make kdevops-plugin-add URL={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
