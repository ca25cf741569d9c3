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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:  # jsonschema is imported when a document is not certainly valid
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

from .errors import Mark, Problem, Severity, did_you_mean
from .fastschema import compile_check
from .layers import SECRET_MAPPINGS, PathKey, render_path, secret_paths


class Locate(Protocol):
    """Where a path was set: (mark, via). `key=True` asks for the key itself: a key written
    as `voic: ${vars.voice}` is located at that line, not where the value was defined."""

    def __call__(self, path: PathKey, key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        ...
Pattern = tuple[str, ...]  # '*' matches any list index or mapping key

_JSON_TYPES: Final = {
    dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
    float: "number", type(None): "null",
}
_SCHEMA_TYPES: Final = {
    "object": "a mapping", "array": "a list", "string": "a string", "boolean": "a boolean",
    "integer": "an integer", "number": "a number", "null": "null",
}


def packaged_schema() -> dict[str, Any]:
    """The schema shipped inside the package: a copy of its own for every caller, so nobody
    can change what every validator in the process checks against."""
    copied: dict[str, Any] = json.loads(_packaged_text())
    return copied


@cache
def _packaged_text() -> str:
    return resources.files("realtime_profiles").joinpath("schema.json").read_text("utf-8")


@dataclass(frozen=True)
class SchemaIndex:
    """What the schema says beyond pass/fail, precomputed once per schema."""

    known_values: tuple[tuple[Pattern, tuple[str, ...]], ...]
    open_objects: tuple[tuple[Pattern, tuple[str, ...]], ...]
    key_homes: Mapping[str, tuple[Pattern, ...]]


class DocumentValidator:
    """A compiled validator for one schema; thread-safe and reusable."""

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

    def problems(self, document: Mapping[str, Any], locate: Locate,
                 strict: bool = False) -> list[Problem]:
        """Every schema error and open-enum warning in `document`."""
        # Secret values, and the headers mapping itself: an error never shows one.
        found: list[Problem] = []
        if self._certainly_valid is None or not self._certainly_valid(document):
            secrets = {path for path, _ in secret_paths(dict(document))} | set(SECRET_MAPPINGS)
            for error in self._validator.iter_errors(document):
                found.extend(_convert(error, locate, secrets, self.index))
        warning: Severity = "error" if strict else "warning"
        found.extend(self._open_enum_problems(document, locate, warning))
        return found

    def _open_enum_problems(self, document: Mapping[str, Any], locate: Locate,
                            severity: Severity) -> Iterator[Problem]:
        for pattern, known in self.index.known_values:
            for path, value in _select(document, pattern):
                if isinstance(value, str) and value and value not in known \
                        and "***" not in value:  # '' is an error already (minLength)
                    mark, via = locate(path)
                    yield Problem(render_path(path), f"{value!r} is not a known value "
                                  f"(known: {', '.join(known)}); it is sent as written", mark,
                                  did_you_mean(value, known), severity, via)
        for pattern, props in self.index.open_objects:
            for path, value in _select(document, pattern):
                if not isinstance(value, dict):
                    continue
                for key in value:
                    if key not in props:
                        mark, via = locate((*path, key), key=True)
                        yield Problem(render_path((*path, key)), "not a documented key; passed "
                                      "through to the API as a vendor key", mark,
                                      did_you_mean(key, props), severity, via)


@cache
def packaged_validator() -> DocumentValidator:
    """The validator for the packaged schema, compiled once per process (immutable)."""
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


def _select(document: Any, pattern: Pattern) -> Iterator[tuple[PathKey, Any]]:
    """Values of `document` at `pattern`, with their concrete paths."""
    nodes: list[tuple[PathKey, Any]] = [((), document)]
    for part in pattern:
        nxt: list[tuple[PathKey, Any]] = []
        for path, node in nodes:
            if part == "*":
                if isinstance(node, list):
                    nxt.extend(((*path, i), item) for i, item in enumerate(node))
            elif isinstance(node, dict) and part in node:
                nxt.append(((*path, part), node[part]))
        nodes = nxt
    yield from nodes


# -- error conversion ---------------------------------------------------------------------

def _path(error: ValidationError) -> PathKey:
    return tuple(error.absolute_path)


def _describe(value: Any, secret: bool) -> str:
    if secret:
        return "***"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value: Any, secret: bool) -> str:
    """`string 'false'`, `number 3`; plain `null` for None (not `null null`)."""
    if value is None:
        return "null"
    return f"{_kind_of(value)} {_describe(value, secret)}"


def _kind_of(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _secret(path: PathKey, secrets: set[PathKey]) -> bool:
    """A secret's path, or a path inside one (`api_key: [sk-...]` errors at api_key[0])."""
    return any(path[: len(s)] == s for s in secrets)


def _convert(error: ValidationError, locate: Locate, secrets: set[PathKey],
             index: SchemaIndex) -> Iterator[Problem]:
    path = _path(error)
    kind = error.validator
    # jsonschema types these as `Any | Unset`; on a reported error they are always set.
    instance: Any = error.instance
    spec: Any = error.validator_value
    schema: Any = error.schema

    def at(where: PathKey, message: str, suggestion: str | None = None) -> Problem:
        mark, via = locate(where)
        return Problem(render_path(where), message, mark, suggestion, "error", via)

    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            mark, via = locate((*path, key), key=True)
            if _secret(path, secrets):  # `api_key: {sk-...: 1}`: the key may be the secret
                yield Problem(render_path((*path, "***")), "unknown key", mark, None, "error", via)
                continue
            yield Problem(render_path((*path, key)), "unknown key",
                          mark, _key_hint(key, path, allowed, index), "error", via)
        return
    if kind in ("anyOf", "oneOf"):
        branch_errors = _pick_branch(error)
        if branch_errors is not None:
            for sub in branch_errors:
                yield from _convert(sub, locate, secrets, index)
            return
        expected = _expected_types(error)
        # `ulaw` fits no branch, but the string branch's enum still has a close match.
        options = [str(o) for b in spec if isinstance(b, dict)
                   for o in b.get("enum", ())]
        hint = did_you_mean(instance, options) \
            if isinstance(instance, str) and not _secret(path, secrets) else None
        yield at(path, f"expected {expected}, got "
                 f"{_got(instance, _secret(path, secrets))}", hint)
        return
    secret = _secret(path, secrets)
    value = _describe(instance, secret)
    if kind == "type":
        expected = spec
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_SCHEMA_TYPES.get(n, n) for n in names)
        yield at(path, f"expected {wanted}, got {_got(instance, secret)}",
                 _coercion_hint(instance, names))
    elif kind == "enum":
        options = [str(o) for o in spec]
        hint = did_you_mean(str(instance), options) if isinstance(instance, str) \
            else None
        yield at(path, f"{value} is not one of {', '.join(map(repr, options))}", hint)
    elif kind == "const":
        yield at(path, f"must be {spec!r}, got {value}")
    elif kind == "required":
        missing = [k for k in spec if k not in instance]
        for key in missing:
            yield at(path, f"missing required key {key!r}")
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {"minimum": "less than the minimum of",
                    "maximum": "greater than the maximum of",
                    "exclusiveMinimum": "not greater than", "exclusiveMaximum": "not less than"}
        yield at(path, f"{value} is {relation[kind]} {spec}")
    elif kind == "maxItems":
        message = f"has {len(instance)} items, at most {spec} allowed"
        hint = None
        if path and path[-1] in ("output_modalities", "modalities"):
            message = "text and audio cannot be requested together"
            hint = "choose one: [audio] (audio plus transcript) or [text]"
        yield at(path, message, hint)
    elif kind == "uniqueItems":
        yield at(path, "has duplicate items")
    elif kind == "minLength":
        yield at(path, "must not be empty")
    elif kind == "pattern":
        hint = "the SDK opens a websocket: use wss://..." if path[-1:] == ("url",) else None
        yield at(path, f"{value} does not match {spec!r}", hint)
    else:
        yield at(path, f"fails {kind}: {spec!r}")


def _key_hint(key: str, path: PathKey, allowed: Sequence[str], index: SchemaIndex) -> str | None:
    close = did_you_mean(key, allowed)
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


def _coercion_hint(value: Any, expected: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.strip().lower()
    if "boolean" in expected and lowered in ("true", "false", "yes", "no", "on", "off"):
        return f"write {lowered in ('true', 'yes', 'on')!s} without quotes; strings are " \
               "never coerced".replace("True", "true").replace("False", "false")
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
