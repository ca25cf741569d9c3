"""The SDK binding and the offline round trip, through the real openai-agents SDK.

Every shipped agent x env is opened as a session on the SDK's own websocket model (only the
socket is in memory) and what the profile says is compared with the `session.update` the SDK
would put on the wire. The lints' claims about the SDK are checked the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agents import FunctionTool, function_tool
from agents.handoffs import Handoff
from agents.realtime import RealtimeAgent, RealtimeRunner
from conftest import Tree

from realtime_profiles import Loader, Profile
from realtime_profiles._paths import render_path
from realtime_profiles.offline import capture, stand_ins
from realtime_profiles.sdk import NAME_SLOTS, Registry, RegistryError
from tests.schema_walk import marked_paths

ROOT = Path(__file__).parent.parent
SHIPPED = Loader(ROOT / "profiles", environ={"OPENAI_API_KEY": "test-key"}, local=False)
COMBOS = [(a, e) for a in SHIPPED.agents() for e in SHIPPED.envs()]
FORMATS = {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
           "g711_alaw": {"type": "audio/pcma"}}


def effective(profile: Profile) -> dict[str, Any]:
    """The SDK's rule, written independently: run settings, then model settings, top level."""
    return {**profile.run_config.get("model_settings", {}),
            **profile.model_config.get("initial_model_settings", {})}


def handoff_tool_names(profile: Profile) -> list[str]:
    """What the SDK names each handoff of the profile's agent (its own rule, not ours)."""
    names = []
    for item in profile.agent_config.get("handoffs", []):
        target = item if isinstance(item, str) else item["agent"]
        shown = profile.graph[target].config.get("name", target)
        names.append(Handoff.default_tool_name(RealtimeAgent(name=shown)))
    return names


@pytest.mark.parametrize(("agent", "env"), COMBOS, ids=[f"{a}@{e}" for a, e in COMBOS])
def test_every_shipped_profile_arrives_as_written(agent: str, env: str) -> None:
    profile = SHIPPED.load(agent, env)
    settings = effective(profile)
    sent = capture(profile, registry=stand_ins(profile))
    session = sent.session_update["session"]
    audio_in, audio_out = session["audio"]["input"], session["audio"]["output"]

    assert sent.url == f"wss://api.openai.com/v1/realtime?model={settings['model_name']}"
    assert sent.header_names == ("Authorization",)
    assert session["model"] == settings["model_name"]
    assert session["output_modalities"] == settings["output_modalities"]
    assert audio_out["voice"] == settings["voice"]
    assert audio_in["format"] == FORMATS[settings["input_audio_format"]]
    assert audio_out["format"] == FORMATS[settings["output_audio_format"]]
    assert audio_in["turn_detection"] == settings["turn_detection"]
    assert audio_in["transcription"] == settings["input_audio_transcription"]
    assert audio_in.get("noise_reduction") == settings.get("input_audio_noise_reduction")
    assert audio_out.get("speed") == settings.get("speed")
    assert session["instructions"] == profile.agent_config["instructions"]
    assert session.get("tool_choice") == settings.get("tool_choice")
    tool_names = [t["name"] for t in session.get("tools", [])]
    assert tool_names == [*profile.agent_config.get("tools", []), *handoff_tool_names(profile)]

    tracing = [f["session"]["tracing"] for f in sent.of_type("session.update")
               if "tracing" in f["session"]]
    assert tracing == [settings["tracing"]]
    metadata = settings["tracing"]["metadata"]
    assert metadata["profile_fingerprint"] == profile.fingerprint
    assert {k: metadata[k] for k in ("agent", "env", "git_sha")} == {
        "agent": agent, "env": env, "git_sha": "unknown"}

    items = [f["item"] for f in sent.of_type("conversation.item.create")]
    assert items == profile.start_messages
    created = sent.of_type("response.create")
    for message in profile.client_messages:
        expected = {"type": message["type"], **message.get("other_data", {})}
        assert any(expected.items() <= frame.items() for frame in created), (expected, created)


def test_lints_tell_the_truth_about_the_sdk(tree: Tree) -> None:
    """What lints.py claims, observed: run-config instructions and tools are replaced by the
    agent's, the model config's transcription replaces the run config's wholesale, and the
    audio.* voice wins over the flat one."""
    root = tree({
        "agents/a.yaml": """
            run_config:
              model_settings:
                instructions: never sent
                tools: [lookup]
                voice: marin
                input_audio_transcription: {model: whisper-1, language: de}
            model_config:
              initial_model_settings:
                input_audio_transcription: {model: gpt-4o-transcribe}
                audio: {output: {voice: cedar}}
            """})
    loader = Loader(root, environ={"OPENAI_API_KEY": "k"})
    errors = {p.path for p in loader.check("a").errors}  # certain losses: errors
    assert errors == {"run_config.model_settings.instructions", "run_config.model_settings.tools",
                      "model_config.initial_model_settings.input_audio_transcription",
                      "run_config.model_settings.voice"}
    # ...and this is what the SDK does with the profile regardless
    profile = Loader(root, environ={"OPENAI_API_KEY": "k"}, checks=()).load("a")
    registry = Registry()
    registry.tool(lambda query: query, name="lookup")
    agent = RealtimeAgent(name="a", instructions="from the agent")
    session = capture(profile, agent, registry).session_update["session"]
    assert session["instructions"] == "from the agent"
    assert "tools" not in session or session["tools"] == []
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe"}
    assert session["audio"]["output"]["voice"] == "cedar"


def test_tracing_disabled_sends_no_tracing(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  tracing_disabled: true\n  model_settings:\n"
                                  "    tracing: {workflow_name: w}\n"})
    profile = Loader(root, environ={"OPENAI_API_KEY": "k"}, checks=()).load("a")
    frames = capture(profile).frames
    assert not [f for f in frames if f["type"] == "session.update" and "tracing" in f["session"]]


def test_unknown_names_are_all_reported_with_their_lines_and_the_known_ones(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        run_config:
          output_guardrails: [no_refnd]
        model_config:
          initial_model_settings:
            tools: [lookup_ordr, ship]
        """})
    profile = Loader(root, environ={"OPENAI_API_KEY": "k"}).load("a")
    registry = Registry()
    registry.tool(lambda order_id: order_id, name="lookup_order")
    with pytest.raises(RegistryError) as info:
        registry.bind(profile)
    assert [p.render() for p in info.value.problems] == [
        "profiles/agents/a.yaml:2:23: run_config.output_guardrails[0]: unknown output guardrail "
        "'no_refnd' (no output guardrail is registered: Registry().output_guardrail(...))",
        "profiles/agents/a.yaml:5:13: model_config.initial_model_settings.tools[0]: unknown tool "
        "'lookup_ordr' (did you mean 'lookup_order'? registered tools: lookup_order)",
        "profiles/agents/a.yaml:5:26: model_config.initial_model_settings.tools[1]: unknown tool "
        "'ship' (registered tools: lookup_order)",
    ]
    assert info.value.exit_code == 1


def test_binding_replaces_names_by_objects_and_leaves_the_profile_alone(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        run_config:
          tool_error_formatter: friendly
        model_config:
          api_key: {callable: vault_key}
          initial_model_settings: {tools: [lookup], handoffs: [transfer_to_billing]}
        """})
    profile = Loader(root, environ={}).load("a")
    registry = Registry()

    @registry.tool
    @function_tool
    def lookup(order_id: str) -> str:
        """Find an order."""
        return order_id

    billing = RealtimeAgent(name="billing")
    registry.handoff(billing)

    @registry.api_key
    def vault_key() -> str:
        return "from-vault"

    @registry.tool_error_formatter
    def friendly(args: Any) -> str:
        return "sorry"

    bound = profile.bind(registry)
    assert isinstance(bound.model_config["initial_model_settings"]["tools"][0], FunctionTool)
    assert bound.model_config["api_key"] is vault_key
    assert bound.run_config["tool_error_formatter"] is friendly
    assert bound.model_config["initial_model_settings"]["handoffs"][0].agent_name == "billing"
    assert profile.model_config["api_key"] == {"callable": "vault_key"}
    runner = profile.runner(RealtimeAgent(name="a"), registry)
    assert isinstance(runner, RealtimeRunner)
    assert isinstance(lookup, FunctionTool)  # the decorator hands back what it was given


def test_registry_refuses_a_second_object_under_one_name_and_unknown_kinds() -> None:
    registry = Registry()
    registry.tool(lambda q: q, name="lookup")
    with pytest.raises(ValueError, match="tool 'lookup' is already registered"):
        registry.tool(lambda q: q, name="lookup")
    with pytest.raises(ValueError, match="unknown registry kind"):
        registry.add("tools", "x", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RealtimeAgent or a Handoff"):
        registry.handoff("billing")


def test_two_registries_do_not_share_names() -> None:
    first, second = Registry(), Registry()
    first.tool(lambda q: q, name="only_here")
    assert second.names("tool") == ()


def test_name_slots_match_the_schema() -> None:
    schema = json.loads((ROOT / "schema.json").read_text())
    in_schema = {(path, kind) for path, kind in
                 marked_paths(schema, "x-registry", schema["$defs"])
                 if path[0] in ("run_config", "model_config", "agent")}
    assert in_schema == {(tuple(map(str, p)), k) for p, k in NAME_SLOTS}


def test_core_package_never_imports_the_sdk() -> None:
    import subprocess
    import sys

    probe = ("import sys\nfrom realtime_profiles import load_profile, Loader\n"
             "Loader('profiles', environ={'OPENAI_API_KEY': 'k'}).load('support', 'prod')\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'agents', 'openai'}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
    assert render_path(("a", 0)) == "a[0]"


def test_offline_demo_prints_the_session_update_without_a_key(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The example's own `__main__`, in process (tests/test_readme.py runs it as a command)."""
    import runpy

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(ROOT)

    def demo(*argv: str) -> int:
        monkeypatch.setattr("sys.argv", ["offline_roundtrip.py", *argv])
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(ROOT / "examples" / "offline_roundtrip.py"), run_name="__main__")
        return int(exited.value.code or 0)

    assert demo("phone", "--env", "prod", "model_settings.voice=verse") == 0
    out, err = capsys.readouterr()
    frames = json.loads(out)
    assert [f["type"] for f in frames] == ["session.update", "session.update"]
    assert frames[0]["session"]["audio"]["output"]["voice"] == "verse"
    assert frames[0]["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert "OPENAI_API_KEY is not set" in err  # a warning, not a failure
    assert demo("nobody") == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("env", SHIPPED.envs())
def test_the_shipped_graph_survives_handoffs_in_both_directions(env: str) -> None:
    """concierge -> support -> concierge -> billing -> concierge, played through the socket:
    every session.update carries the current agent's own instructions, tools and handoffs,
    as its profile writes them."""
    import asyncio

    from realtime_profiles.offline import open_session

    profile = SHIPPED.load("concierge", env)
    sections = {"concierge": profile.agent_config,
                **{name: node.config for name, node in profile.graph.items()}}

    def expected(agent: str) -> tuple[str, list[str]]:
        section = sections[agent]
        handoffs = [Handoff.default_tool_name(RealtimeAgent(name=sections[t]["name"]))
                    for t in section.get("handoffs", [])]
        return section["instructions"], [*section.get("tools", []), *handoffs]

    path = ["support", "concierge", "billing", "concierge"]

    async def play() -> list[tuple[str, list[str]]]:
        seen = []
        async with open_session(profile, stand_ins(profile), send_messages=False) as offline:
            current = "concierge"
            seen.append(offline.frames[0]["session"])
            for target in path:
                tool = Handoff.default_tool_name(RealtimeAgent(name=sections[target]["name"]))
                assert tool in expected(current)[1]
                frames = await offline.call_tool(tool)
                seen.append(frames[0]["session"])
                current = target
        return [(s["instructions"], [t["name"] for t in s["tools"]]) for s in seen]

    assert asyncio.run(play()) == [expected(a) for a in ["concierge", *path]]


def test_the_live_example_registers_every_name_of_every_shipped_graph() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("live_agent", ROOT / "examples" /
                                                  "live_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for agent, env in COMBOS:
        assert module.registry.problems(SHIPPED.load(agent, env)) == [], (agent, env)


