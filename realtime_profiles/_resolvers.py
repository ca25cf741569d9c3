"""The resolvers a profile may call: `${oc.env:NAME[,default]}` and `${file:path}`.

Plain functions bound to one loader's environment and root, never registered in OmegaConf's
process-wide table: two loaders, two threads and the application's own resolvers cannot
collide.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ._files import NOT_THERE, NotRegularError, TooLargeError, mode_without_links, read_bounded
from ._limits import MAX_PROMPT_BYTES

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


@dataclass(frozen=True, slots=True)
class EnvResolver:
    """`${oc.env:NAME,default}` with OmegaConf's rules, reading this loader's environment."""

    environ: Mapping[str, str]

    def __call__(self, name: Any = None, default: Any = _NO_DEFAULT, *extra: Any) -> Any:
        if not isinstance(name, str) or not name or extra:
            raise ResolverError("oc.env takes a variable name and an optional default",
                                "write ${oc.env:NAME} or ${oc.env:NAME,default}")
        if name in self.environ:
            return self.environ[name]
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

    def __call__(self, relative: Any = None, *extra: Any) -> str:
        if not isinstance(relative, str) or not relative or extra:
            raise ResolverError("file takes one relative path", "write ${file:prompts/x.md}")
        if "\x00" in relative:
            raise ResolverError("file path holds a NUL character", "write ${file:prompts/x.md}")
        candidate = Path(relative)
        if candidate.is_absolute() or ".." in candidate.parts:
            raise ResolverError(f"file path {relative!r} must stay inside the profile root",
                                "use a path relative to the root, without '..'")
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
              candidate: Path | None = None) -> str:
        """The file's text (at most MAX_PROMPT_BYTES of UTF-8), trailing newline stripped."""
        try:
            data = read_bounded(path, MAX_PROMPT_BYTES).data
            text = data.decode("utf-8")
        except FileNotFoundError:
            nearby = _nearby(root, candidate) if root is not None and candidate else None
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
        return text[:-1] if text.endswith("\n") else text


def _nearby(root: Path, candidate: Path) -> str | None:
    from .errors import did_you_mean, mean

    folder = root / candidate.parent
    if not folder.is_dir():
        return None
    names = [str(candidate.parent / p.name) for p in folder.iterdir() if p.is_file()]
    return mean(did_you_mean(str(candidate), names))



def default_resolvers(root: Path, environ: Mapping[str, str] | None) -> dict[str, Resolver]:
    """This loader's resolver table."""
    return {
        "oc.env": EnvResolver(os.environ if environ is None else environ),
        "file": FileResolver(root),
    }
