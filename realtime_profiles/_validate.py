"""Check a composed document against schema.json: every problem at once, each one pointing
at the key, saying what was expected, and suggesting a fix.

jsonschema finds the errors; this module turns them into `Problem`s people can act on:
unknown keys are reported on the key itself (not on the parent, as jsonschema does) with a
did-you-mean or the place the key belongs, `anyOf` errors are narrowed to the branch the
value was meant for, and no message ever repeats a secret. Open enums (voices, model names)
and vendor keys in open objects are warnings, errors under `strict`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

if TYPE_CHECKING:  # jsonschema is imported when a document is not certainly valid
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

from . import _secrets
from ._fastschema import compile_check
from ._paths import PathKey, Pattern, json_kind, select
from .errors import Mark, Problem, Severity, did_you_mean, mean


class Locate(Protocol):
    """Where a path was set: (mark, via). `key=True` asks for the key itself: a key written
    as `voic: ${vars.voice}` is located at that line, not where the value was defined."""

    def __call__(self, path: PathKey, key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        ...


_SCHEMA_TYPES: Final = {
    "object": "a mapping", "array": "a list", "string": "a string", "boolean": "a boolean",
    "integer": "an integer", "number": "a number", "null": "null",
}


def packaged_schema() -> dict[str, Any]:
    """The schema shipped inside the package: a copy of its own for every caller, so nobody
    can change what a validator checks against."""
    from ._schema_files import packaged_text  # only when the packaged schema is needed

    copied: dict[str, Any] = json.loads(packaged_text())
    return copied


class SchemaIndex(NamedTuple):
    """What the schema says beyond pass/fail, precomputed once per schema."""

    known_values: tuple[tuple[Pattern, tuple[str, ...]], ...]
    open_objects: tuple[tuple[Pattern, tuple[str, ...]], ...]
    key_homes: Mapping[str, tuple[Pattern, ...]]


class DocumentValidator:
    """A compiled validator for one schema; thread-safe and reusable. Immutable in effect:
    the jsonschema validator it builds on first need is the same whoever builds it, so the
    packaged one is shared by every Loader of a process (`packaged_validator`)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._jsonschema: Draft202012Validator | None = None
        self.index = _index(schema)
        # "Certainly valid?" compiled once; jsonschema judges and words every error, and is
        # only imported (about 60 ms) when a document is not certainly valid. Its validator
        # is built with the defaults below: no format checker.
        self._certainly_valid = compile_check(schema, format_checker=None)

    @property
    def _validator(self) -> Draft202012Validator:
        if self._jsonschema is None:  # two threads may both build one: equal, harmless
            from jsonschema import Draft202012Validator

            self._jsonschema = Draft202012Validator(self.schema)
        return self._jsonschema

    def is_valid(self, document: Mapping[str, Any]) -> bool:
        if self._certainly_valid is not None and self._certainly_valid(document):
            return True
        return bool(self._validator.is_valid(document))

    def problems(self, document: Mapping[str, Any], locate: Locate, strict: bool = False,
                 failed: frozenset[PathKey] = frozenset(),
                 hides: Callable[[PathKey], bool] | None = None) -> list[Problem]:
        """Every schema error and open-enum warning in `document`. `failed` are the paths
        whose values failed to resolve (already reported): what only follows from them is
        not reported again. `hides` says which values are masked (secrets and what is
        derived from them): a message never shows them."""
        found: list[Problem] = []
        shown = hides or _nothing_hidden
        if self._certainly_valid is None or not self._certainly_valid(document):
            prefixes = frozenset(f[:cut] for f in failed for cut in range(len(f)))
            context = _Context(locate, _secrets.masked_paths(document), self.index, failed,
                               prefixes, shown)
            for error in self._validator.iter_errors(document):
                found.extend(context.convert(error))
        warning: Severity = "error" if strict else "warning"
        found.extend(self._open_enum_problems(document, locate, warning, shown))
        return found

    def _open_enum_problems(self, document: Mapping[str, Any], locate: Locate,
                            severity: Severity,
                            hides: Callable[[PathKey], bool]) -> Iterator[Problem]:
        for pattern, known in self.index.known_values:
            for path, value in select(document, pattern):
                if isinstance(value, str) and value and value not in known:
                    # '' is an error already (minLength); a masked value is not echoed,
                    # nor is anything close to it suggested
                    hidden = hides(path)
                    mark, via = locate(path)
                    yield Problem(path, "unknown-value",
                                  f"{_secrets.MASK if hidden else repr(value)} is not a known "
                                  f"value (known: {', '.join(known)}); it is sent as written",
                                  mark, None if hidden else mean(did_you_mean(value, known)),
                                  severity, via)
        for pattern, props in self.index.open_objects:
            for path, value in select(document, pattern):
                if not isinstance(value, dict):
                    continue
                for key in value:
                    if key not in props:
                        mark, via = locate((*path, key), key=True)
                        yield Problem((*path, key), "vendor-key", "not a documented key; "
                                      "passed through to the API as a vendor key", mark,
                                      mean(did_you_mean(key, props)), severity, via)


@cache
def packaged_validator() -> DocumentValidator:
    """The validator of the packaged schema, compiled once per process (about 2 ms) and
    never changed after: sharing it lets `load_profile` with a new Loader stay cheap."""
    return DocumentValidator(packaged_schema())


# -- schema index -------------------------------------------------------------------------

def _index(schema: Mapping[str, Any]) -> SchemaIndex:
    known: list[tuple[Pattern, tuple[str, ...]]] = []
    open_objects: list[tuple[Pattern, tuple[str, ...]]] = []
    homes: dict[str, list[Pattern]] = {}
    defs = schema.get("$defs", {})

    def deref(node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node: Mapping[str, Any], pattern: Pattern, depth: int) -> None:
        if depth > 12:
            return
        node = deref(node)
        if "x-known-values" in node:
            known.append((pattern, tuple(node["x-known-values"])))
        for branch in node.get("anyOf", []):
            walk(branch, pattern, depth + 1)
        props = node.get("properties")
        if isinstance(props, dict):
            if node.get("additionalProperties") is True:
                open_objects.append((pattern, tuple(props)))
            for key, sub in props.items():
                homes.setdefault(key, []).append((*pattern, key))
                walk(sub, (*pattern, key), depth + 1)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, (*pattern, "*"), depth + 1)

    walk(schema, (), 0)
    return SchemaIndex(tuple(known), tuple(open_objects),
                       {k: tuple(v) for k, v in homes.items()})


# -- error conversion: one small converter per JSON Schema keyword --------------------------

def _path(error: ValidationError) -> PathKey:
    return tuple(error.absolute_path)


def _describe(value: Any, secret: bool) -> str:
    if secret:
        return _secrets.MASK
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value: Any, secret: bool) -> str:
    """`string 'false'`, `number 3`; plain `null` for None (not `null null`)."""
    if value is None:
        return "null"
    return f"{json_kind(value)} {_describe(value, secret)}"


def _nothing_hidden(path: PathKey) -> bool:
    return False


class _Context(NamedTuple):
    """What every converter needs: where paths were set, what must stay masked, the schema's
    index, and the paths whose values failed to resolve (and their parents, indexed: one
    set lookup per level of an error's path, however many values failed)."""

    locate: Locate
    secrets: set[PathKey]
    schema_index: SchemaIndex
    failed: frozenset[PathKey]
    failed_parents: frozenset[PathKey]
    hides: Callable[[PathKey], bool]

    def secret(self, path: PathKey) -> bool:
        return self.hides(path) or any(path[:cut] in self.secrets
                                       for cut in range(len(path), 0, -1))

    def at(self, error: ValidationError, path: PathKey, code: str, message: str,
           suggestion: str | None = None) -> Problem:
        """A problem at `path`; the schema's `x-errors` for this keyword, when it has one
        (the overlay's SDK-specific wording), replaces the message or the suggestion."""
        custom = _schema_of(error).get("x-errors", {}).get(str(error.validator), {})
        mark, via = self.locate(path)
        return Problem(path, code, custom.get("message", message), mark,
                       custom.get("suggestion", suggestion), "error", via)

    def convert(self, error: ValidationError) -> Iterator[Problem]:
        if self.follows_from_failure(error):
            return
        converter = _CONVERTERS.get(str(error.validator), _unknown_keyword)
        yield from converter(error, self)

    def follows_from_failure(self, error: ValidationError) -> bool:
        """Whether `error` only follows from a value that failed to resolve (reported
        already): it is at or inside that value, or it judges a container above it by
        contents the failure changed (a failed value is left out of a mapping and is null in
        a list), so the list has duplicates or the container fits no shape. (A missing
        required key is filtered in `_required`, key by key.)"""
        if not self.failed:
            return False
        path = _path(error)
        if any(path[:cut] in self.failed for cut in range(len(path), 0, -1)):
            return True
        return path in self.failed_parents and (
            error.validator == "uniqueItems"
            or (error.validator in ("type", "anyOf", "oneOf")
                and isinstance(error.instance, dict | list)))


Converter = Callable[["ValidationError", _Context], Iterator[Problem]]


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    schema: Any = error.schema
    return schema if isinstance(schema, Mapping) else {}


def _additional(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    allowed = list(_schema_of(error).get("properties", {}))
    instance: Any = error.instance
    for key in instance:
        if key in allowed:
            continue
        mark, via = ctx.locate((*path, key), key=True)
        if ctx.secret(path):  # `api_key: {sk-...: 1}`: the key may be the secret
            yield Problem((*path, _secrets.MASK), "unknown-key", "unknown key", mark, None,
                          "error", via)
            continue
        yield Problem((*path, key), "unknown-key", "unknown key", mark,
                      _key_hint(key, path, allowed, ctx.schema_index), "error", via)


def _any_of(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    branch_errors = _pick_branch(error)
    if branch_errors is not None:
        for sub in branch_errors:
            yield from ctx.convert(sub)
        return
    path = _path(error)
    instance: Any = error.instance
    spec: Any = error.validator_value
    secret = ctx.secret(path)
    # `ulaw` fits no branch, but the string branch's enum still has a close match.
    options = [str(o) for b in spec if isinstance(b, dict) for o in b.get("enum", ())]
    hint = mean(did_you_mean(instance, options)) \
        if isinstance(instance, str) and not secret else None
    yield ctx.at(error, path, "type", f"expected {_expected_types(error)}, got "
                 f"{_got(instance, secret)}", hint)


def _type(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    spec: Any = error.validator_value
    names = [spec] if isinstance(spec, str) else list(spec)
    wanted = " or ".join(_SCHEMA_TYPES.get(n, n) for n in names)
    yield ctx.at(error, path, "type", f"expected {wanted}, got "
                 f"{_got(error.instance, ctx.secret(path))}",
                 _coercion_hint(error.instance, names))


def _enum(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    spec: Any = error.validator_value
    options = [str(o) for o in spec]
    instance: Any = error.instance
    hint = mean(did_you_mean(instance, options)) if isinstance(instance, str) else None
    yield ctx.at(error, path, "enum", f"{_describe(instance, ctx.secret(path))} is not one "
                 f"of {', '.join(map(repr, options))}", hint)


def _const(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    yield ctx.at(error, path, "const", f"must be {error.validator_value!r}, got "
                 f"{_describe(error.instance, ctx.secret(path))}")


def _required(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    spec: Any = error.validator_value
    instance: Any = error.instance
    for key in spec:
        # a key left out because its value failed to resolve is missing only in consequence
        if key not in instance and (*path, key) not in ctx.failed:
            yield ctx.at(error, path, "required", f"missing required key {key!r}")


_BOUND_CODES: Final = {"minimum": "minimum", "maximum": "maximum",
                       "exclusiveMinimum": "exclusive-minimum",
                       "exclusiveMaximum": "exclusive-maximum"}
_RELATIONS: Final = {
    "minimum": "less than the minimum of", "maximum": "greater than the maximum of",
    "exclusiveMinimum": "not greater than", "exclusiveMaximum": "not less than",
}


def _bound(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    kind = str(error.validator)
    shown = _describe(error.instance, ctx.secret(path))
    yield ctx.at(error, path, _BOUND_CODES[kind],
                 f"{shown} is {_RELATIONS[kind]} {error.validator_value}")


def _max_items(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    instance: Any = error.instance
    yield ctx.at(error, _path(error), "max-items",
                 f"has {len(instance)} items, at most {error.validator_value} allowed")


def _unique_items(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    yield ctx.at(error, _path(error), "unique-items", "has duplicate items")


def _min_length(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    yield ctx.at(error, _path(error), "min-length", "must not be empty")


def _pattern(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    path = _path(error)
    yield ctx.at(error, path, "pattern", f"{_describe(error.instance, ctx.secret(path))} does "
                 f"not match {error.validator_value!r}")


def _unknown_keyword(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    yield ctx.at(error, _path(error), str(error.validator),
                 f"fails {error.validator}: {error.validator_value!r}")


_CONVERTERS: Final[Mapping[str, Converter]] = {
    "additionalProperties": _additional,
    "anyOf": _any_of,
    "oneOf": _any_of,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "minimum": _bound,
    "maximum": _bound,
    "exclusiveMinimum": _bound,
    "exclusiveMaximum": _bound,
    "maxItems": _max_items,
    "uniqueItems": _unique_items,
    "minLength": _min_length,
    "pattern": _pattern,
}


def _key_hint(key: str, path: PathKey, allowed: Sequence[str], index: SchemaIndex) -> str | None:
    close = mean(did_you_mean(key, allowed))
    if close:
        return close
    homes = index.key_homes.get(key, ())
    prefix = tuple(str(p) for p in path)
    below = [h for h in homes if h[: len(prefix)] == prefix and "*" not in h]
    if below:
        best = min(below, key=len)
        return f"it belongs at {'.'.join(best)}"
    if homes:
        best = min(homes, key=len)
        return f"it belongs at {'.'.join(p for p in best)}"
    if not allowed:
        return "nothing may be set here"
    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return f"allowed here: {shown}"


_TRUTHY: Final = ("true", "yes", "on")


def _coercion_hint(value: Any, expected: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.strip().lower()
    if "boolean" in expected and lowered in (*_TRUTHY, "false", "no", "off"):
        word = "true" if lowered in _TRUTHY else "false"
        return f"write {word} without quotes; strings are never coerced"
    if {"number", "integer"} & set(expected):
        try:
            float(value)
        except ValueError:
            return None
        return f"write {value.strip()} without quotes; strings are never coerced"
    return None


def _pick_branch(error: ValidationError) -> list[ValidationError] | None:
    """The errors of the one `anyOf` branch the value was evidently written for."""
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    instance: Any = error.instance
    branches: Any = error.validator_value
    candidates = []
    for number, errors in by_branch.items():
        # A branch whose errors are all below the value (not about its own type) fits it.
        if all(_path(e) != _path(error) or e.validator not in ("type", "const", "enum")
               for e in errors):
            candidates.append(number)
    if isinstance(instance, dict) and "type" in instance:
        typed = [n for n in candidates if _discriminates(branches[n], instance)]
        if len(typed) == 1:
            return by_branch[typed[0]]
    if len(candidates) == 1:
        return by_branch[candidates[0]]
    return None


def _discriminates(branch: Any, instance: Mapping[str, Any]) -> bool:
    props = branch.get("properties", {}) if isinstance(branch, dict) else {}
    type_schema = props.get("type", {})
    options = [type_schema["const"]] if "const" in type_schema else type_schema.get("enum", [])
    return instance.get("type") in options


def _expected_types(error: ValidationError) -> str:
    names: list[str] = []
    branches: Any = error.validator_value
    for branch in branches:
        label = _branch_label(branch)
        if label not in names:
            names.append(label)
    return " or ".join(names)


def _branch_label(branch: Any) -> str:
    if not isinstance(branch, dict):
        return "a value"
    if "$ref" in branch:
        return f"a {branch['$ref'].rsplit('/', 1)[-1]} mapping"
    if "enum" in branch:
        return "one of " + ", ".join(repr(v) for v in branch["enum"])
    if "const" in branch:
        return repr(branch["const"])
    t = branch.get("type")
    if isinstance(t, str):
        return _SCHEMA_TYPES.get(t, t)
    return "a value"


__all__ = ["DocumentValidator", "Locate", "packaged_schema"]
