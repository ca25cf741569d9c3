"""Paths into profile data: one key type, one way to render and parse it, one way to read,
write and select by it.

A path is a tuple (`("run_config", "model_settings", "tools", 0)`): strings are mapping keys,
ints list indexes. Every stage speaks tuples; dotted text (`run_config.model_settings.tools[0]`)
exists only at the edges, for people, and is never parsed back to make a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

PathKey = tuple[str | int, ...]
# A path pattern: `"*"` matches any list index (and, where noted, any mapping key).
Pattern = tuple[str, ...]


class _Missing:
    """The absence of a value (distinct from `None`, which is YAML's null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def render_path(path: PathKey) -> str:
    """`run_config.model_settings.tools[0]` from a path tuple."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_PIECES: Final = re.compile(r"[^.\[\]]+|\[\d+\]")


def parse_dotted(text: str) -> PathKey:
    """`a.b[0].c` -> ('a', 'b', 0, 'c'); numeric segments index lists.

    For text a person typed (`explain KEY`) or a reference's target, never for a path that
    code rendered: those stay tuples.
    """
    parts: list[str | int] = []
    for piece in _PIECES.findall(text):
        if piece.startswith("["):
            parts.append(int(piece[1:-1]))
        elif piece.isdigit():
            parts.append(int(piece))
        else:
            parts.append(piece)
    return tuple(parts)


_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+\Z")


class KeyError_(ValueError):
    """A dotted key that does not parse: the offset of the bad segment and why."""

    def __init__(self, offset: int, reason: str, segment: str | None = None) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason
        self.segment = segment
        """The bad segment as written (the caller decides whether it may be shown)."""


def split_key(key: str, sections: tuple[str, ...], max_depth: int) -> PathKey:
    """The override key grammar: `model_settings.voice` -> ('run_config', 'model_settings',
    'voice'); a key is relative to run_config unless it starts with one of `sections`; list
    items are `tools.0` or `tools[0]`. Raises `KeyError_` with the offset of a bad segment."""
    if not key:
        raise KeyError_(0, "missing key")
    segments = re.sub(r"\[(\d+)\]", r".\1", key).split(".")
    if len(segments) > max_depth:
        raise KeyError_(0, f"key nested deeper than {max_depth} levels")
    parts: list[str | int] = []
    offset = 0
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise KeyError_(offset, f"invalid key segment {segment!r} (letters, digits, "
                            "_ and - separated by dots)", segment)
        parts.append(int(segment) if segment.isdigit() else segment)
        offset += len(segment) + 1
    if parts[0] not in sections:
        parts.insert(0, "run_config")
    return tuple(parts)


def child(node: Any, part: str | int) -> Any:
    """`node[part]` for a mapping key or an in-range list index, else `MISSING`. An int
    addresses a mapping by its text (`a.0` on `{"0": ...}`)."""
    if isinstance(node, dict):
        return node.get(part if isinstance(part, str) else str(part), MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return MISSING


def get(tree: Any, path: PathKey) -> Any:
    """The value at `path`, or `MISSING`."""
    node = tree
    for part in path:
        node = child(node, part)
        if node is MISSING:
            return MISSING
    return node


def assignable(node: Any, part: str | int) -> bool:
    """Whether `assign(node, part, ...)` stores the value: any key of a mapping, an index of a
    list up to its length (that one appends)."""
    if isinstance(node, dict):
        return True
    return isinstance(node, list) and isinstance(part, int) and 0 <= part <= len(node)


def assign(node: Any, part: str | int, value: Any) -> None:
    """`node[part] = value`; on a list, the index one past the end appends."""
    if isinstance(node, dict):
        node[str(part) if isinstance(part, int) else part] = value
    elif isinstance(node, list) and isinstance(part, int):
        if part == len(node):
            node.append(value)
        else:
            node[part] = value


def remove(node: Any, part: str | int) -> None:
    """Delete `node[part]` if it is there."""
    if isinstance(node, dict):
        node.pop(str(part) if isinstance(part, int) else part, None)
    elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        del node[part]


def set_at(tree: Any, path: PathKey, value: Any) -> None:
    """Store `value` at `path`; every container on the way must exist."""
    node = tree
    for part in path[:-1]:
        node = child(node, part)
    assign(node, path[-1], value)


def select(document: Any, pattern: Pattern) -> Iterator[tuple[PathKey, Any]]:
    """The values of `document` at `pattern` (`"*"`: every list item), with their paths."""
    nodes: list[tuple[PathKey, Any]] = [((), document)]
    for part in pattern:
        found: list[tuple[PathKey, Any]] = []
        for path, node in nodes:
            if part == "*":
                if isinstance(node, list):
                    found.extend(((*path, i), item) for i, item in enumerate(node))
            elif isinstance(node, dict) and part in node:
                found.append(((*path, part), node[part]))
        nodes = found
    yield from nodes


def under(path: PathKey, prefix: PathKey) -> bool:
    """Whether `path` is `prefix` or lies below it."""
    return path[: len(prefix)] == prefix


def matches(path: PathKey, pattern: Pattern) -> bool:
    """Whether a concrete path fits a pattern whose `"*"` matches any one segment."""
    if len(path) != len(pattern):
        return False
    for want, part in zip(pattern, path, strict=True):  # noqa: SIM110 - no generator: hot
        if want != part and want != "*":  # noqa: PLR1714 - "*" matches ints too
            return False
    return True


def kind_of(value: Any) -> str:
    """`a mapping`, `a list`, `a string`, `an integer`, ... for messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    names = {bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


def json_kind(value: Any) -> str:
    """The JSON type name of a value (`mapping`, `string`, ...), for `got string 'x'`."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


_JSON_KINDS: Final = {
    dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
    float: "number", type(None): "null",
}


# `${vars.calm}`, `${a.b[0].c}`: one absolute node reference and nothing else.
_PURE_REF: Final = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\.\d+|\[\d+\])*)\}\Z")


def ref_target(text: Any) -> PathKey | None:
    """The path a pure reference string (`${vars.calm}`) points at, or None."""
    parts = ref_parts(text)
    if parts is None:
        return None
    return tuple(int(p) if p.isdigit() else p for p in parts)


def ref_parts(text: Any) -> tuple[str, ...] | None:
    """The segments of a pure reference string as written (`${a.b[0]}` -> ('a', 'b', '0')),
    or None. Interpolation reads a segment by the container it meets, as OmegaConf does: a
    mapping key on a mapping, an index (`int()` of the text) on a list."""
    if not isinstance(text, str) or not text.startswith("${"):
        return None
    match = _PURE_REF.match(text)
    if match is None:
        return None
    return tuple(piece.strip("[]") for piece in _PIECES.findall(match.group(1)))


def leaf_diff(left: Any, right: Any, path: PathKey = (), *,
              lists: bool = False) -> list[tuple[PathKey, Any, Any]]:
    """Every leaf where `left` and `right` differ, as (path, left value, right value), a side
    that lacks it as `MISSING`; mappings in the left's key order, then the right's new keys.
    A list is one leaf unless `lists` (then items are compared by index: a wire's frames)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[tuple[PathKey, Any, Any]] = []
        for key in [*left, *(k for k in right if k not in left)]:
            found += leaf_diff(left.get(key, MISSING), right.get(key, MISSING), (*path, key),
                               lists=lists)
        return found
    if lists and isinstance(left, list) and isinstance(right, list):
        found = []
        for index in range(max(len(left), len(right))):
            found += leaf_diff(left[index] if index < len(left) else MISSING,
                               right[index] if index < len(right) else MISSING,
                               (*path, index), lists=lists)
        return found
    if left != right or type(left) is not type(right):
        return [(path, left, right)]
    return []
