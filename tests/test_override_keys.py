"""Override and REALTIME_PROFILES__* keys are checked against the schema, not only against
the profile: a key the schema does not know is an unknown key (with did-you-mean, or where it
belongs), a known key the profile does not set gets the `+` advice with the right path, and
either way it is a usage error (exit 2) located at the command line or the variable, never at
a layer file. The issue's cases plus a typo in every position (last segment, middle segment,
section), for every operator and both channels."""

from __future__ import annotations

import io

import pytest
from conftest import Tree

from realtime_profiles import Loader, UsageError
from realtime_profiles.cli import main

ENV = {"OPENAI_API_KEY": "k"}
TREE = {
    "base.yaml": """
        vars:
          voices: {default: marin}
        run_config:
          model_settings:
            voice: ${vars.voices.default}
            input_audio_format: pcm16
            tracing: {workflow_name: w, metadata: {agent: a}}
        model_config:
          initial_model_settings:
            instructions: hi
        """,
    "agents/a.yaml": "{}\n",
}


def usage_error(root: object, overrides: tuple[str, ...] = (),
                environ: dict[str, str] | None = None) -> list[str]:
    loader = Loader(root, environ={**ENV, **(environ or {})})  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        loader.check("a", overrides=overrides)
    assert caught.value.exit_code == 2
    return [p.render() for p in caught.value.problems]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param("tracing_disabeld=true",
                     "run_config.tracing_disabeld: unknown key (did you mean 'tracing_disabled'? "
                     "write tracing_disabled=...)", id="unknown-unset-key"),
        pytest.param("voice=verse",
                     "run_config.voice: unknown key (it belongs at "
                     "run_config.model_settings.voice: write model_settings.voice=...)",
                     id="misplaced-key"),
        pytest.param("model_settings.tracing_disabled=true",
                     "run_config.model_settings.tracing_disabled: unknown key (it belongs at "
                     "run_config.tracing_disabled: write tracing_disabled=...)",
                     id="misplaced-not-a-typo-of-tracing"),
        pytest.param("++model_setings.voice=alloy",
                     "run_config.model_setings: unknown key (did you mean 'model_settings'? "
                     "write ++model_settings.voice=...)", id="middle-segment"),
        pytest.param("++model_config.initial_model_setings.voice=alloy",
                     "model_config.initial_model_setings: unknown key (did you mean "
                     "'initial_model_settings'? write ++model_config.initial_model_settings."
                     "voice=...)", id="middle-segment-model-config"),
        pytest.param("+run_config.model_settings.sped=1.2",
                     "run_config.model_settings.sped: unknown key (did you mean 'speed'? write "
                     "+run_config.model_settings.speed=...)", id="add-with-section"),
        pytest.param("~model_settings.tracin",
                     "run_config.model_settings.tracin: unknown key (did you mean 'tracing'? "
                     "write ~model_settings.tracing)", id="delete"),
        pytest.param("model_settings.output_guardrails+=[x]",
                     "run_config.model_settings.output_guardrails: unknown key (it belongs at "
                     "run_config.output_guardrails: write output_guardrails+=[...])",
                     id="append-misplaced"),
        pytest.param("model_settings.turn_detection.eagernes=high",
                     "run_config.model_settings.turn_detection.eagernes: unknown key (did you "
                     "mean 'eagerness'? write model_settings.turn_detection.eagerness=...)",
                     id="inside-turn-detection"),
        pytest.param("model_settings.speed=1.2",
                     "run_config.model_settings.speed: is not set in this profile (to add it, "
                     "write +model_settings.speed=... (or ++ to add or replace))",
                     id="known-but-unset"),
        pytest.param("model_settings.output_audio_format=pcm16",
                     "run_config.model_settings.output_audio_format: is not set in this profile "
                     "(to add it, write +model_settings.output_audio_format=... (or ++ to add or "
                     "replace))", id="known-but-unset-not-a-typo-of-a-set-key"),
        pytest.param("model_settings.audio.output.voice=cedar",
                     "run_config.model_settings.audio: is not set in this profile (to add it, "
                     "write +model_settings.audio.output.voice=... (or ++ to add or replace))",
                     id="known-but-parent-unset"),
        pytest.param("model_settings.tracing.metadata.agnet=b",
                     "run_config.model_settings.tracing.metadata.agnet: is not set in this "
                     "profile (did you mean 'agent'?)", id="free-form-typo"),
        pytest.param("vars.voices.defualt=cedar",
                     "vars.voices.defualt: is not set in this profile (did you mean "
                     "'default'?)", id="vars-typo"),
    ],
)
def test_override_keys(tree: Tree, override: str, expected: str) -> None:
    root = tree(TREE)
    assert usage_error(root, (override,)) == [f"command line: {override}: {expected}"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("REALTIME_PROFILES__RUN_CONFIG__TRACING_DISABELD",
                     "run_config.tracing_disabeld: unknown key (did you mean 'tracing_disabled'? "
                     "set REALTIME_PROFILES__RUN_CONFIG__TRACING_DISABLED instead)", id="typo"),
        pytest.param("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETINGS__VOICE",
                     "run_config.model_setings: unknown key (did you mean 'model_settings'? set "
                     "REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE instead)",
                     id="middle-segment"),
        pytest.param("REALTIME_PROFILES__RUN_CONFIG__VOICE",
                     "run_config.voice: unknown key (it belongs at run_config.model_settings."
                     "voice: set REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE instead)",
                     id="misplaced"),
        pytest.param("REALTIME_PROFILES__VOICE",
                     "run_config.voice: unknown key (it belongs at run_config.model_settings."
                     "voice: set REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE instead)",
                     id="relative-to-run-config"),
        pytest.param("REALTIME_PROFILES__MODEL_CONFIG__INITIAL_MODEL_SETINGS__VOICE",
                     "model_config.initial_model_setings: unknown key (did you mean "
                     "'initial_model_settings'? set REALTIME_PROFILES__MODEL_CONFIG__"
                     "INITIAL_MODEL_SETTINGS__VOICE instead)", id="model-config"),
    ],
)
def test_environment_variable_keys(tree: Tree, name: str, expected: str) -> None:
    root = tree(TREE)
    assert usage_error(root, environ={name: "cedar"}) == [
        f"environment variable {name}: {expected}"]


def test_nothing_is_blamed_on_a_layer_file(tree: Tree) -> None:
    """The typo'd parent would otherwise be created and reported at the file that writes
    run_config (or not located at all)."""
    root = tree(TREE)
    for rendered in usage_error(root, ("++model_setings.voice=alloy",
                                       "++model_config.initial_model_setings.voice=alloy")):
        assert rendered.startswith("command line: ")
    assert "profiles/" not in "".join(usage_error(
        root, environ={"REALTIME_PROFILES__RUN_CONFIG__MODEL_SETINGS__VOICE": "alloy"}))


def test_the_command_line_exits_2_naming_the_override(tree: Tree) -> None:
    tree(TREE)
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", "a", "tracing_disabeld=true"], out, err) == 2
    assert err.getvalue() == (
        "command line: tracing_disabeld=true: run_config.tracing_disabeld: unknown key (did you "
        "mean 'tracing_disabled'? write tracing_disabled=...)\n"
        "error: invalid override: 1 error, 0 warnings\n")
    assert out.getvalue() == ""


def test_every_bad_override_at_once_and_good_ones_still_apply(tree: Tree) -> None:
    root = tree(TREE)
    found = usage_error(root, ("voic=x", "model_settings.voice=cedar", "+model_setings.x=1"))
    assert sorted(line.split(": ", 2)[1] for line in found) == ["+model_setings.x=1", "voic=x"]
    profile = Loader(root, environ=ENV).load("a", overrides=["model_settings.voice=cedar",
                                                             "+model_settings.speed=1.2"])
    assert profile.run_config["model_settings"]["voice"] == "cedar"
    assert profile.run_config["model_settings"]["speed"] == 1.2


def test_open_mappings_take_any_key(tree: Tree) -> None:
    root = tree(TREE)
    profile = Loader(root, environ=ENV).load("a", overrides=[
        "++model_settings.tracing.metadata.team=voice", "++model_config.headers.x-org=acme",
        "++model_config.headers.authorization=Bearer k", "++vars.anything.at.all=1"])
    assert profile.run_config["model_settings"]["tracing"]["metadata"]["team"] == "voice"
