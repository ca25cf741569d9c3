"""Properties that tie our pieces to the references they follow.

1. The fold of plain layers (no `key+:`, no `!delete`, no interpolation) is OmegaConf's merge.
2. Interpolation of trees of `${a.b}` references is `OmegaConf.to_container(resolve=True)`,
   and we report a problem exactly where OmegaConf raises.
3. `format_override` and `parse_override` are inverse, and the command line shows the value
   an override set at the key it named.
4. A plain document written by PyYAML parses back to itself through our layer walk.

(Arbitrary text and bytes through the parsers are in test_fuzz.py.)
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from omegaconf import OmegaConf

from realtime_profiles._interpolate import Interpolator
from realtime_profiles._layer import SECTIONS, Layer, Source
from realtime_profiles._merge import Folder
from realtime_profiles._overrides import format_override, parse_override
from realtime_profiles._yaml import dump, parse_layer
from realtime_profiles.cli import main

KEYS = st.sampled_from(["a", "b", "c", "d"])
TEXT = st.text(alphabet="abcxyz -_.:é{}\\", max_size=6).filter(
    lambda t: "${" not in t and t != "???")
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-100, 100),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), TEXT)


def plain_values(leaves: st.SearchStrategy[Any] = SCALARS) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


# -- 1. fold == OmegaConf.merge -------------------------------------------------------------

@given(layers=st.lists(st.dictionaries(KEYS, plain_values(), max_size=4), min_size=1,
                       max_size=4))
def test_fold_of_plain_layers_is_omegaconf_merge(layers: list[dict[str, Any]]) -> None:
    try:
        expected = OmegaConf.to_container(OmegaConf.merge(*map(OmegaConf.create, layers)))
    except TypeError:  # "Cannot merge incompatible container types": a list onto a mapping
        assume(False)
    ours = Folder().fold([Layer(Source("base", f"l{i}", True), data)
                          for i, data in enumerate(layers)])
    assert ours == expected
    assert json.dumps(ours) == json.dumps(expected)  # key order too


# -- 2. interpolation == OmegaConf.to_container(resolve=True) --------------------------------

PATHS = ["a", "b", "c", "a.a", "a.b", "b.a", "b.c", "c.d", "a.a.b", "a.0", "b.1", "d",
         "missing", "a.missing"]


@st.composite
def references(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(PATHS))
    form = draw(st.sampled_from(["pure", "pure", "text", "two", "relative"]))
    if form == "pure":
        return "${" + path + "}"
    if form == "text":
        return "x-${" + path + "}"
    if form == "two":
        return "${" + path + "}/${" + draw(st.sampled_from(PATHS)) + "}"
    return "${." + draw(st.sampled_from(["a", "b", "c"])) + "}"


@given(tree=st.dictionaries(KEYS, plain_values(st.one_of(SCALARS, references(), references())),
                            min_size=1, max_size=4))
def test_interpolation_is_omegaconf_resolution(tree: dict[str, Any]) -> None:
    try:
        expected = OmegaConf.to_container(OmegaConf.create(tree), resolve=True)
    except Exception:  # noqa: BLE001 - any OmegaConf failure: we must report a problem
        expected = None
    result = Interpolator(tree, {}).resolve(tuple(tree))
    # A deliberate difference: `x-${a}` with `a` a mapping holding `${...}` reads as the
    # mapping's resolved values here, and with the `${...}` text itself in OmegaConf.
    assume(expected is None or "${" not in json.dumps(expected))
    if expected is None:
        assert result.problems, result.tree
    else:
        assert result.problems == [], [p.render() for p in result.problems]
        assert result.tree == expected
        assert json.dumps(result.tree) == json.dumps(expected)


# -- 3. overrides round trip ----------------------------------------------------------------

SEGMENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,7}", fullmatch=True)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(),
              st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        # a key ending in + is an append in YAML we read (files and values alike)
        st.dictionaries(st.text().filter(lambda k: not k.endswith("+")), inner, max_size=3)),
    max_leaves=8)


def test_a_key_longer_than_yaml_allows_implicitly_round_trips() -> None:
    """Found by the fuzz profile: YAML reads an implicit key of at most 1024 characters."""
    key = "x\u0345" * 400  # 2,800 characters once escaped
    value = {key: None, "b": [1]}
    assert parse_override(format_override(("vars", "a"), value)).value == value


@given(section=st.sampled_from(SECTIONS),
       rest=st.lists(st.one_of(SEGMENT, st.integers(0, 99)), min_size=1, max_size=4),
       value=JSON, kind=st.sampled_from(["set", "add", "force", "append"]))
def test_format_and_parse_override_are_inverse(section: str, rest: list[str | int],
                                               value: Any, kind: Any) -> None:
    path = (section, *rest)
    text = format_override(path, value, kind)
    override = parse_override(text)
    assert (override.kind, override.path) == (kind, path)
    assert same(override.value, value)


def same(left: Any, right: Any) -> bool:
    """Equal, with the type kept (True is not 1) and -0.0 not 0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


NO_INTERPOLATION = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30),
              st.floats(allow_nan=False, allow_infinity=False),
              st.text().filter(lambda t: "${" not in t)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5).filter(lambda k: not k.endswith("+")), inner,
                        max_size=3)),
    max_leaves=8)


@pytest.fixture(scope="module")
def metadata_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile whose tracing metadata (an open mapping in the schema) takes any value."""
    root = tmp_path_factory.mktemp("override") / "profiles"
    (root / "agents").mkdir(parents=True)
    (root / "agents" / "a.yaml").write_text(
        "run_config:\n  model_settings:\n    tracing:\n      workflow_name: w\n"
        "      metadata: {k: 0}\n")
    return root


@given(keys=st.lists(SEGMENT, min_size=1, max_size=3), value=NO_INTERPOLATION,
       kind=st.sampled_from(["force", "set"]))
def test_show_prints_the_overridden_value_at_its_key(metadata_tree: Path, keys: list[str],
                                                     value: Any, kind: Any) -> None:
    if kind == "set":
        keys = ["k"]
    assume(kind == "set" or keys[0] != "k")  # k is 0: nothing can be set inside it
    path = ("run_config", "model_settings", "tracing", "metadata", *keys)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--root", str(metadata_tree), "show", "a", format_override(path, value, kind),
                 "--format", "json"], out, err)
    assert code == 0, err.getvalue()
    node = json.loads(out.getvalue())
    for part in path:
        node = node[part]
    assert same(node, value)


# -- 4. What `show` prints (PyYAML's emitter, quoting for YAML 1.1 and 1.2) reads back -------

@given(document=st.dictionaries(st.sampled_from(SECTIONS), NO_INTERPOLATION, max_size=3),
       flow=st.booleans())
def test_plain_documents_read_back_unchanged(document: dict[str, Any], flow: bool) -> None:
    # allow_unicode=False: PyYAML would write a NEL raw, which YAML then reads as a break
    text = dump(document, default_flow_style=flow, allow_unicode=False)
    layer = parse_layer(Source("local", "local.yaml", tracked=False), text)
    assert layer.problems == ()
    assert same(layer.data, document)
