"""Run a profile through the real SDK with no network: what would the websocket carry?

`OpenAIRealtimeWebSocketModel` is used as shipped, down to the one method that opens the
socket (`_create_websocket_connection`, the SDK's own seam for transport setup), which here
returns an in-memory socket. Everything above it is the SDK's code: the session's merge of
run and model settings, the agent's overrides, `_get_session_config`, pydantic serialisation.
So the frames captured are the frames a live session would send, and the tests assert the
profile's meaning survives that path. The seam is private to the SDK; the `sdk` extra pins the
0.24 line and the round-trip tests fail loudly if it moves.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agents.realtime import RealtimeAgent, RealtimeRunner
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel

from .sdk import Registry, send_initial_messages

if TYPE_CHECKING:
    from .profile import Profile

OFFLINE_API_KEY: Final = "offline-no-key"  # never leaves the process: there is no socket
_CLOSED: Final = object()


class MemorySocket:
    """Stands in for `websockets.asyncio.client.ClientConnection`: `send` records, iteration
    yields what the test (playing the server) pushes, `close` ends the iteration."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._incoming: asyncio.Queue[object] = asyncio.Queue()

    async def send(self, payload: str) -> None:
        self.sent.append(json.loads(payload))

    def push(self, event: dict[str, Any]) -> None:
        self._incoming.put_nowait(json.dumps(event))

    def __aiter__(self) -> MemorySocket:
        return self

    async def __anext__(self) -> object:
        item = await self._incoming.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    async def close(self, *_args: Any, **_kwargs: Any) -> None:
        self._incoming.put_nowait(_CLOSED)


class OfflineRealtimeModel(OpenAIRealtimeWebSocketModel):
    """The SDK's websocket model with the socket replaced by a `MemorySocket`."""

    def __init__(self, socket: MemorySocket) -> None:
        super().__init__()
        self.socket = socket
        self.url: str | None = None
        self.header_names: tuple[str, ...] = ()

    async def _create_websocket_connection(self, url: str, headers: dict[str, str],
                                           transport_config: Any = None) -> Any:
        # Typed Any: the SDK expects a websockets ClientConnection; MemorySocket has the
        # three members the SDK uses (send, async iteration, close).
        self.url = url
        self.header_names = tuple(sorted(headers))  # names only: values hold the key
        return self.socket


@dataclass
class Capture:
    """What the SDK sent: the url it would connect to, header names, and every frame."""

    url: str | None
    header_names: tuple[str, ...]
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session_update(self) -> dict[str, Any]:
        """The first `session.update`: the session as the profile configures it."""
        return next(f for f in self.frames if f.get("type") == "session.update")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]


def _session_created(model: str) -> dict[str, Any]:
    """The server's first event; the SDK answers it with the tracing configuration."""
    return {"type": "session.created", "event_id": "event_offline_1",
            "session": {"type": "realtime", "id": "sess_offline", "object": "realtime.session",
                        "model": model}}


async def capture_session(profile: Profile, agent: RealtimeAgent[Any] | None = None,
                          registry: Registry | None = None, *,
                          send_messages: bool = True) -> Capture:
    """Open a session for `profile` on an in-memory socket and return what the SDK sent.

    `agent` defaults to a bare `RealtimeAgent` named after the profile's agent. A profile
    whose api key is unset (CI, a new laptop) is given a placeholder: nothing is sent anywhere.
    """
    registry = registry or Registry()
    bound = registry.bind(profile)
    model_config = dict(bound.model_config)
    if not callable(model_config.get("api_key")):
        model_config["api_key"] = OFFLINE_API_KEY
    socket = MemorySocket()
    model = OfflineRealtimeModel(socket)
    runner = RealtimeRunner(agent or RealtimeAgent(name=profile.agent), model=model,
                            config=bound.run_config)  # type: ignore[arg-type]
    session = await runner.run(model_config=model_config)  # type: ignore[arg-type]
    async with session:
        socket.push(_session_created(str(model.model)))
        if send_messages:
            await send_initial_messages(session, profile)
        await _drain()
    return Capture(model.url, model.header_names, list(socket.sent))


async def _drain() -> None:
    """Let the SDK's listener task answer pushed events before the session closes."""
    for _ in range(20):
        await asyncio.sleep(0)


def capture(profile: Profile, agent: RealtimeAgent[Any] | None = None,
            registry: Registry | None = None, *, send_messages: bool = True) -> Capture:
    """`capture_session` for synchronous callers (tests, the offline demo)."""
    return asyncio.run(capture_session(profile, agent, registry, send_messages=send_messages))


def stand_ins(profile: Profile) -> Registry:
    """A registry with a placeholder for every name the profile uses (a no-op tool, a bare
    agent to hand off to, a passing guardrail), for looking at a profile without its code."""
    from agents import GuardrailFunctionOutput

    registry = Registry()
    doc = profile.document()
    run, model = doc.get("run_config", {}), doc.get("model_config", {})
    for settings in (run.get("model_settings", {}), model.get("initial_model_settings", {})):
        for name in settings.get("tools", []):
            if name not in registry.names("tool"):
                registry.tool(_placeholder_tool, name=name)
        for name in settings.get("handoffs", []):
            if name not in registry.names("handoff"):
                registry.handoff(RealtimeAgent(name=name, instructions=f"(stand-in for {name})"))
    for name in run.get("output_guardrails", []):
        registry.output_guardrail(
            lambda _ctx, _agent, _output: GuardrailFunctionOutput(None, False), name=name)
    if "tool_error_formatter" in run:
        registry.tool_error_formatter(lambda _args: "tool failed",
                                      name=run["tool_error_formatter"])
    return registry


def _placeholder_tool(query: str) -> str:
    """A stand-in: the real tool is registered by the application."""
    return query
