"""Names, type errors and override values never carry a secret into what is shown.

Guarantees (docs/security.md, "Secrets"):

- A name of an agent or of code — `agent.name`, `agent.handoffs` (a name, `{agent: ...}`,
  `tool_name_override`, `{handoff: ...}`), every registry slot the schema marks `x-registry`
  (tools, MCP servers, guardrails, formatter, playback tracker, api-key callable; in `agent`,
  `run_config` and `model_config`) — may not be derived from a secret (masked by
  `SecretFlow`): it is a located `secret-name` error that never quotes the value, whatever
  channel wrote it (a file, `local.yaml`, a `REALTIME_PROFILES__*` variable, an override).
  The SDK shows names where no mask reaches (`transfer_to_<name>` lowered, its own logs), so
  such a profile is refused before any agent is built: `wire`, `snapshot --write`, `show`
  and `validate` fail and print neither the value nor the tool name made of it.
- Behind that rule, every message that names an agent, a handoff or a registered name (the
  graph checks, duplicate tool names, `RegistryError`, the SDK binding) shows a masked name as
  `***`, however it got there.
- A type error masks a value when the value or anything inside it is masked
  (`got list ***`).
- A value written by an override or a variable that may not be echoed (shaped like a key,
  or under a secret's name) is quoted by no problem — type, enum, open-enum warnings — and
  neither is anything shaped like a key, whichever check wrote the message.

Canaries: the OpenAI key `CANARY`, a header token `TOKEN`.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles import Loader, ProfileError
from realtime_profiles.cli import main
from realtime_profiles.profile import Profile

CANARY = "sk-CANARY0123456789abcdefghij"
TOKEN = "tok-CANARY-xyz-123456"
TOOL_NAME = CANARY.lower().replace("-", "_")  # what the SDK makes of it: transfer_to_sk_...
NAME_MESSAGE = "a name cannot be derived from a secret"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# -- names derived from a secret are refused ---------------------------------------------------

SECRET_NAMED_AGENT = {
    "base.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        """,
    "agents/a.yaml": """
        agent:
          instructions: hi
          handoffs: [b]
        """,
    "agents/b.yaml": """
        agent:
          name: "${oc.env:OPENAI_API_KEY}"
          instructions: hi b
        """,
    "env/dev.yaml": "{}\n",
}


def test_wire_refuses_an_agent_named_after_a_secret_before_the_sdk_sees_it(
        tree: Tree, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The handoff tool would be `transfer_to_sk_canary...` (lowered: no scrub of the value
    finds it), and the SDK would log it: the profile is refused first."""
    root = tree(SECRET_NAMED_AGENT)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    with caplog.at_level(logging.DEBUG):
        code, out, err = run("--root", str(root), "wire", "a", "--env", "dev")
        assert code == 1
        assert TOOL_NAME not in out + err and CANARY not in out + err
        code, out, err = run("--root", str(root), "wire", "b", "--env", "dev")
    assert code == 1
    assert f"agents/b.yaml:2:3: agent.name: {NAME_MESSAGE}" in err
    assert TOOL_NAME not in out + err and CANARY not in out + err
    assert CANARY not in caplog.text and TOOL_NAME not in caplog.text


def test_a_snapshot_is_never_written_with_a_name_made_from_a_secret(tree: Tree) -> None:
    root = tree(SECRET_NAMED_AGENT)
    code, out, err = run("--root", str(root), "snapshot", "--write", "--environ",
                         f"OPENAI_API_KEY={CANARY}")
    assert code == 1
    assert NAME_MESSAGE in out + err
    assert [str(p) for p in Path("snapshots").rglob("*.json")
            if TOOL_NAME in p.read_text() or CANARY in p.read_text()] == []
    assert CANARY not in out + err and TOOL_NAME not in out + err


def test_validate_never_prints_a_handoff_tool_name_made_from_a_secret(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two handoffs to agents whose names read the api key: the duplicate tool name is found
    and shown as ***."""
    root = tree({**SECRET_NAMED_AGENT,
                 "agents/a.yaml": "agent:\n  instructions: hi\n  handoffs: [b, c]\n",
                 "agents/c.yaml": "agent:\n  name: \"${oc.env:OPENAI_API_KEY}\"\n"})
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    for argv in (("validate",), ("validate", "--format", "json"),
                 ("show", "a", "--env", "dev")):
        code, out, err = run("--root", str(root), *argv)
        assert code == 1, argv
        assert TOOL_NAME not in out + err and CANARY not in out + err, argv
        assert "registers the tool name ***" in out + err, argv
    code, out, err = run("--root", str(root), "show", "b", "--env", "dev")
    assert code == 1 and NAME_MESSAGE in err and CANARY not in out + err


NAMES_BASE = {
    "base.yaml": """
        vars:
          plain: Billing
        run_config:
          model_settings:
            model_name: gpt-realtime
        model_config:
          headers: {Authorization: "Bearer ${oc.env:TOKEN}"}
        """,
    "agents/a.yaml": "agent:\n  instructions: hi\n",
    "agents/b.yaml": "agent:\n  instructions: hi b\n",
    "env/dev.yaml": "{}\n",
}


@pytest.mark.parametrize(("section", "key"), [
    ("agent:\n  name: ${oc.env:TOKEN}\n", "agent.name"),
    ("agent:\n  name: x-${oc.env:TOKEN}\n", "agent.name"),
    ("agent:\n  name: ${model_config.headers.Authorization}\n", "agent.name"),
    ("agent:\n  handoffs: [\"${oc.env:TOKEN}\"]\n", "agent.handoffs[0]"),
    ("agent:\n  handoffs: [{agent: \"${oc.env:TOKEN}\"}]\n", "agent.handoffs[0].agent"),
    ("agent:\n  handoffs: [{agent: b, tool_name_override: \"t_${oc.env:TOKEN}\"}]\n",
     "agent.handoffs[0].tool_name_override"),
    ("agent:\n  handoffs: [{handoff: \"${oc.env:TOKEN}\"}]\n", "agent.handoffs[0].handoff"),
    ("agent:\n  tools: [ok, \"${oc.env:TOKEN}\"]\n", "agent.tools[1]"),
    ("agent:\n  mcp_servers: [\"${oc.env:TOKEN}\"]\n", "agent.mcp_servers[0]"),
    ("agent:\n  output_guardrails: [\"g-${oc.env:TOKEN}\"]\n", "agent.output_guardrails[0]"),
    ("run_config:\n  output_guardrails: [\"${oc.env:TOKEN}\"]\n",
     "run_config.output_guardrails[0]"),
    ("run_config:\n  tool_error_formatter: \"${oc.env:TOKEN}\"\n",
     "run_config.tool_error_formatter"),
    ("run_config:\n  model_settings:\n    tools: [\"${oc.env:TOKEN}\"]\n",
     "run_config.model_settings.tools[0]"),
    ("model_config:\n  initial_model_settings:\n    handoffs: [\"${oc.env:TOKEN}\"]\n",
     "model_config.initial_model_settings.handoffs[0]"),
    ("model_config:\n  playback_tracker: \"${oc.env:TOKEN}\"\n",
     "model_config.playback_tracker"),
])
@pytest.mark.parametrize("channel", ["file", "local"])
def test_every_name_slot_refuses_a_value_derived_from_a_secret(
        tree: Tree, section: str, key: str, channel: str) -> None:
    where = "agents/a.yaml" if channel == "file" else "local.yaml"
    files = dict(NAMES_BASE)
    if channel == "file":
        files[where] = section.replace("agent:\n", "agent:\n  instructions: hi\n", 1) \
            if section.startswith("agent:") else files[where] + section
    else:
        files[where] = section
    root = tree(files)
    loader = Loader(root, environ={"TOKEN": TOKEN})
    problems = loader.check("a", "dev").problems
    named = [p for p in problems if p.code == "secret-name"]
    assert [p.path for p in named] == [key], problems
    marks = [named[0].mark, *named[0].via]  # a reference: the value's mark, then the reader
    assert any(m is not None and m.file.endswith(where) for m in marks), named
    assert NAME_MESSAGE in named[0].message and named[0].suggestion
    assert all(TOKEN not in p.render() for p in problems)
    with pytest.raises(ProfileError) as caught:
        loader.load("a", "dev")
    assert TOKEN not in str(caught.value) + repr(caught.value)


def test_a_name_from_an_override_or_a_variable_is_refused(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(NAMES_BASE)
    monkeypatch.setenv("TOKEN", TOKEN)
    code, out, err = run("--root", str(root), "show", "a", "--env", "dev",
                         "++agent.name=${oc.env:TOKEN}")
    assert code == 2 and NAME_MESSAGE in err and TOKEN not in out + err
    monkeypatch.setenv("REALTIME_PROFILES__AGENT__TOOLS", "['${oc.env:TOKEN}']")
    code, out, err = run("--root", str(root), "validate")
    assert code == 2 and NAME_MESSAGE in err and TOKEN not in out + err


def test_plain_names_and_a_secret_named_var_used_elsewhere_stay_valid(tree: Tree) -> None:
    """Only names are refused: the same value in a description is masked, not an error, and
    a plain name beside a secret is fine."""
    root = tree({**NAMES_BASE,
                 "agents/a.yaml": "agent:\n  name: ${vars.plain}\n  instructions: hi\n"
                                  "  handoff_description: \"d ${oc.env:TOKEN}\"\n"})
    result = Loader(root, environ={"TOKEN": TOKEN}).check("a", "dev")
    assert [p for p in result.problems if p.severity == "error"] == []


# -- graph and registry messages never quote a masked name -------------------------------------

DERIVED_IN_ERRORS = {
    "base.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
            tracing: {workflow_name: wf, group_id: ["${oc.env:TOKEN}"]}
        model_config:
          headers: {Authorization: "Bearer ${oc.env:TOKEN}"}
        """,
    "agents/a.yaml": """
        agent:
          instructions: hi
          handoffs: ["${oc.env:TOKEN}"]
        """,
    "env/dev.yaml": "{}\n",
}


def test_an_unknown_handoff_never_quotes_a_derived_name(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(DERIVED_IN_ERRORS)
    monkeypatch.setenv("TOKEN", TOKEN)
    for argv in (("validate",), ("validate", "--format", "json"),
                 ("show", "a", "--env", "dev")):
        code, out, err = run("--root", str(root), *argv)
        assert code == 1
        assert TOKEN not in out + err, argv
        assert "hands off to ***" in out + err, argv


def test_a_registry_error_never_quotes_a_derived_name(tree: Tree) -> None:
    """A Loader refuses the names; a profile that reaches the registry some other way (built
    by hand, with its masked paths) has them shown as ***, and a masked agent or handoff name
    stops the build of the agent."""
    from realtime_profiles.sdk import Registry

    root = tree({**DERIVED_IN_ERRORS,
                 "base.yaml": """
                     run_config:
                       model_settings: {model_name: gpt-realtime}
                     model_config:
                       headers: {Authorization: "Bearer ${oc.env:TOKEN}"}
                     """,
                 "agents/a.yaml": """
                     agent:
                       instructions: hi
                       tools: ["${oc.env:TOKEN}"]
                       output_guardrails: ["g-${oc.env:TOKEN}"]
                     """})
    with pytest.raises(ProfileError) as refused:
        Loader(root, environ={"TOKEN": TOKEN}).load("a", "dev")
    assert TOKEN not in str(refused.value) + repr(refused.value)
    assert {p.code for p in refused.value.problems} == {"secret-name"}

    by_hand = Profile("a", "dev", {}, {"playback_tracker": TOKEN}, [], [],
                      agent_config={"tools": [TOKEN], "output_guardrails": [f"g-{TOKEN}"]},
                      _derived=(("agent", "tools"), ("agent", "output_guardrails"),
                                ("model_config", "playback_tracker")))
    with pytest.raises(ProfileError) as caught:
        by_hand.realtime_agent(Registry())
    assert TOKEN not in str(caught.value) + repr(caught.value)
    assert "unknown tool ***" in str(caught.value)
    with pytest.raises(ProfileError) as caught:
        by_hand.bind(Registry())
    assert TOKEN not in str(caught.value) + repr(caught.value)
    assert "unknown playback tracker ***" in str(caught.value)
    named = Profile("a", "dev", {}, {}, [], [], agent_config={"name": TOKEN},
                    _derived=(("agent", "name"),))
    with pytest.raises(ProfileError) as caught:
        named.realtime_agent(Registry())
    assert [p.code for p in caught.value.problems] == ["secret-name"]
    assert TOKEN not in str(caught.value) + repr(caught.value)


# -- type errors ---------------------------------------------------------------------------------

def test_a_type_error_on_a_list_never_quotes_a_derived_item(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """`group_id: ["${oc.env:TOKEN}"]` reads the header's variable: the error says
    `got list ***`."""
    root = tree(DERIVED_IN_ERRORS)
    monkeypatch.setenv("TOKEN", TOKEN)
    code, out, err = run("--root", str(root), "explain", "a",
                         "run_config.model_settings.tracing.group_id", "--env", "dev")
    assert TOKEN not in out + err
    for argv in (("validate",), ("validate", "--format", "json"),
                 ("show", "a", "--env", "dev", "--format", "json")):
        code, out, err = run("--root", str(root), *argv)
        assert code == 1
        assert TOKEN not in out + err, argv
        assert "expected a string, got list ***" in out + err, argv


def test_a_type_error_on_a_mapping_holding_a_derived_value_masks_it(tree: Tree) -> None:
    root = tree({**DERIVED_IN_ERRORS,
                 "agents/a.yaml": "agent:\n  instructions: {x: [\"${oc.env:TOKEN}\"]}\n"})
    problems = Loader(root, environ={"TOKEN": TOKEN}).check("a", "dev").problems
    assert any(p.path == "agent.instructions" and p.message.endswith("got mapping ***")
               for p in problems), problems
    assert all(TOKEN not in p.render() for p in problems)


# -- override and variable values ----------------------------------------------------------------

CALLS = {
    "base.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
            voice: marin
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        """,
    "agents/a.yaml": "agent:\n  instructions: hi\n",
    "env/dev.yaml": "{}\n",
}


@pytest.mark.parametrize("override", [
    f"+model_settings.tool_choice={CANARY}",
    f"model_settings.voice={CANARY}",
    f"++model_settings.voice={CANARY}",
    f"++model_settings.voice=[{CANARY}]",
    f"++model_settings.speed={CANARY}",
    f"++model_settings.turn_detection.eagerness={CANARY}",
    f"++model_settings.tracing={{workflow_name: {CANARY}, group_id: 3}}",
])
def test_override_messages_never_quote_a_key_shaped_value(
        tree: Tree, monkeypatch: pytest.MonkeyPatch, override: str) -> None:
    root = tree(CALLS)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unrelated")
    code, out, err = run("--root", str(root), "show", "a", "--env", "dev", override)
    assert code in (0, 2)  # a warning, or a usage error naming the override
    assert CANARY not in out.replace(f"voice: {CANARY}", "") + err
    assert "***" in err


@pytest.mark.parametrize(("variable", "value"), [
    ("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TURN_DETECTION__EAGERNESS", CANARY),
    ("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE", CANARY),
    ("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__TOOL_CHOICE", CANARY),
    ("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__SPEED", f"[{CANARY}]"),
])
def test_variable_messages_never_quote_a_key_shaped_value(
        tree: Tree, monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    root = tree(CALLS)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unrelated")
    monkeypatch.setenv(variable, value)
    for argv in (("validate",), ("validate", "--format", "json")):
        code, out, err = run("--root", str(root), *argv)
        assert code in (0, 2), argv
        assert CANARY not in out + err, argv


def test_an_ordinary_override_value_is_still_quoted(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only values that may not be echoed are masked: a typo stays readable."""
    root = tree(CALLS)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unrelated")
    code, _out, err = run("--root", str(root), "show", "a", "--env", "dev",
                         "++model_settings.speed=fast")
    assert code == 2
    assert "got string 'fast'" in err
