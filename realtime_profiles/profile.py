"""What a load hands out: `Profile`, `CheckResult` and `Explanation` — plain data for the SDK,
every problem found, and where a key's value came from. None of them ever shows a secret in
its repr or rendering; the real values are reachable on purpose only (`Profile.model_config`,
`Profile.document()`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._paths import PathKey
from .errors import Problem, UsageError

MASK = "***"  # what a secret is shown as (the same as `_secrets.MASK`; a test keeps them equal)

if TYPE_CHECKING:
    from ._provenance import Write


@dataclass(frozen=True, slots=True)
class Explanation:
    """The winning value of one key and every write that led to it, lowest layer first."""

    key: str
    value: Any
    writes: tuple[Write, ...]
    secret: bool = False
    note: str | None = None
    """Where a value no layer wrote comes from (a stamp of the loader's; `agent.name`: the
    profile's agent name)."""
    deleted: bool = False
    """The key is not set because a layer deleted it (`!delete`, `~key`): the last write
    says where."""

    def render(self) -> str:
        shown = MASK if self.secret else _short(self.value)
        lines = [f"{self.key} = {shown}"]
        if self.deleted:
            lines = [f"{self.key} is not set: deleted at {self.writes[-1].describe()}"]
        if not self.writes and not self.note:
            lines.append("  (not set by any layer)")
        for number, write in enumerate(self.writes, 1):
            if write.op == "delete":
                detail = "deleted"
            elif write.op == "reference":
                detail = f"refers to {write.value}"
            elif write.op in ("merge", "append") and write.value is None:
                detail = "appended to" if write.op == "append" else "merged into"
            else:
                detail = MASK if self.secret else _short(write.value)
            lines.append(f"  {number}. {write.describe()}: {detail}")
        if self.note:
            lines.append(f"  ({self.note})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        value = MASK if self.secret else repr(self.value)
        return f"Explanation(key={self.key!r}, value={value}, writes={len(self.writes)})"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class GraphNode:
    """Another profile's agent that this profile's agent reaches through handoffs: its
    `agent:` section (empty when the profile has none), loaded in the same environment.

    `config` is a copy on every read: the section is shared with the loader's cache, and a
    graph of many agents costs nothing to hand out until a section is read."""

    agent: str
    env: str | None
    _config: dict[str, Any] = field(repr=False)
    _explainer: Callable[[str], Explanation] | None = field(default=None, repr=False,
                                                            compare=False)
    # paths of `{"agent": config}` masked wherever shown (derived from what a secret reads),
    # and the texts of that profile's secrets: scrubbed from the wire of a profile handing off
    _hidden: tuple[PathKey, ...] = field(default=(), repr=False, compare=False)
    _secret_texts: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def config(self) -> dict[str, Any]:
        """The `agent:` section, your own copy."""
        copied: dict[str, Any] = copy_json(self._config)
        return copied

    def explain(self, key: str) -> Explanation:
        """Where `key` (dotted, e.g. `agent.tools[0]`) of that profile got its value."""
        if self._explainer is None:
            raise UsageError(f"the profile of {self.agent!r} was not made by a Loader and "
                             "cannot explain")
        return self._explainer(key)

    def hidden_paths(self) -> tuple[PathKey, ...]:
        """The paths (`agent.*`) whose values are masked wherever they are shown."""
        return self._hidden


@dataclass(frozen=True)
class Profile:
    """One agent in one environment, composed and validated: plain dicts for the SDK.

    `run_config` goes to `RealtimeRunner(agent, config=...)`, `model_config` to
    `runner.run(model_config=...)`. `agent` is the profile's agent name; `agent_config` its
    `agent:` section (what the session's RealtimeAgent is made of), and `graph` the sections
    of every other profile's agent it reaches through handoffs, by agent name. `facets` is
    the option chosen in every facet group (defaults and bucketed variants included), and
    `fingerprint` names exactly this emitted configuration (see `_fingerprint`).
    repr and `redacted()` never show a secret.
    """

    agent: str
    env: str | None
    run_config: dict[str, Any]
    model_config: dict[str, Any]
    start_messages: list[dict[str, Any]]
    client_messages: list[dict[str, Any]]
    agent_config: dict[str, Any] = field(default_factory=dict)
    graph: Mapping[str, GraphNode] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    facets: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    _secrets: tuple[PathKey, ...] = field(default=(), repr=False)
    _unset: dict[PathKey, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # values shown as *** because they derive from what a secret reads (call_id: the same
    # ${oc.env:OPENAI_API_KEY}, instructions: ${model_config.api_key}, ...)
    _derived: tuple[PathKey, ...] = field(default=(), repr=False)
    # the text of each secret and of what secrets read (a variable's value), longest first:
    # never hashed into a call's fingerprint, scrubbed from whatever shows the wire
    _secret_texts: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _explainer: Callable[[str], Explanation] | None = field(default=None, repr=False,
                                                            compare=False)

    def document(self) -> dict[str, Any]:
        """`{agent, run_config, model_config, start_messages, client_messages}`, empty ones
        left out."""
        full = {
            "agent": self.agent_config,
            "run_config": self.run_config,
            "model_config": self.model_config,
            "start_messages": self.start_messages,
            "client_messages": self.client_messages,
        }
        return {k: copy_json(v) for k, v in full.items() if v}

    def redacted(self) -> dict[str, Any]:
        """`document()` with every secret shown as `***` (or `*** (unset: VAR)`), and every
        value derived from what a secret reads as `***`."""
        from ._secrets import redact  # only when shown: a worker's load never pays for it

        return redact(self.document(), self._secrets, self._unset, self._derived)

    def hidden_paths(self) -> tuple[PathKey, ...]:
        """Every path `redacted()` masks (secrets and what is derived from them)."""
        return (*self._secrets, *self._derived)

    def explain(self, key: str) -> Explanation:
        """Where `key` (dotted, relative to run_config unless prefixed) got its value."""
        if self._explainer is None:
            raise UsageError("this profile was not made by a Loader and cannot explain")
        return self._explainer(key)

    def realtime_agent(self, registry: Any = None) -> Any:
        """The session's starting `RealtimeAgent`, built from this profile's `agent:` section
        and, for its handoffs, from the sections of the profiles in `graph` (each agent built
        once, cycles allowed), names bound by `registry` (a `realtime_profiles.sdk.Registry`).
        Needs the `sdk` extra; imported only here."""
        from .sdk import Registry

        return (registry or Registry()).realtime_agent(self)

    def runner(self, registry: Any = None, *legacy: Any, agent: Any = None,
               model: Any = None) -> Any:
        """A `RealtimeRunner` starting with `realtime_agent(registry)`, its run_config bound
        by `registry`; `agent=` starts with your own RealtimeAgent instead, `model=` is the
        SDK model (default: the websocket one). The earlier form `runner(agent, registry)`
        still works. Needs the `sdk` extra; imported only here."""
        from .sdk import Registry, is_agent

        if is_agent(registry):  # runner(agent, registry), as before agent graphs
            agent, registry = registry, legacy[0] if legacy else None
        return (registry or Registry()).runner(agent, self, model=model)

    def bind(self, registry: Any = None, *, playback_tracker: Any = None,
             api_key: Any = None) -> Any:
        """`BoundProfile(run_config, model_config)` with names replaced by `registry`'s objects,
        for `runner.run(model_config=profile.bind(registry).model_config)`. Objects made per
        call (a `RealtimePlaybackTracker`, an api-key callable) are passed here and fill their
        slot whatever name the profile wrote there: one registry serves every call."""
        from .sdk import Registry

        return (registry or Registry()).bind(self, playback_tracker=playback_tracker,
                                             api_key=api_key)

    def fresh(self) -> Profile:
        """This profile with its own copies of the dicts (a cache hands out one per call)."""
        return replace(self, facets=dict(self.facets), run_config=copy_json(self.run_config),
                       model_config=copy_json(self.model_config),
                       start_messages=copy_json(self.start_messages),
                       client_messages=copy_json(self.client_messages),
                       agent_config=copy_json(self.agent_config))

    def __repr__(self) -> str:
        facets = f"facets={self.facets!r}, " if self.facets else ""
        graph = f", graph={sorted(self.graph)!r}" if self.graph else ""
        return (f"Profile(agent={self.agent!r}, env={self.env!r}, {facets}"
                f"fingerprint={self.fingerprint!r}, document={self.redacted()!r}{graph}, "
                f"warnings={len(self.warnings)})")


_ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data, several times faster than copy.deepcopy (it is on every
    call's path: plain leaves are taken as they are, without a call each). A `str` subclass
    (an unset secret's placeholder, interpolated into another string) leaves as a plain str:
    emitted data is plain JSON data, which every YAML and JSON dumper accepts."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _ATOMS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else copy_json(v) for v in value]
    if kind in _ATOMS:
        return value
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


class _Absent:
    """A side of a difference where the key is not set."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class Difference(NamedTuple):
    """One leaf where two profiles differ, as it may be shown: `left` and `right` are the
    values (`***` where masked; `ABSENT` where not set) and the writes that set them."""

    path: PathKey
    left: Any
    right: Any
    left_origin: str | None
    right_origin: str | None
    masked: bool = False


@dataclass(frozen=True)
class CheckResult:
    """What `Loader.check` found: all problems (errors and warnings) and, if it composed,
    the profile (secrets possibly placeholders: for display, never for use)."""

    agent: str
    env: str | None
    problems: tuple[Problem, ...]
    profile: Profile | None
    facets: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors

    def fresh(self) -> CheckResult:
        """This result with its own copy of the profile: a caller that edits the dicts cannot
        change what the next check of the same combination says."""
        if self.profile is None:
            return self
        return replace(self, profile=self.profile.fresh())
