"""File-system helpers: writes that never leave a half-written file behind, and a cheap
check that a path below the profile root crosses no symlink."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

MISSING: Final = -1


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`.

    A crash or an error mid-write leaves the old file as it was: readers (editors, CI, other
    processes) see either the old content or the new, never a mix.
    """
    import tempfile  # only writers pay for it; loading imports this module too

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


def mode_without_links(root: str, parts: Sequence[str]) -> int | None:
    """`st_mode` of root/parts[0]/... when no component below `root` is a symlink (so the
    path cannot lead out of the root, wherever the root itself points); `MISSING` when a
    component does not exist; None when only resolving can tell (a link on the way, or an
    unusual error). One lstat per component instead of resolving both paths from `/`: this
    runs for every layer and prompt of every load. `parts` must be checked names (no `..`)."""
    current = root
    mode = 0
    for part in parts:
        current = os.path.join(current, part)  # noqa: PTH118 - strings: this runs per load
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return MISSING
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(mode):
            return None
    return mode
