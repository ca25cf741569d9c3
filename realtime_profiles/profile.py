"""What a load hands out: `Profile`, `CheckResult` and `Explanation` — plain data for the SDK,
every problem found, and where a key's value came from. None of them ever shows a secret in
its repr or rendering; the real values are reachable on purpose only (`Profile.model_config`,
`Profile.document()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _secrets
from ._paths import PathKey
from .errors import Problem, UsageError

if TYPE_CHECKING:
    from ._provenance import Write


@dataclass(frozen=True, slots=True)
class Explanation:
    """The winning value of one key and every write that led to it, lowest layer first."""

    key: str
    value: Any
    writes: tuple[Write, ...]
    secret: bool = False

    def render(self) -> str:
        shown = _secrets.MASK if self.secret else _short(self.value)
        lines = [f"{self.key} = {shown}"]
        if not self.writes:
            lines.append("  (not set by any layer)")
        for number, write in enumerate(self.writes, 1):
            if write.op == "delete":
                detail = "deleted"
            elif write.op == "reference":
                detail = f"refers to {write.value}"
            elif write.op in ("merge", "append") and write.value is None:
                detail = "appended to" if write.op == "append" else "merged into"
            else:
                detail = _secrets.MASK if self.secret else _short(write.value)
            lines.append(f"  {number}. {write.describe()}: {detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        value = _secrets.MASK if self.secret else repr(self.value)
        return f"Explanation(key={self.key!r}, value={value}, writes={len(self.writes)})"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class Profile:
    """One agent in one environment, composed and validated: plain dicts for the SDK.

    `run_config` goes to `RealtimeRunner(agent, config=...)`, `model_config` to
    `runner.run(model_config=...)`. repr and `redacted()` never show a secret.
    """

    agent: str
    env: str | None
    run_config: dict[str, Any]
    model_config: dict[str, Any]
    start_messages: list[dict[str, Any]]
    client_messages: list[dict[str, Any]]
    warnings: tuple[Problem, ...] = ()
    _secrets: tuple[PathKey, ...] = field(default=(), repr=False)
    _unset: dict[PathKey, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # values shown as *** because they derive from what a secret reads (call_id: the same
    # ${oc.env:OPENAI_API_KEY}, instructions: ${model_config.api_key}, ...)
    _derived: tuple[PathKey, ...] = field(default=(), repr=False)
    _explainer: Callable[[str], Explanation] | None = field(default=None, repr=False,
                                                            compare=False)

    def document(self) -> dict[str, Any]:
        """`{run_config, model_config, start_messages, client_messages}`, empty ones left out."""
        full = {
            "run_config": self.run_config,
            "model_config": self.model_config,
            "start_messages": self.start_messages,
            "client_messages": self.client_messages,
        }
        return {k: copy_json(v) for k, v in full.items() if v}

    def redacted(self) -> dict[str, Any]:
        """`document()` with every secret shown as `***` (or `*** (unset: VAR)`), and every
        value derived from what a secret reads as `***`."""
        return _secrets.redact(self.document(), self._secrets, self._unset, self._derived)

    def hidden_paths(self) -> tuple[PathKey, ...]:
        """Every path `redacted()` masks (secrets and what is derived from them)."""
        return (*self._secrets, *self._derived)

    def explain(self, key: str) -> Explanation:
        """Where `key` (dotted, relative to run_config unless prefixed) got its value."""
        if self._explainer is None:
            raise UsageError("this profile was not made by a Loader and cannot explain")
        return self._explainer(key)

    def runner(self, agent: Any, registry: Any = None, *, model: Any = None) -> Any:
        """`RealtimeRunner(agent, config=self.run_config)` with names bound by `registry` (a
        `realtime_profiles.sdk.Registry`). Needs the `sdk` extra; imported only here."""
        from .sdk import Registry

        return (registry or Registry()).runner(agent, self, model=model)

    def bind(self, registry: Any = None) -> Any:
        """`BoundProfile(run_config, model_config)` with names replaced by `registry`'s objects,
        for `runner.run(model_config=profile.bind(registry).model_config)`."""
        from .sdk import Registry

        return (registry or Registry()).bind(self)

    def fresh(self) -> Profile:
        """This profile with its own copies of the dicts (a cache hands out one per call)."""
        return replace(self, run_config=copy_json(self.run_config),
                       model_config=copy_json(self.model_config),
                       start_messages=copy_json(self.start_messages),
                       client_messages=copy_json(self.client_messages))

    def __repr__(self) -> str:
        return (f"Profile(agent={self.agent!r}, env={self.env!r}, "
                f"document={self.redacted()!r}, warnings={len(self.warnings)})")


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data, several times faster than copy.deepcopy. A `str` subclass
    (an unset secret's placeholder, interpolated into another string) leaves as a plain str:
    emitted data is plain JSON data, which every YAML and JSON dumper accepts."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if type(value) is not str and isinstance(value, str):
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
