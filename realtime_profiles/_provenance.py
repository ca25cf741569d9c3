"""Who wrote what: a side table of writes by path, and the locator that turns a path into the
file:line:col of the write that won there.

Provenance lives beside the data, never inside it (OmegaConf's design notes explain why it goes
stale in a mutable tree). The hot path folds without it; a problem report or `explain` folds
again with a `Provenance` — the fold is deterministic, so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ._layer import Source
from ._paths import PathKey, ref_target, render_path
from .errors import Mark, Problem

WriteOp = Literal["set", "merge", "append", "delete", "reference"]


@dataclass(frozen=True, slots=True)
class Write:
    """One layer's write at one path, as `explain` shows it."""

    op: WriteOp
    source: Source | None
    mark: Mark | None
    value: Any = None
    via: str | None = None
    through: Mark | None = None
    """For a value copied from a preset: where the reference that copied it is written."""

    def describe(self) -> str:
        """`profiles/base.yaml:3:5 (base)` or `environment variable X`."""
        where = self.mark.render() if self.mark else "?"
        if self.source is not None and self.source.kind not in ("environment", "override",
                                                                "call"):
            where = f"{where} ({self.source.kind})"
        return f"{where}, {self.via}" if self.via else where


@dataclass
class Provenance:
    """Side table of writes by path."""

    writes: dict[PathKey, list[Write]] = field(default_factory=dict)
    # prefix -> the recorded paths under it, so copying a subtree never scans every write
    _below: dict[PathKey, dict[PathKey, None]] = field(default_factory=dict, repr=False)

    def record(self, path: PathKey, write: Write) -> None:
        self._index(path)
        self.writes.setdefault(path, []).append(write)

    def _index(self, path: PathKey) -> None:
        if path not in self._below.get(path, ()):
            for cut in range(len(path) + 1):
                self._below.setdefault(path[:cut], {})[path] = None

    def chain(self, path: PathKey) -> list[Write]:
        return list(self.writes.get(path, ()))

    def copy_subtree(self, target: PathKey, dest: PathKey, reference: Write) -> None:
        """A preset copied to `dest` brings the history of every value under `target`."""
        size = len(target)
        where = reference.mark.render() if reference.mark else "?"
        for path in list(self._below.get(target, ())):
            writes = self.writes.get(path)
            if writes:
                note = f"as {render_path(path)} via {reference.value} at {where}"
                self._index(dest + path[size:])
                self.writes.setdefault(dest + path[size:], []).extend(
                    replace(w, via=note, through=w.through or reference.mark) for w in writes)

    def last_write(self, path: PathKey) -> Write | None:
        """The write that won at `path` or, if none is recorded there, its nearest ancestor."""
        for cut in range(len(path), 0, -1):
            chain = self.writes.get(path[:cut])
            if chain:
                return chain[-1]
        return None

    def writes_for(self, path: PathKey) -> list[Write]:
        """The writes at `path`; inside a referenced value, those of what it refers to."""
        writes = self.chain(path)
        if writes:
            return writes
        for cut in range(len(path) - 1, 0, -1):
            chain = self.chain(path[:cut])
            if chain:
                target = ref_target(chain[-1].value)
                if target is not None:
                    return [*chain, *self.writes_for(target + path[cut:])]
                return chain
        return []


class Locator:
    """Maps a path to the mark of the write that won there (and the references it went
    through), from a provenance computed on first use."""

    def __init__(self, provenance: Any) -> None:
        self._make = provenance
        self._prov: Provenance | None = None

    def provenance(self) -> Provenance:
        if self._prov is None:
            self._prov = self._make()
        return self._prov

    def __call__(self, path: PathKey, key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        return self._locate(path, (path,), 1, key)

    def _locate(self, path: PathKey, seen: tuple[PathKey, ...], floor: int,
                key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        """The last write at `path` or its nearest written ancestor (not above `floor`);
        a write that is a pure reference is followed to where the value was defined (unless
        the question is where the key itself was written)."""
        prov = self.provenance()
        for cut in range(len(path), floor - 1, -1):
            chain = prov.writes.get(path[:cut])
            if not chain:
                continue
            last = chain[-1]
            target = ref_target(last.value)
            if target is not None and not (key and cut == len(path)):
                followed = target + path[cut:]
                if followed in seen and len(seen) > 1:
                    return None, ()  # a cycle: located where the first reference of it is
                if len(seen) < 16 and followed not in seen:
                    mark, via = self._locate(followed, (*seen, followed), len(target))
                    if mark is not None:
                        return mark, (*(m for m in (last.mark,) if m is not None), *via)
            return last.mark, (last.through,) if last.through is not None else ()
        return None, ()

    def attach(self, problem: Problem) -> Problem:
        """`problem` with the mark of its path, unless it has one (or no path)."""
        if problem.mark is not None or not problem.key:
            return problem
        mark, via = self(problem.key)
        return replace(problem, mark=mark, via=via)

    def winner(self, path: PathKey) -> tuple[Mark | None, bool] | None:
        """(mark, tracked) of the write that won at `path` or its nearest ancestor."""
        write = self.provenance().last_write(path)
        if write is None:
            return None
        return write.mark, write.source is not None and write.source.tracked
