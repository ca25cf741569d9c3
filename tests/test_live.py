"""Live updates through the real SDK on the in-memory socket: the minimal session.update,
the API's rules (model, tracing, voice, clearing forms), watch-driven updates of a running
session, and the SDK internals the live path relies on (pinned here)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from agents.realtime import RealtimeSession
from conftest import Tree
from openai.types.realtime.session_update_event import SessionUpdateEvent

from realtime_profiles import LiveUpdateError, Loader, Profile, ProfileError
from realtime_profiles.live import apply_update, follow, plan_update
from realtime_profiles.offline import open_session, stand_ins

ENV = {"OPENAI_API_KEY": "sk-live-test-key-000000000000"}

BASE = """
vars:
  vad:
    type: server_vad
    threshold: 0.5
    silence_duration_ms: 400
run_config:
  model_settings:
    model_name: gpt-realtime
    voice: marin
    input_audio_noise_reduction: {type: near_field}
    turn_detection: ${vars.vad}
    tracing:
      workflow_name: live-${profile.agent}
model_config:
  api_key: ${oc.env:OPENAI_API_KEY}
"""
AGENT = """
agent:
  name: Desk
  instructions: Answer briefly.
  tools: [lookup]
start_messages:
  - Hello
"""


def profiles(tree: Tree, base: str = BASE, agent: str = AGENT) -> Loader:
    root = tree({"base.yaml": base, "agents/desk.yaml": agent})
    return Loader(root, environ=dict(ENV), local=False)


def with_overrides(loader: Loader, *overrides: str) -> Profile:
    return loader.load("desk", None, list(overrides))


# -- plan_update: a table of (old, new) pairs ------------------------------------------------

@pytest.mark.parametrize(("overrides", "session"), [
    pytest.param(["model_settings.turn_detection.threshold=0.7"],
                 {"audio": {"input": {"turn_detection": {
                     "type": "server_vad", "threshold": 0.7, "silence_duration_ms": 400}}}},
                 id="one-nested-value-sends-its-whole-object"),
    pytest.param(["++model_settings.speed=1.2"], {"audio": {"output": {"speed": 1.2}}},
                 id="a-new-field"),
    pytest.param(["agent.instructions=Answer at length."],
                 {"instructions": "Answer at length."}, id="instructions"),
    pytest.param(["~model_settings.input_audio_noise_reduction"],
                 {"audio": {"input": {"noise_reduction": None}}}, id="cleared-with-null"),
    pytest.param(["model_settings.turn_detection=null"],
                 {"audio": {"input": {"turn_detection": None}}}, id="turn-detection-off"),
    pytest.param(["agent.tools=[]"], {"tools": []}, id="tools-cleared-with-empty-list"),
    pytest.param(["++model_settings.tool_choice=required"], {"tool_choice": "required"},
                 id="tool-choice"),
])
def test_one_change_gives_one_field(tree: Tree, overrides: list[str],
                                    session: dict[str, Any]) -> None:
    loader = profiles(tree)
    plan = plan_update(loader.load("desk"), with_overrides(loader, *overrides))
    assert plan.event == {"type": "session.update", "session": {"type": "realtime", **session}}
    assert plan.refusals == ()
    SessionUpdateEvent.model_validate(plan.event)  # the API's own model accepts it


def test_clearing_forms_for_fields_a_profile_drops(tree: Tree) -> None:
    loader = profiles(tree, agent=AGENT + "run_config:\n  model_settings:\n    speed: 1.3\n"
                      "    max_output_tokens: 200\n")
    current = loader.load("desk")
    new = with_overrides(loader, "~agent.instructions", "~model_settings.speed",
                         "~model_settings.max_output_tokens")
    plan = plan_update(current, new)
    assert plan.event is not None
    assert plan.event["session"] == {"type": "realtime", "instructions": "",
                                     "max_output_tokens": "inf",
                                     "audio": {"output": {"speed": 1.0}}}


def test_nothing_changed_is_an_empty_plan(tree: Tree) -> None:
    loader = profiles(tree)
    plan = plan_update(loader.load("desk"), loader.load("desk"))
    assert plan.empty and plan.event is None and plan.problems == () and plan.changed == ()


def test_a_model_change_is_refused_with_its_location(tree: Tree) -> None:
    loader = profiles(tree)
    plan = plan_update(loader.load("desk"),
                       with_overrides(loader, "model_settings.model_name=gpt-realtime-mini"))
    assert plan.event is None
    [refusal] = plan.refusals
    assert refusal.code == "live/model"
    assert refusal.path == "run_config.model_settings.model_name"
    assert "cannot change in a running session" in refusal.message
    assert refusal.mark is not None
    assert refusal.mark.file == "command line: model_settings.model_name=gpt-realtime-mini"


def test_a_tracing_change_is_refused_but_the_fingerprint_stamp_is_not_one(tree: Tree) -> None:
    loader = profiles(tree)
    current = loader.load("desk")
    threshold = with_overrides(loader, "model_settings.turn_detection.threshold=0.6")
    assert current.fingerprint != threshold.fingerprint  # the stamped metadata differs...
    assert plan_update(current, threshold).refusals == ()  # ...and that is no tracing change
    renamed = with_overrides(loader, "model_settings.tracing.workflow_name=other")
    [refusal] = plan_update(current, renamed).refusals
    assert refusal.code == "live/tracing"


def test_changes_only_new_sessions_read_are_warnings_without_an_event(tree: Tree) -> None:
    loader = profiles(tree)
    plan = plan_update(loader.load("desk"),
                       with_overrides(loader, "start_messages=[Bonjour]",
                                      "++guardrails_settings.debounce_text_length=40"))
    assert plan.event is None and plan.refusals == ()
    assert {(p.code, p.path) for p in plan.problems} == {
        ("live/new-sessions-only", "start_messages"),
        ("live/new-sessions-only", "run_config.guardrails_settings")}
    assert all(p.severity == "warning" for p in plan.problems)


def test_a_voice_change_is_planned_with_a_warning(tree: Tree) -> None:
    loader = profiles(tree)
    plan = plan_update(loader.load("desk"), with_overrides(loader, "model_settings.voice=cedar"))
    assert plan.voice and plan.event is not None
    assert plan.event["session"]["audio"] == {"output": {"voice": "cedar"}}
    assert [p.code for p in plan.problems] == ["live/voice"]


# -- a running session -----------------------------------------------------------------------

def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def session_updates(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") == "session.update"]


def test_apply_sends_exactly_the_planned_event(tree: Tree) -> None:
    loader = profiles(tree)
    current = loader.load("desk")
    new = with_overrides(loader, "model_settings.turn_detection.silence_duration_ms=900")
    plan = plan_update(current, new)

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            before = len(offline.frames)
            sent = await apply_update(offline.session, plan)
            await offline.settle()
            assert offline.frames[before:] == [sent] == [plan.event]

    run(scenario())


def test_watching_a_layer_file_updates_the_running_session(tree: Tree) -> None:
    """Edit the threshold in a layer file while a watch runs: exactly one more frame, holding
    only turn_detection. An invalid edit: no frame, the error reported."""
    loader = profiles(tree)
    base = Path("profiles/base.yaml")
    current = loader.load("desk")
    watch = loader.watch("desk", interval=0)

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            start = len(offline.frames)
            assert watch.poll() is None  # nothing changed yet
            base.write_text(base.read_text().replace("threshold: 0.5", "threshold: 0.8"))
            new = watch.poll()
            assert isinstance(new, Profile)
            await apply_update(offline.session, plan_update(current, new))
            await offline.settle()
            added = offline.frames[start:]
            assert added == [{"type": "session.update", "session": {
                "type": "realtime", "audio": {"input": {"turn_detection": {
                    "type": "server_vad", "threshold": 0.8, "silence_duration_ms": 400}}}}}]
            base.write_text(base.read_text().replace("threshold: 0.8", "threshold: 8"))
            error = watch.poll()
            assert isinstance(error, ProfileError)
            assert "turn_detection.threshold" in error.render()
            assert watch.poll() is None  # the same error is reported once
            assert watch.current is new  # the last good profile stays
            await offline.settle()
            assert offline.frames[start:] == added  # no frame for the invalid edit

    run(scenario())


def test_follow_keeps_a_session_on_its_profile(tree: Tree) -> None:
    loader = profiles(tree)
    base = Path("profiles/base.yaml")
    current = loader.load("desk")
    reported: list[ProfileError] = []

    async def scenario() -> None:
        watch = loader.watch("desk", interval=0.01)
        async with open_session(current, stand_ins(current)) as offline:
            start = len(offline.frames)
            task = asyncio.create_task(follow(offline.session, watch, current=current,
                                              report=reported.append))
            base.write_text(base.read_text().replace("threshold: 0.5", "threshold: 0.9"))
            await offline.socket.wait_for(lambda sent: len(sent) > start, timeout=10)
            base.write_text(base.read_text().replace("voice: marin", "voice: 42"))
            for _ in range(1000):
                if reported:
                    break
                await asyncio.sleep(0.01)
            watch.close()
            await asyncio.wait_for(task, timeout=10)
            await offline.settle()
            updates = session_updates(offline.frames[start:])
            assert [u["session"]["audio"]["input"]["turn_detection"]["threshold"]
                    for u in updates] == [0.9]
            assert len(offline.frames[start:]) == 1

    run(scenario())
    assert len(reported) == 1 and "voice" in reported[0].render()


def test_a_voice_change_after_the_model_spoke_is_refused(tree: Tree) -> None:
    loader = profiles(tree)
    current = loader.load("desk")
    plan = plan_update(current, with_overrides(loader, "model_settings.voice=cedar",
                                               "model_settings.turn_detection.threshold=0.6"))

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            offline.push({"type": "response.output_audio.delta", "event_id": "e1",
                          "response_id": "r1", "item_id": "item_1", "output_index": 0,
                          "content_index": 0, "delta": "AAAA"})
            await offline.settle()
            start = len(offline.frames)
            with pytest.raises(LiveUpdateError) as refused:
                await apply_update(offline.session, plan)
            assert [p.code for p in refused.value.problems] == ["live/voice-after-audio"]
            assert offline.frames[start:] == []  # nothing was sent
            sent = await apply_update(offline.session, plan, partial=True)
            await offline.settle()
            assert sent is not None and "output" not in sent["session"]["audio"]
            assert offline.frames[start:] == [sent]

    run(scenario())


def test_the_same_voice_change_before_audio_is_sent(tree: Tree) -> None:
    loader = profiles(tree)
    current = loader.load("desk")
    plan = plan_update(current, with_overrides(loader, "model_settings.voice=cedar"))

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            sent = await apply_update(offline.session, plan)
            assert sent == plan.event

    run(scenario())


GRAPH_BASE = BASE
FRONT = """
agent:
  name: Front
  instructions: Route the caller.
  handoffs: [back]
"""
BACK = """
agent:
  name: Back
  instructions: Handle it.
  handoffs: [front]
"""


def test_an_update_survives_a_later_handoff(tree: Tree) -> None:
    """The SDK rebuilds the whole session at a handoff from the settings it kept: the live
    change must be among them, or the handoff would undo it."""
    root = tree({"base.yaml": BASE, "agents/front.yaml": FRONT, "agents/back.yaml": BACK})
    loader = Loader(root, environ=dict(ENV), local=False)
    current = loader.load("front")
    new = loader.load("front", None, ["model_settings.turn_detection.threshold=0.75"])

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            await apply_update(offline.session, plan_update(current, new))
            answer = await offline.call_tool("transfer_to_back")
            [rebuild] = session_updates(answer)
            detection = rebuild["session"]["audio"]["input"]["turn_detection"]
            assert detection["threshold"] == 0.75
            assert rebuild["session"]["instructions"] == "Handle it."

    run(scenario())


def test_instructions_of_an_agent_the_session_left_are_not_sent(tree: Tree) -> None:
    root = tree({"base.yaml": BASE, "agents/front.yaml": FRONT, "agents/back.yaml": BACK})
    loader = Loader(root, environ=dict(ENV), local=False)
    current = loader.load("front")
    plan = plan_update(current, loader.load("front", None, ["agent.instructions=Be quick."]))

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            await offline.call_tool("transfer_to_back")
            start = len(offline.frames)
            with pytest.raises(LiveUpdateError) as refused:
                await apply_update(offline.session, plan)
            assert [p.code for p in refused.value.problems] == ["live/agent-changed"]
            assert offline.frames[start:] == []

    run(scenario())


def test_the_sdk_internals_the_live_path_relies_on(tree: Tree) -> None:
    """Pinned: a RealtimeSession keeps its base settings in `_base_model_settings` (a dict)
    and the websocket model tracks produced audio in `_audio_state_tracker._states`."""
    loader = profiles(tree)
    current = loader.load("desk")

    async def scenario() -> None:
        async with open_session(current, stand_ins(current)) as offline:
            session: RealtimeSession = offline.session
            assert isinstance(session._base_model_settings, dict)
            states = session.model._audio_state_tracker._states  # type: ignore[attr-defined]
            assert not states
            offline.push({"type": "response.output_audio.delta", "event_id": "e1",
                          "response_id": "r1", "item_id": "item_1", "output_index": 0,
                          "content_index": 0, "delta": "AAAA"})
            await offline.settle()
            assert states

    run(scenario())
