"""The loader end to end: interpolation, resolvers, secrets, validation messages, caching
and thread safety, on real trees in a temporary directory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from realtime_profiles import (
    Loader,
    ProfileError,
    ProfileValidationError,
    SecretUnavailableError,
    UsageError,
    load_profile,
)
from tests.conftest import Tree


def problems(loader: Loader, agent: str, env: str | None = None, *overrides: str) -> list[str]:
    return [p.render() for p in loader.check(agent, env, overrides).problems]


# -- interpolation -------------------------------------------------------------------------

def test_profile_vars_env_and_file_interpolation(tree: Tree) -> None:
    root = tree({
        "base.yaml": """
            vars: {voice: verse}
            run_config:
              model_settings:
                voice: ${vars.voice}
                tracing:
                  workflow_name: ${profile.agent}-${profile.env}
                  metadata:
                    sha: ${oc.env:GIT_SHA,unknown}
                    literal: \\${not.interpolated}
            model_config:
              initial_model_settings:
                instructions: ${file:prompts/a.md}
            """,
        "env/prod.yaml": "{}\n",
        "agents/a.yaml": "{}\n",
        "prompts/a.md": "Be brief.\n",
    })
    profile = Loader(root, environ={"GIT_SHA": "abc123"}).load("a", "prod")
    settings = profile.run_config["model_settings"]
    assert settings["voice"] == "verse"
    assert settings["tracing"] == {"workflow_name": "a-prod",
                                   "metadata": {"sha": "abc123", "literal": "${not.interpolated}",
                                                "profile_fingerprint": profile.fingerprint}}
    assert profile.model_config["initial_model_settings"]["instructions"] == "Be brief."
    assert "vars" not in profile.document()
    default = Loader(root, environ={}).load("a", "prod").run_config["model_settings"]["tracing"]
    assert default["metadata"]["sha"] == "unknown"


def test_emitted_dicts_are_plain_and_in_file_order(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config:\n  model_settings: {voice: ash, model_name: x}\n"
                              "  tracing_disabled: true\n",
                 "agents/a.yaml": "run_config: {model_settings: {tool_choice: auto}}\n"})
    profile = Loader(root, environ={}).load("a")
    assert type(profile.run_config) is dict
    assert list(profile.run_config) == ["model_settings", "tracing_disabled"]
    assert list(profile.run_config["model_settings"]) == ["voice", "model_name", "tool_choice"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"base.yaml": "vars: {a: '${vars.b}', b: '${vars.a}'}\n"
                                   "run_config: {model_settings: {voice: '${vars.a}'}}\n"},
                     "profiles/base.yaml:1:8: vars.a: interpolation cycle: vars.a -> vars.b -> "
                     "vars.a", id="cycle"),
        pytest.param({"base.yaml": "run_config: {model_settings: {voice: '${vars.missing}'}}\n"},
                     "profiles/base.yaml:1:31: run_config.model_settings.voice: "
                     "${vars.missing} refers to vars.missing, which is not set", id="missing-ref"),
        pytest.param({"base.yaml": "vars: {voice: ash}\n"
                                   "run_config: {model_settings: {voice: '${vars.voise}'}}\n"},
                     "profiles/base.yaml:2:31: run_config.model_settings.voice: ${vars.voise} "
                     "refers to vars.voise, which is not set (did you mean 'voice'?)",
                     id="misspelled-ref"),
        pytest.param({"base.yaml": "run_config: {model_settings: {voice: '${nope:x}'}}\n"},
                     "profiles/base.yaml:1:31: run_config.model_settings.voice: unknown resolver "
                     "'nope' in '${nope:x}' (known: file, oc.env; add one with "
                     "Loader(resolvers=...), or on the command line --plugin module:attr)",
                     id="unknown-resolver"),
        pytest.param({"base.yaml": "run_config: {model_settings: {voice: '${oc.env:NOPE}'}}\n"},
                     "profiles/base.yaml:1:31: run_config.model_settings.voice: environment "
                     "variable NOPE is not set (set it, or give a default: "
                     "${oc.env:NOPE,default})", id="unset-variable"),
        pytest.param({"base.yaml": "run_config: {model_settings: {voice: '${vars.'}}\n"},
                     "profiles/base.yaml:1:31: run_config.model_settings.voice: invalid "
                     "interpolation '${vars.': ", id="bad-grammar"),
        pytest.param({"base.yaml": "run_config: {model_settings: {instructions: "
                                   "'${file:../secret.txt}'}}\n"},
                     "profiles/base.yaml:1:31: run_config.model_settings.instructions: file path "
                     "'../secret.txt' must stay inside the profile root (use a path relative to "
                     "the root, without '..')", id="file-dotdot"),
        pytest.param({"base.yaml": "run_config: {model_settings: {instructions: "
                                   "'${file:/etc/passwd}'}}\n"},
                     "must stay inside the profile root", id="file-absolute"),
        pytest.param({"base.yaml": "run_config: {model_settings: {instructions: "
                                   "'${file:prompts/suport.md}'}}\n",
                      "prompts/support.md": "hi\n"},
                     "file 'prompts/suport.md' does not exist under the profile root (did you "
                     "mean 'prompts/support.md'?)", id="file-missing"),
    ],
)
def test_interpolation_errors_are_located(tree: Tree, files: dict[str, str],
                                          expected: str) -> None:
    root = tree({**files, "agents/a.yaml": "{}\n"})
    found = problems(Loader(root, environ={}), "a")
    assert any(expected in line for line in found), found


def test_file_reference_cannot_escape_through_a_symlink(tree: Tree, tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("secret\n")
    root = tree({"base.yaml": "run_config: {model_settings: {instructions: '${file:p.md}'}}\n",
                 "agents/a.yaml": "{}\n"})
    (root / "p.md").symlink_to(tmp_path / "outside.md")
    assert "leaves the profile root (symlink)" in problems(Loader(root, environ={}), "a")[0]


def test_resolvers_are_per_loader_and_leave_omegaconf_alone(tree: Tree) -> None:
    from omegaconf import OmegaConf

    root = tree({"base.yaml": "run_config: {model_settings: {voice: '${shout:hi}'}}\n",
                 "agents/a.yaml": "{}\n"})
    before = OmegaConf.has_resolver("file")
    loud = Loader(root, environ={}, resolvers={"shout": lambda s: s.upper() + "!"})
    quiet = Loader(root, environ={})
    assert loud.load("a").run_config["model_settings"]["voice"] == "HI!"
    assert "unknown resolver 'shout'" in problems(quiet, "a")[0]
    assert OmegaConf.has_resolver("file") is before
    assert not OmegaConf.has_resolver("shout")


# -- validation ----------------------------------------------------------------------------

THREE_FILES = {
    "base.yaml": """
        run_config:
          tracing_disabled: "false"
          model_settings:
            voice: marin
        """,
    "env/prod.yaml": """
        run_config:
          model_settings:
            turn_detection:
              type: semantic-vad
              threshold: 1.5
        """,
    "agents/phone.yaml": """
        run_config:
          model_settings:
            voic: alloy
            voice: alloyy
            input_audio_format: mp3
        """,
}


def test_every_problem_in_every_file_is_reported_at_once(tree: Tree) -> None:
    root = tree(THREE_FILES)
    with pytest.raises(ProfileValidationError) as info:
        Loader(root, environ={}).load("phone", "prod")
    assert [p.render() for p in info.value.problems] == [
        "profiles/agents/phone.yaml:3:5: run_config.model_settings.voic: unknown key (did you "
        "mean 'voice'?)",
        "profiles/agents/phone.yaml:4:5: warning: run_config.model_settings.voice: 'alloyy' is "
        "not a known value (known: alloy, ash, ballad, coral, echo, sage, shimmer, verse, "
        "marin, cedar); it is sent as written (did you mean 'alloy'?)",
        "profiles/agents/phone.yaml:5:5: run_config.model_settings.input_audio_format: expected "
        "one of 'pcm16', 'g711_ulaw', 'g711_alaw', 'audio/pcm', 'pcm', 'audio/pcmu', 'pcmu', "
        "'audio/pcma', 'pcma' or a mapping, got string 'mp3'",
        "profiles/base.yaml:2:3: run_config.tracing_disabled: expected a boolean, got string "
        "'false' (write false without quotes; strings are never coerced)",
        "profiles/env/prod.yaml:4:7: run_config.model_settings.turn_detection.type: "
        "'semantic-vad' is not one of 'semantic_vad', 'server_vad' (did you mean "
        "'semantic_vad'?)",
        "profiles/env/prod.yaml:5:7: run_config.model_settings.turn_detection.threshold: 1.5 is "
        "greater than the maximum of 1",
    ]
    assert info.value.problems[0].suggestion == "did you mean 'voice'?"
    assert info.value.problems[0].mark is not None
    assert info.value.problems[0].mark.line == 3


def test_strict_turns_warnings_into_errors(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config: {model_settings: {voice: alloyy}}\n"})
    loader = Loader(root, environ={})
    assert [p.severity for p in loader.load("a").warnings] == ["warning"]
    with pytest.raises(ProfileValidationError):
        loader.load("a", strict=True)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        pytest.param("run_config: {voice: ash}",
                     "run_config.voice: unknown key (it belongs at run_config.model_settings."
                     "voice)", id="misplaced-key"),
        pytest.param("run_config: {model_settings: {speed: '1.0'}}",
                     "run_config.model_settings.speed: expected a number, got string '1.0' "
                     "(write 1.0 without quotes; strings are never coerced)", id="number-string"),
        pytest.param("run_config: {model_settings: {output_modalities: [text, audio]}}",
                     "run_config.model_settings.output_modalities: text and audio cannot be "
                     "requested together (choose one: [audio] (audio plus transcript) or "
                     "[text])", id="both-modalities"),
        pytest.param("run_config: {model_settings: {turn_detection: {type: server_vad, "
                     "treshold: 0.5}}}",
                     "run_config.model_settings.turn_detection.treshold: unknown key (did you "
                     "mean 'threshold'?)", id="turn-detection-typo"),
        pytest.param("model_config: {url: 'https://api.example'}",
                     "model_config.url: 'https://api.example' does not match '^wss?://' (the "
                     "SDK opens a websocket: use wss://...)", id="url-scheme"),
        pytest.param("start_messages: [{type: message, role: assistant, content: []}]",
                     "start_messages[0].role: must be 'user', got 'assistant'", id="role"),
        pytest.param("client_messages: [{other_data: {}}]",
                     "client_messages[0]: missing required key 'type'", id="required"),
        pytest.param("run_config: {model_settings: {voice: 7}}",
                     "run_config.model_settings.voice: expected a string or a mapping, got "
                     "integer 7", id="anyof-type"),
    ],
)
def test_validation_messages(tree: Tree, agent: str, expected: str) -> None:
    root = tree({"agents/a.yaml": agent + "\n"})
    found = problems(Loader(root, environ={}), "a")
    assert any(line.endswith(expected) for line in found), found


def test_start_message_shorthand_becomes_a_user_message(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "start_messages: [Hello]\n"})
    assert Loader(root, environ={}).load("a").start_messages == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}]


def test_an_error_in_a_preset_points_at_the_preset_and_the_reference(tree: Tree) -> None:
    root = tree({
        "base.yaml": "vars:\n  calm:\n    type: server_vad\n    threshold: 3\n",
        "agents/a.yaml": "run_config:\n  model_settings:\n    turn_detection: ${vars.calm}\n",
    })
    assert problems(Loader(root, environ={}), "a") == [
        "profiles/base.yaml:4:5: run_config.model_settings.turn_detection.threshold: 3 is "
        "greater than the maximum of 1 [via profiles/agents/a.yaml:3:5]"]


def test_unknown_top_level_key_does_not_hide_other_problems(tree: Tree) -> None:
    root = tree({"base.yaml": "runconfig: {}\n",
                 "agents/a.yaml": "run_config: {tracing_disabled: 'no'}\n"})
    found = problems(Loader(root, environ={}), "a")
    assert len(found) == 2


def test_a_broken_reference_does_not_hide_the_other_problems_of_its_section(tree: Tree) -> None:
    root = tree({"base.yaml": """
        run_config:
          model_settings:
            voice: ${vars.voice}
            speed: "fast"
            qqqqqq: 1
            audio: {input: {format: {type: "${vars.format}", rate: 24000}}}
          tracing_disabled: "false"
        client_messages:
          - {type: "${vars.event}"}
        """, "agents/a.yaml": "{}\n"})
    found = problems(Loader(root, environ={}, checks=()), "a")
    # Each broken value once; no consequence of it (the mapping that lost `type` fits no
    # shape, misses a required key); every unrelated problem around it still reported.
    assert [line.split(" (")[0] for line in found] == [
        "profiles/base.yaml:3:5: run_config.model_settings.voice: ${vars.voice} refers to "
        "vars.voice, which is not set",
        "profiles/base.yaml:4:5: run_config.model_settings.speed: expected a number, got "
        "string 'fast'",
        "profiles/base.yaml:5:5: run_config.model_settings.qqqqqq: unknown key",
        "profiles/base.yaml:6:30: run_config.model_settings.audio.input.format.type: "
        "${vars.format} refers to vars.format, which is not set",
        "profiles/base.yaml:7:3: run_config.tracing_disabled: expected a boolean, got string "
        "'false'",
        "profiles/base.yaml:9:6: client_messages[0].type: ${vars.event} refers to vars.event, "
        "which is not set",
    ]


# -- secrets -------------------------------------------------------------------------------

SECRET_TREE = {
    "base.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n",
    "agents/a.yaml": "{}\n",
}


def test_secret_from_the_environment_is_used_and_never_shown(tree: Tree) -> None:
    root = tree(SECRET_TREE)
    profile = Loader(root, environ={"OPENAI_API_KEY": "sk-real-value"}).load("a")
    assert profile.model_config["api_key"] == "sk-real-value"
    assert "sk-real-value" not in repr(profile)
    assert profile.redacted()["model_config"]["api_key"] == "***"
    assert "sk-real-value" not in profile.explain("model_config.api_key").render()


def test_unset_secret_is_a_warning_for_validation_and_an_error_for_use(tree: Tree) -> None:
    root = tree(SECRET_TREE)
    loader = Loader(root, environ={})
    result = loader.check("a")
    assert result.ok
    assert [p.render() for p in result.problems] == [
        "profiles/base.yaml:2:3: warning: model_config.api_key: secret unavailable: environment "
        "variable OPENAI_API_KEY is not set (set it before loading this profile for use)"]
    assert result.profile is not None
    assert result.profile.redacted()["model_config"]["api_key"] == "*** (unset: OPENAI_API_KEY)"
    with pytest.raises(SecretUnavailableError, match="OPENAI_API_KEY"):
        loader.load("a")


def test_a_secret_default_is_a_literal_in_git_and_fine_in_local_yaml(tree: Tree) -> None:
    # A default written in a tracked file is a literal secret in git (issue 13, finding 4).
    root = tree({"base.yaml": "model_config:\n  api_key: ${oc.env:KEY,dev-key}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(ProfileValidationError) as info:
        Loader(root, environ={}).load("a")
    assert [p.render() for p in info.value.problems] == [
        "profiles/base.yaml:2:3: model_config.api_key: a secret's ${oc.env:NAME,default} has "
        "a literal default in a tracked file (drop the default: unset, the variable is a "
        "warning for validate and an error for use)"]
    root = tree({"base.yaml": "{}\n", "local.yaml": "model_config:\n  api_key: "
                 "${oc.env:KEY,dev-key}\n"})
    assert Loader(root, environ={}).load("a").model_config["api_key"] == "dev-key"


def test_secret_through_vars_to_a_literal_is_rejected(tree: Tree) -> None:
    root = tree({"base.yaml": "vars: {key: abc123}\nmodel_config:\n  api_key: ${vars.key}\n",
                 "agents/a.yaml": "{}\n"})
    found = problems(Loader(root, environ={}), "a")
    assert found == ["profiles/base.yaml:3:3: model_config.api_key: a secret must come from "
                     "${oc.env:...} or ${file:...}; it draws on vars.key, a literal written at "
                     "profiles/base.yaml:1:8 in a tracked file (move the value to an environment "
                     "variable)"]
    assert "abc123" not in "\n".join(found)


def test_secret_that_interpolates_a_tracked_literal_is_rejected(tree: Tree) -> None:
    root = tree({"base.yaml": """
        vars:
          key: abcdefghijklmnop
          nested: {deep: ["${vars.key}"]}
        model_config:
          api_key: "${vars.key}${oc.env:EMPTY,''}"
          headers:
            Authorization: "Bearer ${vars.key}"
            X-Chain: "k-${vars.nested}"
            X-Env: "Bearer ${oc.env:TOKEN}"
        """, "agents/a.yaml": "{}\n"})
    found = problems(Loader(root, environ={"TOKEN": "t"}, checks=()), "a")
    rule = "a secret must come from ${oc.env:...} or ${file:...}; it draws on vars.key, a " \
           "literal written at profiles/base.yaml:2:3 in a tracked file (move the value to an " \
           "environment variable)"
    # Using ${oc.env:...} as well does not make it a secret from the environment, and a
    # literal reached through a mapping counts too; text around a resolver in the secret's
    # own string (X-Env) stays allowed.
    assert found == [f"profiles/base.yaml:5:3: model_config.api_key: {rule}",
                     f"profiles/base.yaml:7:5: model_config.headers.Authorization: {rule}",
                     f"profiles/base.yaml:8:5: model_config.headers.X-Chain: {rule}"]
    assert "abcdefghijklmnop" not in "\n".join(found)
    # The same literal from the untracked local.yaml, an override or the environment is fine.
    root = tree({"base.yaml": "model_config: {api_key: 'k-${vars.key}'}\n",
                 "local.yaml": "vars: {key: abc}\n"})
    assert problems(Loader(root, environ={}, checks=()), "a") == []
    assert problems(Loader(root, environ={}, checks=(), local=False), "a", None,
                    "+vars.key=abc") == []


def test_unset_secret_reached_through_a_reference_is_unavailable_not_literal(tree: Tree) -> None:
    root = tree({"base.yaml": """
        vars:
          key: ${oc.env:OPENAI_API_KEY}
        model_config:
          api_key: ${vars.key}
        """, "agents/a.yaml": "{}\n", "agents/b.yaml": "run_config: {tracing_disabled: 1}\n"})
    loader = Loader(root, environ={})
    assert problems(loader, "a") == [
        "profiles/base.yaml:2:3: warning: model_config.api_key: secret unavailable: environment "
        "variable OPENAI_API_KEY is not set (set it before loading this profile for use) "
        "[via profiles/base.yaml:4:3]"]
    with pytest.raises(SecretUnavailableError, match="OPENAI_API_KEY") as info:
        loader.load("a")
    assert all("literal" not in p.render() for p in info.value.problems)
    # Any other error still makes it a validation error, never a missing secret.
    with pytest.raises(ProfileValidationError):
        loader.load("b")


def test_literal_secret_in_local_yaml_is_allowed(tree: Tree) -> None:
    root = tree({**SECRET_TREE, "local.yaml": "model_config: {api_key: my-dev-key}\n"})
    assert Loader(root, environ={}).load("a").model_config["api_key"] == "my-dev-key"


def test_error_about_a_secret_field_never_prints_its_value(tree: Tree) -> None:
    root = tree({"base.yaml": "model_config:\n  headers: {api-key: '${oc.env:K}'}\n",
                 "agents/a.yaml": "{}\n"})
    loader = Loader(root, environ={"K": "hunter2"})
    with pytest.raises(UsageError) as info:
        loader.load("a", overrides=["++model_config.headers.api-key=[hunter2]"])
    assert info.value.render().startswith(
        "command line: ++model_config.headers.api-key=***: model_config.headers.api-key: "
        "expected a string, got list ***")
    assert "hunter2" not in info.value.render()
    loader = Loader(root, environ={"K": "hunter2",
                                   "REALTIME_PROFILES__MODEL_CONFIG__API_KEY": "[hunter2]"},
                    checks=())  # the headers lint has its own say; this is about the schema
    with pytest.raises(UsageError) as info:  # the variable is the input to fix: exit 2
        loader.check("a")
    assert [p.render() for p in info.value.problems] == [
        "environment variable REALTIME_PROFILES__MODEL_CONFIG__API_KEY: "
        "model_config.api_key: expected a string or a mapping, got list ***"]
    assert "hunter2" not in info.value.render()


# -- API surface ---------------------------------------------------------------------------

def test_load_profile_function_and_overrides(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin}}\n",
                 "env/prod.yaml": "{}\n", "agents/a.yaml": "{}\n"})
    profile = load_profile("a", env="prod", root=root, overrides=["model_settings.voice=verse"],
                           environ={})
    assert profile.run_config == {"model_settings": {"voice": "verse"}}
    assert (profile.agent, profile.env) == ("a", "prod")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param("model_settings.voic=x", "command line: model_settings.voic=x: "
                     "run_config.model_settings.voic: unknown key (did you mean 'voice'? write "
                     "model_settings.voice=...)", id="typo"),
        pytest.param("model_settings.speed=1.1", "to add it, write +model_settings.speed=...",
                     id="set-missing"),
        pytest.param("+model_settings.voice=x", "is already set (to replace it, write "
                     "model_settings.voice=...", id="add-existing"),
        pytest.param("++model_settings.voise=x", "run_config.model_settings.voise: unknown key "
                     "(did you mean 'voice'? write ++model_settings.voice=...)",
                     id="force-unknown"),
        pytest.param("model_settings.voice=[a,", "invalid override 'model_settings.voice=[a,'",
                     id="syntax"),
        pytest.param("~model_settings.speed", "run_config.model_settings.speed: is not set in "
                     "this profile", id="delete-missing"),
        pytest.param("~model_settings.nothing", "run_config.model_settings.nothing: unknown key "
                     "(allowed here: model_name, ", id="delete-unknown"),
        pytest.param("model_settings.voice", "expected key=value", id="no-equals"),
        # found by the fuzz profile: the mapping the override created had no location
        pytest.param("+model_settings.tools.0=verse", "command line: +model_settings.tools.0="
                     "verse: run_config.model_settings.tools: expected a list, got mapping",
                     id="creates-a-mapping"),
    ],
)
def test_bad_overrides_are_usage_errors(tree: Tree, override: str, message: str) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin}}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(UsageError) as info:
        Loader(root, environ={}).load("a", overrides=[override])
    assert message in info.value.render()
    assert info.value.exit_code == 2


def test_override_grammar(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config:\n  model_settings: {voice: marin, tools: [a]}\n"
                              "  tracing_disabled: false\n",
                 "agents/a.yaml": "{}\n"})
    profile = Loader(root, environ={}).load("a", overrides=[
        "model_settings.voice='123'", "+model_settings.speed=1.2", "++tracing_disabled=true",
        "model_settings.tools+=[b]", "~model_settings.tools",
        "++model_settings.turn_detection={type: server_vad, threshold: 0.3}"])
    assert profile.run_config == {
        "model_settings": {"voice": "123", "speed": 1.2,
                           "turn_detection": {"type": "server_vad", "threshold": 0.3}},
        "tracing_disabled": True}


def test_environment_variable_layer(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin}}\n",
                 "agents/a.yaml": "{}\n"})
    env = {"REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__SPEED": "1.2",
           "REALTIME_PROFILES__MODEL_CONFIG__URL": "wss://x.example/v1"}
    profile = Loader(root, environ=env).load("a")
    assert profile.run_config["model_settings"]["speed"] == 1.2
    assert profile.model_config["url"] == "wss://x.example/v1"
    rendered = profile.explain("model_settings.speed").render()
    assert "environment variable REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__SPEED" in rendered


def test_explain_lists_every_layer_in_order(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin}}\n",
                 "env/prod.yaml": "run_config: {model_settings: {voice: ash}}\n",
                 "agents/a.yaml": "run_config: {model_settings: {voice: verse}}\n"})
    text = Loader(root, environ={}).explain("a", "prod", "model_settings.voice",
                                            ["model_settings.voice=coral"]).render()
    assert text == (
        'run_config.model_settings.voice = "coral"\n'
        '  1. profiles/base.yaml:1:31 (base): "marin"\n'
        '  2. profiles/env/prod.yaml:1:31 (env): "ash"\n'
        '  3. profiles/agents/a.yaml:1:31 (agent): "verse"\n'
        '  4. command line: model_settings.voice=coral: "coral"')


def test_explain_unknown_key_is_a_usage_error(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin}}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(UsageError, match=r"did you mean 'voice'"):
        Loader(root, environ={}).explain("a", None, "model_settings.voise")


def test_every_error_is_a_profile_error(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "{}\n"})
    for call in (lambda: Loader(root).load("b"), lambda: Loader(root).load("../a"),
                 lambda: Loader(root / "nope").load("a")):
        with pytest.raises(ProfileError):
            call()


# -- caching and threads -------------------------------------------------------------------

def test_cache_notices_file_and_prompt_and_environment_changes(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: marin, model_name: "
                              "'${oc.env:MODEL,gpt-realtime}'}}\n"
                              "model_config: {initial_model_settings: {instructions: "
                              "'${file:p.md}'}}\n",
                 "agents/a.yaml": "{}\n", "p.md": "one\n"})
    environ: dict[str, str] = {}
    loader = Loader(root, environ=environ)
    first = loader.load("a")
    assert loader.load("a") == first
    (root / "p.md").write_text("two, longer\n")
    assert loader.load("a").model_config["initial_model_settings"]["instructions"] == \
        "two, longer"
    environ["MODEL"] = "gpt-realtime-mini"
    assert loader.load("a").run_config["model_settings"]["model_name"] == "gpt-realtime-mini"
    (root / "agents" / "a").mkdir()
    (root / "agents" / "a" / "dev.yaml").write_text("run_config: {model_settings: {voice: ash}}\n")
    (root / "env").mkdir()
    (root / "env" / "dev.yaml").write_text("{}\n")
    assert loader.load("a", "dev").run_config["model_settings"]["voice"] == "ash"


def test_cached_profiles_are_not_shared_mutable_state(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config: {output_guardrails: [x]}\n"})
    loader = Loader(root, environ={})
    loader.load("a").run_config["output_guardrails"].append("mutated")
    assert loader.load("a").run_config["output_guardrails"] == ["x"]


def test_threads_and_roots_do_not_interfere(tree: Tree, tmp_path: Path) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: '${vars.v}'}}\n"
                              "vars: {v: marin}\n",
                 **{f"agents/a{i}.yaml": f"vars: {{v: voice{i}}}\n" for i in range(8)}})
    other = tmp_path / "other"
    other.mkdir()
    (other / "agents").mkdir()
    (other / "agents" / "a0.yaml").write_text("run_config: {model_settings: {voice: other}}\n")
    shared = Loader(root, environ={})
    barrier = threading.Barrier(8)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            mine = []
            for _ in range(20):
                mine.append(shared.load(f"a{i}").run_config["model_settings"]["voice"])
                mine.append(Loader(other, environ={}).load("a0").run_config["model_settings"]
                            ["voice"])
            results[i] = mine
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(8):
        assert set(results[i]) == {f"voice{i}", "other"}


def test_does_not_read_process_environment_when_given_one(tree: Tree) -> None:
    root = tree({"base.yaml": "run_config: {model_settings: {voice: '${oc.env:HOME,none}'}}\n",
                 "agents/a.yaml": "{}\n"})
    assert "HOME" in os.environ
    assert Loader(root, environ={}).load("a").run_config["model_settings"]["voice"] == "none"


def test_an_unknown_key_is_located_where_the_key_is_written_not_where_its_value_is(
        tree: Tree) -> None:
    root = tree({"base.yaml": "vars:\n  voice: marin\n",
                 "agents/a.yaml": "run_config:\n  model_settings:\n    voic: ${vars.voice}\n"
                                  "    speed: ${vars.fast}\n",
                 "env/dev.yaml": "vars:\n  fast: 9\n"})
    problems = Loader(root, environ={}).check("a", "dev").problems
    assert [p.render() for p in problems] == [
        "profiles/agents/a.yaml:3:5: run_config.model_settings.voic: unknown key (did you mean "
        "'voice'?)",
        # a bad value is located where the value was written, by way of the reference
        "profiles/env/dev.yaml:2:3: run_config.model_settings.speed: 9 is greater than the "
        "maximum of 1.5 [via profiles/agents/a.yaml:4:5]",
    ]
