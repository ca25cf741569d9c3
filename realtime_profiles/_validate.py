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

    from ._subschema import SchemaNav

from . import _secrets
from ._fastschema import compile_check
from ._layer import ENV_PREFIX, Edit
from ._paths import MISSING, PathKey, Pattern, get, json_kind, matches, select
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
    defs: Mapping[str, Any]

    def deref(self, node: Any) -> Any:
        """`node` with local `$ref`s followed."""
        while isinstance(node, Mapping) and "$ref" in node:
            node = self.defs[str(node["$ref"]).rsplit("/", 1)[-1]]
        return node


class DocumentValidator:
    """A compiled validator for one schema; thread-safe and reusable. Immutable in effect:
    the jsonschema validator it builds on first need is the same whoever builds it, so the
    packaged one is shared by every Loader of a process (`packaged_validator`)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._jsonschema: Draft202012Validator | None = None
        self._nav: SchemaNav | None = None
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

    def certainly_valid(self, document: Mapping[str, Any]) -> bool:
        """True only when the compiled check proves `document` valid (no jsonschema)."""
        return self._certainly_valid is not None and self._certainly_valid(document)

    @property
    def nav(self) -> SchemaNav:
        """The schema navigator (by path), built on first need."""
        if self._nav is None:
            from ._subschema import SchemaNav

            self._nav = SchemaNav(self.schema)
        return self._nav

    def is_valid(self, document: Mapping[str, Any]) -> bool:
        if self._certainly_valid is not None and self._certainly_valid(document):
            return True
        return bool(self._validator.is_valid(document))

    def problems(self, document: Mapping[str, Any], locate: Locate, strict: bool = False,
                 failed: frozenset[PathKey] = frozenset(),
                 hides: Callable[[PathKey], bool] | None = None) -> list[Problem]:
        """Every schema error and open-enum warning in `document`. `failed` are the paths
        whose values failed to resolve (already reported): what only follows from them is
        not reported again. `hides` says which values are masked, or hold a masked value
        (secrets and what is derived from them): a message never shows them."""
        found: list[Problem] = []
        shown = hides or _nothing_hidden
        if self._certainly_valid is None or not self._certainly_valid(document):
            prefixes = frozenset(f[:cut] for f in failed for cut in range(len(f)))
            context = _Context(locate, _secrets.masked_paths(document), self.index, failed,
                               prefixes, shown)
            for error in self._validator.iter_errors(document):
                found.extend(context.convert(error))
        warning: Severity = "error" if strict else "warning"
        found.extend(self.open_enum_problems(document, locate, warning, hides=shown))
        return found

    def edit_problem(self, edit: Edit, variable: str | None = None) -> Problem | None:
        """An override (or, with `variable`, a `REALTIME_PROFILES__*` variable) whose key the
        schema has no place for: refused before it is applied, with the key it meant
        written the way the caller writes it. `vars` is free-form and not checked."""
        if not edit.path or edit.path[0] not in self.schema.get("properties", {}):
            return None
        found = unknown_key(self.index, self.schema, edit.path)
        if found is None:
            return None
        at, allowed = found
        hint = key_hint(str(at[-1]), at[:-1], allowed, self.index)
        rest = edit.path[len(at):]
        if hint.kind == "home" and "*" not in hint.text:
            meant: PathKey | None = (*hint.text.split("."), *rest)
            advice = f"it belongs at {hint.text}"
        elif hint.kind == "close":
            meant = (*at[:-1], hint.text, *rest)
            advice = f"did you mean '{hint.text}'?"
        else:
            meant, advice = None, hint.text if hint.kind != "home" else \
                f"it belongs at {hint.text}"
        if meant is not None:
            advice += f"{':' if hint.kind == 'home' else ''} {_retyped(edit, meant, variable)}"
        return Problem(at, "unknown-key", "unknown key", edit.mark, advice)

    def free_form(self, path: PathKey) -> bool:
        """Whether the mapping that holds `path` takes keys the schema does not name (`vars`,
        tracing metadata, headers): there a missing key may well be a typo of a present one."""
        if not path or path[0] not in self.schema.get("properties", {}):
            return True
        return unknown_key(self.index, self.schema, (*path[:-1], "\x00 no such key")) is None

    def open_enum_problems(self, document: Mapping[str, Any], locate: Locate,
                           severity: Severity, *, within: Sequence[PathKey] | None = None,
                           memo: dict[Any, Any] | None = None,
                           hides: Callable[[PathKey], bool] | None = None
                           ) -> Iterator[Problem]:
        """Values outside an open enum's known ones, and undocumented keys in open mappings:
        in the whole document, or only inside the paths `within` (what a call changed; which
        patterns reach into each path is kept in `memo`). A value `hides` masks is not
        echoed, nor is anything close to it suggested."""
        hidden_at = hides or _nothing_hidden
        for kind, path, value, names in self._open_values(document, within, memo):
            if kind == "known":
                if isinstance(value, str) and value and value not in names:
                    # '' is an error already (minLength)
                    hidden = hidden_at(path) or _secrets.MASK in value
                    mark, via = locate(path)
                    yield Problem(path, "unknown-value",
                                  f"{_secrets.MASK if hidden else repr(value)} is not a known "
                                  f"value (known: {', '.join(names)}); it is sent as written",
                                  mark, None if hidden else mean(did_you_mean(value, names)),
                                  severity, via)
            elif isinstance(value, dict):
                for key in value:
                    if key not in names:
                        mark, via = locate((*path, key), key=True)
                        yield Problem((*path, key), "vendor-key", "not a documented key; "
                                      "passed through to the API as a vendor key", mark,
                                      mean(did_you_mean(key, names)), severity, via)

    def _open_values(self, document: Mapping[str, Any], within: Sequence[PathKey] | None,
                     memo: dict[Any, Any] | None
                     ) -> Iterator[tuple[str, PathKey, Any, tuple[str, ...]]]:
        """(kind, path, value, names) of every value an open enum or open mapping governs."""
        tables = (("known", self.index.known_values), ("open", self.index.open_objects))
        if within is None:
            for kind, table in tables:
                for pattern, names in table:
                    for path, value in select(document, pattern):
                        yield kind, path, value, names
            return
        for prefix in within:
            relevant = memo.get(("open-values", prefix)) if memo is not None else None
            if relevant is None:
                relevant = [(kind, pattern[len(prefix):], names)
                            for kind, table in tables for pattern, names in table
                            if len(prefix) <= len(pattern)
                            and matches(prefix, pattern[: len(prefix)])]
                if memo is not None:
                    memo[("open-values", prefix)] = relevant
            if not relevant:
                continue
            base = get(document, prefix)
            if base is MISSING:
                continue
            for kind, rest, names in relevant:
                for path, value in select(base, rest):
                    yield kind, (*prefix, *path), value, names


def unknown_key(index: SchemaIndex, schema: Mapping[str, Any],
                path: PathKey) -> tuple[PathKey, tuple[str, ...]] | None:
    """The first segment of `path` that the schema has no place for, with the keys allowed
    there; None when every segment has one (or lies in an open mapping, or in a list or a
    value the schema cannot judge by key: the fold and validation speak for those)."""
    nodes = [schema]
    for depth, part in enumerate(path):
        subschemas = [n for node in nodes for n in _alternatives(index, node)]
        if isinstance(part, int):
            nodes = [n["items"] for n in subschemas if isinstance(n.get("items"), Mapping)]
        else:
            if any(_is_plain_value(n) for n in subschemas):
                return None  # may be a string (`voice`): the fold says what it is
            objects = [n for n in subschemas if n.get("type") == "object" or "properties" in n]
            found = [n["properties"][part] for n in objects
                     if isinstance(n.get("properties"), Mapping) and part in n["properties"]]
            if not found:
                # a mapping closed by its anyOf members (turn detection) is as closed as they
                extra = [n.get("additionalProperties", True) for n in objects
                         if not _closed_by_members(index, n)]
                if not objects or any(e is True for e in extra):
                    return None  # a free-form mapping (metadata), or not a mapping at all
                found = [e for e in extra if isinstance(e, Mapping)]
                if not found:
                    allowed = tuple(dict.fromkeys(
                        k for n in objects for k in n.get("properties", {})))
                    return path[: depth + 1], allowed
            nodes = found
        if not nodes:
            return None
    return None


def _retyped(edit: Edit, path: PathKey, variable: str | None) -> str:
    """`edit` with its key replaced by `path`, in the caller's syntax: the override as it
    would be typed, or the environment variable to set instead."""
    if variable is not None:
        return "set " + ENV_PREFIX + "__".join(str(p).upper() for p in path) + " instead"
    key = ".".join(str(p) for p in path)
    if path[0] == "run_config" and not edit.display.startswith("run_config"):
        key = key[len("run_config."):]
    forms = {"set": f"{key}=...", "add": f"+{key}=...", "force": f"++{key}=...",
             "delete": f"~{key}", "append": f"{key}+=[...]"}
    return f"write {forms[edit.kind]}"


def _closed_by_members(index: SchemaIndex, node: Mapping[str, Any]) -> bool:
    members = [index.deref(b) for b in node.get("anyOf", ())]
    return bool(members) and all(isinstance(m, Mapping) and m.get("additionalProperties") is
                                 False for m in members)


def _is_plain_value(node: Mapping[str, Any]) -> bool:
    """A schema for a string, number, boolean or list (null does not count: a mapping that
    may be null is still judged by its keys)."""
    kinds = node.get("type")
    names = {kinds} if isinstance(kinds, str) else set(kinds or ())
    return bool(names - {"object", "null"}) or ("enum" in node and "properties" not in node)


def _alternatives(index: SchemaIndex, node: Any) -> list[Mapping[str, Any]]:
    """`node` and the branches of its anyOf/oneOf/allOf, with `$ref`s followed."""
    node = index.deref(node)
    if not isinstance(node, Mapping):
        return []
    found = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, ()):
            found.extend(_alternatives(index, branch))
    return found


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
                       {k: tuple(v) for k, v in homes.items()}, defs)


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
        """Whether the value at `path` may not be quoted: it, a parent, or anything inside it
        is masked (`group_id: ["${oc.env:TOKEN}"]` is `got list ***`)."""
        return self.hides(path) or any(path[:cut] in self.secrets
                                       for cut in range(len(path), 0, -1)) \
            or any(len(s) > len(path) and s[:len(path)] == path for s in self.secrets)

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
    # A member of a discriminated union says, in the schema, how to word a field that belongs
    # to another member (`eagerness` in a server_vad block): `x-errors.additionalProperties`.
    wording = _schema_of(error).get("x-errors", {}).get("additionalProperties", {})
    instance: Any = error.instance
    for key in instance:
        if key in allowed:
            continue
        mark, via = ctx.locate((*path, key), key=True)
        if ctx.secret(path):  # `api_key: {sk-...: 1}`: the key may be the secret
            yield Problem((*path, _secrets.MASK), "unknown-key", "unknown key", mark, None,
                          "error", via)
            continue
        if key in wording.get("keys", ()):
            fields = _Fields(key, path, instance, allowed, ctx)
            yield Problem((*path, key), "variant-key", wording["message"].format_map(fields),
                          mark, wording.get("suggestion", "").format_map(fields) or None,
                          "error", via)
            continue
        yield Problem((*path, key), "unknown-key", "unknown key", mark,
                      _key_hint(key, path, allowed, ctx.schema_index), "error", via)


class _Fields(dict[str, Any]):
    """What an `x-errors` template may name: `{key}`, `{dotted}` (the mapping's path),
    `{allowed}` (its fields but the discriminator), `{value[name]}` (a sibling's value) and
    `{at[name]}` (where that sibling was set)."""

    def __init__(self, key: str, path: PathKey, instance: Mapping[str, Any],
                 allowed: Sequence[str], ctx: _Context) -> None:
        super().__init__(
            key=key, dotted=".".join(map(str, path)),
            allowed=", ".join(k for k in allowed if k != _TAG) or "no other field",
            value={k: str(v) for k, v in instance.items() if not isinstance(v, dict | list)},
            at=_Marks(path, ctx))


class _Marks(dict[str, str]):
    """`{at[type]}`: where the sibling `type` was set, located on demand."""

    def __init__(self, path: PathKey, ctx: _Context) -> None:
        super().__init__()
        self._path = path
        self._ctx = ctx

    def __missing__(self, name: str) -> str:
        mark, _ = self._ctx.locate((*self._path, name))
        return mark.render() if mark is not None else "?"


def _any_of(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    picked = _by_discriminator(error, ctx)
    if picked is not None:
        yield from picked
        return
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
    expected = _expected_types(error, ctx.schema_index)
    yield ctx.at(error, path, "type", f"expected {expected}, got {_got(instance, secret)}", hint)


_TAG: Final = "type"
"""The discriminator of every union the wire types define (turn detection, audio formats,
message parts, tool choice, prompt variables)."""


def _by_discriminator(error: ValidationError, ctx: _Context) -> list[Problem] | None:
    """A mapping checked against a discriminated union (members told apart by a `type`
    const): the problems of the member its `type` picks, or that its `type` picks none, or,
    without a `type`, those of the one member that takes none. None: not such a union."""
    instance: Any = error.instance
    if not isinstance(instance, dict):
        return None
    spec: Any = error.validator_value
    branches = [ctx.schema_index.deref(b) for b in spec]
    tags = {n: _tags(b) for n, b in enumerate(branches) if _tags(b)}
    if not tags:
        return None
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    if _TAG in instance:
        return _tagged(error, ctx, tags, by_branch)
    untagged = [n for n, b in enumerate(branches) if n not in tags and _is_mapping_schema(b)]
    if len(untagged) == 1:
        return [p for sub in by_branch.get(untagged[0], []) for p in ctx.convert(sub)]
    if not untagged:
        return [ctx.at(error, _path(error), "required", f"missing required key {_TAG!r}")]
    return None


def _tagged(error: ValidationError, ctx: _Context, tags: Mapping[int, tuple[Any, ...]],
            by_branch: Mapping[int, list[ValidationError]]) -> list[Problem] | None:
    """The problems of a mapping whose `type` picks one member, or names none."""
    instance: Any = error.instance
    value = instance[_TAG]
    chosen = [n for n, options in tags.items() if any(value == o for o in options)]
    if len(chosen) == 1:
        return [p for sub in by_branch.get(chosen[0], []) for p in ctx.convert(sub)]
    if chosen:
        return None
    if not isinstance(value, str):  # the mapping's own `type` schema says so
        return []
    options = [str(o) for n in sorted(tags) for o in tags[n]]
    return [ctx.at(error, (*_path(error), _TAG), "enum", f"{_describe(value, False)} is not "
                   f"one of {', '.join(map(repr, options))}", mean(did_you_mean(value, options)))]


def _tags(branch: Any) -> tuple[Any, ...]:
    """The discriminator values a union member takes (its `type` const or enum)."""
    if not isinstance(branch, Mapping):
        return ()
    schema = branch.get("properties", {}).get(_TAG, {})
    if not isinstance(schema, Mapping):
        return ()
    if "const" in schema:
        return (schema["const"],)
    return tuple(schema.get("enum", ()))


def _is_mapping_schema(branch: Any) -> bool:
    return isinstance(branch, Mapping) and (branch.get("type") == "object"
                                            or "properties" in branch)


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


def _not(error: ValidationError, ctx: _Context) -> Iterator[Problem]:
    # The schema says `not: {}` where a field holds code; its `x-errors` says what instead.
    yield ctx.at(error, _path(error), "code-not-data", "cannot be set in a profile")


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
    "not": _not,
}


class KeyHint(NamedTuple):
    """Advice for an unknown key: where a key of that name lives (`home`, a dotted path), a
    close allowed key (`close`), or the allowed keys (`allowed`, text)."""

    kind: str
    text: str


def key_hint(key: str, path: PathKey, allowed: Sequence[str], index: SchemaIndex) -> KeyHint:
    """An exact name that lives elsewhere beats a close one here: `tracing_disabled` under
    `model_settings` belongs at `run_config.tracing_disabled`, it is not a typo of `tracing`.
    Of several homes, the one sharing the most of the key's place (`output_guardrails` under
    `run_config.model_settings`: `run_config.output_guardrails`, not `agent.`)."""
    every: list[Pattern] = list(index.key_homes.get(key, ()))
    homes = [h for h in every if "*" not in h] or every
    prefix = tuple(str(p) for p in path)
    below = [h for h in homes if h[: len(prefix)] == prefix]
    if below or homes:
        def nearness(home: Pattern) -> tuple[int, int]:  # the home nearest the key's place
            shared = next((i for i, (a, b) in enumerate(zip(home, prefix, strict=False))
                           if a != b), min(len(home), len(prefix)))
            return (-shared, len(home))

        best: Pattern = min(below or homes, key=nearness)
        return KeyHint("home", ".".join(best))
    close = did_you_mean(key, allowed)
    if close is not None:
        return KeyHint("close", close)
    if not allowed:
        return KeyHint("allowed", "nothing may be set here")
    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return KeyHint("allowed", f"allowed here: {shown}")


def _key_hint(key: str, path: PathKey, allowed: Sequence[str], index: SchemaIndex) -> str:
    hint = key_hint(key, path, allowed, index)
    if hint.kind == "home":
        return f"it belongs at {hint.text}"
    if hint.kind == "close":
        return f"did you mean '{hint.text}'?"
    return hint.text


# What YAML 1.1 (and people) read as booleans; in YAML 1.2, which profiles use, only
# true/false are (`yes` is the string 'yes', `language: no` the language code).
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "y"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "n"})


def _coercion_hint(value: Any, expected: Sequence[str]) -> str | None:
    """What to write instead of a string where a boolean or a number is expected. "Without
    quotes" only where dropping the quotes gives that type (`'false'`, `'0.5'`); a word that
    YAML 1.1 would have read as a boolean (`yes`) gets the YAML 1.2 spelling."""
    from ._yaml import core_boolean, core_number

    if not isinstance(value, str):
        return None
    stripped = value.strip()
    lowered = stripped.lower()
    if "boolean" in expected and lowered in _TRUE_WORDS | _FALSE_WORDS:
        word = "true" if lowered in _TRUE_WORDS else "false"
        if core_boolean(stripped):
            return f"write {stripped} without quotes; strings are never coerced"
        return f"write {word}"
    if {"number", "integer"} & set(expected) and core_number(stripped):
        return f"write {stripped} without quotes; strings are never coerced"
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


def _expected_types(error: ValidationError, index: SchemaIndex) -> str:
    names: list[str] = []
    branches: Any = error.validator_value
    for branch in branches:
        label = _branch_label(branch, index)
        if label not in names:
            names.append(label)
    return " or ".join(names)


class _Derefs(Protocol):
    """What follows a schema's local `$ref`s: a `SchemaIndex`, or `_subschema.SchemaNav`."""

    def deref(self, node: Any) -> Any: ...


def _branch_label(branch: Any, index: _Derefs) -> str:
    if not isinstance(branch, dict):
        return "a value"
    if "$ref" in branch:
        if _tags(index.deref(branch)):  # a member of a discriminated union: its type says
            return "a mapping"
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
