"""A fast yes-or-don't-know validity check, compiled once from a JSON Schema.

jsonschema stays the validator that defines validity and writes every error message; this
module only answers "is this document certainly valid?" so that the common case, a valid
profile, skips jsonschema's generic machinery (its `descend`/`evolve`/`$ref` resolution per
node was a third of `validate`'s time). A `False` answer means "run jsonschema", never "invalid",
so the check only has to be sound: whenever it says valid, jsonschema agrees. A property test
(tests/test_fast_paths.py) holds the two equal on random documents.

The compiler knows the keywords the packaged schema uses, with jsonschema's semantics for each
(type rules where `True` is not an integer and `1.0` is, `equal` for const and enum, `re.search`
for pattern, code points for minLength); for any other keyword, a remote `$ref` or a format
checker it gives up (`compile_check` returns None) and jsonschema does everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

Check = Callable[[Any], bool]

# Keywords that never affect validity (format too, when no format checker is configured).
_ANNOTATIONS: Final = frozenset({
    "$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly",
})
_JSON_SCALARS: Final = (str, int, float, bool, type(None))
# Keywords that admit only some JSON types at a position (a node without one admits any value).
_TYPING: Final = ("type", "enum", "const", "$ref", "anyOf")


class Unsupported(Exception):
    """The schema uses something this compiler does not model; use jsonschema alone."""


def compile_check(schema: Mapping[str, Any], *, format_checker: object = None) -> Check | None:
    """A function `document -> bool` (True only if jsonschema would find no error), or None."""
    try:
        return _Compiler(schema, format_checker is None).compile(schema)
    except Unsupported:
        return None


def compile_node(root: Mapping[str, Any], nodes: list[Mapping[str, Any]]) -> Check | None:
    """The check of a value against any one of `nodes` (schema nodes inside `root`, whose
    `$ref`s they may use), or None when the compiler cannot model them."""
    try:
        compiler = _Compiler(root, True)
        if len(nodes) == 1:
            return compiler.node(nodes[0])
        return compiler.node({"anyOf": list(nodes)})
    except Unsupported:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


_TYPE_CHECKS: Final[dict[str, Check]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def _type_check(name: str) -> Check:
    check = _TYPE_CHECKS.get(name)
    if check is None:
        raise Unsupported(f"type {name!r}")
    return check


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's `equal` for JSON values: booleans are not numbers, 1 == 1.0."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(k in two and _equal(v, two[k])
                                            for k, v in one.items())
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    return bool(one == two)


def _json_like(value: Any) -> bool:
    """Only plain JSON data is judged here; anything else goes to jsonschema."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_like(v) for v in value)
    return isinstance(value, _JSON_SCALARS)


class _Compiler:
    def __init__(self, root: Mapping[str, Any], formats_off: bool) -> None:
        self.root = root
        self.formats_off = formats_off
        self.refs: dict[str, list[Check]] = {}

    def compile(self, schema: Mapping[str, Any]) -> Check:
        """Only plain JSON data is judged valid: every value position either has a type
        check (which admits JSON types only) or, where the schema admits anything, a check
        that the whole value is JSON data. So no separate walk of the document is needed."""
        return self.node(schema)

    def ref(self, ref: str) -> Check:
        base = self.root.get("$id")
        if isinstance(base, str) and ref.startswith(base + "#/"):
            ref = ref[len(base):]  # absolute form of a local reference
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = []
            target: Any = self.root
            for escaped in ref[2:].split("/"):
                part = escaped.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise Unsupported(f"$ref {ref!r} points to nothing")
                target = target[part]
            cell.append(self.node(target))
        if cell:  # compiled already: call it directly
            return cell[0]

        def follow(value: Any) -> bool:  # a reference to a node still being compiled
            return cell[0](value)

        return follow

    def node(self, schema: Any) -> Check:
        if schema is True:
            return _json_like
        if schema is False:
            return lambda v: False
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema that is not an object")
        checks: list[Check] = []
        for key, spec in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "format" and self.formats_off:
                continue
            if key in ("properties", "additionalProperties", "required"):
                continue  # compiled together below
            checks.append(self.keyword(key, spec))
        types = schema.get("type")
        names = {types} if isinstance(types, str) else set(types or ())
        if "object" in names or any(k in schema for k in ("properties", "additionalProperties",
                                                         "required")):
            checks.append(self.object_check(schema))
        if "array" in names and "items" not in schema:
            checks.append(lambda v: not isinstance(v, list) or all(_json_like(i) for i in v))
        if not any(k in schema for k in _TYPING):  # admits any value: it must be JSON data
            checks.append(_json_like)
        if not checks:
            return _json_like
        if len(checks) == 1:
            return checks[0]
        frozen = tuple(checks)

        def all_of(value: Any) -> bool:
            for check in frozen:  # noqa: SIM110 - no generator per node on the hot path
                if not check(value):
                    return False
            return True

        return all_of

    def keyword(self, key: str, spec: Any) -> Check:
        compile_keyword = _KEYWORDS.get(key)
        if compile_keyword is None:
            raise Unsupported(f"keyword {key!r}")
        return compile_keyword(self, spec)

    def object_check(self, schema: Mapping[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        properties = {k: self.node(s) for k, s in schema.get("properties", {}).items()}
        extra_spec = schema.get("additionalProperties", True)
        extra: Check = _json_like if extra_spec is True else self.node(extra_spec)
        closed = extra_spec is False
        required = tuple(schema.get("required", ()))

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                sub = properties.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif closed or not isinstance(key, str) or not extra(item):
                    return False
            return all(name in value for name in required)

        return check


# -- one small compiler per keyword (jsonschema's `_keywords.py`, as predicates) -------------

def _ref(compiler: _Compiler, spec: Any) -> Check:
    return compiler.ref(spec)


def _type(compiler: _Compiler, spec: Any) -> Check:
    names = [spec] if isinstance(spec, str) else list(spec)
    tests = tuple(_type_check(n) for n in names)
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _any_of(compiler: _Compiler, spec: Any) -> Check:
    branches = tuple(compiler.node(s) for s in spec)
    return lambda v: any(b(v) for b in branches)


def _enum(compiler: _Compiler, spec: Any) -> Check:
    options = list(spec)
    strings = frozenset(o for o in options if isinstance(o, str))
    if len(strings) == len(options):
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: any(_equal(o, v) for o in options)


def _const(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: _equal(v, spec)


def _items(compiler: _Compiler, spec: Any) -> Check:
    item = compiler.node(spec)
    return lambda v: not isinstance(v, list) or all(item(i) for i in v)


def _minimum(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: not _is_number(v) or not v < spec


def _maximum(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: not _is_number(v) or not v > spec


def _min_length(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: not isinstance(v, str) or len(v) >= spec


def _max_items(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: not isinstance(v, list) or len(v) <= spec


def _min_items(compiler: _Compiler, spec: Any) -> Check:
    return lambda v: not isinstance(v, list) or len(v) >= spec


def _pattern(compiler: _Compiler, spec: Any) -> Check:
    regex = re.compile(spec)
    return lambda v: not isinstance(v, str) or regex.search(v) is not None


def _unique_items(compiler: _Compiler, spec: Any) -> Check:
    if not spec:
        return lambda v: True
    # Exact for lists of strings (the realistic case); anything else is left to jsonschema,
    # whose `uniq` has its own rules for mixed and nested items.
    return lambda v: not isinstance(v, list) or (
        all(isinstance(i, str) for i in v) and len(set(v)) == len(v))


def _not(compiler: _Compiler, spec: Any) -> Check:
    # Only `not: {}` (nothing is valid: a field that holds code): a predicate that answers
    # "certainly valid" or "don't know" cannot be negated soundly in general.
    if spec is True or spec == {}:
        return lambda v: False
    raise Unsupported("not")


_KEYWORDS: Final[dict[str, Callable[[_Compiler, Any], Check]]] = {
    "$ref": _ref,
    "type": _type,
    "anyOf": _any_of,
    "enum": _enum,
    "const": _const,
    "items": _items,
    "minimum": _minimum,
    "maximum": _maximum,
    "minLength": _min_length,
    "maxItems": _max_items,
    "minItems": _min_items,
    "pattern": _pattern,
    "uniqueItems": _unique_items,
    "not": _not,
}
