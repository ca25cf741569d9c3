"""File-system access for the whole package: one bounded reader, one file identity for the
caches, one link-free path walk, and writes that never leave a half-written file behind.

Reading and identifying a file are one step: the identity recorded for a cache is the `fstat`
of the descriptor that was read, and the path is checked again after the read, so a file
replaced while it was read is read again instead of caching old content under new stats.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

StatKey = tuple[int, int, int, int]
"""What identifies a file's content for the caches: inode, size, mtime and ctime (ns)."""

NOT_THERE: Final = -1
"""`mode_without_links`: a component of the path does not exist."""


class TooLargeError(OSError):
    """The file is over the reader's byte limit (the size is known when `size` is set)."""

    def __init__(self, size: int | None) -> None:
        super().__init__("file too large")
        self.size = size


class NotRegularError(OSError):
    """A FIFO, device or socket: reading would block or never end."""


class FileRead(NamedTuple):
    """Bytes read from a file and the identity of exactly what was read."""

    data: bytes
    key: StatKey


def _key(info: os.stat_result) -> StatKey:
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def stat_key(path: str | os.PathLike[str]) -> StatKey | None:
    """The identity of the file at `path` now, or None when there is none (or the path is
    not a valid file name at all, e.g. it holds a NUL)."""
    try:
        return _key(os.stat(path))  # noqa: PTH116 - strings: this runs per file per load
    except (OSError, ValueError):
        return None


def read_bounded(path: str | os.PathLike[str], limit: int, *, attempts: int = 3) -> FileRead:
    """At most `limit` bytes of a regular file, with the identity of what was read.

    Raises `TooLargeError`, `NotRegularError`, or the `OSError` of opening or reading (a path
    with a NUL in it is an `OSError` too, never a `ValueError`). When the path is replaced
    while it is read (an atomic save), the read is repeated, up to `attempts` times.
    """
    for attempt in range(attempts):
        try:  # non-blocking: opening a FIFO for reading would otherwise wait for a writer
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except ValueError as exc:  # `embedded null byte`: not a file name
            raise FileNotFoundError(2, f"invalid file name ({exc})") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise NotRegularError("not a regular file")
            if info.st_size > limit:
                raise TooLargeError(info.st_size)
            data = handle.read(limit + 1)  # bounded: the file may grow after the fstat
        if len(data) > limit:
            raise TooLargeError(None)
        key = _key(info)
        if stat_key(path) == key or attempt == attempts - 1:
            return FileRead(data, key)
    raise AssertionError("unreachable")  # pragma: no cover


def mode_without_links(root: str, parts: Sequence[str]) -> int | None:
    """`st_mode` of root/parts[0]/... when no component below `root` is a symlink (so the
    path cannot lead out of the root, wherever the root itself points); `NOT_THERE` when a
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
            return NOT_THERE
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(mode):
            return None
    return mode


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
