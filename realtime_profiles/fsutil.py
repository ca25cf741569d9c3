"""Writes that never leave a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`.

    A crash or an error mid-write leaves the old file as it was: readers (editors, CI, other
    processes) see either the old content or the new, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        staged = Path(temp)
        staged.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
        staged.replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
