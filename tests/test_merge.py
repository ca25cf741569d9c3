"""Merge rules, one case each, through the whole loader on real files. The trees use lists in
run_config.model_settings (tools) for their shape; the SDK lints, which say such tools never
reach the model, are not what these tests are about (`checks=()`)."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_profiles import Loader, ProfileValidationError, UsageError
from tests.conftest import Tree

BASE = """
fingerprint: {stamp: false}  # these tests are about merging; stamping is tested on its own
vars:
  calm: {type: semantic_vad, eagerness: low, create_response: true}
  tools: [lookup_order]
run_config:
  tracing_disabled: false
  model_settings:
    voice: marin
    tools: [lookup_order, create_ticket]
    turn_detection: ${vars.calm}
    tracing: {workflow_name: w, metadata: {a: 1, b: 2}}
"""


@pytest.mark.parametrize(
    ("agent", "path", "expected"),
    [
        pytest.param("run_config: {model_settings: {tracing: {metadata: {b: 3, c: 4}}}}",
                     ("model_settings", "tracing"),
                     {"workflow_name": "w", "metadata": {"a": 1, "b": 3, "c": 4}},
                     id="mappings-merge-deeply"),
        pytest.param("run_config: {model_settings: {voice: verse}}", ("model_settings", "voice"),
                     "verse", id="scalars-replace"),
        pytest.param("run_config: {model_settings: {tools: [refund]}}",
                     ("model_settings", "tools"), ["refund"], id="lists-replace"),
        pytest.param("run_config: {model_settings: {tools+: [refund]}}",
                     ("model_settings", "tools"), ["lookup_order", "create_ticket", "refund"],
                     id="append-extends-inherited-list"),
        pytest.param("run_config: {model_settings: {handoffs+: [billing]}}",
                     ("model_settings", "handoffs"), ["billing"],
                     id="append-to-missing-creates"),
        pytest.param("run_config: {model_settings: {voice: !delete }}",
                     ("model_settings", "voice"), "<absent>", id="delete-removes"),
        pytest.param("run_config: {model_settings: {tracing: {metadata: {a: !delete }}}}",
                     ("model_settings", "tracing", "metadata"), {"b": 2},
                     id="delete-nested"),
        pytest.param("run_config: {model_settings: {nothing_here: !delete }}",
                     ("model_settings", "voice"), "marin", id="delete-missing-is-noop"),
        pytest.param("run_config: {model_settings: {tracing: null}}",
                     ("model_settings", "tracing"), None, id="null-is-a-value"),
        pytest.param("run_config: {model_settings: {turn_detection: {eagerness: high}}}",
                     ("model_settings", "turn_detection"),
                     {"type": "semantic_vad", "eagerness": "high", "create_response": True},
                     id="preset-refined-field-by-field"),
        pytest.param("run_config: {model_settings: {turn_detection: {eagerness: !delete }}}",
                     ("model_settings", "turn_detection"),
                     {"type": "semantic_vad", "create_response": True},
                     id="preset-field-deleted"),
        pytest.param("vars: {calm: {eagerness: medium}}", ("model_settings", "turn_detection"),
                     {"type": "semantic_vad", "eagerness": "medium", "create_response": True},
                     id="preset-uses-final-vars"),
        pytest.param("run_config: {model_settings: {turn_detection: {create_response: false, "
                     "interrupt_response: true}}}\n"
                     "vars: {calm: {eagerness: medium}}",
                     ("model_settings", "turn_detection"),
                     {"type": "semantic_vad", "eagerness": "medium", "create_response": False,
                      "interrupt_response": True}, id="preset-refined-and-vars-changed"),
        pytest.param("run_config: {model_settings: {turn_detection: {type: server_vad, "
                     "eagerness: !delete , threshold: 0.4}}}",
                     ("model_settings", "turn_detection"),
                     {"type": "server_vad", "create_response": True, "threshold": 0.4},
                     id="detector-changed-and-its-field-deleted"),
    ],
)
def test_merge_rule(tree: Tree, agent: str, path: tuple[str, ...], expected: Any) -> None:
    root = tree({"base.yaml": BASE, "agents/a.yaml": agent + "\n"})
    node: Any = Loader(root, environ={}, checks=()).load("a").run_config
    for part in path:
        if part not in node:
            node = "<absent>"
            break
        node = node[part]
    assert node == expected


def test_a_key_and_its_append_form_in_one_mapping_is_a_duplicate(tree: Tree) -> None:
    root = tree({"agents/x.yaml": "model_config:\n  initial_model_settings:\n    tools: [a]\n"
                                  "    tools+: [b]\n"})
    with pytest.raises(ProfileValidationError) as info:
        Loader(root, environ={}, checks=()).load("x")
    assert [p.render() for p in info.value.problems] == [
        "profiles/agents/x.yaml:4:5: model_config.initial_model_settings.tools: duplicate key "
        "(first set "
        "at profiles/agents/x.yaml:3:5) (keep one; a later duplicate would silently win)"]


def test_append_to_a_preset_list_reference(tree: Tree) -> None:
    root = tree({
        "base.yaml": "vars: {tools: [a, b]}\n"
                     "run_config: {model_settings: {tools: '${vars.tools}'}}\n",
        "agents/x.yaml": "run_config: {model_settings: {tools+: [c]}}\n",
    })
    loader = Loader(root, environ={}, checks=())
    assert loader.load("x").run_config["model_settings"]["tools"] == [
        "a", "b", "c"]


def test_appending_to_a_scalar_is_a_located_error(tree: Tree) -> None:
    root = tree({
        "base.yaml": "run_config: {model_settings: {voice: marin}}\n",
        "agents/x.yaml": "run_config:\n  model_settings:\n    voice+: [verse]\n",
    })
    with pytest.raises(ProfileValidationError) as info:
        Loader(root, environ={}, checks=()).load("x")
    assert [p.render() for p in info.value.problems] == [
        "profiles/agents/x.yaml:3:5: run_config.model_settings.voice: cannot append to a string "
        "(`key+:` extends an inherited list)"]


def test_layers_apply_lowest_first(tree: Tree) -> None:
    root = tree({
        "base.yaml": "run_config: {model_settings: {voice: base}}\n",
        "env/prod.yaml": "run_config: {model_settings: {voice: env}}\n",
        "agents/a.yaml": "run_config: {model_settings: {voice: agent}}\n",
        "agents/a/prod.yaml": "run_config: {model_settings: {voice: agent-env}}\n",
        "local.yaml": "run_config: {model_settings: {voice: local}}\n",
    })
    env = {"REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE": "environ"}

    def voice(loader: Loader, *overrides: str) -> str:
        p = loader.load("a", "prod", overrides)
        return str(p.run_config["model_settings"]["voice"])

    assert voice(Loader(root, environ=env, checks=()), "model_settings.voice=cli") == "cli"
    assert voice(Loader(root, environ=env, checks=())) == "environ"
    assert voice(Loader(root, environ={}, checks=())) == "local"
    assert voice(Loader(root, environ={}, local=False, checks=())) == "agent-env"
    (root / "agents/a/prod.yaml").unlink()
    assert voice(Loader(root, environ={}, local=False, checks=())) == "agent"
    (root / "agents/a.yaml").write_text("{}\n")
    assert voice(Loader(root, environ={}, local=False, checks=())) == "env"
    (root / "env/prod.yaml").write_text("")
    assert voice(Loader(root, environ={}, local=False, checks=())) == "base"


def test_overrides_of_a_preset_reach_the_copies_that_layers_refined(tree: Tree) -> None:
    root = tree({
        "base.yaml": "vars:\n  calm: {type: semantic_vad, eagerness: low}\n"
                     "run_config:\n  model_settings:\n    turn_detection: ${vars.calm}\n",
        "agents/plain.yaml": "{}\n",
        "agents/refined.yaml": "run_config:\n  model_settings:\n"
                               "    turn_detection: {create_response: false}\n",
    })

    def detection(loader: Loader, agent: str, *overrides: str) -> Any:
        return loader.load(agent, None, overrides).run_config["model_settings"]["turn_detection"]

    loader = Loader(root, environ={}, checks=())
    environ = Loader(root, environ={"REALTIME_PROFILES__VARS__CALM__EAGERNESS": "high"},
                     checks=())
    refined = {"type": "semantic_vad", "eagerness": "high", "create_response": False}
    # Overrides are the top layers: the preset a layer refined is the overridden one.
    assert detection(loader, "plain", "vars.calm.eagerness=high") == {
        "type": "semantic_vad", "eagerness": "high"}
    assert detection(loader, "refined", "vars.calm.eagerness=high") == refined
    assert detection(environ, "refined") == refined
    # An override of the refined copy itself, in any order with one of the preset.
    assert detection(loader, "refined", "model_settings.turn_detection.eagerness=auto",
                     "++vars.calm.create_response=true") == {
        "type": "semantic_vad", "eagerness": "auto", "create_response": False}
    assert detection(loader, "refined", "vars.calm.type=server_vad",
                     "~model_settings.turn_detection.eagerness") == {
        "type": "server_vad", "create_response": False}
    assert detection(loader, "plain", "~model_settings.turn_detection.eagerness") == {
        "type": "semantic_vad"}
    assert loader.explain("refined", None, "model_settings.turn_detection.eagerness",
                          ["vars.calm.eagerness=high"]).render().splitlines() == [
        'run_config.model_settings.turn_detection.eagerness = "high"',
        '  1. profiles/base.yaml:2:30 (base), as vars.calm.eagerness via ${vars.calm} at '
        'profiles/base.yaml:5:5: "low"',
        '  2. command line: vars.calm.eagerness=high, as vars.calm.eagerness via ${vars.calm} '
        'at profiles/base.yaml:5:5: "high"']
    # Override errors inside a preset stay what they are elsewhere.
    for agent in ("plain", "refined"):
        with pytest.raises(UsageError) as info:
            loader.load(agent, None, ["model_settings.turn_detection.eagernes=auto"])
        assert info.value.problems[0].render() == (
            "command line: model_settings.turn_detection.eagernes=auto: "
            "run_config.model_settings.turn_detection.eagernes: unknown key (did you mean "
            "'eagerness'? write model_settings.turn_detection.eagerness=...)")
        with pytest.raises(UsageError) as info:
            loader.load(agent, None, ["model_settings.turn_detection.interrupt_response=true"])
        assert info.value.problems[0].render() == (
            "command line: model_settings.turn_detection.interrupt_response=true: "
            "run_config.model_settings.turn_detection.interrupt_response: is not set in this "
            "profile (to add it, write +model_settings.turn_detection.interrupt_response=... "
            "(or ++ to add or replace))")
        with pytest.raises(UsageError, match="eagerness: is already set"):
            loader.load(agent, None, ["+model_settings.turn_detection.eagerness=auto"])


def test_a_refined_reference_to_a_misspelled_preset_suggests_the_preset(tree: Tree) -> None:
    root = tree({"base.yaml": "vars:\n  calm: {type: semantic_vad}\nrun_config:\n"
                              "  model_settings:\n    turn_detection: ${vars.clam}\n",
                 "agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    turn_detection: {eagerness: low}\n"})
    problems = Loader(root, environ={}, checks=()).check("a").problems
    assert any("points to nothing" in p.message and p.suggestion == "did you mean 'vars.calm'?"
               for p in problems), [p.render() for p in problems]


def test_an_empty_default_reads_as_empty_text_without_omegaconf_warning(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                                  "      group_id: 'g${oc.env:NOT_SET_ANYWHERE,}'\n"})
    # pytest runs with filterwarnings=error: OmegaConf's UserWarning would fail this test
    profile = Loader(root, environ={}, checks=()).load("a")
    assert profile.run_config["model_settings"]["tracing"]["group_id"] == "g"


def test_a_cycle_says_how_to_break_it(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "vars:\n  a: ${vars.b}\n  b: ${vars.a}\n"
                                  "run_config:\n  model_settings: {voice: '${vars.a}'}\n"})
    problems = Loader(root, environ={}, checks=()).check("a").problems
    assert any(p.message.startswith(("interpolation cycle", "reference cycle"))
               and p.suggestion == "one of these must hold a value instead of a reference"
               for p in problems), [p.render() for p in problems]
