"""The schema at a path, and one value checked against it, with the validator's wording.

Per-call overrides change a few values of an already validated document; this module finds
the schema node at each changed path and explains what is wrong with the new value, without
jsonschema (a compiled bundle loads with no jsonschema import). Messages are built by the same
helpers as `_validate`'s, so a problem reads the same whichever path found it.
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ._paths import PathKey, Pattern, matches, render_path
from ._validate import (
    _RELATIONS,
    _SCHEMA_TYPES,
    _branch_label,
    _coercion_hint,
    _describe,
    _got,
)
from .errors import Problem, did_you_mean, mean

_BOUND_CODES: Final = {"minimum": "minimum", "maximum": "maximum",
                       "exclusiveMinimum": "exclusive-minimum",
                       "exclusiveMaximum": "exclusive-maximum"}
# keyword -> "the value is beyond the limit"
_BEYOND: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "minimum": operator.lt, "maximum": operator.gt,
    "exclusiveMinimum": operator.le, "exclusiveMaximum": operator.ge}


class SchemaNav:
    """Finds schema nodes by document path, following `$ref`, properties, items, free-form
    mappings and `anyOf` branches. Built once per schema; immutable after."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._defs: Mapping[str, Any] = schema.get("$defs", {})
        self.registry = tuple(sorted(self._marked("x-registry")))

    def deref(self, node: Any) -> Mapping[str, Any]:
        while isinstance(node, Mapping) and "$ref" in node:
            node = self._defs[str(node["$ref"]).rsplit("/", 1)[-1]]
        return node if isinstance(node, Mapping) else {}

    def _candidates(self, node: Any) -> list[Mapping[str, Any]]:
        """`node` and, for an anyOf, each branch (dereferenced)."""
        node = self.deref(node)
        branches = node.get("anyOf") or node.get("oneOf")
        if not branches:
            return [node]
        found: list[Mapping[str, Any]] = []
        for branch in branches:
            found.extend(self._candidates(branch))
        return found

    def nodes(self, path: PathKey) -> list[Mapping[str, Any]]:
        """The schema nodes a value at `path` may be checked against (empty: no such path,
        or a free-form value)."""
        current: list[Mapping[str, Any]] = [self.deref(self.schema)]
        for part in path:
            following: list[Mapping[str, Any]] = []
            for node in current:
                for candidate in self._candidates(node):
                    child = _child_schema(candidate, part)
                    if child is not None:
                        following.append(self.deref(child))
            if not following:
                return []
            current = following
        return current

    def anchor(self, path: PathKey) -> PathKey:
        """Where a new value at `path` must be checked: the path itself, or the highest
        ancestor whose schema branches (`anyOf`: which branch fits may depend on a sibling,
        such as a turn detector's `type`)."""
        current: list[Mapping[str, Any]] = [self.deref(self.schema)]
        for depth, part in enumerate(path[:-1]):
            following: list[Mapping[str, Any]] = []
            for node in current:
                for candidate in self._candidates(node):
                    child = _child_schema(candidate, part)
                    if child is not None:
                        following.append(self.deref(child))
            current = following
            if any("anyOf" in n or "oneOf" in n for n in current):
                return path[: depth + 1]
        return path

    def known(self, path: PathKey) -> bool:
        """Whether the schema describes `path` (a free-form mapping's keys count)."""
        return bool(self.nodes(path))

    def keys_at(self, path: PathKey) -> list[str]:
        """The property names the schema knows at `path` (for did-you-mean)."""
        names: list[str] = []
        for node in self.nodes(path):
            for candidate in self._candidates(node):
                names.extend(k for k in candidate.get("properties", {}) if k not in names)
        return names

    def _marked(self, keyword: str) -> set[Pattern]:
        found: set[Pattern] = set()

        def walk(node: Any, path: Pattern, seen: frozenset[str]) -> None:
            if not isinstance(node, Mapping):
                return
            if keyword in node:
                found.add(path)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                walk(self._defs.get(ref.rsplit("/", 1)[-1]), path, seen | {ref})
            for key, child in node.get("properties", {}).items():
                walk(child, (*path, key), seen)
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), Mapping):
                    walk(node[key], (*path, "*"), seen)
            for branch in node.get("anyOf", []) + node.get("oneOf", []):
                walk(branch, path, seen)

        walk(self.schema, (), frozenset())
        return found

    def names_code(self, path: PathKey) -> bool:
        """Whether `path` is, holds or lies inside a registry name (a tool, handoff,
        guardrail, formatter, tracker or api-key callable: code, never caller data)."""
        for pattern in self.registry:
            cut = min(len(pattern), len(path))
            if matches(path[:cut], pattern[:cut]):
                return True
        return False


_STRUCTURE: Final = ("type", "properties", "additionalProperties", "items", "anyOf", "oneOf",
                     "enum", "const", "$ref")


class _Fields(dict[str, Any]):
    """What a schema's `x-errors` template may name (as `_validate` fills it): here the
    sibling's place is the composed profile, the call's value itself is located by the
    caller."""

    def __init__(self, key: str, path: PathKey, value: Mapping[str, Any],
                 allowed: list[str]) -> None:
        super().__init__(
            key=key, dotted=render_path(path),
            allowed=", ".join(k for k in allowed if k != "type") or "no other field",
            value={k: str(v) for k, v in value.items() if not isinstance(v, dict | list)},
            at=defaultdict(lambda: "the profile"))


def _child_schema(node: Mapping[str, Any], part: str | int) -> Any:
    if not any(k in node for k in _STRUCTURE):
        return {}  # a schema that says nothing: any value, anything inside it
    if isinstance(part, int):
        return node.get("items") if node.get("type") in ("array", None) \
            and "items" in node else None
    properties = node.get("properties", {})
    if part in properties:
        return properties[part]
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra
    if extra is True or (node.get("type") == "object" and "properties" not in node):
        return {}  # free-form: any value
    return None


def explain(nav: SchemaNav, nodes: list[Mapping[str, Any]], value: Any,
            path: PathKey, secret: bool = False) -> list[Problem]:
    """Why `value` at `path` fits none of `nodes` (empty when it fits one)."""
    if not nodes:
        return []
    attempts = [list(_check(nav, node, value, path, secret)) for node in nodes]
    if any(not problems for problems in attempts):
        return []
    if len(attempts) == 1:
        return attempts[0]
    plain = [nav.deref(n) for n in nodes]
    tagged = [a for n, a in zip(plain, attempts, strict=True) if _tag_matches(n, value)]
    if len(tagged) == 1:  # a discriminated union's member, picked by the value's `type`
        return tagged[0]
    typed = [a for n, a in zip(plain, attempts, strict=True) if _fits_type(n, value)]
    if len(typed) == 1:
        return typed[0]
    labels = " or ".join(dict.fromkeys(_branch_label(dict(n), nav) for n in nodes))
    return [Problem(path, "type", f"expected {labels}, got {_got(value, secret)}")]


def _fits_type(node: Mapping[str, Any], value: Any) -> bool:
    """Whether `value` is of the node's type (and, for a mapping, its `type` discriminator)."""
    wanted = node.get("type")
    names = [wanted] if isinstance(wanted, str) else list(wanted or [])
    if names and not any(_is(name, value) for name in names):
        return False
    discriminator = node.get("properties", {}).get("type", {})
    if isinstance(value, dict) and "type" in value and discriminator:
        options = [discriminator["const"]] if "const" in discriminator \
            else discriminator.get("enum", [value["type"]])
        return value["type"] in options
    return True


def _tag_matches(node: Mapping[str, Any], value: Any) -> bool:
    """Whether `node` is a union member whose `type` discriminator names the value's `type`,
    or a union of such members one of which does (turn detection: server_vad | semantic_vad).
    """
    if not isinstance(value, dict) or "type" not in value:
        return False
    discriminator = node.get("properties", {}).get("type", {})
    if isinstance(discriminator, Mapping):
        if "const" in discriminator:
            return bool(discriminator["const"] == value["type"])
        if "enum" in discriminator and len(node.get("anyOf", ())) == 0:
            return value["type"] in discriminator["enum"]
    return False


def _is(name: str, value: Any) -> bool:
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "null": lambda v: v is None,
              "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
              or (isinstance(v, float) and v.is_integer())}
    return checks.get(name, lambda v: True)(value)


def _check(nav: SchemaNav, node: Mapping[str, Any], value: Any, path: PathKey,
           secret: bool) -> Iterator[Problem]:
    """Each problem of `value` against one (dereferenced, branch-free) node."""
    node = nav.deref(node)
    if "anyOf" in node or "oneOf" in node:
        yield from explain(nav, nav._candidates(node), value, path, secret)
        return
    wanted = node.get("type")
    names = [wanted] if isinstance(wanted, str) else list(wanted or [])
    if names and not any(_is(n, value) for n in names):
        expected = " or ".join(_SCHEMA_TYPES.get(n, n) for n in names)
        yield Problem(path, "type", f"expected {expected}, got {_got(value, secret)}", None,
                      _coercion_hint(value, names))
        return
    yield from _scalar_checks(node, value, path, secret)
    if isinstance(value, dict):
        yield from _object_checks(nav, node, value, path, secret)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from explain(nav, [nav.deref(node["items"])], item, (*path, index), secret)


def _scalar_checks(node: Mapping[str, Any], value: Any, path: PathKey,
                   secret: bool) -> Iterator[Problem]:
    shown = _describe(value, secret)
    if "enum" in node and value not in node["enum"]:
        options = [str(o) for o in node["enum"]]
        hint = mean(did_you_mean(value, options)) if isinstance(value, str) else None
        yield Problem(path, "enum", f"{shown} is not one of {', '.join(map(repr, options))}",
                      None, hint)
    if "const" in node and value != node["const"]:
        yield Problem(path, "const", f"must be {node['const']!r}, got {shown}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        for keyword, beyond in _BEYOND.items():
            if keyword in node and beyond(value, node[keyword]):
                yield Problem(path, _BOUND_CODES[keyword],
                              f"{shown} is {_RELATIONS[keyword]} {node[keyword]}")
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0):
            yield Problem(path, "min-length", "must not be empty")
        if "pattern" in node and re.search(node["pattern"], value) is None:
            yield Problem(path, "pattern", f"{shown} does not match {node['pattern']!r}")
    if isinstance(value, list):
        if "maxItems" in node and len(value) > node["maxItems"]:
            yield Problem(path, "max-items",
                          f"has {len(value)} items, at most {node['maxItems']} allowed")
        if node.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            yield Problem(path, "unique-items", "has duplicate items")


def _object_checks(nav: SchemaNav, node: Mapping[str, Any], value: Mapping[str, Any],
                   path: PathKey, secret: bool) -> Iterator[Problem]:
    properties: Mapping[str, Any] = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key in node.get("required", ()):
        if key not in value:
            yield Problem(path, "required", f"missing required key {key!r}")
    for key, item in value.items():
        if key in properties:
            yield from explain(nav, [nav.deref(properties[key])], item, (*path, key), secret)
        elif extra is False:
            wording = node.get("x-errors", {}).get("additionalProperties", {})
            if key in wording.get("keys", ()):  # another member's field (`eagerness` on a
                fields = _Fields(key, path, value, list(properties))  # server_vad block)
                yield Problem((*path, key), "variant-key",  # the file-editing advice of the
                              wording["message"].format_map(fields))  # template is not a call's
                continue
            yield Problem((*path, key), "unknown-key", "unknown key", None,
                          mean(did_you_mean(key, list(properties))))
        elif isinstance(extra, Mapping):
            yield from explain(nav, [nav.deref(extra)], item, (*path, key), secret)
