"""Agent graphs through the real SDK: a graph defined only in profiles sends, after every
handoff (the way back included), exactly the frames of the same graph written in Python. The
handoff tool calls are played through the in-memory socket (`OfflineSession.call_tool`).
Also: the SDK's own app example ported to profiles, and the binding of per-call objects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from agents import function_tool
from agents.extensions.handoff_prompt import RECOMMENDED_PROMPT_PREFIX
from agents.realtime import (
    RealtimeAgent,
    RealtimePlaybackTracker,
    RealtimeRunner,
    realtime_handoff,
)
from agents.realtime.openai_realtime import OpenAIRealtimeSIPModel, OpenAIRealtimeWebSocketModel
from conftest import Tree

from realtime_profiles import Loader, Profile, ProfileError
from realtime_profiles.offline import (
    OFFLINE_API_KEY,
    STAND_INS,
    OfflineSession,
    capture,
    open_session,
    stand_ins,
)
from realtime_profiles.sdk import KINDS, Registry, RegistryError, sdk_resolver

FIXTURES = Path(__file__).parent / "fixtures"
ENV = {"OPENAI_API_KEY": "k"}


@function_tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"The weather in {city} is sunny."


@function_tool(name_override="faq_lookup_tool",
               description_override="Lookup frequently asked questions.")
def faq_lookup_tool(question: str) -> str:
    return "We have free wifi on the plane, join Airline-Wifi"


@function_tool(needs_approval=True)
def update_seat(confirmation_number: str, new_seat: str) -> str:
    """Update the seat for a given confirmation number.

    Args:
        confirmation_number: The confirmation number for the flight.
        new_seat: The new seat to update to.
    """
    return f"Updated seat to {new_seat} for confirmation number {confirmation_number}"


@function_tool
def update_customer_record(customer_id: str, note: str) -> str:
    """Record a short note about the caller."""
    return f"Recorded note for {customer_id}: {note}"


def registry() -> Registry:
    tools = Registry()
    for tool in (get_weather, faq_lookup_tool, update_seat, update_customer_record):
        tools.tool(tool)
    return tools


Play = Callable[[OfflineSession], Awaitable[list[list[dict[str, Any]]]]]


def handoffs(*names: str) -> Play:
    """The model starts, then calls each handoff tool in turn: the frames of each step."""

    async def play(offline: OfflineSession) -> list[list[dict[str, Any]]]:
        steps = [list(offline.frames)]
        for name in names:
            steps.append(await offline.call_tool(name))
        return steps

    return play


def run(play: Play, profile: Profile, tools: Registry, **options: Any) -> Any:
    async def main() -> Any:
        async with open_session(profile, tools, send_messages=False, **options) as offline:
            steps = await play(offline)
            return steps, offline.session._current_agent.name

    return asyncio.run(main())


# -- a three-agent graph: triage -> FAQ -> back to triage; triage -> seats -------------------

THREE = {
    "base.yaml": """
        run_config:
          model_settings:
            voice: marin
            turn_detection: {type: semantic_vad, eagerness: low}
        """,
    "agents/triage.yaml": """
        agent:
          name: Triage Agent
          handoff_description: Routes callers.
          instructions: You are the triage agent.
          tools: [get_weather]
          handoffs: [faq, seats]
        """,
    "agents/faq.yaml": """
        agent:
          name: FAQ Agent
          handoff_description: Answers airline questions.
          instructions: You are the FAQ agent.
          tools: [faq_lookup_tool]
          handoffs: [triage]
        """,
    "agents/seats.yaml": """
        agent:
          name: Seat Booking Agent
          handoff_description: Changes seats.
          instructions: You are the seat agent.
          tools: [update_seat]
          handoffs: [{agent: triage, tool_name_override: back_to_triage}]
        """,
}

PLAY_THREE = handoffs("transfer_to_faq_agent", "transfer_to_triage_agent",
                      "transfer_to_seat_booking_agent", "back_to_triage")


def python_three() -> RealtimeAgent[Any]:
    """The same graph, written the SDK's way."""
    faq = RealtimeAgent(name="FAQ Agent", handoff_description="Answers airline questions.",
                        instructions="You are the FAQ agent.", tools=[faq_lookup_tool])
    seats = RealtimeAgent(name="Seat Booking Agent", handoff_description="Changes seats.",
                          instructions="You are the seat agent.", tools=[update_seat])
    triage = RealtimeAgent(name="Triage Agent", handoff_description="Routes callers.",
                           instructions="You are the triage agent.", tools=[get_weather],
                           handoffs=[faq, seats])
    faq.handoffs.append(triage)
    seats.handoffs.append(realtime_handoff(triage, tool_name_override="back_to_triage"))
    return triage


def session_of(frame: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    session = frame["session"]
    tools = session.get("tools", [])
    return (session.get("instructions", ""), [t["name"] for t in tools],
            [t.get("description", "") for t in tools])


def test_a_graph_defined_in_profiles_sends_the_frames_of_the_same_graph_in_python(
        tree: Tree) -> None:
    root = tree(THREE)
    profile = Loader(root, environ=ENV).load("triage")
    ours, ours_last = run(PLAY_THREE, profile, registry())
    theirs, theirs_last = run(PLAY_THREE, profile, registry(), agent=python_three())
    assert ours == theirs
    assert ours_last == theirs_last == "Triage Agent"
    updates = [session_of(f) for step in ours for f in step if f["type"] == "session.update"
               and "instructions" in f["session"]]
    assert [(instructions, names) for instructions, names, _ in updates] == [
        ("You are the triage agent.",
         ["get_weather", "transfer_to_faq_agent", "transfer_to_seat_booking_agent"]),
        ("You are the FAQ agent.", ["faq_lookup_tool", "transfer_to_triage_agent"]),
        # the hand-back: triage's own instructions, tools and handoffs, not "" and []
        ("You are the triage agent.",
         ["get_weather", "transfer_to_faq_agent", "transfer_to_seat_booking_agent"]),
        ("You are the seat agent.", ["update_seat", "back_to_triage"]),
        ("You are the triage agent.",
         ["get_weather", "transfer_to_faq_agent", "transfer_to_seat_booking_agent"]),
    ]
    # a handoff's description carries the target's handoff_description
    assert updates[0][2][1] == ("Handoff to the FAQ Agent agent to handle the request. "
                                "Answers airline questions.")
    # each handoff: the new session, the tool output, then a new response
    assert [f["type"] for f in ours[1]] == ["session.update", "conversation.item.create",
                                            "response.create"]
    assert ours[2][1]["item"]["output"] == json.dumps({"assistant": "Triage Agent"})


def test_the_old_pattern_loses_the_agent_after_the_hand_back() -> None:
    """Why the lint is an error: a bare agent with its settings in initial_model_settings
    (the pattern the shipped profiles used) sends `instructions: ""` and no tools once the
    graph hands back to it — the SDK rebuilds the session from the agent."""
    bare_triage = RealtimeAgent(name="Triage Agent")
    faq = RealtimeAgent(name="FAQ Agent", instructions="You are the FAQ agent.",
                        handoffs=[bare_triage])

    async def main() -> list[list[dict[str, Any]]]:
        profile = Profile("triage", None, {}, {}, [], [])
        model_config = {"initial_model_settings": {
            "instructions": "You are the triage agent.", "tools": [get_weather],
            "handoffs": [realtime_handoff(faq)]}}
        async with open_session(profile, agent=bare_triage, model_config=model_config,
                                send_messages=False) as offline:
            return await handoffs("transfer_to_faq_agent", "transfer_to_triage_agent")(offline)

    steps = asyncio.run(main())
    assert session_of(steps[0][0])[:2] == (
        "You are the triage agent.", ["get_weather", "transfer_to_faq_agent"])
    assert session_of(steps[2][0])[:2] == ("", [])


def test_the_agent_built_from_profiles_is_the_graph(tree: Tree) -> None:
    root = tree(THREE)
    triage = Loader(root, environ=ENV).load("triage").realtime_agent(registry())
    faq, seats = triage.handoffs
    assert isinstance(faq, RealtimeAgent) and isinstance(seats, RealtimeAgent)
    assert faq.handoffs[0] is triage  # each agent built once, cycles allowed
    assert seats.handoffs[0].tool_name == "back_to_triage"
    assert seats.tools == [update_seat]
    assert triage.instructions == "You are the triage agent."


def test_unknown_names_in_the_whole_graph_are_reported_at_once(tree: Tree) -> None:
    root = tree(THREE)
    profile = Loader(root, environ=ENV).load("triage")
    partial = Registry()
    partial.tool(get_weather)
    with pytest.raises(RegistryError) as info:
        profile.runner(partial)
    assert [p.render() for p in info.value.problems] == [
        "profiles/agents/faq.yaml:5:11: agent.tools[0]: unknown tool 'faq_lookup_tool' "
        "(registered tools: get_weather)",
        "profiles/agents/seats.yaml:5:11: agent.tools[0]: unknown tool 'update_seat' "
        "(registered tools: get_weather)",
    ]
    assert str(info.value).endswith(
        "2 names not registered: tool 'faq_lookup_tool', tool 'update_seat'")


def test_a_registered_handoff_is_named_by_its_tool_name(tree: Tree) -> None:
    root = tree({"agents/front.yaml": """
        agent:
          handoffs: [{handoff: transfer_to_billing_agent}, {handoff: escalate}]
        """})
    profile = Loader(root, environ=ENV).load("front")
    billing = RealtimeAgent(name="Billing Agent", instructions="Bills.")
    tools = Registry()
    tools.handoff(billing)                       # under transfer_to_billing_agent
    tools.handoff(billing, name="escalate")      # a second tool name for the same agent
    assert tools.names("handoff") == ("escalate", "transfer_to_billing_agent")
    front = profile.realtime_agent(tools)
    assert [h.tool_name for h in front.handoffs] == ["transfer_to_billing_agent", "escalate"]
    with pytest.raises(ValueError, match="registered under its tool name"):
        tools.handoff(realtime_handoff(billing), name="billing")
    legacy = tree({"agents/old.yaml":
                   "model_config: {initial_model_settings: {handoffs: [billing]}}\n"})
    with pytest.raises(RegistryError) as info:
        Loader(legacy, environ=ENV).load("old").bind(Registry({"handoff": {
            "transfer_to_billing": realtime_handoff(RealtimeAgent(name="billing"))}}))
    assert info.value.problems[0].suggestion == (
        "handoffs are registered under their tool name: did you mean 'transfer_to_billing'? "
        "registered handoffs: transfer_to_billing")


def test_a_profile_without_an_agent_section_is_a_bare_agent_as_before(tree: Tree) -> None:
    root = tree({"agents/plain.yaml": "run_config: {model_settings: {voice: cedar}}\n"})
    profile = Loader(root, environ=ENV).load("plain")
    agent = profile.realtime_agent()
    assert (agent.name, agent.instructions, agent.handoffs) == ("plain", None, [])
    legacy = profile.runner(RealtimeAgent(name="mine"), Registry())  # the earlier form
    assert legacy._starting_agent.name == "mine"


def test_a_hand_made_profile_cannot_reach_agents_it_was_not_given() -> None:
    profile = Profile("a", None, {}, {}, [], [], agent_config={"name": "a",
                                                               "handoffs": ["b"]})
    with pytest.raises(ProfileError) as info:
        profile.realtime_agent()
    assert info.value.problems[0].message == "hands off to 'b', which is not in this " \
                                             "profile's graph"


# -- the SDK's app example, ported --------------------------------------------------------

def python_app() -> RealtimeAgent[Any]:
    """examples/realtime/app/agent.py (openai-agents-python 7f7a44f8), tools as above."""
    faq_agent = RealtimeAgent(
        name="FAQ Agent",
        handoff_description="A helpful agent that can answer questions about the airline.",
        instructions=f"""{RECOMMENDED_PROMPT_PREFIX}
    You are an FAQ agent. If you are speaking to a customer, you probably were transferred to from the triage agent.
    Use the following routine to support the customer.
    # Routine
    1. Identify the last question asked by the customer.
    2. Use the faq lookup tool to answer the question. Do not rely on your own knowledge.
    3. If you cannot answer the question, transfer back to the triage agent.""",  # noqa: E501
        tools=[faq_lookup_tool],
    )
    seat_booking_agent = RealtimeAgent(
        name="Seat Booking Agent",
        handoff_description="A helpful agent that can update a seat on a flight.",
        instructions=f"""{RECOMMENDED_PROMPT_PREFIX}
    You are a seat booking agent. If you are speaking to a customer, you probably were transferred to from the triage agent.
    Use the following routine to support the customer.
    # Routine
    1. Ask for their confirmation number.
    2. Ask the customer what their desired seat number is.
    3. Use the update seat tool to update the seat on the flight.
    If the customer asks a question that is not related to the routine, transfer back to the triage agent. """,  # noqa: E501
        tools=[update_seat],
    )
    triage_agent = RealtimeAgent(
        name="Triage Agent",
        handoff_description=("A triage agent that can delegate a customer's request to the "
                             "appropriate agent."),
        instructions=(
            f"{RECOMMENDED_PROMPT_PREFIX} "
            "You are a helpful triaging agent. You can use your tools to delegate questions to "
            "other appropriate agents."
        ),
        tools=[get_weather],
        handoffs=[
            realtime_handoff(faq_agent, tool_name_override="transfer_to_faq_agent"),
            realtime_handoff(seat_booking_agent,
                             tool_name_override="transfer_to_seat_booking_agent"),
        ],
    )
    faq_agent.handoffs.append(
        realtime_handoff(triage_agent, tool_name_override="transfer_to_triage_agent"))
    seat_booking_agent.handoffs.append(
        realtime_handoff(triage_agent, tool_name_override="transfer_to_triage_agent"))
    return triage_agent


def app_profile() -> Profile:
    loader = Loader(FIXTURES / "sdk_app", environ=ENV, resolvers={"sdk": sdk_resolver})
    return loader.load("triage")


APP_MODEL_CONFIG = {"initial_model_settings": {
    "model_name": "gpt-realtime-2.1",
    "turn_detection": {"type": "server_vad", "prefix_padding_ms": 300,
                       "silence_duration_ms": 500, "interrupt_response": True,
                       "create_response": True}}}


def test_the_sdk_app_example_ported_to_profiles_sends_identical_frames() -> None:
    profile = app_profile()
    assert profile.model_config == APP_MODEL_CONFIG
    play = handoffs("transfer_to_faq_agent", "transfer_to_triage_agent",
                    "transfer_to_seat_booking_agent", "transfer_to_triage_agent")
    ours, _ = run(play, profile, registry())
    # the example's server: RealtimeRunner(agent), its model_config, nothing from a profile
    python = Profile("triage", None, {}, {}, [], [])
    theirs, _ = run(play, python, registry(), runner=RealtimeRunner(python_app()),
                    model_config=APP_MODEL_CONFIG)
    assert ours == theirs
    back = ours[2][0]["session"]  # after the hand-back to triage
    assert back["instructions"].startswith(RECOMMENDED_PROMPT_PREFIX + " You are a helpful")
    assert [t["name"] for t in back["tools"]] == [
        "get_weather", "transfer_to_faq_agent", "transfer_to_seat_booking_agent"]


# -- SIP: the twilio_sip example on OpenAIRealtimeSIPModel --------------------------------

def python_sip() -> RealtimeAgent[Any]:
    """examples/realtime/twilio_sip/agents.py, tools as above."""
    welcome = "Hello, this is ABC customer service. How can I help you today?"
    faq_agent = RealtimeAgent(
        name="FAQ Agent",
        handoff_description="Handles frequently asked questions and general account inquiries.",
        instructions=f"""{RECOMMENDED_PROMPT_PREFIX}
    You are an FAQ specialist. Always rely on the faq_lookup_tool for answers and keep replies
    concise. If the caller needs hands-on help, transfer back to the triage agent.
    """,
        tools=[faq_lookup_tool],
    )
    records_agent = RealtimeAgent(
        name="Records Agent",
        handoff_description="Updates customer records with brief notes and confirmation numbers.",
        instructions=f"""{RECOMMENDED_PROMPT_PREFIX}
    You handle structured updates. Confirm the customer's ID, capture their request in a short
    note, and use the update_customer_record tool. For anything outside data updates, return to the
    triage agent.
    """,
        tools=[update_customer_record],
    )
    triage_agent = RealtimeAgent(
        name="Triage Agent",
        handoff_description="Greets callers and routes them to the most appropriate specialist.",
        instructions=(
            f"{RECOMMENDED_PROMPT_PREFIX} "
            "Always begin the call by saying exactly: '"
            f"{welcome}' "
            "before collecting details. Once the greeting is complete, gather context and hand "
            "off to the FAQ or Records agents when appropriate."
        ),
        handoffs=[
            realtime_handoff(faq_agent, tool_name_override="transfer_to_faq_agent"),
            realtime_handoff(records_agent, tool_name_override="transfer_to_records_agent"),
        ],
    )
    faq_agent.handoffs.append(
        realtime_handoff(triage_agent, tool_name_override="transfer_to_triage_agent"))
    records_agent.handoffs.append(
        realtime_handoff(triage_agent, tool_name_override="transfer_to_triage_agent"))
    return triage_agent


def test_the_sip_example_on_the_sip_model_sends_identical_frames() -> None:
    loader = Loader(FIXTURES / "sdk_twilio_sip", environ=ENV, resolvers={"sdk": sdk_resolver})
    profile = loader.load("triage")
    play = handoffs("transfer_to_faq_agent", "transfer_to_triage_agent",
                    "transfer_to_records_agent")
    per_call = {"call_id": "rtc_123"}
    ours, _ = run(play, profile, registry(), model=OpenAIRealtimeSIPModel(),
                  model_config=per_call)
    python = Profile("triage", None, {}, {}, [], [])
    runner = RealtimeRunner(python_sip(), model=OpenAIRealtimeSIPModel())
    theirs, _ = run(play, python, registry(), runner=runner, model_config={
        **per_call, "initial_model_settings": {
            "turn_detection": {"type": "semantic_vad", "interrupt_response": True}}})
    assert ours == theirs
    first = ours[0][0]["session"]
    assert "format" not in first["audio"]["input"]  # with call_id the SDK sends no format

    async def url() -> str | None:
        async with open_session(profile, registry(), model=OpenAIRealtimeSIPModel(),
                                model_config=per_call) as offline:
            return offline.socket.url

    assert asyncio.run(url()) == "wss://api.openai.com/v1/realtime?call_id=rtc_123"


# -- per-call objects and stand-ins ---------------------------------------------------------

def cli_profile() -> Profile:
    return Loader(FIXTURES / "sdk_cli", environ=ENV).load("assistant")


def test_per_call_objects_are_bound_without_a_new_registry() -> None:
    profile = cli_profile()
    tools = registry()
    first, second = RealtimePlaybackTracker(), RealtimePlaybackTracker()
    calls: list[str] = []

    def vault_key() -> str:
        calls.append("key")
        return "from-the-vault"

    one = profile.bind(tools, playback_tracker=first, api_key=vault_key).model_config
    two = profile.bind(tools, playback_tracker=second).model_config
    assert one["playback_tracker"] is first and two["playback_tracker"] is second
    assert one["api_key"] is vault_key
    assert tools.names("playback_tracker") == ()   # the registry is neither asked nor changed
    with pytest.raises(RegistryError, match="playback tracker 'sounddevice_playback'"):
        profile.bind(tools)                         # without the per-call tracker

    async def connect() -> None:
        async with open_session(profile, tools, playback_tracker=first, api_key=vault_key):
            pass

    asyncio.run(connect())
    assert calls == ["key"]            # the callable is what the SDK calls at connect
    assert first._format == "pcm16"    # set from session.updated, as a live session would


def test_stand_ins_cover_every_registry_kind_and_name_handoffs_as_written(tree: Tree) -> None:
    assert set(STAND_INS) == set(KINDS)
    root = tree({"agents/a.yaml": """
        agent:
          tools: [lookup]
          mcp_servers: [docs]
          output_guardrails: [polite]
          handoffs: [b, {handoff: transfer_to_human}]
        run_config:
          tool_error_formatter: friendly
          output_guardrails: [no_pii]
        model_config:
          api_key: {callable: vault}
          playback_tracker: per_call
          initial_model_settings:
            handoffs: [transfer_to_billing]
        """, "agents/b.yaml": "agent:\n  tools: [b_tool]\n"})
    profile = Loader(root, environ=ENV, checks=()).load("a")
    stand = stand_ins(profile)
    assert {kind: stand.names(kind) for kind in KINDS} == {
        "tool": ("b_tool", "lookup"), "handoff": ("transfer_to_billing", "transfer_to_human"),
        "output_guardrail": ("no_pii", "polite"), "tool_error_formatter": ("friendly",),
        "playback_tracker": ("per_call",), "api_key": ("vault",), "mcp_server": ("docs",)}
    sent = capture(profile, registry=stand, send_messages=False)
    names = [t["name"] for t in sent.session_update["session"]["tools"]]
    # the agent's tool; its handoffs replaced by initial_model_settings' at the start
    assert names == ["lookup", "transfer_to_billing"]
    assert sent.header_names == ("Authorization",)
    agent = profile.realtime_agent(stand)
    assert [h.tool_name if not isinstance(h, RealtimeAgent) else h.name
            for h in agent.handoffs] == ["b", "transfer_to_human"]
    assert stand.get("api_key", "vault")() == OFFLINE_API_KEY


def test_the_offline_demo_runs_the_cli_example_profile() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).parent.parent
    environ = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run([sys.executable, "examples/offline_roundtrip.py", "assistant",
                           "--root", str(FIXTURES / "sdk_cli")], capture_output=True,
                          text=True, check=False, cwd=root, env=environ)
    assert done.returncode == 0, done.stderr
    frames = json.loads(done.stdout)
    assert frames[0]["session"]["instructions"] == (
        "You always greet the user with 'Top of the morning to you'.")
    assert [t["name"] for t in frames[0]["session"]["tools"]] == ["get_weather"]


def test_the_server_side_is_played_in_the_order_a_live_session_sees_it(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "agent:\n  instructions: Hi.\nstart_messages: [Hello]\n"})
    profile = Loader(root, environ=ENV).load("a")
    seen: list[str] = []

    class Listener:
        async def on_event(self, event: Any) -> None:
            if event.type == "raw_server_event":
                seen.append(event.data["type"])

    async def main() -> list[str]:
        model = OpenAIRealtimeWebSocketModel()
        model.add_listener(Listener())  # type: ignore[arg-type]
        async with open_session(profile, model=model) as offline:
            return [f["type"] for f in offline.frames]

    frames = asyncio.run(main())
    # the server speaks first (session.created), then answers every session.update
    assert seen == ["session.created", "session.updated", "session.updated"]
    # the session's configuration, the tracing answer to session.created, then the messages
    assert frames == ["session.update", "session.update", "conversation.item.create",
                      "response.create"]
