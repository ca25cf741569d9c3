"""TypedDict (and dataclass, and function signature) -> JSON Schema (draft 2020-12), generic
and SDK-agnostic.

Why our own generator and not pydantic's `TypeAdapter(...).json_schema()`: on the SDK's
TypedDicts pydantic stops at unresolved forward references (`AgentBase` behind `Handoff`),
would describe tool and guardrail *objects* where a profile can only hold names, ignores
attribute docstrings of classes we do not own, and flattens `Literal[...] | str` open enums
to plain strings, losing the known values we warn against. This module does those four things
and nothing else; SDK specifics (overlays, registries) live in `sdk_schema`. Dataclasses
(`RealtimeAgent`) and a function's keyword parameters (`realtime_handoff`) are described the same
way: a closed object, one property per field or parameter, required where there is no default.

Generation runs when the schema is regenerated, never when a profile is loaded.
"""

from __future__ import annotations

import ast
import collections.abc
import dataclasses
import inspect
import itertools
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from typing_extensions import is_typeddict

JSONSchema = dict[str, Any]
OpaqueHook = Callable[[Any], JSONSchema | None]

_SCALARS: dict[Any, JSONSchema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


class UnsupportedTypeError(TypeError):
    """A type has no JSON form and no hook claimed it."""


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Docstrings written under annotated attributes (`x: int` then `\"\"\"doc\"\"\"`).

    Python keeps no record of them at run time; the source is the only place they live. A
    dataclass inherits fields, so its bases are read too (a subclass's docstring wins).
    """
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if base is cls or dataclasses.is_dataclass(base):
            docs.update(_own_attribute_docstrings(base))
    return docs


def _own_attribute_docstrings(cls: type) -> dict[str, str]:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(inspect.cleandoc(source) if source.startswith((" ", "\t")) else source)
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == cls.__name__):
            continue
        body = node.body
        for current, following in itertools.pairwise(body):
            if (
                isinstance(current, ast.AnnAssign)
                and isinstance(current.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[current.target.id] = inspect.cleandoc(following.value.value).strip()
        break
    return docs


_ARG_LINE = re.compile(r"^(\w+)(?: \([^)]*\))?: (.*)$")


def parameter_docstrings(function: Callable[..., Any]) -> dict[str, str]:
    """Each parameter's text from a Google-style `Args:` section (continuation lines joined),
    which is how the SDK documents its functions."""
    doc = inspect.getdoc(function) or ""
    docs: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        if not in_args:
            continue
        if line and not line.startswith(" "):  # the next section (`Returns:`, `Note: ...`)
            break
        match = _ARG_LINE.match(line.strip()) if line.startswith("    ") and \
            not line.startswith("     ") else None
        if match:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current and line.strip():
            docs[current] = f"{docs[current]} {line.strip()}"
    return docs


def _strip_qualifiers(tp: Any) -> Any:
    """Drop NotRequired/Required/Annotated wrappers, which say nothing about the JSON shape."""
    while True:
        origin = get_origin(tp)
        if origin in (NotRequired, Required) or origin is typing.Annotated:
            tp = get_args(tp)[0]
        else:
            return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


class SchemaBuilder:
    """Turns Python types into schemas, collecting TypedDicts and named aliases as `$defs`.

    `aliases` names type aliases (which Python erases) so they become `$defs` too;
    `field_overrides["Class.field"]` replaces a field's generated schema (description kept);
    `field_constraints["Class.field"]` adds keywords to it (e.g. `minimum`);
    `opaque` maps types with no JSON form (callables, classes) to a schema, or None to refuse;
    `open_classes` lists TypedDicts that accept extra keys (`additionalProperties: true`);
    `localns` resolves forward references a class's module imports only for type checking
    (`RealtimeAgent` names `MCPServer` under `if TYPE_CHECKING`).
    """

    def __init__(
        self,
        *,
        aliases: Mapping[str, Any] | None = None,
        field_overrides: Mapping[str, JSONSchema] | None = None,
        field_constraints: Mapping[str, JSONSchema] | None = None,
        field_notes: Mapping[str, str] | None = None,
        opaque: OpaqueHook | None = None,
        open_classes: frozenset[str] = frozenset(),
        localns: Mapping[str, Any] | None = None,
    ) -> None:
        self.defs: dict[str, JSONSchema] = {}
        self._localns = dict(localns or {})
        self._aliases = dict(aliases or {})
        self._overrides = dict(field_overrides or {})
        self._constraints = dict(field_constraints or {})
        self._notes = dict(field_notes or {})
        self._opaque = opaque
        self._open = open_classes
        self._used_overrides: set[str] = set()
        self.classes: dict[str, type] = {}
        """The TypedDict behind each object in `defs`, for naming fields that drift."""

    def unused_overlays(self) -> set[str]:
        """Overlay keys that matched no field: a renamed SDK field would otherwise go unnoticed."""
        keys = set(self._overrides) | set(self._constraints) | set(self._notes)
        return keys - self._used_overrides

    def schema_for(self, tp: Any) -> JSONSchema:
        """The schema of `tp`, referring to `$defs` for TypedDicts and named aliases."""
        tp = _strip_qualifiers(tp)
        for name, alias in self._aliases.items():
            if tp == alias:
                if name not in self.defs:
                    self.defs[name] = {}  # placeholder against recursion
                    self.defs[name] = self._plain_schema(alias)
                return {"$ref": f"#/$defs/{name}"}
        return self._plain_schema(tp)

    def _plain_schema(self, tp: Any) -> JSONSchema:
        tp = _strip_qualifiers(tp)
        if tp is Any or tp is object:
            return {}
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if is_typeddict(tp) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return self._typeddict_ref(tp)
        origin = get_origin(tp)
        if origin is Literal:
            return _literal_schema(get_args(tp))
        if _is_union(tp):
            return self._union_schema(get_args(tp))
        if origin in (list, collections.abc.Sequence, collections.abc.Iterable):
            (item,) = get_args(tp) or (Any,)
            return {"type": "array", "items": self.schema_for(item)}
        if origin in (dict, collections.abc.Mapping):
            key, value = get_args(tp) or (str, Any)
            if key is not str:
                raise UnsupportedTypeError(f"mapping keys must be str, not {key!r}")
            value_schema = self.schema_for(value)
            return {"type": "object", "additionalProperties": value_schema or True}
        if self._opaque is not None:
            claimed = self._opaque(tp)
            if claimed is not None:
                return claimed
        raise UnsupportedTypeError(f"no JSON Schema for {tp!r}")

    def _union_schema(self, members: tuple[Any, ...]) -> JSONSchema:
        literals: list[Any] = []
        others: list[Any] = []
        for raw_member in members:
            member = _strip_qualifiers(raw_member)
            if get_origin(member) is Literal:
                literals.extend(get_args(member))
            else:
                others.append(member)
        branches: list[JSONSchema] = []
        if literals and str in others and all(isinstance(v, str) for v in literals):
            # `Literal[...] | str`: any string goes, the listed ones are merely known.
            others.remove(str)
            branches.append({"type": "string", "x-known-values": list(dict.fromkeys(literals))})
        elif literals:
            branches.append(_literal_schema(tuple(literals)))
        branches.extend(self.schema_for(member) for member in others)
        branches = _dedupe(branches)
        if len(branches) == 1:
            return branches[0]
        return {"anyOf": branches}

    def _typeddict_ref(self, cls: type) -> JSONSchema:
        name = self._name_for(cls)
        if name not in self.defs:
            self.classes[name] = cls
            self.defs[name] = {}  # placeholder: recursive TypedDicts terminate
            self.defs[name] = self._typeddict_schema(cls)
        return {"$ref": f"#/$defs/{name}"}

    def _name_for(self, cls: type) -> str:
        """The `$defs` name of a TypedDict: its class name, unless another class of that name
        with other fields took it (the openai package reuses names across modules)."""
        name = cls.__name__
        taken = self.classes.get(name)
        if (taken is None and name not in self.defs) or taken is cls or (
                taken is not None and _same_fields(taken, cls)):
            return name
        return f"{name}_{cls.__module__.rsplit('.', 1)[-1]}"

    def _typeddict_schema(self, cls: type) -> JSONSchema:
        hints = typing.get_type_hints(cls, localns=self._localns, include_extras=True)
        if dataclasses.is_dataclass(cls):  # fields, in order; required: those without default
            fields = dataclasses.fields(cls)
            hints = {f.name: hints[f.name] for f in fields}
            required = [f.name for f in fields if f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING]
        else:
            total = getattr(cls, "__total__", True)
            required = [f for f, hint in hints.items() if _is_required(hint, total)]
        return self._object_schema(cls.__name__, cls.__doc__, hints, required,
                                   attribute_docstrings(cls))

    def function_schema(self, name: str, function: Callable[..., Any],
                        description: str | None = None) -> JSONSchema:
        """`$defs[name]`: an object of `function`'s parameters (what a profile can pass to it),
        with the `Args:` docstring as descriptions; a reference to it is returned."""
        hints = typing.get_type_hints(function, localns=self._localns, include_extras=True)
        hints.pop("return", None)
        parameters = inspect.signature(function).parameters
        required = [p for p, param in parameters.items()
                    if param.default is inspect.Parameter.empty and p in hints]
        self.defs[name] = self._object_schema(name, description, hints, required,
                                              parameter_docstrings(function))
        return {"$ref": f"#/$defs/{name}"}

    def _object_schema(self, name: str, doc: str | None, hints: Mapping[str, Any],
                       required: list[str], docs: Mapping[str, str]) -> JSONSchema:
        properties: dict[str, JSONSchema] = {}
        for field_name, hint in hints.items():
            key = f"{name}.{field_name}"
            if key in self._overrides:
                self._used_overrides.add(key)
                field_schema = dict(self._overrides[key])
            else:
                field_schema = dict(self.schema_for(hint))
            if key in self._constraints:
                self._used_overrides.add(key)
                field_schema.update(self._constraints[key])
            description = docs.get(field_name, "")
            if key in self._notes:
                self._used_overrides.add(key)
                description = f"{description} {self._notes[key]}".strip()
            if description:
                field_schema = {"description": description, **field_schema}
            properties[field_name] = field_schema
        schema: JSONSchema = {"type": "object"}
        if doc:
            schema["description"] = inspect.cleandoc(doc)
        schema["properties"] = properties
        if required:
            schema["required"] = required
        schema["additionalProperties"] = name in self._open
        return schema


def typeddict_members(union: Any) -> list[type]:
    """The TypedDict members of a (possibly Annotated or Optional) union, in order; literal,
    string and None members are left out."""
    tp = _strip_qualifiers(union)
    if _is_union(tp):
        return [m for arg in get_args(tp) for m in typeddict_members(arg)]
    return [tp] if is_typeddict(tp) else []


def field_names(cls: type) -> list[str]:
    """A TypedDict's keys in declaration order (inherited ones first)."""
    return list(typing.get_type_hints(cls))


def tag_values(cls: type, key: str = "type") -> tuple[Any, ...]:
    """The literal values a TypedDict's discriminator key (`type`) may hold: what picks this
    member out of a union."""
    hint = _strip_qualifiers(typing.get_type_hints(cls).get(key))
    members = get_args(hint) if _is_union(hint) else (hint,)
    return tuple(v for m in members if get_origin(_strip_qualifiers(m)) is Literal
                 for v in get_args(_strip_qualifiers(m)))


def _same_fields(one: type, other: type) -> bool:
    """Two TypedDicts with the same keys of the same types (copies in different modules)."""
    return repr(typing.get_type_hints(one, include_extras=True)) == repr(
        typing.get_type_hints(other, include_extras=True))


def _is_required(hint: Any, total: bool) -> bool:
    """From the annotation itself: `__required_keys__` is wrong for string annotations
    (`from __future__ import annotations`) on the Python versions we support."""
    origin = get_origin(hint)
    if origin is NotRequired:
        return False
    if origin is Required:
        return True
    if origin is typing.Annotated:
        return _is_required(get_args(hint)[0], total)
    return total


def _literal_schema(values: tuple[Any, ...]) -> JSONSchema:
    values = tuple(dict.fromkeys(values))
    kinds = {type(v) for v in values}
    schema: JSONSchema = {}
    if len(kinds) == 1:
        kind = next(iter(kinds))
        json_type = {str: "string", int: "integer", bool: "boolean", float: "number"}.get(kind)
        if json_type:
            schema["type"] = json_type
    if len(values) == 1:
        schema["const"] = values[0]
    else:
        schema["enum"] = list(values)
    return schema


def _dedupe(branches: list[JSONSchema]) -> list[JSONSchema]:
    seen: list[JSONSchema] = []
    for branch in branches:
        if branch not in seen:
            seen.append(branch)
    return seen
