"""The one record every source produces: a `Layer`.

A file, an environment variable and an override typed on the command line all become a
`Layer` with a `Source` and marks, so the fold and provenance have one input type, and a new
kind of layer is a new source plus one entry in the precedence tuple (`_sources.PRECEDENCE`).
File layers carry a tree (`data`, merged key by key); path-addressed layers — overrides and
environment variables — carry `edits` (set, add, add-or-replace, delete, append at one path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ._paths import PathKey
from .errors import Mark, Problem

DOCUMENT_SECTIONS: Final = ("agent", "run_config", "model_config", "start_messages",
                             "client_messages")
"""What a profile emits (`agent`: what the RealtimeAgent takes that is data)."""
SECTIONS: Final = ("vars", "run_config", "model_config", "start_messages", "client_messages",
                   "agent")
"""What values live in: the emitted sections and `vars` (overrides address these)."""
CONTROL_SECTIONS: Final = ("facets", "overridable", "fingerprint")
"""What the loader itself reads (facet declarations, the per-call contract, fingerprint
stamping); never emitted, never interpolated."""
LAYER_KEYS: Final = (*SECTIONS, *CONTROL_SECTIONS)
ENV_PREFIX: Final = "REALTIME_PROFILES__"
"""Environment variables named so are overrides (`REALTIME_PROFILES__RUN_CONFIG__...`)."""

LayerKind = Literal["base", "env", "agent", "facet", "agent-facet", "agent@env", "local",
                    "environment", "override", "call"]
EditKind = Literal["set", "add", "force", "delete", "append"]


class _Delete:
    """The `!delete` tombstone: removes the inherited key it is written on."""

    _instance: _Delete | None = None

    def __new__(cls) -> _Delete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "!delete"


DELETE: Final = _Delete()


@dataclass(frozen=True, slots=True)
class Append:
    """`key+: [...]`: items added to the end of the inherited list."""

    items: list[Any]


class Verbatim:
    """A value that is data, never a template: what a caller passes per call. Folded like any
    value, and never interpolated, so `${oc.env:KEY}` sent by a caller stays that text."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Verbatim({self.value!r})"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a layer comes from. `tracked` layers are in git: no literal secrets there."""

    kind: LayerKind
    label: str
    tracked: bool


@dataclass(frozen=True, slots=True)
class Edit:
    """One path-addressed write (Hydra's override grammar): `set` replaces a key that is set,
    `add` adds one that is not, `force` adds or replaces, `delete` removes, `append` extends a
    list. A mapping value replaces the mapping at the path (it is not merged into it)."""

    kind: EditKind
    path: PathKey
    value: Any
    display: str
    """The key as the user wrote it, without the operator: used in advice (`+{display}=...`)."""
    mark: Mark


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer: a tree with `DELETE`/`Append` markers or a list of edits, the mark of every
    key and item it writes, and the problems found while reading it."""

    source: Source
    data: dict[str, Any] = field(default_factory=dict)
    marks: dict[PathKey, Mark] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    edits: tuple[Edit, ...] = ()

    def mark_at(self, path: PathKey) -> Mark | None:
        """The mark of `path` in this layer, or of its nearest marked ancestor (a value inside
        an override's mapping is located at the override)."""
        for cut in range(len(path), -1, -1):
            mark = self.marks.get(path[:cut])
            if mark is not None:
                return mark
        return None
