"""Writing the controller's files: the one atomic writer (a leaf: imports nothing of ours).

A reader — a second make, a CI job collecting results — and a command stopped half-way see a
file's old content or its new one, never a part: the text goes to a temporary file beside it,
renamed over it. No fsync: the files are results and settings a rerun makes again. The target
hosts have their own writer in the standalone agent (``target/supervisor_agent.write_private``).
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` (file mode ``mode``); a failed write leaves the old file and no
    temporary one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # the umask narrowed os.open's mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, text: str, mode: int) -> bool:
    """Write atomically with ``mode`` unless ``path`` already holds ``text`` (then keep it and its
    mtime, and only set the mode). True when written."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        os.chmod(path, mode)
        return False
    write_atomic(path, text, mode)
    return True
