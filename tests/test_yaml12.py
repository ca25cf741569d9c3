"""Profiles read as YAML 1.2 (core schema), in every channel: layer files, command-line
override values and REALTIME_PROFILES__* values. YAML 1.1's surprises (`yes` is true, `5:00`
is 300, `1e0` a string, `017` octal, dates) never reach a profile."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from conftest import Tree

from realtime_profiles import Loader, UsageError
from realtime_profiles._layer import Source
from realtime_profiles._overrides import parse_value
from realtime_profiles._yaml import dump, parse_layer
from realtime_profiles.cli import main

ENV = {"OPENAI_API_KEY": "k"}

# (plain scalar as written, what it is in a profile)
FORMS = [
    pytest.param("yes", "yes", id="yes"),
    pytest.param("Yes", "Yes", id="Yes"),
    pytest.param("NO", "NO", id="NO"),
    pytest.param("no", "no", id="no"),
    pytest.param("on", "on", id="on"),
    pytest.param("off", "off", id="off"),
    pytest.param("y", "y", id="y"),
    pytest.param("n", "n", id="n"),
    pytest.param("5:00", "5:00", id="base-60"),
    pytest.param("1:30:00", "1:30:00", id="base-60-long"),
    pytest.param("1e0", 1.0, id="exponent"),
    pytest.param("1E5", 100000.0, id="exponent-upper"),
    pytest.param("-.5e3", -500.0, id="exponent-leading-dot"),
    pytest.param(".5", 0.5, id="leading-dot"),
    pytest.param("1.", 1.0, id="trailing-dot"),
    pytest.param("017", 17, id="leading-zero-is-decimal"),
    pytest.param("0o17", 15, id="octal"),
    pytest.param("0x1F", 31, id="hex"),
    pytest.param("0b101", "0b101", id="binary"),
    pytest.param("1_000", "1_000", id="underscore"),
    pytest.param("+1", 1, id="plus"),
    pytest.param("2024-01-01", "2024-01-01", id="date"),
    pytest.param("2024-01-01 12:30:00", "2024-01-01 12:30:00", id="timestamp"),
    pytest.param("true", True, id="true"),
    pytest.param("False", False, id="False"),
    pytest.param("TRUE", True, id="TRUE"),
    pytest.param("tRuE", "tRuE", id="mixed-case-true"),
    pytest.param("~", None, id="tilde"),
    pytest.param("Null", None, id="Null"),
    pytest.param("=", "=", id="value-key"),
]

METADATA = ("run_config", "model_settings", "tracing", "metadata", "x")


def _metadata(root: Any, overrides: tuple[str, ...] = (),
              environ: dict[str, str] | None = None) -> Any:
    profile = Loader(root, environ={**ENV, **(environ or {})}).load("a", None, overrides)
    return profile.run_config["model_settings"]["tracing"]["metadata"]["x"]


@pytest.mark.parametrize(("text", "value"), FORMS)
def test_a_layer_file_reads_the_core_schema(tree: Tree, text: str, value: Any) -> None:
    root = tree({"agents/a.yaml": f"run_config:\n  model_settings:\n    tracing:\n"
                                  f"      metadata:\n        x: {text}\n"})
    got = _metadata(root)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("text", "value"), FORMS)
def test_an_override_value_reads_the_core_schema(tree: Tree, text: str, value: Any) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                                  "      metadata: {x: 0}\n"})
    got = _metadata(root, (f"model_settings.tracing.metadata.x={text}",))
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("text", "value"), FORMS)
def test_an_environment_variable_reads_the_core_schema(tree: Tree, text: str,
                                                       value: Any) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                                  "      metadata: {x: 0}\n"})
    name = "REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TRACING__METADATA__X"
    got = _metadata(root, environ={name: text})
    assert got == value and type(got) is type(value)


def test_explicit_tags_keep_their_meaning() -> None:
    read = {text: parse_value(text, text, 0) for text in
            ("!!str yes", "!!str 5", "!!int 017", "!!float 1", "!!bool true", "!!null ''")}
    assert read == {"!!str yes": "yes", "!!str 5": "5", "!!int 017": 17, "!!float 1": 1.0,
                    "!!bool true": True, "!!null ''": None}
    for text in ("!!bool yes", "!!int 5:00", "!!int 1_000", "!!float 1_0.5"):
        with pytest.raises(UsageError, match=r"cannot be read as !!(bool|int|float)"):
            parse_value(text, text, 0)


def test_keys_are_read_by_the_core_schema_too(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                                  "      metadata: {on: 1, yes: 2, n: 3, x: 0}\n"})
    metadata = Loader(root, environ=ENV).load("a").run_config["model_settings"]["tracing"][
        "metadata"]
    assert {k: v for k, v in metadata.items() if k != "profile_fingerprint"} == {
        "on": 1, "yes": 2, "n": 3, "x": 0}
    root = tree({"agents/a.yaml": "run_config: {true: 1}\n"})
    problems = [p.render() for p in Loader(root, environ=ENV).check("a").problems]
    assert problems == ["profiles/agents/a.yaml:1:14: run_config: mapping keys must be strings "
                        "(quote the key)"]


def test_a_merge_key_is_still_refused(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "vars:\n  base: &b {voice: marin}\n"
                                  "run_config:\n  model_settings:\n    <<: *b\n"})
    problems = [p.render() for p in Loader(root, environ=ENV).check("a").problems]
    assert problems == ["profiles/agents/a.yaml:5:5: run_config.model_settings: YAML merge keys "
                        "(<<) are not supported (use a ${vars.name} preset and override fields "
                        "in a higher layer)"]


# -- what a YAML 1.1 habit now gets: a located error with the YAML 1.2 spelling -------------

BOOL_KEY = "run_config.tracing_disabled"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        pytest.param("yes", "write true", id="yes"),
        pytest.param("Yes", "write true", id="Yes"),
        pytest.param("on", "write true", id="on"),
        pytest.param("y", "write true", id="y"),
        pytest.param("no", "write false", id="no"),
        pytest.param("OFF", "write false", id="OFF"),
        pytest.param("n", "write false", id="n"),
        pytest.param("'true'", "write true without quotes; strings are never coerced",
                     id="quoted-true"),
        pytest.param("\"False\"", "write False without quotes; strings are never coerced",
                     id="quoted-False"),
    ],
)
def test_a_yaml11_boolean_is_a_string_with_a_hint(tree: Tree, text: str, hint: str) -> None:
    root = tree({"agents/a.yaml": f"run_config:\n  tracing_disabled: {text}\n"})
    shown = yaml.safe_load(text) if text[0] in "'\"" else text
    assert [p.render() for p in Loader(root, environ=ENV).check("a").problems] == [
        f"profiles/agents/a.yaml:2:3: {BOOL_KEY}: expected a boolean, got string {shown!r} "
        f"({hint})"]


@pytest.mark.parametrize("channel", ["override", "environment"])
@pytest.mark.parametrize(("text", "hint"), [("yes", "write true"), ("off", "write false")])
def test_a_yaml11_boolean_outside_files_is_a_usage_error(tree: Tree, channel: str, text: str,
                                                         hint: str) -> None:
    root = tree({"agents/a.yaml": "{}\n"})
    name = "REALTIME_PROFILES__RUN_CONFIG__TRACING_DISABLED"
    environ = {**ENV, name: text} if channel == "environment" else ENV
    overrides = (f"++tracing_disabled={text}",) if channel == "override" else ()
    where = (f"environment variable {name}" if channel == "environment"
             else f"command line: ++tracing_disabled={text}")
    with pytest.raises(UsageError) as caught:
        Loader(root, environ=environ).check("a", overrides=overrides)
    assert [p.render() for p in caught.value.problems] == [
        f"{where}: {BOOL_KEY}: expected a boolean, got string {text!r} ({hint})"]


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        pytest.param("    turn_detection: {type: server_vad, prefix_padding_ms: 5:00}",
                     "turn_detection.prefix_padding_ms",
                     "expected an integer, got string '5:00'", id="base-60"),
        pytest.param("    turn_detection: {type: server_vad, silence_duration_ms: 1_000}",
                     "turn_detection.silence_duration_ms",
                     "expected an integer, got string '1_000'", id="underscore"),
        pytest.param("    speed: '1e0'", "speed", "expected a number, got string '1e0' (write "
                     "1e0 without quotes; strings are never coerced)", id="quoted-exponent"),
        pytest.param("    speed: '0.8'", "speed", "expected a number, got string '0.8' (write "
                     "0.8 without quotes; strings are never coerced)", id="quoted-number"),
    ],
)
def test_numbers_follow_yaml12(tree: Tree, line: str, key: str, message: str) -> None:
    root = tree({"agents/a.yaml": f"run_config:\n  model_settings:\n{line}\n"})
    problems = [p for p in Loader(root, environ=ENV).check("a").problems
                if p.severity == "error"]
    assert [f"{p.path}: {p.message}" + (f" ({p.suggestion})" if p.suggestion else "")
            for p in problems] == [f"run_config.model_settings.{key}: {message}"]


def test_the_issue_examples_pass_or_fail_as_yaml12_says(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        run_config:
          model_settings:
            speed: 1e0
            input_audio_transcription: {model: whisper-1, language: no}
            tracing: {metadata: {since: 2024-01-01}}
        """})
    profile = Loader(root, environ=ENV).load("a", strict=True)
    settings = profile.run_config["model_settings"]
    assert settings["speed"] == 1.0
    assert settings["input_audio_transcription"]["language"] == "no"
    assert settings["tracing"]["metadata"]["since"] == "2024-01-01"
    out, err = io.StringIO(), io.StringIO()
    (root / "agents" / "a.yaml").write_text("run_config: {tracing_disabled: yes}\n")
    assert main(["--root", str(root), "validate", "--strict"], out, err) == 1
    assert "expected a boolean, got string 'yes' (write true)" in err.getvalue()


@pytest.mark.parametrize("text", ["1e0", "yes", "no", "on", "5:00", "017", "0x1F", "2024-01-01",
                                  "1_000", ".5", "null", "~", "True", "0o17", "=", "<<"])
def test_show_prints_strings_that_read_back_as_strings(text: str) -> None:
    document = {"metadata": {"x": text, text: 1}}
    printed = dump(document)
    layer = parse_layer(Source("base", "x", True), "run_config:\n  " +
                        printed.replace("\n", "\n  "))
    assert not layer.problems, layer.problems
    assert layer.data == {"run_config": document}
