"""SDK lints on fixture trees: each fires where it should, says what the SDK does, and points
at the line that set the value; `--strict` makes them errors; the shipped tree is clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles import Loader, Problem
from realtime_profiles.cli import main

ENV = {"OPENAI_API_KEY": "test-key", "ORG": "acme"}


def lint_lines(root: Path, strict: bool = False) -> list[str]:
    result = Loader(root, environ=ENV).check("a", strict=strict)
    return [p.render() for p in result.problems]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"agents/a.yaml": "run_config:\n  model_settings:\n    instructions: Be brief.\n"},
            "profiles/agents/a.yaml:3:5: run_config.model_settings.instructions: has no "
            "effect: the SDK replaces run_config.model_settings.instructions with the agent's "
            "instructions when the session starts (set agent.instructions: the SDK sends the "
            "agent's own instructions on every session.update, after handoffs too)",
            id="agent-owned"),
        pytest.param(
            {"base.yaml": "run_config:\n  model_settings:\n    input_audio_transcription:\n"
                          "      model: whisper-1\n      language: en\n",
             "agents/a.yaml": "model_config:\n  initial_model_settings:\n"
                              "    input_audio_transcription: {model: gpt-4o-transcribe}\n"},
            "profiles/agents/a.yaml:3:5: "
            "model_config.initial_model_settings.input_audio_transcription: replaces "
            "run_config.model_settings.input_audio_transcription wholesale: the SDK merges the "
            "two settings top-level only, so language from the run config is dropped (set the "
            "whole input_audio_transcription mapping in one of the two places)",
            id="shallow-merge"),
        pytest.param(
            {"agents/a.yaml": "run_config:\n  tracing_disabled: true\n  model_settings:\n"
                              "    tracing: {workflow_name: w}\n"},
            "profiles/agents/a.yaml:4:5: run_config.model_settings.tracing: is ignored: "
            "run_config.tracing_disabled is true, so the SDK sends no tracing configuration at "
            "all (remove this block, or set tracing_disabled: false to trace)",
            id="tracing-disabled"),
        pytest.param(
            {"base.yaml": "run_config:\n  model_settings:\n    voice: marin\n",
             "agents/a.yaml": "model_config:\n  initial_model_settings:\n"
                              "    audio: {output: {voice: cedar}}\n"},
            "profiles/base.yaml:3:5: run_config.model_settings.voice: is ignored: "
            "model_config.initial_model_settings.audio.output.voice is also set and the SDK sends "
            "the audio.* value (remove one of the two (the audio.output.voice form is the newer "
            "one))",
            id="audio-twin"),
    ],
)
def test_each_lint_says_what_the_sdk_does(tree: Tree, files: dict[str, str],
                                          expected: str) -> None:
    assert lint_lines(tree(files)) == [expected]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"agents/a.yaml": "run_config:\n  model_settings:\n    model_name: gpt-realtime\n"
                              "model_config:\n  call_id: rtc_123\n"},
            "profiles/agents/a.yaml:3:5: run_config.model_settings.model_name: cannot be "
            "combined with model_config.call_id: the SDK refuses to connect (UserError: Cannot "
            "specify both `call_id` and `model_name`) (remove model_name when attaching to an "
            "existing call)",
            id="call-id-and-model-name"),
        pytest.param(
            {"agents/a.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n"
                              "  headers: {x-org: '${oc.env:ORG}'}\n"},
            "profiles/agents/a.yaml:2:3: model_config.api_key: is not used: "
            "model_config.headers is set, and then the SDK sends only those headers, with no "
            "Authorization built from the api key (add an authorization (or api-key) header "
            "yourself, or drop headers)",
            id="headers-drop-api-key"),
        pytest.param(
            {"agents/a.yaml": "model_config:\n  headers: {x-org: '${oc.env:ORG}'}\n"},
            "profiles/agents/a.yaml:2:3: warning: model_config.headers: has no authorization or "
            "api-key header: with headers set the SDK sends only these, so the connection "
            "carries no credentials (add authorization: Bearer ${oc.env:OPENAI_API_KEY})",
            id="headers-without-credentials"),
        pytest.param(
            {"agents/a.yaml": "run_config:\n  model_settings:\n    modalities: [text]\n"
                              "    output_modalities: [audio]\n"},
            "profiles/agents/a.yaml:3:5: run_config.model_settings.modalities: is "
            "ignored: output_modalities is also set and the SDK sends that one (remove "
            "modalities (output_modalities is the current name))",
            id="modalities-twin"),
        pytest.param(
            {"agents/a.yaml": "run_config:\n  model_settings:\n"
                              "    turn_detection: {type: server_vad}\n"
                              "    audio: {input: {turn_detection: null}}\n"},
            "profiles/agents/a.yaml:3:5: run_config.model_settings.turn_detection: is "
            "ignored: run_config.model_settings.audio.input.turn_detection is also set and the "
            "SDK sends null (remove one of the two (the audio.input.turn_detection form is the "
            "newer one))",
            id="null-twin-wins"),
    ],
)
def test_connection_lints(tree: Tree, files: dict[str, str], expected: str) -> None:
    assert lint_lines(tree(files)) == [expected]


def test_an_untyped_turn_detection_that_the_sdk_never_sends_is_not_an_error(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config:\n  model_settings:\n"
                              "    turn_detection: {eagerness: high}\n",
                 "agents/a.yaml": "model_config:\n  initial_model_settings:\n"
                                  "    turn_detection: {type: server_vad}\n"})
    # Not a missing-type error; the run config's eagerness is lost, which is its own error.
    assert [p.code for p in Loader(root, environ=ENV).check("a").problems
            if p.severity == "error"] == ["lint/shallow-merge"]


def test_turn_detection_without_type_is_an_error_even_without_strict(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    turn_detection: {threshold: 0.6}\n"})
    result = Loader(root, environ=ENV).check("a")
    assert not result.ok
    assert [p.render() for p in result.problems] == [
        "profiles/agents/a.yaml:3:5: run_config.model_settings.turn_detection: has no `type`: "
        "the SDK cannot build its session.update from it and the session fails when it connects "
        "(pydantic: turn_detection.type Field required) (add type: semantic_vad or type: "
        "server_vad)"]


def test_strict_turns_lints_into_errors_and_checks_can_be_turned_off(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    prompt: {id: pmpt_1}\n"})
    assert Loader(root, environ=ENV).check("a").ok
    assert not Loader(root, environ=ENV).check("a", strict=True).ok
    assert Loader(root, environ=ENV, checks=()).check("a", strict=True).problems == ()


@pytest.mark.parametrize(
    ("files", "code", "severity"),
    [
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {instructions: x}}\n"},
                     "lint/agent-owned", "error", id="instructions-always-replaced"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {tools: [x]}}\n"},
                     "lint/agent-owned", "error", id="tools-always-replaced"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {handoffs: [x]}}\n"},
                     "lint/agent-owned", "error", id="handoffs-always-replaced"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {prompt: {id: p}}}\n"},
                     "lint/agent-owned", "warning", id="prompt-replaced-if-the-agent-has-one"),
        pytest.param({"base.yaml": "run_config: {model_settings: {tracing: {workflow_name: w, "
                                   "group_id: g}}}\n",
                      "agents/a.yaml": "model_config: {initial_model_settings: {tracing: "
                                       "{workflow_name: v}}}\n"},
                     "lint/shallow-merge", "error", id="shallow-merge-always-loses"),
        pytest.param({"agents/a.yaml": "run_config: {tracing_disabled: true, model_settings: "
                                       "{tracing: {workflow_name: w}}}\n"},
                     "lint/tracing-disabled", "error", id="tracing-always-dropped"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {speed: 1.0, audio: "
                                       "{output: {speed: 1.2}}}}\n"},
                     "lint/audio-twin", "error", id="flat-twin-always-ignored"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {turn_detection: "
                                       "{threshold: 0.5}}}\n"},
                     "lint/turn-detection-type", "error", id="untyped-always-fails"),
        pytest.param({"agents/a.yaml": "run_config: {model_settings: {model_name: m}}\n"
                                       "model_config: {call_id: c}\n"},
                     "lint/call-id-model-name", "error", id="call-id-always-refused"),
        pytest.param({"agents/a.yaml": "model_config: {api_key: '${oc.env:OPENAI_API_KEY}', "
                                       "headers: {authorization: '${oc.env:OPENAI_API_KEY}'}}\n"},
                     "lint/headers-authorization", "error", id="api-key-never-used"),
        pytest.param({"agents/a.yaml": "model_config: {headers: {x-org: '${oc.env:ORG}'}}\n"},
                     "lint/headers-authorization", "warning",
                     id="no-credentials-may-still-connect"),
    ],
)
def test_certain_losses_are_errors_and_possible_ones_warnings(tree: Tree, files: dict[str, str],
                                                              code: str, severity: str) -> None:
    root = tree(files)
    found = [(p.code, p.severity) for p in Loader(root, environ=ENV).check("a").problems
             if p.code.startswith("lint/")]
    assert found == [(code, severity)]
    strict = [(p.code, p.severity) for p in Loader(root, environ=ENV).check("a", strict=True)
              .problems if p.code.startswith("lint/")]
    assert strict == [(code, "error")]


def test_no_lint_where_nothing_is_lost(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config:\n  model_settings:\n"
                              "    turn_detection: {type: server_vad}\n",
                 "agents/a.yaml": "model_config:\n  initial_model_settings:\n"
                                  "    turn_detection: {type: semantic_vad, eagerness: low}\n"
                                  "    tools: [lookup]\n"})
    assert lint_lines(root, strict=True) == []


def test_a_user_check_runs_beside_the_lints(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    voice: marin\n"})

    def house_voice(doc):  # type: ignore[no-untyped-def]
        if doc["run_config"]["model_settings"].get("voice") != "cedar":
            yield Problem(("run_config", "model_settings", "voice"), "house/voice",
                          "is not the house voice", suggestion="use cedar", severity="warning")

    result = Loader(root, environ=ENV, checks=[house_voice]).check("a")
    assert [p.render() for p in result.problems] == [
        "profiles/agents/a.yaml:3:5: warning: run_config.model_settings.voice: is not the house "
        "voice (use cedar)"]


def test_shipped_profiles_are_lint_clean_under_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent.parent)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    import io

    out, err = io.StringIO(), io.StringIO()
    assert main(["--no-local", "validate", "--strict"], out, err) == 0, err.getvalue()
    assert "0 errors, 0 warnings" in out.getvalue()
