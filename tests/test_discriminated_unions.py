"""A field the chosen member of a discriminated union does not take is an error: turn
detection (server_vad / semantic_vad) wherever it is written, whichever layer, preset,
override or environment variable set the type or the field; and the same rule for audio
format objects, message parts, tool choice and prompt variables.

The field sets here come from the openai package's wire types directly (an oracle independent
of our schema generator): what `ServerVad` and `SemanticVad` declare is what each detector
takes.
"""

from __future__ import annotations

import io
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from conftest import Tree
from openai.types.realtime.realtime_audio_input_turn_detection_param import (
    SemanticVad,
    ServerVad,
)

from realtime_profiles import Loader, Problem, UsageError
from realtime_profiles._paths import render_path
from realtime_profiles.cli import main

REPO = Path(__file__).resolve().parent.parent
ENV = {"OPENAI_API_KEY": "k"}
WIRE = {"server_vad": list(typing.get_type_hints(ServerVad)),
        "semantic_vad": list(typing.get_type_hints(SemanticVad))}
SDK_ONLY = ["model_version"]  # in the SDK's TypedDict, in no wire type
EVERY_FIELD = sorted({f for fields in WIRE.values() for f in fields} | set(SDK_ONLY))
VALUES: dict[str, Any] = {"eagerness": "low", "threshold": 0.5, "prefix_padding_ms": 300,
                          "silence_duration_ms": 500, "idle_timeout_ms": 6000,
                          "create_response": True, "interrupt_response": False,
                          "model_version": "v1"}
PLACES = [
    ("run_config", "model_settings", "turn_detection"),
    ("run_config", "model_settings", "audio", "input", "turn_detection"),
    ("model_config", "initial_model_settings", "turn_detection"),
    ("model_config", "initial_model_settings", "audio", "input", "turn_detection"),
]
PLACE_IDS = ["run", "run-audio", "model", "model-audio"]


def nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for part in reversed(path):
        value = {part: value}
    return value


def yaml_of(data: Any) -> str:
    return json.dumps(data)  # JSON is YAML: one line, exact marks are not the point here


def wrong_fields(detector: str) -> list[str]:
    return [f for f in EVERY_FIELD if f not in WIRE[detector]]


def errors(loader: Loader, agent: str = "a", env: str | None = None,
           overrides: tuple[str, ...] = ()) -> list[Problem]:
    return [p for p in loader.check(agent, env, overrides).problems if p.severity == "error"]


def test_the_wire_says_which_fields_each_detector_takes() -> None:
    assert WIRE == {
        "server_vad": ["type", "create_response", "idle_timeout_ms", "interrupt_response",
                       "prefix_padding_ms", "silence_duration_ms", "threshold"],
        "semantic_vad": ["type", "create_response", "eagerness", "interrupt_response"]}


@pytest.mark.parametrize("place", PLACES, ids=PLACE_IDS)
@pytest.mark.parametrize("detector", sorted(WIRE))
def test_every_field_of_the_detector_is_accepted(tree: Tree, place: tuple[str, ...],
                                                 detector: str) -> None:
    block = {f: VALUES.get(f, detector) for f in WIRE[detector]}
    root = tree({"agents/a.yaml": yaml_of(nest(place, block))})
    assert errors(Loader(root, environ=ENV)) == []


@pytest.mark.parametrize("place", PLACES, ids=PLACE_IDS)
@pytest.mark.parametrize(("detector", "field"),
                         [(d, f) for d in sorted(WIRE) for f in wrong_fields(d)])
def test_each_other_field_is_an_error_in_each_place(tree: Tree, place: tuple[str, ...],
                                                    detector: str, field: str) -> None:
    root = tree({"agents/a.yaml": "run_config: {}\n",
                 "agents/a/dev.yaml": yaml_of(nest(place, {"type": detector,
                                                           field: VALUES[field]})),
                 "env/dev.yaml": "{}\n"})
    found = errors(Loader(root, environ=ENV), env="dev")
    assert [(p.key, p.code) for p in found] == [((*place, field), "variant-key")]
    mark = "profiles/agents/a/dev.yaml:1:"
    assert found[0].render().startswith(f"{mark}")
    assert found[0].message.startswith(
        f"is not a field of {detector} turn detection (type {detector} is set at {mark}")
    assert ", ".join(f for f in WIRE[detector] if f != "type") in found[0].message
    assert f"{field}: !delete" in (found[0].suggestion or "")


# -- whichever layer, preset, override or variable set the type and the field ---------------

BASE_PRESET = """
vars:
  calm: {type: semantic_vad, eagerness: low, create_response: true}
run_config:
  model_settings:
    turn_detection: ${vars.calm}
"""


@pytest.mark.parametrize("place", PLACES, ids=PLACE_IDS)
def test_the_issue_case_a_type_switch_over_a_preset(tree: Tree, place: tuple[str, ...]) -> None:
    """base.yaml sets a semantic_vad preset; agents/billing/prod.yaml writes a server_vad
    block: the preset's eagerness would be sent inside a server_vad block."""
    base = {"vars": {"calm": {"type": "semantic_vad", "eagerness": "low"}},
            **nest(place, "${vars.calm}")}
    switch = nest(place, {"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 400})
    root = tree({"base.yaml": yaml_of(base), "env/prod.yaml": "{}\n",
                 "agents/billing.yaml": "{}\n", "agents/billing/prod.yaml": yaml_of(switch)})
    found = errors(Loader(root, environ=ENV), "billing", "prod")
    assert [(p.key, p.code) for p in found] == [((*place, "eagerness"), "variant-key")]
    assert found[0].mark is not None and found[0].mark.file.endswith("base.yaml")
    assert "type server_vad is set at profiles/agents/billing/prod.yaml:1:" in found[0].message
    assert [m.file for m in found[0].via] == [str(root / "base.yaml")]  # the reference


def test_the_billing_case_verbatim(tree: Tree) -> None:
    root = tree({
        "base.yaml": BASE_PRESET, "env/prod.yaml": "{}\n", "agents/billing.yaml": "{}\n",
        "agents/billing/prod.yaml": "run_config:\n  model_settings:\n    turn_detection: "
                                    "{type: server_vad, threshold: 0.6, silence_duration_ms: "
                                    "400}\n"})
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", "--strict"], out, err) == 1
    assert err.getvalue() == (
        "profiles/base.yaml:2:30: run_config.model_settings.turn_detection.eagerness: is not a "
        "field of server_vad turn detection (type server_vad is set at "
        "profiles/agents/billing/prod.yaml:3:22; server_vad takes create_response, "
        "idle_timeout_ms, interrupt_response, prefix_padding_ms, silence_duration_ms, "
        "threshold) (remove it: delete the line that sets it or, where it is inherited, write "
        "eagerness: !delete beside type: server_vad "
        "(~run_config.model_settings.turn_detection.eagerness on the command line); or set the "
        "whole run_config.model_settings.turn_detection in one value: a ${vars...} preset "
        "reference, or ++run_config.model_settings.turn_detection={type: server_vad, ...}) "
        "[via profiles/base.yaml:5:5] [billing@prod]\n")
    assert root.is_dir()


@pytest.mark.parametrize(
    ("files", "overrides", "environ", "where"),
    [
        pytest.param({"agents/a.yaml": "run_config:\n  model_settings:\n    turn_detection: "
                                       "{type: server_vad, eagerness: high}\n"},
                     (), {}, "profiles/agents/a.yaml:3:22", id="one-block"),
        pytest.param({"agents/a.yaml": "run_config:\n  model_settings:\n    turn_detection:\n"
                                       "      type: server_vad\n"},
                     (), {}, "profiles/agents/a.yaml:4:7", id="type-in-a-refinement"),
        pytest.param({"agents/a.yaml": "vars:\n  calm: {type: server_vad}\n"},
                     (), {}, "profiles/agents/a.yaml:2:10", id="type-in-the-preset-vars"),
        pytest.param({}, ("model_settings.turn_detection.type=server_vad",), {},
                     "command line: model_settings.turn_detection.type=server_vad",
                     id="type-by-override"),
        pytest.param({}, ("vars.calm.type=server_vad",), {},
                     "command line: vars.calm.type=server_vad", id="preset-type-by-override"),
        pytest.param({}, (), {"REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TURN_DETECTION__TYPE":
                              "server_vad"},
                     "environment variable REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TURN_"
                     "DETECTION__TYPE", id="type-by-environment"),
        pytest.param({}, ("++model_settings.turn_detection={type: server_vad, eagerness: high}",),
                     {}, "command line: ++model_settings.turn_detection={type: server_vad, "
                     "eagerness: high}", id="whole-block-by-override"),
    ],
)
def test_every_channel_that_sets_the_type(tree: Tree, files: dict[str, str],
                                          overrides: tuple[str, ...], environ: dict[str, str],
                                          where: str) -> None:
    root = tree({"base.yaml": BASE_PRESET, "agents/a.yaml": "{}\n", **files})
    loader = Loader(root, environ={**ENV, **environ})
    problem = _the_problem(loader, overrides)
    assert problem.key == ("run_config", "model_settings", "turn_detection", "eagerness")
    assert problem.code == "variant-key"
    assert f"(type server_vad is set at {where}" in problem.message


@pytest.mark.parametrize(
    ("overrides", "environ", "where"),
    [
        pytest.param(("++model_settings.turn_detection.threshold=0.5",), {},
                     "command line: ++model_settings.turn_detection.threshold=0.5",
                     id="field-by-override"),
        pytest.param(("++vars.calm.silence_duration_ms=300",), {},
                     "command line: ++vars.calm.silence_duration_ms=300",
                     id="field-in-the-preset-by-override"),
        pytest.param((), {"REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TURN_DETECTION__"
                          "IDLE_TIMEOUT_MS": "6000"},
                     "environment variable REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__"
                     "TURN_DETECTION__IDLE_TIMEOUT_MS", id="field-by-environment"),
    ],
)
def test_every_channel_that_sets_the_field(tree: Tree, overrides: tuple[str, ...],
                                           environ: dict[str, str], where: str) -> None:
    root = tree({"base.yaml": BASE_PRESET, "agents/a.yaml": "{}\n"})
    problem = _the_problem(Loader(root, environ={**ENV, **environ}), overrides)
    assert problem.code == "variant-key"
    assert problem.mark is not None and problem.mark.render() == where
    assert "semantic_vad turn detection (type semantic_vad is set at profiles/base.yaml:2:10;" \
        in problem.message


def _the_problem(loader: Loader, overrides: tuple[str, ...]) -> Problem:
    """The one error, whether the check reports it or (on the caller's input) raises it."""
    try:
        found = errors(loader, overrides=overrides)
    except UsageError as exc:
        found = [p for p in exc.problems if p.severity == "error"]
    assert len(found) == 1, [p.render() for p in found]
    return found[0]


def test_a_type_switch_with_the_field_deleted_is_clean_and_sent_as_written(tree: Tree) -> None:
    root = tree({"base.yaml": BASE_PRESET, "agents/a.yaml":
                 "run_config:\n  model_settings:\n    turn_detection:\n      type: server_vad\n"
                 "      eagerness: !delete\n      threshold: 0.6\n"})
    profile = Loader(root, environ=ENV).load("a", strict=True)
    assert profile.run_config["model_settings"]["turn_detection"] == {
        "type": "server_vad", "create_response": True, "threshold": 0.6}
    assert Loader(root, environ=ENV).load(
        "a", overrides=["++model_settings.turn_detection={type: semantic_vad}"],
    ).run_config["model_settings"]["turn_detection"] == {"type": "semantic_vad"}


def test_an_unknown_detector_names_the_known_ones(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    turn_detection: "
                                  "{type: server-vad, threshold: 0.5}\n"})
    assert [p.render() for p in errors(Loader(root, environ=ENV))] == [
        "profiles/agents/a.yaml:3:22: run_config.model_settings.turn_detection.type: "
        "'server-vad' is not one of 'semantic_vad', 'server_vad' (did you mean 'server_vad'?)"]


def test_a_typo_in_a_typed_block_is_an_unknown_key_with_did_you_mean(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    turn_detection: "
                                  "{type: semantic_vad, eagernes: low}\n"})
    assert [p.render() for p in errors(Loader(root, environ=ENV))] == [
        "profiles/agents/a.yaml:3:42: run_config.model_settings.turn_detection.eagernes: "
        "unknown key (did you mean 'eagerness'?)"]


def test_the_schema_takes_each_detectors_fields_from_the_wire() -> None:
    schema = json.loads((REPO / "schema.json").read_text("utf-8"))["$defs"]
    assert list(schema["ServerVad"]["properties"]) == WIRE["server_vad"]
    assert list(schema["SemanticVad"]["properties"]) == WIRE["semantic_vad"]


def test_a_changed_wire_type_is_drift(tmp_path: Path) -> None:
    stale = json.loads((REPO / "schema.json").read_text("utf-8"))
    del stale["$defs"]["ServerVad"]["properties"]["idle_timeout_ms"]
    stale["$defs"]["SemanticVad"]["properties"]["threshold"] = {}
    target = tmp_path / "schema.json"
    target.write_text(json.dumps(stale), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["schema", "--check", "--output", str(target)], out, err) == 1
    assert "+ ServerVad.idle_timeout_ms" in err.getvalue()
    assert "- SemanticVad.threshold" in err.getvalue()


# -- the other unions the wire types discriminate by `type` ----------------------------------

@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            {"run_config": {"model_settings": {"input_audio_format": {
                "type": "audio/pcmu", "rate": 8000}}}},
            "run_config.model_settings.input_audio_format.rate: is not a field of audio/pcmu "
            "audio format (type audio/pcmu is set at profiles/agents/a.yaml:1:; audio/pcmu "
            "takes no other field) (remove rate: the SDK rebuilds the format from its type (and "
            "rate, for audio/pcm) and drops anything else)", id="audio-format"),
        pytest.param(
            {"start_messages": [{"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "hi", "image_url": "https://x.test/a.png"}]}]},
            "start_messages[0].content[0].image_url: is not a field of input_text message part "
            "(type input_text is set at profiles/agents/a.yaml:1:; input_text takes text) "
            "(remove image_url, or put it in a part of its own type: the SDK drops it)",
            id="message-part"),
        pytest.param(
            {"model_config": {"initial_model_settings": {"tool_choice": {
                "type": "function", "name": "lookup", "server_label": "crm"}}}},
            "model_config.initial_model_settings.tool_choice.server_label: is not a field of "
            "function tool choice (type function is set at profiles/agents/a.yaml:1:; function "
            "takes name) (remove server_label: the API takes only the fields of the chosen type)",
            id="tool-choice"),
        pytest.param(
            {"model_config": {"initial_model_settings": {"prompt": {"id": "pmpt_1", "variables": {
                "city": {"type": "input_text", "text": "Paris", "file_id": "f"}}}}}},
            "model_config.initial_model_settings.prompt.variables.city.file_id: is not a field "
            "of input_text prompt variable (type input_text is set at profiles/agents/a.yaml:1:;"
            " input_text takes text, prompt_cache_breakpoint) (remove file_id: the API takes "
            "only the fields of the chosen type)", id="prompt-variable"),
    ],
)
def test_other_unions_refuse_another_members_field(tree: Tree, document: dict[str, Any],
                                                   expected: str) -> None:
    root = tree({"agents/a.yaml": yaml_of(document)})
    found = errors(Loader(root, environ=ENV))
    assert len(found) == 1, [p.render() for p in found]
    text = f"{found[0].path}: {found[0].message} ({found[0].suggestion})"
    head, _, tail = expected.partition("profiles/agents/a.yaml:1:")
    assert text.startswith(head) and text.split(";", 1)[1] == tail.split(";", 1)[1], text
    assert found[0].code == "variant-key"
    assert render_path(found[0].key) == found[0].path


def test_tool_choice_is_what_the_wire_takes(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    tool_choice: lookup_order\n"})
    assert [p.render() for p in errors(Loader(root, environ=ENV))] == [
        "profiles/agents/a.yaml:3:5: run_config.model_settings.tool_choice: expected one of "
        "'none', 'auto', 'required' or a mapping or null, got string 'lookup_order' (the API "
        "takes no other string: to make the model call one tool, write {type: function, name: "
        "<tool name>})"]


def test_raw_client_events_take_the_wire_events_fields(tree: Tree) -> None:
    """RealtimeClientMessage is `{type, other_data}` with an open `other_data` in the SDK,
    which validates the merged event against the wire union and drops one that does not fit
    with only a log line: here `other_data` is the wire event's body, closed per type, down to
    a session.update's turn detection."""
    root = tree({"agents/a.yaml": """
        client_messages:
          - type: session.update
            other_data:
              session:
                type: realtime
                audio: {input: {turn_detection: {type: server_vad, eagerness: high}}}
          - type: response.create
            other_data: {respnse: {instructions: hi}}
          - type: input_audio_buffer.append
          - type: session.update
            other_data: {session: {type: realtimee}}
          - type: response.create
            other_data: {response: {instructions: Greet the caller., output_modalities: [audio]}}
        """})
    found = {p.path: (p.code, p.message, p.suggestion) for p in errors(Loader(root, environ=ENV))}
    assert sorted(found) == [
        "client_messages[0].other_data.session.audio.input.turn_detection.eagerness",
        "client_messages[1].other_data.respnse",
        "client_messages[2]",
        "client_messages[3].other_data.session.type"]
    assert found["client_messages[0].other_data.session.audio.input.turn_detection.eagerness"][
        :2] == ("variant-key", "is not a field of server_vad turn detection (type server_vad is "
                "set at profiles/agents/a.yaml:6:42; server_vad takes create_response, "
                "idle_timeout_ms, interrupt_response, prefix_padding_ms, silence_duration_ms, "
                "threshold)")
    assert found["client_messages[1].other_data.respnse"] == (
        "unknown-key", "unknown key", "did you mean 'response'?")
    assert found["client_messages[2]"][1] == "missing required key 'other_data'"
    assert found["client_messages[3].other_data.session.type"] == (
        "enum", "'realtimee' is not one of 'realtime', 'transcription'",
        "did you mean 'realtime'?")
