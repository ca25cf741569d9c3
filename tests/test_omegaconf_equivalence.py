"""Interpolation means what OmegaConf 2.4 means: each case runs through OmegaConf itself
(`to_container(resolve=True)`) and through our interpolator, and both must give the same value
or both must fail. The cases follow OmegaConf's own tables (tests/test_grammar.py and
tests/interpolation/ upstream: node access, negative indexes, getitem brackets, relative and
nested references, escapes, cycles) plus the classes this project got wrong before: references
that pass through references and presets, and negative indexes in both of our paths (the
regex fast path and OmegaConf's visitor).

Deliberate differences are tested at the end: `???` and string interpolation of a mapping.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Tree
from omegaconf import OmegaConf
from omegaconf import __version__ as omegaconf_version

from realtime_profiles import Loader
from realtime_profiles._interpolate import Interpolator
from realtime_profiles._resolvers import default_resolvers
from realtime_profiles.cli import main

ERROR = object()

# OmegaConf's BASE_TEST_CFG (tests/test_grammar.py), with the list it uses.
BASE: dict[str, Any] = {
    "str": "hi",
    "ref_str": "str",
    "options": {"a": "A", "b": "B"},
    "choice": "a",
    "rel_opt": ".options",
    "int": 123,
    "float": 1.2,
    "dict": {"a": 0, "b": {"c": 1}},
    "list": [x - 1 for x in range(11)],
    "null": None,
    "true": True,
    "false": False,
    "0": 0,
    "1": {"2": 12},
    "FalsE": {"TruE": True},
    "None": {"null": 1},
    "x@y": 123,
    "$x$y$z$": 456,
    "a-b": 7,
}

# (id, value of key `x` in BASE, expected)
GRAMMAR = [
    ("dict_access", "${dict.a}", 0),
    ("dict_access_deep_1", "${dict.b.c}", 1),
    ("dict_access_deep_2", "${dict[b].c}", 1),
    ("dict_access_deep_3", "${dict.b[c]}", 1),
    ("dict_access_deep_4", "${dict[b][c]}", 1),
    ("abs_subtree", "${dict.b}", {"c": 1}),
    ("list_access", "${list.0}", -1),
    ("list_access_getitem", "${list[0]}", -1),
    ("list_access_negative_dot_last", "${list.-1}", 9),
    ("list_access_negative_getitem_last", "${list[-1]}", 9),
    ("list_access_negative_dot_first", "${list.-11}", -1),
    ("list_access_negative_getitem_first", "${list[-11]}", -1),
    ("list_access_bad_negative_dot", "${list.-12}", ERROR),
    ("list_access_bad_negative_getitem", "${list[-12]}", ERROR),
    ("list_access_out_of_range", "${list.11}", ERROR),
    ("list_access_underscore", "${list.1_0}", 9),
    ("list_access_plus", "${list.+1}", 0),
    ("list_access_leading_zero", "${list.01}", 0),
    ("list_access_not_an_int", "${list.a}", ERROR),
    ("negative_index_in_text", "last=${list.-1}", "last=9"),
    ("negative_getitem_in_text", "last=${list[-1]}", "last=9"),
    ("getitem_first_1", "${[dict].a}", 0),
    ("getitem_first_2", "${[list][0]}", -1),
    ("dict_access_list_like_1", "${0}", 0),
    ("dict_access_list_like_2", "${1.2}", 12),
    ("bool_like_keys", "${FalsE.TruE}", True),
    ("null_like_key_ok", "${None.null}", 1),
    ("null_like_key_bad_case", "${NoNe.null}", ERROR),
    ("null_like_key_quoted", "${'None'.'null'}", ERROR),
    ("at_in_key", "${x@y}", 123),
    ("dollar_in_key", "${$x$y$z$}", 456),
    ("dash_in_key", "${a-b}", 7),
    ("missing_key", "${nope}", ERROR),
    ("missing_deep", "${dict.nope.x}", ERROR),
    ("into_an_int", "${int.x}", ERROR),
    ("into_null", "${null.x}", ERROR),
    ("dotpath_bad_type", "${dict.${float}}", ERROR),
    ("nested_select", "${options.${choice}}", "A"),
    ("nested_select_getitem", "${options[${choice}]}", "A"),
    ("nested_simple", "${${ref_str}}", "hi"),
    ("nested_relative", "${${rel_opt}.b}", "B"),
    ("ws_inter_node_outer", "${ \tdict.a  \t}", 0),
    ("ws_inter_node_around_dot", "${dict .\ta}", ERROR),
    ("ws_inter_node_inside_id", "${d i c t.a}", ERROR),
    ("empty", "${}", ERROR),
    ("dot_only", "${.}", ERROR),
    ("unclosed", "${str", ERROR),
    ("missing_brace", "${test:${str}", ERROR),
    ("str_top_basic", "bonjour ${str}", "bonjour hi"),
    ("str_inter", "hi_${str}", "hi_hi"),
    ("str_top_concat_interpolations", "${null}${float}", "None1.2"),
    ("str_top_quotes_single", "'bonjour ${str}'", "'bonjour hi'"),
    ("str_top_esc_inter", "Esc: \\${str}", "Esc: ${str}"),
    ("str_top_esc_backslash_1", "Esc: \\\\${str}", "Esc: \\hi"),
    ("str_top_esc_backslash_2", "Esc: \\\\\\\\${str}", "Esc: \\\\hi"),
    ("str_top_leading_escapes", "\\\\\\${str}", "\\${str}"),
    ("str_top_esc_inter_wrong_1", "Wrong: $\\{str\\}", "Wrong: $\\{str\\}"),
    ("str_top_esc_inter_wrong_2", "Wrong: \\${str\\}", "Wrong: ${str\\}"),
    ("str_top_leading_dollars", "$$${str}", "$$hi"),
    ("str_top_trailing_dollars", "${str}$$$$", "hi$$$$"),
    ("extra_brace", "${str}}", "hi}"),
    ("str_of_a_mapping", "d=${dict.b}", "d={'c': 1}"),
    ("str_of_a_list", "l=${options}", "l={'a': 'A', 'b': 'B'}"),
    ("typed_int", "${int}", 123),
    ("typed_float", "${float}", 1.2),
    ("typed_bool", "${true}", True),
    ("typed_null", "${null}", None),
]


# (id, config, key path to check, expected): whole configs, for relative references, cycles
# and references through references.
TREES = [
    ("relative_sibling", {"a": {"b": 1, "c": "${.b}"}}, ("a", "c"), 1),
    ("relative_parent", {"x": 5, "a": {"c": "${..x}"}}, ("a", "c"), 5),
    ("relative_grandparent", {"x": 5, "a": {"b": {"c": "${...x}"}}}, ("a", "b", "c"), 5),
    ("relative_above_root", {"a": {"c": "${...x}"}}, ("a", "c"), ERROR),
    ("relative_in_list", {"x": 5, "l": ["${..x}"]}, ("l", 0), 5),
    ("relative_list_sibling", {"l": [7, "${.0}"]}, ("l", 1), 7),
    ("relative_list_negative", {"l": [7, 8, "${.-3}"]}, ("l", 2), 7),
    ("relative_getitem", {"a": {"b": {"k": 3}, "c": "${.b[k]}"}}, ("a", "c"), 3),
    ("relative_getitem_first", {"a": {"b": {"k": 3}, "c": "${.[b].k}"}}, ("a", "c"), 3),
    # test_indirect_interpolation (1 and 2)
    ("through_a_reference", {"a": {"aa": 10}, "b": "${a}", "c": "${b.aa}"}, ("c",), 10),
    ("reference_to_a_reference", {"a": {"aa": 10}, "b": "${a.aa}", "c": "${b}"}, ("c",), 10),
    ("through_two_references", {"a": {"k": {"z": 1}}, "b": "${a}", "c": "${b.k}",
                                "d": "${c.z}"}, ("d",), 1),
    ("through_a_reference_to_a_list", {"list": [10, 20], "l": "${list}", "m": "${l.0}"},
     ("m",), 10),
    ("through_a_reference_getitem", {"list": [10, 20], "l": "${list}", "m": "${l[1]}"},
     ("m",), 20),
    ("through_a_reference_negative", {"list": [10, 20], "l": "${list}", "m": "${l.-1}"},
     ("m",), 20),
    ("through_a_reference_negative_getitem", {"list": [10, 20], "l": "${list}",
                                              "m": "${l[-2]}"}, ("m",), 10),
    ("through_a_reference_in_text", {"a": {"aa": 10}, "b": "${a}", "c": "n=${b.aa}"},
     ("c",), "n=10"),
    ("through_a_reference_missing", {"a": {"aa": 10}, "b": "${a}", "c": "${b.ab}"},
     ("c",), ERROR),
    ("through_a_reference_out_of_range", {"list": [10], "l": "${list}", "m": "${l.-2}"},
     ("m",), ERROR),
    ("through_a_relative_reference", {"a": {"x": 1, "y": "${.x}"}, "b": "${a}",
                                      "c": "${b.y}"}, ("c",), 1),
    ("through_a_string_interpolation", {"s": "y", "a": "x${s}", "c": "${a.q}"}, ("c",), ERROR),
    ("through_a_nested_reference", {"a": {"aa": 10}, "name": "a", "b": "${${name}}",
                                    "c": "${b.aa}"}, ("c",), 10),
    ("into_a_list_item_mapping", {"l": [{"k": 1}], "c": "${l.0.k}", "d": "${l[-1].k}"},
     ("d",), 1),
    # circular references (test_circular_interpolation)
    ("self_interpolation", {"a": "${a}"}, ("a",), ERROR),
    ("ping_pong", {"a": "${b}", "b": "${a}"}, ("a",), ERROR),
    ("self_relative", {"a": {"a": "${.a}"}}, ("a", "a"), ERROR),
    ("pass_through", {"a": "${b}", "b": "${a.a}"}, ("a",), ERROR),
    ("ping_pong_nested", {"a": {"a": "${b}"}, "b": "${a.a}"}, ("a", "a"), ERROR),
    ("non_container", {"foo": 0, "bar": "${foo.baz}"}, ("bar",), ERROR),
    ("string_self", {"a": "x ${a}"}, ("a",), ERROR),
    ("to_parent", {"a": {"a": "${a}"}}, ("a", "a"), ERROR),
    ("to_parent_relative", {"a": {"a": "${..a}"}}, ("a", "a"), ERROR),
    ("concat", {"a": "${b}_${c}", "b": "10", "c": 20}, ("a",), "10_20"),
    ("concat_twice", {"a": "A", "b": "${a}_${a}"}, ("b",), "A_A"),
    ("escaped_is_not_reinterpolated", {"foo": 1, "y1": "\\${foo}", "x": "${y1}"}, ("x",),
     "${foo}"),
]


def _omegaconf(config: dict[str, Any], key: tuple[Any, ...]) -> Any:
    try:
        node: Any = OmegaConf.to_container(OmegaConf.create(copy.deepcopy(config)),
                                           resolve=True)
        for part in key:
            node = node[part]
    except Exception:  # noqa: BLE001 - any OmegaConf failure is "an error"
        return ERROR
    return node


def _ours(config: dict[str, Any], key: tuple[Any, ...], fast: bool = True) -> Any:
    resolvers = default_resolvers(Path(), os.environ)
    result = Interpolator(copy.deepcopy(config), resolvers, fast_path=fast).resolve(
        tuple(config))
    if any(p.key[: len(key)] == key or key[: len(p.key)] == p.key for p in result.problems):
        return ERROR
    node: Any = result.tree
    for part in key:
        node = node[part]
    return node


def test_the_omegaconf_line_is_the_one_pinned() -> None:
    assert omegaconf_version.startswith("2.4.")  # negative indexes are 2.4 semantics


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "visitor"])
@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in GRAMMAR])
def test_grammar_table(text: str, expected: Any, fast: bool) -> None:
    config = {**BASE, "x": text}
    for got in (_omegaconf(config, ("x",)), _ours(config, ("x",), fast)):
        if expected is ERROR:
            assert got is ERROR
        else:
            assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "visitor"])
@pytest.mark.parametrize(("config", "key", "expected"),
                         [pytest.param(c, k, e, id=i) for i, c, k, e in TREES])
def test_tree_table(config: dict[str, Any], key: tuple[Any, ...], expected: Any,
                    fast: bool) -> None:
    reference = _omegaconf(config, key)
    assert reference is expected if expected is ERROR else reference == expected
    ours = _ours(config, key, fast)
    assert ours is expected if expected is ERROR else ours == expected


def test_environment_resolver_is_omegaconfs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RP_SET", "v")
    monkeypatch.delenv("RP_UNSET", raising=False)
    for text in ("${oc.env:RP_SET}", "${oc.env:RP_UNSET,d}", "${oc.env:RP_UNSET,null}",
                 "${oc.env:RP_UNSET,'a b'}", "${oc.env:RP_UNSET,1}", "${oc.env:RP_UNSET}"):
        config = {"x": text}
        assert _ours(config, ("x",)) == _omegaconf(config, ("x",)), text


# -- the product's own patterns, through the loader and real files -----------------------------

PRESET_TREE = {
    "base.yaml": """
        vars:
          calm: {type: semantic_vad, eagerness: low, create_response: true}
          list: [10, 20, 30]
          l: ${vars.list}
          a: {aa: 1}
          b: ${vars.a}
        run_config:
          model_settings:
            turn_detection: ${vars.calm}
            tracing:
              metadata:
                eagerness: ${run_config.model_settings.turn_detection.eagerness}
                through_vars: ${vars.b.aa}
                first: ${vars.l.0}
                last: ${vars.l.-1}
                last_getitem: ${vars.list[-1]}
                text: "n=${vars.l[-2]}"
        """,
    "agents/a.yaml": "{}\n",
    "agents/refined.yaml": "run_config: {model_settings: {turn_detection: {eagerness: high}}}\n",
}


@pytest.mark.parametrize(("agent", "eagerness"), [("a", "low"), ("refined", "high")])
def test_references_pass_through_presets_and_references(tree: Tree, agent: str,
                                                        eagerness: str) -> None:
    root = tree(PRESET_TREE)
    profile = Loader(root, environ={}).load(agent)
    metadata = dict(profile.run_config["model_settings"]["tracing"]["metadata"])
    assert metadata.pop("profile_fingerprint") == profile.fingerprint  # the loader's stamp
    assert metadata == {
        "eagerness": eagerness, "through_vars": 1, "first": 10, "last": 30,
        "last_getitem": 30, "text": "n=20"}


def test_a_preset_reached_through_a_reference_can_be_refined(tree: Tree) -> None:
    root = tree({"base.yaml": """
        vars:
          presets: {calm: {type: semantic_vad, eagerness: low}}
          chosen: ${vars.presets}
        run_config:
          model_settings:
            turn_detection: ${vars.chosen.calm}
        """, "agents/a.yaml": "run_config: {model_settings: {turn_detection: {eagerness: high}}}"})
    profile = Loader(root, environ={}).load("a")
    assert profile.run_config["model_settings"]["turn_detection"] == {
        "type": "semantic_vad", "eagerness": "high"}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        pytest.param("${vars.list.-4}", "${vars.list.-4} refers to vars.list[-4], but "
                     "vars.list has 3 items (no index -4)", id="negative-out-of-range"),
        pytest.param("${vars.list[3]}", "${vars.list[3]} refers to vars.list[3], but vars.list "
                     "has 3 items (no index 3)", id="out-of-range"),
        pytest.param("${vars.list.first}", "${vars.list.first} refers to vars.list.first, but "
                     "vars.list is a list: first is not an index (index a list with a number: "
                     "0 is the first item, -1 the last)", id="not-an-index"),
        pytest.param("${vars.s.x}", "${vars.s.x} refers to vars.s.x, but vars.s is a string, "
                     "which has no x (refer to the value itself, or make it a mapping)",
                     id="into-a-string"),
        pytest.param("${vars.b.aaa}", "${vars.b.aaa} refers to vars.b.aaa, which is not set "
                     "(did you mean 'aa'?)", id="through-a-reference-to-a-missing-key"),
        pytest.param("${vars.l.9}", "${vars.l.9} refers to vars.l[9], but vars.l has 3 items "
                     "(no index 9)", id="through-a-reference-out-of-range"),
    ],
)
def test_messages_say_what_is_wrong(tree: Tree, reference: str, message: str) -> None:
    root = tree({"base.yaml": f"""
        vars: {{list: [10, 20, 30], l: '${{vars.list}}', s: hello, a: {{aa: 1}},
               b: '${{vars.a}}'}}
        run_config: {{model_settings: {{tracing: {{metadata: {{x: '{reference}'}}}}}}}}
        """, "agents/a.yaml": "{}\n"})
    rendered = [p.render() for p in Loader(root, environ={}).check("a").problems]
    assert rendered == [f"profiles/base.yaml:3:52: run_config.model_settings.tracing.metadata.x:"
                        f" {message}"]


# -- deliberate differences -------------------------------------------------------------------

def test_must_set_marker_fails_where_omegaconf_fails_and_where_it_would_be_sent(
        tree: Tree) -> None:
    """`???` is OmegaConf's missing value: a reference to it fails in both. OmegaConf's
    `to_container` returns a `???` that nothing references as it is; we refuse to send it."""
    assert _omegaconf({"m": "???", "r": "${m}"}, ("r",)) is ERROR
    assert _ours({"m": "???", "r": "${m}"}, ("r",)) is ERROR
    assert _ours({"m": "???", "r": "x-${m}"}, ("r",)) is ERROR
    root = tree({"base.yaml": "vars:\n  model: ???\nrun_config:\n  model_settings:\n"
                              "    model_name: ???\n    voice: ${vars.model}\n",
                 "agents/a.yaml": "{}\n", "agents/b.yaml":
                 "run_config: {model_settings: {model_name: gpt-realtime, voice: marin}}\n"})
    assert [p.render() for p in Loader(root, environ={}).check("a").problems] == [
        "profiles/base.yaml:2:3: run_config.model_settings.voice: ${vars.model} refers to "
        "vars.model, which is ???: a value that must be set (set it in a higher layer, with an "
        "override or a REALTIME_PROFILES__ variable) [via profiles/base.yaml:6:5]",
        "profiles/base.yaml:5:5: run_config.model_settings.model_name: is ???: a value that "
        "must be set (set it in a higher layer, with an override or a REALTIME_PROFILES__ "
        "variable)"]
    assert Loader(root, environ={}).check("b").ok  # a higher layer sets both
    out, err = io.StringIO(), io.StringIO()
    assert main(["--root", str(root), "show", "a", "model_settings.model_name=gpt-realtime",
                 "model_settings.voice=marin"], out, err) == 0, err.getvalue()
