"""The generic TypedDict -> JSON Schema generator, on small TypedDicts (and dataclasses and
functions) of our own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NotRequired, Required, TypedDict

import jsonschema
import pytest

from realtime_profiles._schema import (
    SchemaBuilder,
    UnsupportedTypeError,
    attribute_docstrings,
    parameter_docstrings,
)

if TYPE_CHECKING:
    from decimal import Decimal  # only for type checkers, like the SDK's MCPServer


class Inner(TypedDict):
    """An inner record."""

    name: str
    """The inner name."""

    weight: NotRequired[float]


class Outer(TypedDict):
    """An outer record."""

    inner: NotRequired[Inner]
    """Nested, referenced through $defs."""

    mode: Literal["a", "b"]
    """A closed enum."""

    model: NotRequired[Literal["x-1", "x-2"] | str]
    """An open enum: any string, some known."""

    maybe: NotRequired[int | None]
    tags: NotRequired[list[str]]
    extra: NotRequired[dict[str, Any]]
    flag: NotRequired[bool]


class Partial(TypedDict, total=False):
    a: int
    b: Required[str]


class Callback(TypedDict):
    fn: Callable[[], str]


def build(tp: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    builder = SchemaBuilder(**kwargs)
    ref = builder.schema_for(tp)
    return ref, builder.defs


def test_nested_typeddict_becomes_a_ref_with_its_own_def() -> None:
    ref, defs = build(Outer)
    assert ref == {"$ref": "#/$defs/Outer"}
    assert defs["Outer"]["properties"]["inner"] == {
        "description": "Nested, referenced through $defs.",
        "$ref": "#/$defs/Inner",
    }
    assert defs["Inner"]["required"] == ["name"]
    assert defs["Inner"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("mode", {"description": "A closed enum.", "type": "string",
                              "enum": ["a", "b"]}, id="literal"),
        pytest.param("model", {"description": "An open enum: any string, some known.",
                               "type": "string", "x-known-values": ["x-1", "x-2"]},
                     id="open-enum"),
        pytest.param("maybe", {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                     id="optional"),
        pytest.param("tags", {"type": "array", "items": {"type": "string"}}, id="list"),
        pytest.param("extra", {"type": "object", "additionalProperties": True}, id="dict-any"),
        pytest.param("flag", {"type": "boolean"}, id="bool"),
    ],
)
def test_field_types(field: str, expected: dict[str, Any]) -> None:
    _, defs = build(Outer)
    assert defs["Outer"]["properties"][field] == expected


def test_required_follows_notrequired_and_total() -> None:
    _, defs = build(Outer)
    assert defs["Outer"]["required"] == ["mode"]
    _, defs = build(Partial)
    assert defs["Partial"]["required"] == ["b"]


def test_class_and_attribute_docstrings_become_descriptions() -> None:
    _, defs = build(Outer)
    assert defs["Outer"]["description"] == "An outer record."
    assert attribute_docstrings(Inner) == {"name": "The inner name."}


def test_overrides_constraints_and_notes_apply_by_class_and_field() -> None:
    _, defs = build(
        Inner,
        field_overrides={"Inner.name": {"type": "string", "x-registry": "tool"}},
        field_constraints={"Inner.weight": {"minimum": 0}},
        field_notes={"Inner.name": "Bound later."},
    )
    props = defs["Inner"]["properties"]
    assert props["name"] == {"description": "The inner name. Bound later.", "type": "string",
                             "x-registry": "tool"}
    assert props["weight"] == {"type": "number", "minimum": 0}


def test_an_overlay_entry_that_matches_nothing_is_reported() -> None:
    builder = SchemaBuilder(field_constraints={"Inner.renamed": {"minimum": 0}})
    builder.schema_for(Inner)
    assert builder.unused_overlays() == {"Inner.renamed"}


def test_open_classes_accept_extra_keys() -> None:
    _, defs = build(Inner, open_classes=frozenset({"Inner"}))
    assert defs["Inner"]["additionalProperties"] is True


def test_named_aliases_become_defs() -> None:
    alias = Literal["x", "y"] | str
    ref, defs = build(alias, aliases={"Name": alias})
    assert ref == {"$ref": "#/$defs/Name"}
    assert defs["Name"] == {"type": "string", "x-known-values": ["x", "y"]}


def test_types_without_json_form_are_refused_unless_a_hook_claims_them() -> None:
    with pytest.raises(UnsupportedTypeError):
        build(Callback)
    _, defs = build(Callback, opaque=lambda tp: {"type": "string"})
    assert defs["Callback"]["properties"]["fn"] == {"type": "string"}


def test_generated_schema_validates_what_the_types_allow() -> None:
    ref, defs = build(Outer)
    schema = {**ref, "$defs": defs}
    validator = jsonschema.Draft202012Validator(schema)
    good: Mapping[str, Any] = {"mode": "a", "model": "custom", "inner": {"name": "n"},
                               "maybe": None, "extra": {"k": [1]}}
    assert validator.is_valid(good)
    assert not validator.is_valid({"mode": "c"})
    assert not validator.is_valid({"mode": "a", "inner": {"nam": "typo"}})
    assert not validator.is_valid({"mode": "a", "flag": "false"})


@dataclasses.dataclass
class Base:
    name: str
    """The base's name."""

    tags: list[str] = dataclasses.field(default_factory=list)
    """Inherited, documented in the base."""


@dataclasses.dataclass
class Child(Base):
    """A child record."""

    size: int | None = None
    """The child's own field."""

    price: Decimal | None = None
    """A forward reference its module imports only for type checking."""


def test_dataclass_fields_in_order_required_without_default_docs_through_bases() -> None:
    _, defs = build(Child, localns={"Decimal": float},
                    field_overrides={"Child.price": {"type": "number"}})
    schema = defs["Child"]
    assert list(schema["properties"]) == ["name", "tags", "size", "price"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["tags"] == {"description": "Inherited, documented in the base.",
                                            "type": "array", "items": {"type": "string"}}
    assert schema["description"] == "A child record."
    assert schema["additionalProperties"] is False
    assert attribute_docstrings(Child)["name"] == "The base's name."


def test_a_forward_reference_needs_its_name_given() -> None:
    with pytest.raises(NameError):
        build(Child)


def connect(target: str, retries: int = 3, callback: Callable[[], None] | None = None) -> None:
    """Connect somewhere.

    Args:
        target: Where to
            connect.
        retries (int): How often.
        callback: Called after.

    Note: not an argument.
    """


def test_function_parameters_become_an_object_with_their_args_docs() -> None:
    builder = SchemaBuilder(field_overrides={"Connect.callback": {"not": {}}})
    ref = builder.function_schema("Connect", connect, "What connect() takes.")
    assert ref == {"$ref": "#/$defs/Connect"}
    schema = builder.defs["Connect"]
    assert schema["description"] == "What connect() takes."
    assert schema["required"] == ["target"]
    assert schema["properties"]["target"] == {"description": "Where to connect.",
                                              "type": "string"}
    assert schema["properties"]["retries"]["description"] == "How often."
    assert schema["properties"]["callback"] == {"description": "Called after.", "not": {}}
    assert parameter_docstrings(connect) == {"target": "Where to connect.",
                                             "retries": "How often.", "callback": "Called after."}
