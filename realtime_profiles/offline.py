"""Run a profile through the real SDK with no network: what would the websocket carry?

`OpenAIRealtimeWebSocketModel` (or your own instance of it, `OpenAIRealtimeSIPModel`
included) is used as shipped, down to the one method that opens the socket
(`_create_websocket_connection`, the SDK's own seam for transport setup), which here returns
an in-memory socket. Everything above it is the SDK's code: the session's merge of run and
model settings, the agent's overrides, handoffs, `_get_session_config`, pydantic
serialisation. So the frames captured are the frames a live session would send, and the tests
assert the profile's meaning survives that path. The seam is private to the SDK; the `sdk`
extra pins the 0.24 line and the round-trip tests fail loudly if it moves.

The socket plays the server's side in the order a real session sees it: `session.created`
is the first event after connecting, and every `session.update` is answered with
`session.updated` carrying the session as the server now holds it (so a playback tracker
learns the audio format, as it would live). `OfflineSession.call_tool` plays the model calling
a function — a handoff is one — and returns what the SDK sent in answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agents.realtime import RealtimeAgent, RealtimePlaybackTracker, RealtimeRunner
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel

from ._paths import select
from .sdk import AGENT_NAME_SLOTS, CONFIG_NAME_SLOTS, Kind, Registry, send_initial_messages

if TYPE_CHECKING:
    from agents.realtime import RealtimeSession

    from .profile import Profile

OFFLINE_API_KEY: Final = "offline-no-key"  # never leaves the process: there is no socket
_CLOSED: Final = object()
_QUIET_TURNS: Final = 50  # event-loop turns without a new frame before `settle` returns
_MAX_TURNS: Final = 20_000


class MemorySocket:
    """Stands in for `websockets.asyncio.client.ClientConnection`: `send` records (and answers
    a `session.update` with `session.updated`), iteration yields what the server side pushes,
    `close` ends the iteration."""

    def __init__(self, *, echo_session_updates: bool = True) -> None:
        self.sent: list[dict[str, Any]] = []
        self.url: str | None = None
        self.header_names: tuple[str, ...] = ()
        self._incoming: asyncio.Queue[object] = asyncio.Queue()
        self._echo = echo_session_updates
        self._session: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None

    async def send(self, payload: str) -> None:
        frame = json.loads(payload)
        self.sent.append(frame)
        if self._changed is not None:
            self._changed.set()
        if self._echo and frame.get("type") == "session.update":
            _merge(self._session, frame.get("session") or {})
            self.push({"type": "session.updated", "event_id": self.event_id(),
                       "session": copy.deepcopy(self._session)})

    def push(self, event: dict[str, Any]) -> None:
        """Queue a server event for the SDK's listener."""
        self._incoming.put_nowait(json.dumps(event))

    def created(self, model: str) -> None:
        """The server's first event on a new connection."""
        self._session = {"type": "realtime", "id": "sess_offline", "object": "realtime.session",
                         "model": model}
        self.push({"type": "session.created", "event_id": self.event_id(),
                   "session": copy.deepcopy(self._session)})

    def event_id(self) -> str:
        return f"event_offline_{next(self._ids)}"

    @property
    def idle(self) -> bool:
        """Nothing pushed is waiting for the SDK's listener."""
        return self._incoming.empty()

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool],
                       timeout: float) -> None:
        """Return once `done(self.sent)` holds; TimeoutError (naming the frames) otherwise."""
        self._changed = self._changed or asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(self.sent):
            self._changed.clear()
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(self._changed.wait(), max(remaining, 0))
            except TimeoutError:
                kinds = [f.get("type") for f in self.sent]
                raise TimeoutError(f"the SDK did not answer within {timeout}s; frames sent: "
                                   f"{kinds}") from None

    def __aiter__(self) -> MemorySocket:
        return self

    async def __anext__(self) -> object:
        item = await self._incoming.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    async def close(self, *_args: Any, **_kwargs: Any) -> None:
        self._incoming.put_nowait(_CLOSED)


def _merge(state: dict[str, Any], update: Mapping[str, Any]) -> None:
    """A session.update as the server applies it: omitted fields stay, mappings merge."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(state.get(key), dict):
            _merge(state[key], value)
        else:
            state[key] = copy.deepcopy(value)


def attach(model: OpenAIRealtimeWebSocketModel, socket: MemorySocket) -> None:
    """Make `model` (the SDK's websocket model or a subclass, e.g. `OpenAIRealtimeSIPModel`)
    connect to `socket` instead of the network: its transport seam, on this instance only."""
    if not isinstance(model, OpenAIRealtimeWebSocketModel):
        raise TypeError("offline sessions need the SDK's OpenAIRealtimeWebSocketModel (or a "
                        f"subclass such as OpenAIRealtimeSIPModel), not {type(model).__name__}")

    async def connect(url: str, headers: dict[str, str], transport_config: Any = None) -> Any:
        # Typed Any: the SDK expects a websockets ClientConnection; MemorySocket has the
        # three members the SDK uses (send, async iteration, close).
        socket.url = url
        socket.header_names = tuple(sorted(headers))  # names only: values hold the key
        socket.created(str(model.model))
        return socket

    setattr(model, "_create_websocket_connection", connect)  # noqa: B010 - the seam, per instance


class OfflineRealtimeModel(OpenAIRealtimeWebSocketModel):
    """The SDK's websocket model with the socket replaced by a `MemorySocket`."""

    def __init__(self, socket: MemorySocket) -> None:
        super().__init__()
        self.socket = socket
        attach(self, socket)

    @property
    def url(self) -> str | None:
        return self.socket.url

    @property
    def header_names(self) -> tuple[str, ...]:
        return self.socket.header_names


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


@dataclass
class OfflineSession:
    """An open session on the in-memory socket: the test (or a demo) plays the server."""

    session: RealtimeSession
    socket: MemorySocket
    _calls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def frames(self) -> list[dict[str, Any]]:
        """Every frame the SDK sent so far, in order."""
        return self.socket.sent

    def capture(self) -> Capture:
        return Capture(self.socket.url, self.socket.header_names, list(self.socket.sent))

    def push(self, event: dict[str, Any]) -> None:
        """Send a server event to the session (`{"type": ..., ...}`, as the API would)."""
        self.socket.push(event)

    async def settle(self) -> None:
        """Let the SDK answer everything pushed so far: return once the socket is drained and
        no frame has been sent for a while (counted in event-loop turns, never in time)."""
        quiet, seen = 0, len(self.socket.sent)
        for _ in range(_MAX_TURNS):
            await asyncio.sleep(0)
            if len(self.socket.sent) != seen:
                quiet, seen = 0, len(self.socket.sent)
            elif self.socket.idle:
                quiet += 1
                if quiet >= _QUIET_TURNS:
                    return

    async def call_tool(self, name: str, arguments: str = "{}", *, call_id: str | None = None,
                        timeout: float = 5.0) -> list[dict[str, Any]]:
        """The model calls the function `name` (a tool, or a handoff's `transfer_to_...`):
        play `response.created`, the completed `function_call` item and `response.done`, wait
        for the SDK's `function_call_output`, and return the frames sent in answer (for a
        handoff: the new agent's `session.update`, the output, then `response.create`)."""
        number = next(self._calls)
        call_id = call_id or f"call_offline_{number}"
        response_id = f"resp_offline_{number}"
        mark = len(self.socket.sent)
        item = {"id": f"item_{call_id}", "object": "realtime.item", "type": "function_call",
                "status": "completed", "name": name, "call_id": call_id,
                "arguments": arguments}
        self.push({"type": "response.created", "event_id": self.socket.event_id(),
                   "response": {"id": response_id, "object": "realtime.response",
                                "status": "in_progress", "output": []}})
        self.push({"type": "response.output_item.done", "event_id": self.socket.event_id(),
                   "response_id": response_id, "output_index": 0, "item": item})
        self.push({"type": "response.done", "event_id": self.socket.event_id(),
                   "response": {"id": response_id, "object": "realtime.response",
                                "status": "completed", "output": [item]}})

        def answered(sent: list[dict[str, Any]]) -> bool:
            return any(f.get("type") == "conversation.item.create"
                       and f.get("item", {}).get("call_id") == call_id for f in sent[mark:])

        await self.socket.wait_for(answered, timeout)
        await self.settle()
        return self.socket.sent[mark:]


@contextlib.asynccontextmanager
async def open_session(profile: Profile, registry: Registry | None = None, *,
                       agent: RealtimeAgent[Any] | None = None,
                       runner: RealtimeRunner | None = None,
                       model: OpenAIRealtimeWebSocketModel | None = None,
                       model_config: Mapping[str, Any] | None = None,
                       playback_tracker: Any = None, api_key: Any = None,
                       send_messages: bool = True) -> AsyncIterator[OfflineSession]:
    """A session for `profile` on an in-memory socket, open for the duration of the block.

    By default the session starts with `profile.realtime_agent(registry)` (the profile's agent
    graph) on the SDK's websocket model. Give `agent` to start with your own agent, `model`
    for your own model instance (`OpenAIRealtimeSIPModel()` with `model_config={"call_id":
    ...}`), or `runner` for your own `RealtimeRunner` (its agent, config and model are used;
    the model must be the SDK's websocket model or a subclass). `model_config` entries are
    laid over the profile's bound model_config; `playback_tracker` and `api_key` are per-call
    objects as in `Registry.bind`. An api key that is not a callable is replaced by a
    placeholder: nothing is sent anywhere.
    """
    registry = registry or Registry()
    bound = registry.bind(profile, playback_tracker=playback_tracker, api_key=api_key)
    config = {**bound.model_config, **(model_config or {})}
    if not callable(config.get("api_key")):
        config["api_key"] = OFFLINE_API_KEY
    socket = MemorySocket()
    if runner is None:
        model = model if model is not None else OpenAIRealtimeWebSocketModel()
        start = agent if agent is not None else registry.realtime_agent(profile)
        runner = RealtimeRunner(start, model=model, config=bound.run_config)  # type: ignore[arg-type]
    else:
        model = runner._model  # type: ignore[assignment] # the runner's own model, as given
    assert model is not None
    attach(model, socket)
    session = await runner.run(model_config=config)  # type: ignore[arg-type]
    async with session:
        offline = OfflineSession(session, socket)
        await offline.settle()  # session.created and the first session.updated, as live
        if send_messages:
            await send_initial_messages(session, profile)
            await offline.settle()
        yield offline


async def capture_session(profile: Profile, agent: RealtimeAgent[Any] | None = None,
                          registry: Registry | None = None, *,
                          runner: RealtimeRunner | None = None,
                          model: OpenAIRealtimeWebSocketModel | None = None,
                          model_config: Mapping[str, Any] | None = None,
                          playback_tracker: Any = None, api_key: Any = None,
                          send_messages: bool = True) -> Capture:
    """Open a session for `profile` on an in-memory socket and return what the SDK sent
    when it started (see `open_session` for the options)."""
    async with open_session(profile, registry, agent=agent, runner=runner, model=model,
                            model_config=model_config, playback_tracker=playback_tracker,
                            api_key=api_key, send_messages=send_messages) as offline:
        return offline.capture()


def capture(profile: Profile, agent: RealtimeAgent[Any] | None = None,
            registry: Registry | None = None, **options: Any) -> Capture:
    """`capture_session` for synchronous callers (tests, the offline demo)."""
    return asyncio.run(capture_session(profile, agent, registry, **options))


# -- stand-ins for a profile's code ----------------------------------------------------------

def stand_ins(profile: Profile) -> Registry:
    """A registry with a placeholder for every name the profile and its agent graph use, of
    every kind (a no-op tool, a handoff to an empty agent under exactly the tool name written,
    a passing guardrail, a formatter, a fresh playback tracker, a key callable, an MCP server
    without tools), for looking at a profile without its code."""
    registry = Registry()
    names: list[tuple[Kind, str]] = []
    document = profile.document()
    for pattern, kind in CONFIG_NAME_SLOTS:
        names.extend((kind, name) for _path, name in select(document, pattern))
    sections = [profile.agent_config, *(node.config for node in profile.graph.values())]
    for section in sections:
        for pattern, kind in AGENT_NAME_SLOTS:
            names.extend((kind, name) for _path, name in select({"agent": section}, pattern))
    for kind, name in names:
        if isinstance(name, str) and registry.get(kind, name) is None:
            registry.add(kind, name, STAND_INS[kind](name))
    return registry


def _placeholder_tool(query: str) -> str:
    """A stand-in: the real tool is registered by the application."""
    return query


def _tool(name: str) -> Any:
    from agents import function_tool

    return function_tool(_placeholder_tool, name_override=name)


def _handoff(name: str) -> Any:
    from agents.realtime import realtime_handoff

    target = RealtimeAgent(name=f"stand-in for {name}", instructions=f"(stand-in for {name})")
    return realtime_handoff(target, tool_name_override=name)  # the tool name as written


def _guardrail(name: str) -> Any:
    from agents import GuardrailFunctionOutput, OutputGuardrail

    def passes(_ctx: Any, _agent: Any, _output: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(None, False)

    return OutputGuardrail(guardrail_function=passes, name=name)


def _formatter(name: str) -> Any:
    return lambda _args: "tool failed"


def _api_key(name: str) -> Any:
    def offline_key() -> str:
        return OFFLINE_API_KEY

    return offline_key


def _mcp_server(name: str) -> Any:
    from agents.mcp import MCPServer

    class StandInMCPServer(MCPServer):
        """An MCP server with no tools and no prompts."""

        @property
        def name(self) -> str:
            return server_name

        async def connect(self) -> None:
            return None

        async def cleanup(self) -> None:
            return None

        async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[Any]:
            return []

        async def call_tool(self, tool_name: str, arguments: Any, meta: Any = None) -> Any:
            raise RuntimeError(f"{server_name} is a stand-in: it has no tools")

        async def list_prompts(self) -> Any:
            from mcp.types import ListPromptsResult

            return ListPromptsResult(prompts=[])

        async def get_prompt(self, name: str, arguments: Any = None) -> Any:
            raise RuntimeError(f"{server_name} is a stand-in: it has no prompts")

    server_name = name
    return StandInMCPServer()


STAND_INS: Final[Mapping[Kind, Callable[[str], Any]]] = {
    "tool": _tool,
    "handoff": _handoff,
    "output_guardrail": _guardrail,
    "tool_error_formatter": _formatter,
    "playback_tracker": lambda _name: RealtimePlaybackTracker(),
    "api_key": _api_key,
    "mcp_server": _mcp_server,
}
"""One stand-in factory per registry kind (a test holds the keys equal to `sdk.KINDS`)."""
