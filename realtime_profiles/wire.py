"""What the SDK puts on the socket for a profile: the frames a session sends when it starts,
and the body that accepts a SIP call. Needs the `sdk` extra.

The frames come from a real `RealtimeSession` of the installed SDK on an in-memory socket
(`offline`), so they are what production would send, SDK defaults included: a default the SDK
changes between releases changes these frames, which is what `snapshot --check` watches. The
SIP body is built by the SDK's own `OpenAIRealtimeSIPModel.build_initial_session_payload`.

Names of code (tools, handoffs, guardrails) are bound by the caller's `Registry`, or by
stand-ins of the same names (`offline.stand_ins`): a tool's schema on the wire is then the
stand-in's, the same for every profile. Secrets never reach the output: the api key travels
in a header the socket records by name only, and any other place a secret's value might
surface is replaced by `***` (`scrub`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._paths import get
from .profile import MASK

if TYPE_CHECKING:
    from .profile import Profile
    from .sdk import Registry

T = TypeVar("T")

SDK_PACKAGES: Final = ("openai-agents", "openai")
"""The packages whose code decides the wire; their versions go with every snapshot."""

_SHORTEST_SCRUBBED: Final = 6  # shorter secret values are only replaced where whole


@dataclass(frozen=True)
class Wire:
    """The frames a session sends when it starts with a profile, in order: the session
    configuration (`session.update`), the tracing update the SDK sends once the server has
    created the session, the start messages and the client messages. `url` is where the
    socket would connect."""

    url: str
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session(self) -> dict[str, Any]:
        """The session configuration: the first `session.update`'s `session`."""
        for frame in self.frames:
            if frame.get("type") == "session.update":
                session: dict[str, Any] = frame.get("session") or {}
                return session
        return {}

    def to_data(self) -> dict[str, Any]:
        return {"url": self.url, "frames": self.frames}


def sdk_versions() -> dict[str, str]:
    """The installed versions of the packages that build the wire."""
    versions: dict[str, str] = {}
    for name in SDK_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def registry_for(profile: Profile, registry: Registry | None) -> Registry:
    """`registry`, or stand-ins for every name the profile and its graph use."""
    if registry is not None:
        return registry
    from .offline import stand_ins

    return stand_ins(profile)


async def capture_wire(profile: Profile, registry: Registry | None = None) -> Wire:
    """The frames a session starting with `profile` sends, through the installed SDK."""
    from .offline import OFFLINE_API_KEY, capture_session

    def offline_key() -> str:  # an app's key provider is never called for a look at the wire
        return OFFLINE_API_KEY

    capture = await capture_session(profile, registry=registry_for(profile, registry),
                                    api_key=offline_key)
    secrets = secret_values(profile)
    return Wire(scrub(capture.url or "", secrets), scrub(capture.frames, secrets))


def session_wire(profile: Profile, registry: Registry | None = None) -> Wire:
    """`capture_wire` for synchronous callers (the command line, tests)."""
    return run_sync(capture_wire(profile, registry))


async def sip_accept_body_async(profile: Profile,
                                registry: Registry | None = None) -> dict[str, Any]:
    """The body of `client.realtime.calls.accept(call_id, **body)` for a SIP call answered
    with `profile`, as the SDK builds it (`build_initial_session_payload`)."""
    from agents.realtime.openai_realtime import OpenAIRealtimeSIPModel

    registry = registry_for(profile, registry)
    bound = registry.bind(profile)
    payload = await OpenAIRealtimeSIPModel.build_initial_session_payload(
        registry.realtime_agent(profile), run_config=bound.run_config,  # type: ignore[arg-type]
        model_config={k: v for k, v in bound.model_config.items()  # type: ignore[arg-type]
                      if k != "api_key"})
    body: dict[str, Any] = payload.model_dump(mode="json", exclude_unset=True)
    scrubbed: dict[str, Any] = scrub(body, secret_values(profile))
    return scrubbed


def sip_accept_body(profile: Profile, registry: Registry | None = None) -> dict[str, Any]:
    """`sip_accept_body_async` for synchronous callers."""
    return run_sync(sip_accept_body_async(profile, registry))


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to its end from synchronous code: on this thread when no event loop
    runs here, else on a worker thread with its own loop (never nested in the caller's)."""
    async def main() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


# -- secrets never leave ---------------------------------------------------------------------

def secret_values(*profiles: Profile) -> list[str]:
    """The text of every secret the profiles hold (api key, header values), of what those
    secrets read (a variable's value), and of every string derived from what a secret reads
    (a token also written into tracing metadata, an instruction that quotes the key), in the
    profiles and in the agents they hand off to, longest first."""
    found: set[str] = set()
    for profile in profiles:
        document = profile.document()
        for path in profile.hidden_paths():
            found.update(_strings(get(document, path)))
        found.update(profile._secret_texts)
        for node in profile.graph.values():  # the agents it hands off to reach the wire too
            section = {"agent": node._config}
            for path in node._hidden:
                found.update(_strings(get(section, path)))
            found.update(node._secret_texts)
    found.discard("")
    found.discard(MASK)
    return sorted(found, key=len, reverse=True)


def _strings(value: Any) -> Iterable[str]:
    """Every string in `value` (a leaf, or the leaves of a container)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def scrub(data: T, secrets: Iterable[str]) -> T:
    """`data` with each secret's text replaced by `***`: a string equal to a secret, and,
    for secrets long enough not to match by chance, every occurrence inside a string."""
    from ._secrets import mask_texts

    cleaned: T = mask_texts(data, tuple(secrets), _SHORTEST_SCRUBBED)
    return cleaned
