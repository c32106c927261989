#!/usr/bin/env python3
"""Install the Ansible collections we need into a project-local path, offline.

Ansible Galaxy is not reachable from our machines, but the PyPI ``ansible``
wheel bundles the collections. We download that one pinned wheel with pip,
verify its sha256, and extract only the collections listed below into
``--dest`` (ansible.cfg points collections_path there). Idempotent: a
collection whose MANIFEST.json version already matches is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ANSIBLE_WHEEL = "ansible==12.3.0"
ANSIBLE_WHEEL_FILE = "ansible-12.3.0-py3-none-any.whl"
ANSIBLE_WHEEL_SHA256 = "cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414"
COLLECTIONS = {"kubernetes.core": "6.2.0", "ansible.posix": "2.1.0"}


def installed_version(dest: Path, fqcn: str) -> str | None:
    namespace, name = fqcn.split(".")
    manifest = dest / "ansible_collections" / namespace / name / "MANIFEST.json"
    try:
        return json.loads(manifest.read_text())["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(wheel: Path, dest: Path, fqcn: str) -> str:
    namespace, name = fqcn.split(".")
    prefix = f"ansible_collections/{namespace}/{name}/"
    target = dest / "ansible_collections" / namespace / name
    if target.exists():
        shutil.rmtree(target)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith(prefix)]
        if not members:
            raise SystemExit(f"error: {fqcn} is not in {wheel.name}")
        for member in members:
            archive.extract(member, dest)
    version = installed_version(dest, fqcn)
    return version or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, required=True, help="collections path to install into")
    args = parser.parse_args()
    missing = [c for c, v in COLLECTIONS.items() if installed_version(args.dest, c) != v]
    if not missing:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f">> downloading {ANSIBLE_WHEEL} for {', '.join(missing)}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
             "-d", tmp, ANSIBLE_WHEEL],
            check=True,
        )
        wheel = Path(tmp) / ANSIBLE_WHEEL_FILE
        actual = sha256(wheel)
        if actual != ANSIBLE_WHEEL_SHA256:
            raise SystemExit(f"error: {wheel.name} sha256 {actual} != pinned {ANSIBLE_WHEEL_SHA256}")
        for fqcn in missing:
            version = extract(wheel, args.dest, fqcn)
            if version != COLLECTIONS[fqcn]:
                raise SystemExit(f"error: {fqcn} in {wheel.name} is {version}, pinned {COLLECTIONS[fqcn]}")
            print(f">> installed {fqcn} {version} into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
