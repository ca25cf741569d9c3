"""Bind a loaded profile to the openai-agents SDK: names to objects, dicts to runner calls.

A profile is data; tools, handoffs, guardrails, formatters, playback trackers and api-key
callables are code. The schema writes them as names (`x-registry` in schema.json), and a
`Registry` — one per application, never global — maps each name to its object at the moment
the SDK needs it. This module imports the SDK; the core loader never imports this module.

    registry = Registry()
    registry.tool(lookup_order)                     # a function or a FunctionTool
    registry.handoff(billing_agent)                 # a RealtimeAgent or a Handoff
    runner = registry.runner(agent, profile)
    session = await runner.run(model_config=registry.model_config(profile))
    async with session:
        await send_initial_messages(session, profile)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

from agents import FunctionTool, OutputGuardrail, function_tool
from agents.handoffs import Handoff
from agents.realtime import RealtimeAgent, RealtimeRunner, realtime_handoff
from agents.realtime.model_inputs import RealtimeModelSendRawMessage

from ._paths import PathKey, render_path, select, set_at
from .errors import Problem, ProfileError, did_you_mean, mean

if TYPE_CHECKING:
    from agents.realtime import RealtimeSession

    from .profile import Profile

Kind = Literal["tool", "handoff", "output_guardrail", "tool_error_formatter", "playback_tracker",
               "api_key"]
KINDS: Final[tuple[Kind, ...]] = ("tool", "handoff", "output_guardrail", "tool_error_formatter",
                                  "playback_tracker", "api_key")

# Where the schema puts names (its `x-registry` keyword; a test keeps the two in step).
# "*" is every item of a list. `api_key` is `{callable: name}` and becomes the callable.
NAME_SLOTS: Final[tuple[tuple[tuple[str, ...], Kind], ...]] = (
    (("run_config", "model_settings", "tools", "*"), "tool"),
    (("run_config", "model_settings", "handoffs", "*"), "handoff"),
    (("run_config", "output_guardrails", "*"), "output_guardrail"),
    (("run_config", "tool_error_formatter"), "tool_error_formatter"),
    (("model_config", "initial_model_settings", "tools", "*"), "tool"),
    (("model_config", "initial_model_settings", "handoffs", "*"), "handoff"),
    (("model_config", "playback_tracker"), "playback_tracker"),
    (("model_config", "api_key", "callable"), "api_key"),
)

T = TypeVar("T")


class RegistryError(ProfileError):
    """Names in a profile that the registry does not know: all of them, with did-you-mean."""


@dataclass(frozen=True)
class BoundProfile:
    """A profile's run and model configs with every name replaced by its object. Its repr
    masks what the profile's does (secrets, and what is derived from them)."""

    run_config: dict[str, Any]
    model_config: dict[str, Any]
    hidden: tuple[PathKey, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        from . import _secrets
        from .profile import copy_json

        shown = copy_json({"run_config": self.run_config, "model_config": self.model_config})
        masked = _secrets.redact(shown, (), {}, self.hidden)
        return (f"BoundProfile(run_config={masked['run_config']!r}, "
                f"model_config={masked['model_config']!r})")


class Registry:
    """Names to SDK objects, per kind. Methods return what they are given, so each also works
    as a decorator: `@registry.tool` over a function or a `@function_tool`."""

    def __init__(self, objects: Mapping[Kind, Mapping[str, Any]] | None = None) -> None:
        self._objects: dict[Kind, dict[str, Any]] = {kind: {} for kind in KINDS}
        for kind, named in (objects or {}).items():
            for name, obj in named.items():
                self.add(kind, name, obj)

    def add(self, kind: Kind, name: str, obj: Any) -> None:
        """Register `obj` under `name`; registering a second object under one name is a bug."""
        if kind not in self._objects:
            raise ValueError(f"unknown registry kind {kind!r} (one of {', '.join(KINDS)})")
        known = self._objects[kind]
        if name in known and known[name] is not obj:
            raise ValueError(f"{kind} {name!r} is already registered")
        known[name] = obj

    def names(self, kind: Kind) -> tuple[str, ...]:
        return tuple(sorted(self._objects[kind]))

    def tool(self, tool: T, *, name: str | None = None) -> T:
        """A `FunctionTool` under its own name, or a plain function wrapped by `function_tool`
        (named `name`, so the model sees the name the profile uses)."""
        obj: Any = tool
        if not isinstance(tool, FunctionTool):
            obj = function_tool(cast(Any, tool), name_override=name)
        self.add("tool", name or obj.name, obj)
        return tool

    def handoff(self, target: T, *, name: str | None = None) -> T:
        """A `RealtimeAgent` (handed off to with `realtime_handoff`) or a ready `Handoff`.
        The default name is the agent's name (the handoff's agent name for a `Handoff`)."""
        if isinstance(target, RealtimeAgent):
            obj: Any = realtime_handoff(target)
            default = target.name
        elif isinstance(target, Handoff):
            obj, default = target, target.agent_name
        else:
            raise TypeError(f"a handoff is a RealtimeAgent or a Handoff, not {type(target)!r}")
        self.add("handoff", name or default, obj)
        return target

    def output_guardrail(self, guardrail: T, *, name: str | None = None) -> T:
        """An `OutputGuardrail`, or a function `(ctx, agent, output) -> GuardrailFunctionOutput`."""
        obj: Any = guardrail
        if not isinstance(guardrail, OutputGuardrail):
            obj = OutputGuardrail(guardrail_function=guardrail, name=name)  # type: ignore[arg-type]
        self.add("output_guardrail", name or obj.get_name(), obj)
        return guardrail

    def tool_error_formatter(self, formatter: T, *, name: str | None = None) -> T:
        self.add("tool_error_formatter", name or _name_of(formatter), formatter)
        return formatter

    def playback_tracker(self, tracker: T, *, name: str) -> T:
        self.add("playback_tracker", name, tracker)
        return tracker

    def api_key(self, provider: T, *, name: str | None = None) -> T:
        """A function returning the key (sync or async): `api_key: {callable: name}`."""
        self.add("api_key", name or _name_of(provider), provider)
        return provider

    # -- binding ---------------------------------------------------------------------------
    def bind(self, profile: Profile) -> BoundProfile:
        """Copies of the profile's configs with names replaced by objects, or `RegistryError`
        naming every unknown name with the file:line that wrote it."""
        full = profile.document()  # a deep copy: the profile itself keeps its names
        document = {"run_config": full.get("run_config", {}),
                    "model_config": full.get("model_config", {})}
        problems: list[Problem] = []
        missing: list[str] = []
        for pattern, kind in NAME_SLOTS:
            for path, name in select(document, pattern):
                obj = self._objects[kind].get(name) if isinstance(name, str) else None
                if obj is None:
                    problems.append(self._unknown(profile, path, kind, name))
                    missing.append(f"{kind.replace('_', ' ')} {name!r}")
                    continue
                # {callable: name} becomes the callable itself
                set_at(document, path[:-1] if kind == "api_key" else path, obj)
        if problems:
            raise RegistryError(
                f"{len(problems)} name{'s' if len(problems) != 1 else ''} not registered: "
                + ", ".join(missing), problems)
        return BoundProfile(document["run_config"], document["model_config"],
                            profile.hidden_paths())

    def _unknown(self, profile: Profile, path: PathKey, kind: Kind, name: Any) -> Problem:
        known = self.names(kind)
        dotted = render_path(path)
        try:
            writes = profile.explain(dotted).writes
        except ProfileError:  # a Profile built by hand has no history
            writes = ()
        mark = writes[-1].mark if writes else None
        label = kind.replace("_", " ")
        suggestion = mean(did_you_mean(str(name), known))
        listed = f"registered {label}s: {', '.join(known)}" if known else \
            f"no {label} is registered: Registry().{kind}(...)"
        hint = f"{suggestion} {listed}" if suggestion else listed
        return Problem(path, "unknown-name", f"unknown {label} {name!r}", mark, hint)

    def runner(self, agent: RealtimeAgent[Any], profile: Profile, *,
               model: Any = None) -> RealtimeRunner:
        """`RealtimeRunner(agent, config=<the profile's run_config, bound>)`."""
        return RealtimeRunner(agent, model=model, config=self.bind(profile).run_config)  # type: ignore[arg-type]

    def model_config(self, profile: Profile) -> dict[str, Any]:
        """The profile's model_config, bound, for `runner.run(model_config=...)`."""
        return self.bind(profile).model_config


def _name_of(obj: Any) -> str:
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"{obj!r} has no __name__: pass name=...")
    return name


async def send_initial_messages(session: RealtimeSession, profile: Profile) -> None:
    """Send the profile's `start_messages` (user messages) and then its `client_messages`
    (raw events such as `response.create`) on an open session, in file order."""
    for message in profile.start_messages:
        await session.send_message(cast(Any, copy.deepcopy(message)))
    for event in profile.client_messages:
        raw = RealtimeModelSendRawMessage(message=cast(Any, copy.deepcopy(event)))
        await session.model.send_event(raw)
