"""Fold layers into one tree: deep-merged mappings, replaced scalars and lists, `key+:`
appends, `!delete` tombstones and preset references that higher layers refine.

Semantics follow OmegaConf's merge (mappings merge, everything else replaces; a property test
holds the two equal on plain layers) plus what OmegaConf lacks. Provenance is optional: the
hot path folds without it, and `explain` or an error report folds again with a `Provenance`
to learn who wrote what. The fold is deterministic, so both folds agree.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from .errors import Mark, Problem, did_you_mean
from .layers import DELETE, MAX_DEPTH, MAX_NODES, Append, Layer, PathKey, Source, render_path
from .overrides import Override

_MISSING: Final = object()

# `${vars.calm}`, `${a.b[0].c}`: one absolute node reference and nothing else.
PURE_REF: Final = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\.\d+|\[\d+\])*)\}\Z")

WriteOp = Literal["set", "merge", "append", "delete", "reference"]


@dataclass(frozen=True, slots=True)
class Write:
    """One layer's write at one path, as `explain` shows it."""

    op: WriteOp
    source: Source | None
    mark: Mark | None
    value: Any = None
    via: str | None = None

    def describe(self) -> str:
        """`profiles/base.yaml:3:5 (base)` or `environment variable X`."""
        where = self.mark.render() if self.mark else "?"
        if self.source is not None and self.source.kind not in ("environment", "override"):
            where = f"{where} ({self.source.kind})"
        return f"{where}, {self.via}" if self.via else where


@dataclass
class Provenance:
    """Side table of writes by path, kept apart from the data (OmegaConf's docs explain why
    provenance inside a mutable tree goes stale)."""

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
                    replace(w, via=note) for w in writes)


# A refinement of a preset: layer data written over it (value, layer, path in the layer), or
# an override that reaches inside it.
_Op = tuple[Any, Layer | None, PathKey] | Override


@dataclass
class Preset:
    """A reference (`turn_detection: ${vars.calm}`) that a higher layer refines field by field.

    OmegaConf's merge would replace the reference with the refinement and drop the preset's
    other fields; we keep the reference and the refinements, and apply them in order once
    every layer and override is folded, so the preset used is the final, fully merged one.
    An override that reaches inside the reference is one more refinement, the last ones.
    """

    ref: str
    target: PathKey
    origin: Write
    ops: list[_Op] = field(default_factory=list)


def ref_target(text: Any) -> PathKey | None:
    """The path a pure reference string points at, or None."""
    if not isinstance(text, str) or not text.startswith("${"):
        return None
    match = PURE_REF.match(text)
    if match is None:
        return None
    return parse_dotted(match.group(1))


def parse_dotted(text: str) -> PathKey:
    """`a.b[0].c` -> ('a', 'b', 0, 'c'); numeric segments index lists."""
    parts: list[str | int] = []
    for piece in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        if piece.startswith("["):
            parts.append(int(piece[1:-1]))
        elif piece.isdigit():
            parts.append(int(piece))
        else:
            parts.append(piece)
    return tuple(parts)


class Folder:
    """One fold: layers in, a raw tree (interpolations unresolved) and problems out."""

    def __init__(self, provenance: Provenance | None = None) -> None:
        self.prov = provenance
        self.problems: list[Problem] = []
        # Values copied into presets so far: refining N references to an M-value preset
        # copies N*M values, so the total is capped like a layer's alias expansion.
        self.copied = 0
        self._expanded: set[PathKey] = set()  # targets whose presets are all materialized
        self.presets = 0  # Presets made; with none, there is nothing for expand_presets to do

    # -- recording -------------------------------------------------------------------------
    def _record(self, path: PathKey, op: WriteOp, layer: Layer | None, lpath: PathKey, *,
                value: Any = None) -> None:
        if self.prov is None or not path:
            return
        mark = layer.marks.get(lpath) if layer is not None else None
        source = layer.source if layer is not None else None
        if mark is None and layer is not None:  # inside an override's value: the override
            mark = layer.marks.get(())
        if mark is None and source is not None:
            mark = Mark(source.label)
        self.prov.record(path, Write(op, source, mark, value))

    # -- folding ---------------------------------------------------------------------------
    def fold(self, layers: Iterable[Layer], overrides: Sequence[Override] = ()) -> dict[str, Any]:
        """Layers, lowest first, then the overrides (the top layers), then presets expanded:
        a preset is copied only once everything that can change it is written."""
        tree: dict[str, Any] = {}
        for layer in layers:
            self.combine(tree, layer.data, (), layer, ())
        self._overrides(tree, overrides)
        if self.presets:
            self.expand_presets(tree)
        return tree

    def combine(self, old: Any, new: Any, path: PathKey, layer: Layer | None,
                lpath: PathKey) -> Any:
        """The slot's new value after `new` is written over `old` (may return `_MISSING`)."""
        if new is DELETE:
            self._record(path, "delete", layer, lpath)
            return _MISSING
        if isinstance(new, Append):
            return self._append(old, new, path, layer, lpath)
        if isinstance(new, dict):
            if isinstance(old, dict):
                self._record(path, "merge", layer, lpath)
                plain = self.prov is None
                for key, value in new.items():
                    if plain and _scalar(value):  # what combine() would return, unrecorded
                        old[key] = value
                        continue
                    result = self.combine(old.get(key, _MISSING), value, (*path, key), layer,
                                          (*lpath, key))
                    if result is _MISSING:
                        old.pop(key, None)
                    else:
                        old[key] = result
                return old
            if isinstance(old, Preset):
                old.ops.append((new, layer, lpath))  # recorded when applied
                return old
            target = ref_target(old)
            if target is not None:
                return self._preset(old, path, (new, layer, lpath))
            return self.combine({}, new, path, layer, lpath)
        return self.clean(new, path, layer, lpath)

    def _preset(self, ref: str, path: PathKey, op: _Op) -> Preset:
        """Defer `op` (a refinement written over the reference `ref`) until the tree is whole,
        so the preset's final value is what gets refined."""
        chain = self.prov.chain(path) if self.prov is not None else []
        origin = chain[-1] if chain else Write("reference", None, None, ref)
        target = ref_target(ref)
        assert target is not None
        self.presets += 1
        return Preset(ref, target, origin, [op])

    def _append(self, old: Any, new: Append, path: PathKey, layer: Layer | None,
                lpath: PathKey) -> Any:
        if old is _MISSING or old is None:
            self._record(path, "append", layer, lpath)
            return self.clean(new.items, path, layer, lpath, op="append")
        if isinstance(old, list):
            self._record(path, "append", layer, lpath)
            start = len(old)
            for offset, item in enumerate(new.items):
                old.append(self.clean(item, (*path, start + offset), layer, (*lpath, offset)))
            return old
        if isinstance(old, Preset):
            old.ops.append((new, layer, lpath))
            return old
        target = ref_target(old)
        if target is not None:
            return self._preset(old, path, (new, layer, lpath))
        mark = layer.marks.get(lpath) if layer is not None else None
        self.problems.append(Problem(render_path(path), f"cannot append to {_kind(old)}", mark,
                                     "`key+:` extends an inherited list"))
        return old

    def clean(self, value: Any, path: PathKey, layer: Layer | None, lpath: PathKey,
              op: WriteOp = "set") -> Any:
        """A fresh copy of layer data with markers gone (nothing below to delete or append
        to), recording each write when provenance is kept."""
        if isinstance(value, dict):
            self._record(path, op if op != "set" else "merge", layer, lpath)
            out: dict[str, Any] = {}
            for key, item in value.items():
                if item is DELETE:
                    continue
                out[key] = self.clean(item, (*path, key), layer, (*lpath, key))
            return out
        if isinstance(value, Append):
            return self.clean(value.items, path, layer, lpath, op="append")
        if isinstance(value, list):
            self._record(path, op, layer, lpath, value=_plain(value))
            return [self.clean(item, (*path, i), layer, (*lpath, i)) for i, item in
                    enumerate(value)]
        self._record(path, op, layer, lpath, value=value)
        return value

    # -- presets ---------------------------------------------------------------------------
    def expand_presets(self, tree: dict[str, Any]) -> None:
        """Replace every `Preset` by its target's final value refined by its ops."""
        self._visit(tree, tree, (), ())

    def _visit(self, tree: dict[str, Any], node: Any, path: PathKey,
               stack: tuple[PathKey, ...]) -> None:
        if isinstance(node, dict):
            items: Iterable[tuple[Any, Any]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            return
        for key, child in items:
            child_path = (*path, key)
            if isinstance(child, Preset):
                node[key] = self._materialize(tree, child, child_path, stack)
            self._visit(tree, node[key], child_path, stack)

    def _materialize(self, tree: dict[str, Any], preset: Preset, path: PathKey,
                     stack: tuple[PathKey, ...]) -> Any:
        if len(stack) > MAX_DEPTH:
            self.problems.append(Problem(render_path(path), "presets refer to presets more "
                                         f"than {MAX_DEPTH} levels deep"))
            return None
        resolved = self._follow(tree, preset.target, (*stack, path))
        if resolved is None:
            base: Any = _MISSING
        else:
            target_path, base = resolved
            if self.copied <= MAX_NODES:
                self.copied += _size(base, MAX_NODES - self.copied + 1)
                if self.copied > MAX_NODES:
                    self.problems.append(Problem(
                        render_path(path), f"presets expand to more than {MAX_NODES} values "
                        "(a reference bomb?); refusing to expand further"))
            if self.copied > MAX_NODES:
                return None
            base = copy.deepcopy(base)
            if self.prov is not None:
                # History reads: writes up to the reference, the preset's own, then refinements.
                chain = self.prov.writes.get(path, [])
                cut = next((i + 1 for i, w in enumerate(chain) if w is preset.origin), 0)
                self.prov.writes[path] = chain[:cut]
                self.prov.copy_subtree(target_path, path, preset.origin)
                self.prov.writes[path].extend(chain[cut:])
        value = base
        for op in preset.ops:
            if isinstance(op, Override):
                value = self._override_within(value, path, op, preset.ref)
                continue
            new, layer, lpath = op
            if value is _MISSING and isinstance(new, dict):
                value = {}
            value = self.combine(value, new, path, layer, lpath)
        return None if value is _MISSING else value

    def _follow(self, tree: dict[str, Any], target: PathKey,
                stack: tuple[PathKey, ...]) -> tuple[PathKey, Any] | None:
        """The final (path, value) a reference leads to, following reference chains."""
        seen = list(stack)
        while True:
            if target in seen:
                cycle = " -> ".join(render_path(p) for p in (*seen[len(stack) - 1:], target))
                self.problems.append(Problem(
                    render_path(stack[-1]), f"reference cycle: {cycle}", None,
                    "one of these must hold a value instead of a reference"))
                return None
            seen.append(target)
            value = lookup(tree, target)
            if isinstance(value, Preset):
                value = self._materialize(tree, value, target, tuple(seen))
                set_at(tree, target, value)
            if value is _MISSING:
                self.problems.append(Problem(
                    render_path(stack[-1]),
                    f"reference ${{{render_path(target)}}} points to nothing", None,
                    did_you_mean_path(tree, target) or "define it (in vars, say) or fix the "
                    "reference"))
                return None
            nxt = ref_target(value)
            if nxt is None:
                if target not in self._expanded:  # once: N references, one walk
                    self._expanded.add(target)
                    self._visit(tree, value, target, tuple(seen))
                return target, value
            target = nxt

    # -- overrides -------------------------------------------------------------------------
    def _overrides(self, tree: dict[str, Any], overrides: Sequence[Override]) -> None:
        """Command-line and environment overrides, each checked against the tree."""
        for override in overrides:
            problem = self._apply(tree, override)
            if problem is not None:
                self.problems.append(problem)

    def _override_within(self, value: Any, path: PathKey, ov: Override, ref: str) -> Any:
        """An override that reaches inside the preset at `path`, applied to the preset's
        value there (checked against it as against the tree); the value after it."""
        problem: Problem | None
        if value is _MISSING:  # `ref` points to nothing (reported): the reference stays
            problem = self._not_container(ov, path, ref)
        elif not isinstance(value, dict | list):
            problem = self._not_container(ov, path, value)
        else:
            problem = self._apply(value, ov, len(path))
        if problem is not None:
            self.problems.append(problem)
        return value

    def _apply(self, root: Any, ov: Override, start: int = 0) -> Problem | None:
        """`ov` applied below `root`, the value at `ov.path[:start]` (the tree by default).
        An override that reaches inside a preset reference (`turn_detection: ${vars.calm}`,
        refined or not) becomes the preset's last refinement, applied when it is expanded."""
        layer = Layer(ov.source, {}, {(): ov.mark})
        node: Any = root
        for depth in range(start, len(ov.path) - 1):
            part = ov.path[depth]
            child = _child(node, part)
            if isinstance(child, Preset):
                child.ops.append(ov)
                return None
            if isinstance(child, str) and ref_target(child) is not None:
                _assign(node, part, self._preset(child, ov.path[: depth + 1], ov))
                return None
            if child is _MISSING and ov.kind in ("add", "force", "append"):
                if not _assignable(node, part):  # `tools.foo.x` or `tools.9.x` on a list
                    return self._missing(ov, ov.path[: depth + 1], node)
                child = {}
                _assign(node, part, child)
            if child is not _MISSING and not isinstance(child, dict | list):
                return self._not_container(ov, ov.path[: depth + 1], child)
            if not isinstance(child, dict | list):
                return self._missing(ov, ov.path[: depth + 1], node)
            node = child
        last = ov.path[-1]
        current = _child(node, last)
        if ov.kind in ("set", "delete") and current is _MISSING:
            return self._missing(ov, ov.path, node)
        if ov.kind == "add" and current is not _MISSING:
            return Problem(render_path(ov.path), "is already set",  ov.mark,
                           f"to replace it, write {ov.display}=... (or ++{ov.display}=...)")
        if ov.kind == "delete":
            self._record(ov.path, "delete", layer, ())
            _remove(node, last)
            return None
        if ov.kind == "append":
            if not isinstance(ov.value, list):
                return Problem(render_path(ov.path), "+= appends a list", ov.mark,
                               f"write {ov.display}+=[a,b]")
            result = self.combine(current, Append(ov.value), ov.path, layer, ())
        else:
            result = self.combine(_MISSING, ov.value, ov.path, layer, ())
        if not _assignable(node, last):  # a list takes an index up to its length
            return self._missing(ov, ov.path, node)
        _assign(node, last, result)
        return None

    def _not_container(self, ov: Override, path: PathKey, value: Any) -> Problem:
        below = render_path(ov.path[len(path):])
        return Problem(render_path(path), f"is {_kind(value)}, so {below} cannot be set inside "
                       "it", ov.mark, f"replace it whole: ++{render_path(path)}=...")

    def _missing(self, ov: Override, path: PathKey, parent: Any) -> Problem:
        keys = list(parent) if isinstance(parent, dict) else []
        hint = did_you_mean(str(path[-1]), keys) if keys else None
        if ov.kind == "set":
            hint = hint or f"to add it, write +{ov.display}=... (or ++ to add or replace)"
        return Problem(render_path(path), "is not set in this profile", ov.mark, hint)


def _size(value: Any, limit: int) -> int:
    """How many values `value` holds, counting no further than `limit`."""
    count, stack = 0, [value]
    while stack and count < limit:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _scalar(value: Any) -> bool:
    """A layer value that is written as it is: not a mapping, list, append or deletion."""
    return value is not DELETE and not isinstance(value, dict | list | Append)


def _plain(value: Any) -> Any:
    """Layer data without markers, for showing a written list in `explain`."""
    if isinstance(value, Append):
        return _plain(value.items)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not DELETE}
    return value


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    names = {bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


def lookup(tree: Any, path: PathKey) -> Any:
    """The value at `path`, or `_MISSING`."""
    node = tree
    for part in path:
        node = _child(node, part)
        if node is _MISSING:
            return _MISSING
    return node


def set_at(tree: Any, path: PathKey, value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = _child(node, part)
    _assign(node, path[-1], value)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _MISSING) if isinstance(part, str) else node.get(str(part),
                                                                                  _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _assign(node: Any, part: str | int, value: Any) -> None:
    if isinstance(node, dict):
        node[str(part) if isinstance(part, int) else part] = value
    elif isinstance(node, list) and isinstance(part, int):
        if part == len(node):
            node.append(value)
        else:
            node[part] = value


def _assignable(node: Any, part: str | int) -> bool:
    """Whether `_assign(node, part, ...)` stores the value: any key of a mapping, an index of
    a list up to its length (that one appends)."""
    if isinstance(node, dict):
        return True
    return isinstance(node, list) and isinstance(part, int) and 0 <= part <= len(node)


def _remove(node: Any, part: str | int) -> None:
    if isinstance(node, dict):
        node.pop(str(part) if isinstance(part, int) else part, None)
    elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        del node[part]


MISSING: Final = _MISSING


def did_you_mean_path(tree: Any, target: PathKey) -> str | None:
    """`did you mean 'vars.turn_detection.calm'?` for a reference to a misspelled key."""
    parent = lookup(tree, target[:-1]) if len(target) > 1 else tree
    if not isinstance(parent, dict):
        return None
    hint = did_you_mean(str(target[-1]), [str(k) for k in parent])
    if hint is None:
        return None
    close = hint.split("'")[1]
    return f"did you mean '{render_path((*target[:-1], close))}'?"
