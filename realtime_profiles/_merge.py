"""Fold layers into one tree: deep-merged mappings, replaced scalars and lists, `key+:`
appends, `!delete` tombstones and preset references that higher layers refine.

Semantics follow OmegaConf's merge (mappings merge, everything else replaces; a property test
holds the two equal on plain layers) plus what OmegaConf lacks. Provenance is optional: the
hot path folds without it, and `explain` or an error report folds again with a `Provenance`
to learn who wrote what. The fold is deterministic, so both folds agree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._layer import DELETE, Append, Edit, Layer, Verbatim
from ._limits import MAX_COPIED_VALUES, MAX_DEPTH
from ._paths import (
    MISSING,
    PathKey,
    assign,
    assignable,
    child,
    get,
    kind_of,
    ref_target,
    remove,
    render_path,
    set_at,
)
from ._provenance import Provenance, Write, WriteOp
from .errors import Mark, Problem, Suggestions, mean


class _Refinement(NamedTuple):
    """Layer data written over a preset reference, applied when the preset is expanded."""

    value: Any
    layer: Layer
    lpath: PathKey


class _EditWithin(NamedTuple):
    """An edit (override) that reaches inside a preset reference: its last refinement."""

    edit: Edit
    layer: Layer


@dataclass
class Preset:
    """A reference (`turn_detection: ${vars.calm}`) that a higher layer refines field by field.

    OmegaConf's merge would replace the reference with the refinement and drop the preset's
    other fields; we keep the reference and the refinements, and apply them in order once
    every layer is folded, so the preset used is the final, fully merged one.
    """

    ref: str
    target: PathKey
    origin: Write
    ops: list[_Refinement | _EditWithin] = field(default_factory=list)


class Folder:
    """One fold: layers in (lowest first), a raw tree (interpolations unresolved) and problems
    out. With a `Provenance`, every write is recorded as well."""

    def __init__(self, provenance: Provenance | None = None,
                 free_form: Callable[[PathKey], bool] | None = None,
                 suggest: Suggestions | None = None) -> None:
        self.prov = provenance
        # Whether a path lies in a mapping of free keys (vars, metadata): only there is a
        # missing key probably a typo of a present one (elsewhere the schema has said so).
        self.free_form = free_form
        self.suggest = suggest if suggest is not None else Suggestions()
        self.problems: list[Problem] = []
        # (target, destination) of every preset copied into place: the secret rules follow
        # a secret back to the preset it was copied from.
        self.copies: list[tuple[PathKey, PathKey]] = []
        self._too_deep = False  # the preset depth limit is one mistake: reported once
        # Values copied into presets so far: refining N references to an M-value preset
        # copies N*M values, so the total is capped like a layer's alias expansion.
        self.copied = 0
        self._expanded: set[PathKey] = set()  # targets whose presets are all materialized
        self.presets = 0  # Presets made; with none, there is nothing for expand_presets to do

    # -- recording -------------------------------------------------------------------------
    def _record(self, path: PathKey, op: WriteOp, layer: Layer, lpath: PathKey, *,
                value: Any = None) -> None:
        if self.prov is None or not path:
            return
        mark = layer.mark_at(lpath) or Mark(layer.source.label)
        self.prov.record(path, Write(op, layer.source, mark, value))

    # -- folding ---------------------------------------------------------------------------
    def fold(self, layers: Iterable[Layer]) -> dict[str, Any]:
        """Every layer, lowest first: its tree merged, then its edits applied; then presets
        expanded, since a preset is copied only once everything that can change it is
        written."""
        tree: dict[str, Any] = {}
        for layer in layers:
            if layer.data:
                self.combine(tree, layer.data, (), layer, ())
            for edit in layer.edits:
                problem = self._apply(tree, edit, layer)
                if problem is not None:
                    self.problems.append(problem)
        if self.presets:
            self.expand_presets(tree)
        return tree

    def combine(self, old: Any, new: Any, path: PathKey, layer: Layer,
                lpath: PathKey) -> Any:
        """The slot's new value after `new` is written over `old` (may return `MISSING`)."""
        if new is DELETE:
            self._record(path, "delete", layer, lpath)
            return MISSING
        if isinstance(new, Append):
            return self._append(old, new, path, layer, lpath)
        if not isinstance(new, dict):
            return self.clean(new, path, layer, lpath)
        if isinstance(old, dict):
            self._record(path, "merge", layer, lpath)
            plain = self.prov is None
            for key, value in new.items():
                if plain and _scalar(value):  # what combine() would return, unrecorded
                    old[key] = value
                    continue
                result = self.combine(old.get(key, MISSING), value, (*path, key), layer,
                                      (*lpath, key))
                if result is MISSING:
                    old.pop(key, None)
                else:
                    old[key] = result
            return old
        if isinstance(old, Preset):
            old.ops.append(_Refinement(new, layer, lpath))  # recorded when applied
            return old
        if ref_target(old) is not None:
            return self._preset(old, path, _Refinement(new, layer, lpath))
        return self.combine({}, new, path, layer, lpath)

    def _preset(self, ref: str, path: PathKey, op: _Refinement | _EditWithin) -> Preset:
        """Defer `op` (a refinement written over the reference `ref`) until the tree is whole,
        so the preset's final value is what gets refined."""
        chain = self.prov.chain(path) if self.prov is not None else []
        origin = chain[-1] if chain else Write("reference", None, None, ref)
        target = ref_target(ref)
        assert target is not None
        self.presets += 1
        return Preset(ref, target, origin, [op])

    def _append(self, old: Any, new: Append, path: PathKey, layer: Layer,
                lpath: PathKey) -> Any:
        if old is MISSING or old is None:
            self._record(path, "append", layer, lpath)
            return self.clean(new.items, path, layer, lpath, op="append")
        if isinstance(old, list):
            self._record(path, "append", layer, lpath)
            start = len(old)
            for offset, item in enumerate(new.items):
                old.append(self.clean(item, (*path, start + offset), layer, (*lpath, offset)))
            return old
        if isinstance(old, Preset):
            old.ops.append(_Refinement(new, layer, lpath))
            return old
        if ref_target(old) is not None:
            return self._preset(old, path, _Refinement(new, layer, lpath))
        mark = layer.mark_at(lpath)
        self.problems.append(Problem(path, "append", f"cannot append to {kind_of(old)}", mark,
                                     "`key+:` extends an inherited list"))
        return old

    def clean(self, value: Any, path: PathKey, layer: Layer, lpath: PathKey,
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
        self._record(path, op, layer, lpath,
                     value=value.value if isinstance(value, Verbatim) else value)
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
        for key, value in items:
            child_path = (*path, key)
            if isinstance(value, Preset):
                node[key] = self._materialize(tree, value, child_path, stack)
            self._visit(tree, node[key], child_path, stack)

    def _materialize(self, tree: dict[str, Any], preset: Preset, path: PathKey,
                     stack: tuple[PathKey, ...]) -> Any:
        if len(stack) > MAX_DEPTH:
            if not self._too_deep:
                self._too_deep = True
                self.problems.append(Problem(path, "limit", "presets refer to presets more "
                                             f"than {MAX_DEPTH} levels deep"))
            return None
        resolved = self._follow(tree, preset.target, (*stack, path))
        if resolved is None:
            base: Any = MISSING
        else:
            target_path, base = resolved
            if not self._charge(base, path):
                return None
            base = copy.deepcopy(base)
            self.copies.append((target_path, path))
            if self.prov is not None:
                # History reads: writes up to the reference, the preset's own, then refinements.
                chain = self.prov.writes.get(path, [])
                cut = next((i + 1 for i, w in enumerate(chain) if w is preset.origin), 0)
                self.prov.writes[path] = chain[:cut]
                self.prov.copy_subtree(target_path, path, preset.origin)
                self.prov.writes[path].extend(chain[cut:])
        value = base
        for op in preset.ops:
            if isinstance(op, _EditWithin):
                value = self._edit_within(value, path, op, preset.ref)
                continue
            if value is MISSING and isinstance(op.value, dict):
                value = {}
            value = self.combine(value, op.value, path, op.layer, op.lpath)
        return None if value is MISSING else value

    def _charge(self, base: Any, path: PathKey) -> bool:
        """Count a preset's values against the copy budget; False once it is spent."""
        if self.copied <= MAX_COPIED_VALUES:
            self.copied += _size(base, MAX_COPIED_VALUES - self.copied + 1)
            if self.copied > MAX_COPIED_VALUES:
                self.problems.append(Problem(
                    path, "limit", f"presets expand to more than {MAX_COPIED_VALUES} values "
                    "(a reference bomb?); refusing to expand further"))
        return self.copied <= MAX_COPIED_VALUES

    def _follow(self, tree: dict[str, Any], target: PathKey,
                stack: tuple[PathKey, ...]) -> tuple[PathKey, Any] | None:
        """The final (path, value) a reference leads to, following reference chains."""
        seen = list(stack)
        while True:
            if target in seen:
                cycle = " -> ".join(render_path(p) for p in (*seen[len(stack) - 1:], target))
                self.problems.append(Problem(
                    stack[-1], "cycle", f"reference cycle: {cycle}", None,
                    "one of these must hold a value instead of a reference"))
                return None
            seen.append(target)
            value = get(tree, target)
            if isinstance(value, Preset):
                value = self._materialize(tree, value, target, tuple(seen))
                set_at(tree, target, value)
            if value is MISSING:
                rerouted = self._through(tree, target, tuple(seen))
                if rerouted is not None:  # `${vars.b.calm}` where `b: ${vars.presets}`
                    target = rerouted
                    continue
                self.problems.append(Problem(
                    stack[-1], "reference-missing",
                    f"reference ${{{render_path(target)}}} points to nothing", None,
                    did_you_mean_path(tree, target, self.suggest) or "define it (in vars, "
                    "say) or fix the reference"))
                return None
            nxt = ref_target(value)
            if nxt is None:
                if target not in self._expanded:  # once: N references, one walk
                    self._expanded.add(target)
                    self._visit(tree, value, target, tuple(seen))
                return target, value
            target = nxt

    def _through(self, tree: dict[str, Any], target: PathKey,
                 stack: tuple[PathKey, ...]) -> PathKey | None:
        """Where `target` really is when a key on its way is a reference (or a preset): the
        referenced path plus the rest, as interpolation would find it; None if nothing on
        the way is one."""
        for cut in range(len(target) - 1, 0, -1):
            prefix = target[:cut]
            value = get(tree, prefix)
            if value is MISSING:
                continue
            if isinstance(value, Preset):
                value = self._materialize(tree, value, prefix, stack)
                set_at(tree, prefix, value)
                return target if get(tree, target) is not MISSING else None
            nxt = ref_target(value)
            return None if nxt is None else nxt + target[cut:]
        return None

    # -- edits (overrides, environment variables) ------------------------------------------
    def _edit_within(self, value: Any, path: PathKey, op: _EditWithin, ref: str) -> Any:
        """An edit that reaches inside the preset at `path`, applied to the preset's value
        there (checked against it as against the tree); the value after it."""
        problem: Problem | None
        if value is MISSING:  # `ref` points to nothing (reported): the reference stays
            problem = self._not_container(op.edit, path, ref)
        elif not isinstance(value, dict | list):
            problem = self._not_container(op.edit, path, value)
        else:
            problem = self._apply(value, op.edit, op.layer, len(path))
        if problem is not None:
            self.problems.append(problem)
        return value

    def _apply(self, root: Any, edit: Edit, layer: Layer, start: int = 0) -> Problem | None:
        """`edit` applied below `root`, the value at `edit.path[:start]` (the tree by default).
        An edit that reaches inside a preset reference (`turn_detection: ${vars.calm}`,
        refined or not) becomes the preset's last refinement, applied when it is expanded."""
        node: Any = root
        for depth in range(start, len(edit.path) - 1):
            part = edit.path[depth]
            value = child(node, part)
            if isinstance(value, Preset):
                value.ops.append(_EditWithin(edit, layer))
                return None
            if isinstance(value, str) and ref_target(value) is not None:
                assign(node, part, self._preset(value, edit.path[: depth + 1],
                                                _EditWithin(edit, layer)))
                return None
            if value is MISSING and edit.kind in ("add", "force", "append"):
                if not assignable(node, part):  # `tools.foo.x` or `tools.9.x` on a list
                    return self._missing(edit, edit.path[: depth + 1], node)
                value = {}
                assign(node, part, value)
                # the mapping this edit created is its write: a problem with it (`+tools.0=x`
                # makes `tools` a mapping) is located at the edit
                self._record(edit.path[: depth + 1], "merge", layer, edit.path)
            if value is not MISSING and not isinstance(value, dict | list):
                return self._not_container(edit, edit.path[: depth + 1], value)
            if not isinstance(value, dict | list):
                return self._missing(edit, edit.path[: depth + 1], node)
            node = value
        return self._apply_last(node, edit, layer)

    def _apply_last(self, node: Any, edit: Edit, layer: Layer) -> Problem | None:
        """The edit's own step, at its last path segment inside `node`."""
        last = edit.path[-1]
        current = child(node, last)
        if edit.kind in ("set", "delete") and current is MISSING:
            return self._missing(edit, edit.path, node)
        if edit.kind == "add" and current is not MISSING:
            return Problem(edit.path, "override-exists", "is already set", edit.mark,
                           f"to replace it, write {edit.display}=... (or ++{edit.display}=...)")
        if edit.kind == "delete":
            self._record(edit.path, "delete", layer, edit.path)
            remove(node, last)
            return None
        if edit.kind == "append":
            if not isinstance(edit.value, list):
                return Problem(edit.path, "append", "+= appends a list", edit.mark,
                               f"write {edit.display}+=[a,b]")
            result = self.combine(current, Append(edit.value), edit.path, layer, edit.path)
        else:
            result = self.combine(MISSING, edit.value, edit.path, layer, edit.path)
        if not assignable(node, last):  # a list takes an index up to its length
            return self._missing(edit, edit.path, node)
        assign(node, last, result)
        return None

    def _not_container(self, edit: Edit, path: PathKey, value: Any) -> Problem:
        below = render_path(edit.path[len(path):])
        return Problem(path, "override-container",
                       f"is {kind_of(value)}, so {below} cannot be set inside it", edit.mark,
                       f"replace it whole: ++{render_path(path)}=...")

    def _missing(self, edit: Edit, path: PathKey, parent: Any) -> Problem:
        free = self.free_form is None or self.free_form(path)
        hint = mean(self.suggest.closest(str(path[-1]), parent)) \
            if isinstance(parent, dict) and parent and free else None
        if edit.kind == "set":
            hint = hint or f"to add it, write +{edit.display}=... (or ++ to add or replace)"
        return Problem(path, "override-missing", "is not set in this profile", edit.mark, hint)


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


def did_you_mean_path(tree: Any, target: PathKey, suggest: Suggestions) -> str | None:
    """`did you mean 'vars.turn_detection.calm'?` for a reference to a misspelled key."""
    parent = get(tree, target[:-1]) if len(target) > 1 else tree
    if not isinstance(parent, dict):
        return None
    close = suggest.closest(str(target[-1]), (str(k) for k in parent))
    return mean(render_path((*target[:-1], close))) if close is not None else None
