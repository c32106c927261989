"""The controller's one atomic writer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vllm_workflow import files


def test_write_atomic_replaces_with_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    old = os.umask(0o077)  # the mode asked for, whatever the umask
    try:
        files.write_atomic(path, "new", 0o644)
    finally:
        os.umask(old)
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "summary.json"
    path.write_text("complete old text")

    def full_disk(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(path, "half of the new text")
    assert path.read_text() == "complete old text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_write_if_changed_keeps_an_unchanged_file_and_its_mtime(tmp_path: Path) -> None:
    path = tmp_path / ".secrets.yaml"
    assert files.write_if_changed(path, "a: 1\n", 0o600) is True
    os.utime(path, (1_000_000, 1_000_000))
    path.chmod(0o644)
    assert files.write_if_changed(path, "a: 1\n", 0o600) is False
    assert path.stat().st_mtime == 1_000_000 and path.stat().st_mode & 0o777 == 0o600
    assert files.write_if_changed(path, "a: 2\n", 0o600) is True and path.read_text() == "a: 2\n"
