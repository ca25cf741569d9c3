"""Bind a loaded profile to the openai-agents SDK: names to objects, sections to agents.

A profile is data; tools, handoffs, guardrails, formatters, playback trackers, MCP servers and
api-key callables are code. The schema writes them as names (`x-registry` in schema.json), and
a `Registry` — one per application, never global — maps each name to its object at the moment
the SDK needs it. The `agent:` sections of a profile and of the profiles it hands off to
become real `RealtimeAgent`s (`realtime_agent`), so the session's agent graph is the tree's.
This module imports the SDK; the core loader never imports this module.

    registry = Registry()
    registry.tool(lookup_order)                     # a function or a FunctionTool
    runner = profile.runner(registry)               # RealtimeRunner on the profile's agents
    session = await runner.run(model_config=profile.bind(
        registry, playback_tracker=RealtimePlaybackTracker()).model_config)   # per call
    async with session:
        await send_initial_messages(session, profile)

Names: a tool is registered under the name the model sees (`FunctionTool.name`), and so is a
handoff: under its tool name, `transfer_to_<agent name>` lower-cased with every character but
letters, digits and `_` replaced by `_` (`Handoff.default_tool_name`), e.g.
`transfer_to_faq_agent` for an agent named "FAQ Agent".
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

from agents import FunctionTool, OutputGuardrail, function_tool
from agents.handoffs import Handoff
from agents.realtime import RealtimeAgent, RealtimeRunner, realtime_handoff
from agents.realtime.model_inputs import RealtimeModelSendRawMessage

from ._graph import HANDOFF_OPTIONS, handoff_tool_name
from ._paths import PathKey, Pattern, render_path, select, set_at, under
from .errors import Problem, ProfileError, did_you_mean, mean
from .profile import MASK, copy_json

if TYPE_CHECKING:
    from agents.realtime import RealtimeSession

    from .profile import Explanation, Profile

Kind = Literal["tool", "handoff", "output_guardrail", "tool_error_formatter", "playback_tracker",
               "api_key", "mcp_server"]
KINDS: Final[tuple[Kind, ...]] = ("tool", "handoff", "output_guardrail", "tool_error_formatter",
                                  "playback_tracker", "api_key", "mcp_server")

# Where the schema puts names (its `x-registry` keyword; a test keeps the two in step).
# "*" is every item of a list. `api_key` is `{callable: name}` and becomes the callable.
CONFIG_NAME_SLOTS: Final[tuple[tuple[Pattern, Kind], ...]] = (
    (("run_config", "model_settings", "tools", "*"), "tool"),
    (("run_config", "model_settings", "handoffs", "*"), "handoff"),
    (("run_config", "output_guardrails", "*"), "output_guardrail"),
    (("run_config", "tool_error_formatter"), "tool_error_formatter"),
    (("model_config", "initial_model_settings", "tools", "*"), "tool"),
    (("model_config", "initial_model_settings", "handoffs", "*"), "handoff"),
    (("model_config", "playback_tracker"), "playback_tracker"),
    (("model_config", "api_key", "callable"), "api_key"),
)
# The `agent:` section's names, in this profile and in every profile of its graph.
AGENT_NAME_SLOTS: Final[tuple[tuple[Pattern, Kind], ...]] = (
    (("agent", "tools", "*"), "tool"),
    (("agent", "mcp_servers", "*"), "mcp_server"),
    (("agent", "output_guardrails", "*"), "output_guardrail"),
    (("agent", "handoffs", "*", "handoff"), "handoff"),
)
NAME_SLOTS: Final = CONFIG_NAME_SLOTS + AGENT_NAME_SLOTS

# The RealtimeAgent fields an `agent:` section sets as they are (after binding names);
# `name` defaults to the profile's agent name and `handoffs` are built from the graph.
AGENT_FIELDS: Final = ("handoff_description", "instructions", "prompt", "tools", "mcp_servers",
                       "mcp_config", "output_guardrails")

T = TypeVar("T")
Explain = Callable[[str], "Explanation"]


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


def is_agent(obj: Any) -> bool:
    """Whether `obj` is a `RealtimeAgent` (for callers that must not import the SDK)."""
    return isinstance(obj, RealtimeAgent)


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

    def get(self, kind: Kind, name: str) -> Any:
        """The object registered as `name`, or None."""
        return self._objects[kind].get(name)

    def tool(self, tool: T, *, name: str | None = None) -> T:
        """A `FunctionTool` under its own name, or a plain function wrapped by `function_tool`
        (named `name`, so the model sees the name the profile uses)."""
        obj: Any = tool
        if not isinstance(tool, FunctionTool):
            obj = function_tool(cast(Any, tool), name_override=name)
        self.add("tool", name or obj.name, obj)
        return tool

    def handoff(self, target: T, *, name: str | None = None) -> T:
        """A `RealtimeAgent` (handed off to with `realtime_handoff`) or a ready `Handoff`,
        registered under the tool name the model calls: `transfer_to_<agent name>` normalized
        (`Handoff.default_tool_name`: "FAQ Agent" -> `transfer_to_faq_agent`), or `name`,
        which for an agent becomes the tool name (`tool_name_override`). A profile lists it
        by that name (`{handoff: transfer_to_faq_agent}`)."""
        if isinstance(target, RealtimeAgent):
            obj: Handoff[Any, Any] = realtime_handoff(target, tool_name_override=name)
        elif isinstance(target, Handoff):
            if name is not None and name != target.tool_name:
                raise ValueError(f"a Handoff is registered under its tool name "
                                 f"{target.tool_name!r}, not {name!r}: build it with "
                                 f"tool_name_override={name!r}")
            obj = target
        else:
            raise TypeError(f"a handoff is a RealtimeAgent or a Handoff, not {type(target)!r}")
        self.add("handoff", obj.tool_name, obj)
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
        """A tracker shared by every session that binds this registry; a tracker follows one
        connection's playback, so a tracker per call goes to `bind(playback_tracker=...)`."""
        self.add("playback_tracker", name, tracker)
        return tracker

    def api_key(self, provider: T, *, name: str | None = None) -> T:
        """A function returning the key (sync or async): `api_key: {callable: name}`."""
        self.add("api_key", name or _name_of(provider), provider)
        return provider

    def mcp_server(self, server: T, *, name: str | None = None) -> T:
        """An MCP server your application connects (`agents.mcp.MCPServer`), under its own
        name by default: `agent.mcp_servers: [name]`."""
        self.add("mcp_server", name or str(getattr(server, "name", "")) or _name_of(server),
                 server)
        return server

    # -- binding ---------------------------------------------------------------------------
    def problems(self, profile: Profile, *, graph: bool = True) -> list[Problem]:
        """Every name the profile uses that is not registered — in its run and model config
        and, with `graph`, in the `agent:` sections of its whole agent graph — each located at
        the file:line that wrote it, with did-you-mean and the registered names."""
        problems: list[Problem] = []
        self._bind_names(_config_document(profile), CONFIG_NAME_SLOTS, profile.explain,
                         problems, profile.hidden_paths())
        if graph:
            for _name, config, explain, hidden in _sections(profile):
                self._bind_names({"agent": copy_json(config)}, AGENT_NAME_SLOTS, explain,
                                 problems, hidden)
        return problems

    def bind(self, profile: Profile, *, playback_tracker: Any = None,
             api_key: Any = None) -> BoundProfile:
        """Copies of the profile's configs with names replaced by objects, or `RegistryError`
        naming every unknown name with the file:line that wrote it.

        `playback_tracker` and `api_key` are objects of one call (a `RealtimePlaybackTracker`
        follows one connection; a key callable may be per tenant): given here, each fills its
        slot of model_config, whatever name the profile wrote there, and the registry is
        neither asked nor changed — one registry serves every call."""
        document = _config_document(profile)
        per_call: dict[PathKey, Any] = {}
        if playback_tracker is not None:
            per_call[("model_config", "playback_tracker")] = playback_tracker
        if api_key is not None:
            per_call[("model_config", "api_key")] = api_key
        model_config = document.setdefault("model_config", {})
        for path in per_call:
            model_config.pop(path[-1], None)  # the profile's name for it is not looked up
        problems: list[Problem] = []
        self._bind_names(document, CONFIG_NAME_SLOTS, profile.explain, problems,
                         profile.hidden_paths())
        _raise(problems)
        for path, obj in per_call.items():
            set_at(document, path, obj)
        return BoundProfile(document["run_config"], document["model_config"],
                            profile.hidden_paths())

    def realtime_agent(self, profile: Profile) -> RealtimeAgent[Any]:
        """The profile's agent as a `RealtimeAgent`, with its handoffs built from the agents of
        the profiles it names (`profile.graph`): the whole reachable graph, each agent built
        once, cycles allowed. A profile without an `agent:` section gives a bare agent named
        after the profile, as before agent graphs."""
        sections = _sections(profile)
        problems: list[Problem] = []
        bound: dict[str, dict[str, Any]] = {}
        hidden: dict[str, tuple[PathKey, ...]] = {}
        named: list[Problem] = []
        for name, config, explain, masked in sections:
            document = {"agent": copy_json(config)}
            named.extend(_masked_names(document, masked))
            self._bind_names(document, AGENT_NAME_SLOTS, explain, problems, masked)
            bound[name], hidden[name] = document["agent"], masked
        if named:  # a Loader refuses them; a profile that came some other way, here
            raise ProfileError(f"{profile.agent}: {named[0].message}", named)
        _raise(problems)
        agents = {name: RealtimeAgent(name=section.get("name") or name,
                                      **{k: section[k] for k in AGENT_FIELDS if k in section})
                  for name, section in bound.items()}
        missing: list[Problem] = []
        for name, section in bound.items():
            agents[name].handoffs = [
                _handoff(item, agents, ("agent", "handoffs", index), missing, hidden[name])
                for index, item in enumerate(section.get("handoffs") or [])]
        if missing:
            raise ProfileError(f"{profile.agent}: the agent graph is incomplete", missing)
        return agents[profile.agent]

    def _bind_names(self, document: dict[str, Any], slots: tuple[tuple[Pattern, Kind], ...],
                    explain: Explain | None, problems: list[Problem],
                    hidden: tuple[PathKey, ...] = ()) -> None:
        """Replace each name at `slots` in `document` by its object; unknown ones go to
        `problems`, located through `explain`, never quoting a name at or below a `hidden`
        path (a loader refuses such names: this holds for a profile that reached here some
        other way)."""
        for pattern, kind in slots:
            for path, name in list(select(document, pattern)):
                obj = self._objects[kind].get(name) if isinstance(name, str) else None
                if obj is None:
                    masked = any(under(path, top) for top in hidden)
                    problems.append(self._unknown(explain, path, kind, name, masked))
                    continue
                # {callable: name} becomes the callable itself
                set_at(document, path[:-1] if kind == "api_key" else path, obj)

    def _unknown(self, explain: Explain | None, path: PathKey, kind: Kind,
                 name: Any, masked: bool = False) -> Problem:
        known = self.names(kind)
        dotted = render_path(path)
        try:
            writes = explain(dotted).writes if explain is not None else ()
        except ProfileError:  # a Profile built by hand has no history
            writes = ()
        mark = writes[-1].mark if writes else None
        label = kind.replace("_", " ")
        listed = f"registered {label}s: {', '.join(known)}" if known else \
            f"no {label} is registered: Registry().{kind}(...)"
        if masked:  # neither the name nor what it is close to
            return Problem(path, "unknown-name", f"unknown {label} {MASK}", mark, listed)
        suggestion = mean(did_you_mean(str(name), known))
        if kind == "handoff" and isinstance(name, str) and \
                handoff_tool_name(name) in self._objects["handoff"]:
            suggestion = (f"handoffs are registered under their tool name: did you mean "
                          f"'{handoff_tool_name(name)}'?")
        hint = f"{suggestion} {listed}" if suggestion else listed
        return Problem(path, "unknown-name", f"unknown {label} {name!r}", mark, hint)

    def runner(self, agent: RealtimeAgent[Any] | None, profile: Profile, *,
               model: Any = None) -> RealtimeRunner:
        """`RealtimeRunner(agent, config=<the profile's run_config, bound>)`; with `agent`
        None, the runner starts with `realtime_agent(profile)`. Every unknown name (run
        config and agent graph) is reported at once."""
        _raise(self.problems(profile, graph=agent is None))
        start = agent if agent is not None else self.realtime_agent(profile)
        return RealtimeRunner(start, model=model, config=self.bind(profile).run_config)  # type: ignore[arg-type]

    def model_config(self, profile: Profile, **per_call: Any) -> dict[str, Any]:
        """The profile's model_config, bound, for `runner.run(model_config=...)`."""
        return self.bind(profile, **per_call).model_config


def _config_document(profile: Profile) -> dict[str, Any]:
    full = profile.document()  # a deep copy: the profile itself keeps its names
    return {"run_config": full.get("run_config", {}),
            "model_config": full.get("model_config", {})}


def _sections(profile: Profile) -> list[tuple[str, dict[str, Any], Explain | None,
                                             tuple[PathKey, ...]]]:
    """(agent name, `agent:` section, explain, masked paths) of the profile and of every
    profile in its graph, the profile first."""
    own: Explain | None = profile.explain if profile._explainer is not None else None
    return [(profile.agent, profile.agent_config, own, profile.hidden_paths()),
            *((name, node.config, node.explain if node._explainer is not None else None,
               node.hidden_paths())
              for name, node in profile.graph.items())]


def _masked_names(document: Mapping[str, Any],
                  hidden: tuple[PathKey, ...]) -> list[Problem]:
    """The agent and handoff names of an `agent:` section that are masked: the SDK would show
    them in its tool names and logs, so no agent is built from them."""
    from ._secrets import AGENT_NAME_PATTERNS, DERIVED_NAME_TEXT

    if not hidden:
        return []
    return [Problem(path, "secret-name", DERIVED_NAME_TEXT, None,
                    "write the name as plain text")
            for pattern in AGENT_NAME_PATTERNS for path, value in select(document, pattern)
            if isinstance(value, str) and any(under(path, top) for top in hidden)]


def _raise(problems: list[Problem]) -> None:
    if problems:
        listed = ", ".join(p.message.removeprefix("unknown ") for p in problems)
        raise RegistryError(
            f"{len(problems)} name{'s' if len(problems) != 1 else ''} not registered: "
            + listed, problems)


def _handoff(item: Any, agents: Mapping[str, RealtimeAgent[Any]], path: PathKey,
             missing: list[Problem], hidden: tuple[PathKey, ...] = ()) -> Any:
    """One handoff: another profile's agent (bare, as the SDK wraps it), that agent with
    realtime_handoff()'s options, or a registered Handoff (already bound)."""
    if isinstance(item, dict) and "handoff" in item:
        return item["handoff"]
    name = item.get("agent") if isinstance(item, dict) else item
    agent = agents.get(name) if isinstance(name, str) else None
    if agent is None:
        masked = any(under(path, top) or under((*path, "agent"), top) for top in hidden)
        missing.append(Problem(path, "graph/unknown-agent",
                               f"hands off to {MASK if masked else repr(name)}, which is not "
                               "in this profile's graph",
                               None, "load the profile with a Loader: it finds the profiles "
                               "an agent hands off to"))
        return None
    if isinstance(item, dict):
        options = {k: item[k] for k in HANDOFF_OPTIONS if k in item}
        return realtime_handoff(agent, **options)
    return agent


# -- the `sdk` resolver ----------------------------------------------------------------------

def sdk_constants() -> dict[str, str]:
    """Texts of the SDK a prompt may build on, by name: `${sdk:RECOMMENDED_PROMPT_PREFIX}`
    is `agents.extensions.handoff_prompt.RECOMMENDED_PROMPT_PREFIX` (the SDK's examples start
    every agent of a handoff graph with it)."""
    from agents.extensions import handoff_prompt

    return {"RECOMMENDED_PROMPT_PREFIX": handoff_prompt.RECOMMENDED_PROMPT_PREFIX}


def sdk_resolver(name: Any = None, *extra: Any) -> str:
    """`${sdk:NAME}`: one of `sdk_constants()`, read from the installed SDK."""
    from ._resolvers import ResolverError

    known = sdk_constants()
    if not isinstance(name, str) or extra or name not in known:
        hint = mean(did_you_mean(str(name), known)) or "known: " + ", ".join(known)
        raise ResolverError(f"sdk has no text {name!r}", hint)
    return known[name]


def _plugin() -> Any:
    from ._plugins import Plugin

    return Plugin(resolvers={"sdk": sdk_resolver})


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


plugin: Final = _plugin()
"""`--plugin realtime_profiles.sdk:plugin`: the `${sdk:NAME}` resolver for the command line
(`Loader(root, resolvers={"sdk": sdk_resolver})` from Python)."""
