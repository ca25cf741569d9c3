"""The resolvers a profile may call: `${oc.env:NAME[,default]}` and `${file:path}`.

Plain functions bound to one loader's environment and root, never registered in OmegaConf's
process-wide table: two loaders, two threads and the application's own resolvers cannot
collide. Each composition uses copies bound to its own `Reads`, which records exactly what
was read — the value of each variable, the identity of the bytes of each file — so a cached
profile is revalidated against what it was made of, not against a later look.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ._files import (
    NOT_THERE,
    NotRegularError,
    StatKey,
    TooLargeError,
    mode_without_links,
    read_bounded,
    stat_key,
)
from ._limits import MAX_PROMPT_BYTES
from .errors import Suggestions

Resolver = Callable[..., Any]


class ResolverError(Exception):
    """A resolver could not produce a value; the message is shown with the key's location."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class MissingVariableError(ResolverError):
    """`${oc.env:NAME}` without a default, and NAME is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set",
                         f"set it, or give a default: ${{oc.env:{name},default}}")
        self.name = name


_NO_DEFAULT: Final = object()
_UNSET: Final = object()


class Reads:
    """What one composition's resolvers read, in order: each variable with the value read
    (None: unset), each file with the identity of the bytes read (None: nothing was read),
    and the composition's did-you-mean budget."""

    __slots__ = ("env", "files", "suggest")

    def __init__(self, suggest: Suggestions | None = None) -> None:
        self.env: list[tuple[str, str | None]] = []
        self.files: list[tuple[str, StatKey | None]] = []
        self.suggest = suggest if suggest is not None else Suggestions()


@dataclass(frozen=True, slots=True)
class EnvResolver:
    """`${oc.env:NAME,default}` with OmegaConf's rules, reading this loader's environment."""

    environ: Mapping[str, str]
    reads: Reads | None = None

    def recording(self, reads: Reads) -> EnvResolver:
        """This resolver, recording what it reads into `reads` (one composition's)."""
        return EnvResolver(self.environ, reads)

    def __call__(self, name: Any = None, default: Any = _NO_DEFAULT, *extra: Any) -> Any:
        if not isinstance(name, str) or not name or extra:
            raise ResolverError("oc.env takes a variable name and an optional default",
                                "write ${oc.env:NAME} or ${oc.env:NAME,default}")
        value = self.environ.get(name, _UNSET)  # one lookup: the variable may change meanwhile
        if self.reads is not None:
            self.reads.env.append((name, value if isinstance(value, str) else None))
        if isinstance(value, str):
            try:  # os.environ turns bytes that are not UTF-8 into lone surrogates
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ResolverError(f"environment variable {name} is not UTF-8 text",
                                    "set it to UTF-8 text") from None
            return value
        if default is _NO_DEFAULT:
            raise MissingVariableError(name)
        return None if default is None else str(default)


@dataclass(frozen=True, slots=True)
class FileResolver:
    """`${file:prompts/support.md}`: text of a file below the profile root.

    Confined to the root after resolving symlinks, size-capped, UTF-8, trailing newline
    stripped (editors add one; prompts rarely mean it).
    """

    root: Path
    reads: Reads | None = None

    def recording(self, reads: Reads) -> FileResolver:
        """This resolver, recording what it reads into `reads` (one composition's)."""
        return FileResolver(self.root, reads)

    def __call__(self, relative: Any = None, *extra: Any) -> str:
        if not isinstance(relative, str) or not relative or extra:
            raise ResolverError("file takes one relative path", "write ${file:prompts/x.md}")
        if "\x00" in relative:
            raise ResolverError("file path holds a NUL character", "write ${file:prompts/x.md}")
        candidate = Path(relative)
        if candidate.is_absolute() or ".." in candidate.parts:
            raise ResolverError(f"file path {relative!r} must stay inside the profile root",
                                "use a path relative to the root, without '..'")
        # What a cache revalidates: this path (a link on it is followed) against the
        # identity of the bytes read, taken from the descriptor that read them. A read that
        # fails records the identity seen before it: any change makes the profile stale.
        where = os.path.join(os.fspath(self.root), relative)  # noqa: PTH118
        before = stat_key(where) if self.reads is not None else None
        try:
            text, key = self._resolve(relative, candidate)
        except ResolverError:
            if self.reads is not None:
                self.reads.files.append((where, before))
            raise
        if self.reads is not None:
            self.reads.files.append((where, key))
        return text

    def _resolve(self, relative: str, candidate: Path) -> tuple[str, StatKey]:
        parts = relative.split("/")
        if os.sep == "/" and all(part not in ("", ".", "..") for part in parts):
            mode = mode_without_links(os.fspath(self.root), parts)
            if mode is not None and mode != NOT_THERE and stat.S_ISREG(mode):
                # no link on the way: inside the root wherever the root itself points
                return self._read(os.path.join(os.fspath(self.root), *parts), relative)  # noqa: PTH118
        root = self.root.resolve()
        path = (root / candidate).resolve()
        if not path.is_relative_to(root):
            raise ResolverError(f"file path {relative!r} leaves the profile root (symlink)")
        if path.is_dir():
            raise ResolverError(f"file {relative!r} is a directory")
        return self._read(path, relative, root, candidate)

    def _read(self, path: str | Path, relative: str, root: Path | None = None,
              candidate: Path | None = None) -> tuple[str, StatKey]:
        """The file's text (at most MAX_PROMPT_BYTES of UTF-8), trailing newline stripped,
        and the identity of the bytes read."""
        try:
            read = read_bounded(path, MAX_PROMPT_BYTES)
            text = read.data.decode("utf-8")
        except FileNotFoundError:
            nearby = None
            if root is not None and candidate is not None:
                nearby = _nearby(root, candidate, self.reads.suggest if self.reads else None)
            raise ResolverError(f"file {relative!r} does not exist under the profile root",
                                nearby) from None
        except IsADirectoryError:
            raise ResolverError(f"file {relative!r} is a directory") from None
        except NotRegularError:  # a FIFO or a device would block or never end
            raise ResolverError(f"file {relative!r} is not a regular file") from None
        except TooLargeError as exc:
            size = f"is {exc.size} bytes, over" if exc.size is not None else "is over"
            raise ResolverError(f"file {relative!r} {size} the {MAX_PROMPT_BYTES}-byte "
                                "limit") from None
        except UnicodeDecodeError:
            raise ResolverError(f"file {relative!r} is not UTF-8 text") from None
        except OSError as exc:
            raise ResolverError(f"cannot read file {relative!r}: {exc.strerror}") from None
        return (text[:-1] if text.endswith("\n") else text), read.key


def _nearby(root: Path, candidate: Path, suggest: Suggestions | None) -> str | None:
    """`did you mean 'prompts/support.md'?` from the files beside the missing one: read
    lazily and charged to the composition's budget, so N missing prompts in a folder of N
    files cost O(N), not N listings."""
    from .errors import mean

    folder = os.path.join(os.fspath(root), os.fspath(candidate.parent))  # noqa: PTH118
    try:
        entries = os.scandir(folder)
    except (OSError, ValueError):
        return None
    parent = candidate.parent

    def names() -> Iterator[str]:
        for entry in entries:
            try:
                if entry.is_file():
                    yield str(parent / entry.name)
            except OSError:
                continue

    with entries:
        return mean((suggest or Suggestions()).closest(str(candidate), names()))


def default_resolvers(root: Path, environ: Mapping[str, str] | None) -> dict[str, Resolver]:
    """This loader's resolver table."""
    return {
        "oc.env": EnvResolver(os.environ if environ is None else environ),
        "file": FileResolver(root),
    }


def recording(resolvers: Mapping[str, Resolver], reads: Reads) -> dict[str, Resolver]:
    """One composition's resolver table: the built-in resolvers bound to `reads` (a custom
    resolver under the same name stays as it is; it makes the profile uncacheable)."""
    table = dict(resolvers)
    for name, resolver in table.items():
        if isinstance(resolver, EnvResolver | FileResolver):
            table[name] = resolver.recording(reads)
    return table
