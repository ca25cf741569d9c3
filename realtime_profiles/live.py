"""Live updates: move a running session from one profile to another with the smallest
`session.update` the Realtime API accepts, without the SDK's full rebuild.

The SDK's own update path (`RealtimeModelSendSessionUpdate`, `update_agent`, handoffs)
rebuilds the whole session from settings and fills its defaults for whatever is left out, so
a partial update resets the rest. Here both profiles go through the SDK's own conversion
(`build_initial_session_payload`, the same code that makes the first `session.update`), the
two sessions are compared field by field, and only what changed is sent, as a raw client
event, following the API's rules (openai's `SessionUpdateEvent`):

- a field left out keeps its value; a nested object that changed (`turn_detection`,
  `transcription`, `noise_reduction`, an audio format, the voice) is sent whole;
- a field the new profile drops is sent in the API's clearing form (`instructions: ""`,
  `tools: []`, `turn_detection: null`, ...), or refused when the API has none;
- `model` cannot change in a session, nor `tracing` once enabled: refused (start a new
  session); tracing stamps (the profile fingerprint) are not tracing changes;
- `voice` can change only until the model has produced audio: the plan says so and
  `apply_update` refuses it after;
- what only a new session reads (the url, headers, guardrail settings, start messages, the
  agents handed off to) is reported as `live/new-sessions-only`, a warning.

`apply_update` also records the change where the SDK rebuilds from: the session's base
settings (so the full rebuild it sends at a later handoff keeps a live turn-detection change
instead of undoing it) and the running agent object (its instructions, prompt, tools and
handoffs: a tool added live can be called, and a hand-back keeps the new instructions). That
agent object is changed in place: give each session its own agents (`profile.runner(
registry)` per call builds them) if other sessions must not see it. Needs the `sdk` extra.

    watch = loader.watch("support", "prod")
    await follow(session, watch, current=profile, registry=registry)   # until cancelled
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from ._fingerprint import STAMP_KEYS
from ._paths import MISSING, PathKey, get, leaf_diff, render_path
from .errors import LiveUpdateError, Mark, Problem, ProfileError, UsageError, sorted_problems
from .wire import registry_for, run_sync, scrub, secret_values

if TYPE_CHECKING:
    from agents.realtime import RealtimeSession

    from .profile import Profile
    from .sdk import Registry

LOG = logging.getLogger("realtime_profiles.live")

# Objects the API replaces whole: a change anywhere inside sends the whole object.
WHOLE: Final[tuple[PathKey, ...]] = (
    ("audio", "input", "format"), ("audio", "input", "noise_reduction"),
    ("audio", "input", "transcription"), ("audio", "input", "turn_detection"),
    ("audio", "output", "format"), ("audio", "output", "voice"), ("audio", "output", "speed"),
)
# The value that clears a field the new profile no longer sets (openai's SessionUpdateEvent:
# "pass an empty string", "an empty array", "null"); the server's defaults for the rest.
CLEARING: Final[Mapping[PathKey, Any]] = {
    ("instructions",): "",
    ("tools",): [],
    ("prompt",): None,
    ("audio", "input", "turn_detection"): None,
    ("audio", "input", "noise_reduction"): None,
    ("audio", "input", "transcription"): None,
    ("audio", "output", "speed"): 1.0,
    ("max_output_tokens",): "inf",
    ("tool_choice",): "auto",
}
NEVER_SENT: Final = ("type", "model", "tracing")
# Fields that belong to the agent the session is running now (a handoff replaces them).
AGENT_FIELDS: Final = ("instructions", "tools", "prompt")
# Where the profile sets what the session configuration is made of; the rest of a profile
# is read when a session starts (or by the client), never by a running session.
SESSION_SOURCES: Final[tuple[PathKey, ...]] = (
    ("run_config", "model_settings"), ("model_config", "initial_model_settings"),
    ("agent", "instructions"), ("agent", "prompt"), ("agent", "tools"),
    ("agent", "handoffs"), ("agent", "mcp_servers"), ("agent", "mcp_config"),
)
MODEL_SETTINGS: Final[tuple[PathKey, ...]] = SESSION_SOURCES[:2]
# Model-settings keys the session's base settings hold for later rebuilds (not the agent's).
_AGENT_SETTINGS: Final = ("instructions", "tools", "handoffs", "prompt")
# The running agent's attributes a live update carries over from the new profile's agent.
AGENT_ATTRIBUTES: Final = ("instructions", "prompt", "tools", "handoffs", "mcp_servers",
                           "mcp_config")
# Objects an update may leave keys in (it merges into them): cleared with null first.
NULLABLE: Final[tuple[PathKey, ...]] = (
    ("audio", "input", "turn_detection"), ("audio", "input", "noise_reduction"),
    ("audio", "input", "transcription"),
)


@dataclass(frozen=True)
class UpdatePlan:
    """What moving a live session from one profile to another takes.

    `event` is the `session.update` to send (None when the session needs no change);
    `fields` the session fields it sets (`audio.input.turn_detection`); `changed` the profile
    paths that differ; `problems` the refusals (errors: the plan cannot be applied whole) and
    the changes only new sessions see (warnings). `voice` is true when the event changes the
    voice, which the API allows only before the model's first audio. `agent` is the name of
    the agent whose instructions and tools the event carries."""

    agent: str
    event: dict[str, Any] | None
    fields: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    voice: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)
    clearing: dict[str, Any] | None = None
    """Sent before `event` when a nested object lost keys: the API merges an update into such
    an object, so it is set to null first and then written whole."""
    source: Any = field(default=None, repr=False, compare=False)
    """The new profile's starting agent (when the event carries agent-owned fields), whose
    attributes the running agent takes (`AGENT_ATTRIBUTES`)."""
    bound: bool = False
    """Whether names were bound by the caller's registry (not stand-ins): a plan that changes
    tools can only be applied then, or the session would offer tools it cannot run."""
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """The secret texts of both profiles (`wire.secret_values`): the events carry them to the
    session, but whatever shows the plan (`render`, `to_data`) prints `***` instead."""

    @property
    def events(self) -> tuple[dict[str, Any], ...]:
        """Every event `apply_update` sends, in order."""
        return tuple(e for e in (self.clearing, self.event) if e is not None)

    @property
    def refusals(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def empty(self) -> bool:
        """Nothing to send and nothing refused."""
        return self.event is None and not self.refusals

    def render(self) -> str:
        """The event (JSON) and one line per problem, as `diff --wire` prints them: every
        secret's text as `***`."""
        events = scrub(list(self.events), self.secrets)
        lines = [json.dumps(e, indent=2, ensure_ascii=False) for e in events] or [
            "(no session.update: the running session already matches)"]
        lines += [p.render() for p in self.problems]  # scrubbed when planned
        return "\n".join(lines)

    def to_data(self) -> dict[str, Any]:
        """The plan as JSON data (`diff --wire --format json`), every secret's text as `***`."""
        data = {"events": list(self.events), "event": self.event, "fields": list(self.fields),
                "changed": list(self.changed), "voice": self.voice,
                "problems": [p.as_dict() for p in self.problems]}
        scrubbed: dict[str, Any] = scrub(data, self.secrets)
        return scrubbed


async def aplan_update(current: Profile, new: Profile,
                       registry: Registry | None = None) -> UpdatePlan:
    """`plan_update` inside a running event loop (MCP servers of a real registry need it)."""
    # Over 60 lines because every session field's rule (model, clearing, voice, tracing,
    # agent-owned fields) is decided in this one loop, so the order of the rules is visible.
    old_session, old_tracing, running = await _session(current, registry)
    new_session, new_tracing, source = await _session(new, registry)
    problems: list[Problem] = []
    locate = _locator(new)
    update: dict[str, Any] = {}
    clearing: dict[str, Any] = {}
    fields: list[str] = []
    for path, old, now in _field_changes(old_session, new_session):
        name, value = render_path(path), now
        if path == ("model",):
            problems.append(_problem(locate, _model_path(new), "live/model",
                                     f"the model cannot change in a running session "
                                     f"({old!r} -> {value!r})",
                                     "start a new session with the new profile"))
            continue
        if value is MISSING:
            if path not in CLEARING:
                problems.append(_problem(locate, (), "live/cannot-clear",
                                         f"session field {name} is no longer set, and the "
                                         "API has no value that clears it",
                                         "set it explicitly, or start a new session"))
                continue
            value = CLEARING[path]
        elif isinstance(old, dict) and isinstance(value, dict) and set(old) - set(value):
            problems.extend(_lost_keys(path, old, value, clearing, locate))
        _put(update, path, value)
        fields.append(name)
    tracing_refused = _without_stamps(old_tracing) != _without_stamps(new_tracing)
    if tracing_refused:
        problems.append(_problem(locate, _tracing_path(new), "live/tracing",
                                 "tracing is set once, when a session starts: a running "
                                 "session keeps its tracing", "the new tracing applies to "
                                 "new sessions"))
    changed = [(p, v) for p, _, v in leaf_diff(current.document(), new.document())
               if not _is_stamp(p)]
    problems.extend(_session_only(changed, locate, tracing_refused))
    problems.extend(_graph_changes(current, new))
    voice = "audio.output.voice" in fields
    if voice:
        problems.append(_problem(locate, _voice_path(new), "live/voice",
                                 "the voice can change only until the model has produced "
                                 "audio in this session (apply_update refuses it after)", None,
                                 severity="warning"))
    event = clear_event = None
    if update:
        event = {"type": "session.update", "session": {"type": "realtime", **update}}
        _validate(event)
    if clearing:
        clear_event = {"type": "session.update", "session": {"type": "realtime", **clearing}}
        _validate(clear_event)
    renamed = str(running.name) != str(source.name)
    carries = renamed or any(name in fields for name in AGENT_FIELDS)
    secrets = tuple(secret_values(current, new))
    shown = [replace(p, message=scrub(p.message, secrets),
                     suggestion=scrub(p.suggestion, secrets)) for p in problems]
    return UpdatePlan(str(running.name), event, tuple(fields),
                      tuple(render_path(p) for p, _ in changed), sorted_problems(shown),
                      voice, _settings_changes(current, new, registry), clear_event,
                      source if carries else None, registry is not None, secrets)


def _session_only(changed: list[tuple[PathKey, Any]], locate: Locate,
                  tracing_refused: bool) -> Iterator[Problem]:
    """Warnings for what changed that a running session never reads again."""
    for path, value in changed:
        if any(path[:len(s)] == s for s in SESSION_SOURCES):
            continue
        if tracing_refused and path == ("run_config", "tracing_disabled"):
            continue  # said by the tracing refusal
        if path == ("agent", "name"):
            yield _problem(locate, path, "live/renamed", "the running agent takes the new "
                           "name, but the agents that hand off to it keep its old handoff "
                           "tool name in this session", "the new tool name applies to new "
                           "sessions", severity="warning")
            continue
        yield _problem(locate if value is not MISSING else _nowhere, path,
                       "live/new-sessions-only", "read when a session starts: the running "
                       "session keeps the old value", "it applies to new sessions",
                       severity="warning")


def _lost_keys(path: PathKey, old: dict[str, Any], new: dict[str, Any],
               clearing: dict[str, Any], locate: Locate) -> list[Problem]:
    """A nested object the new profile writes with fewer keys: the API merges an update into
    it (`noise_reduction.strength`: "omitting strength preserves the current strength"), so
    the keys would stay. A nullable one is cleared first (`clearing`); another is reported."""
    lost = ", ".join(sorted(set(old) - set(new)))
    if path in NULLABLE:
        _put(clearing, path, None)
        return []
    return [_problem(locate, (), "live/kept-keys", f"session field {render_path(path)} no "
                     f"longer has {lost}, but the API merges an update into it: the running "
                     "session may keep them", "start a new session if they must go",
                     severity="warning")]


def plan_update(current: Profile, new: Profile,
                registry: Registry | None = None) -> UpdatePlan:
    """The minimal `session.update` that moves a session running `current` to `new`, with
    its refusals (see the module docstring for the rules). Names are bound by `registry`, or
    by stand-ins of the same names; from inside an event loop prefer `aplan_update`."""
    return run_sync(aplan_update(current, new, registry))


async def apply_update(session: RealtimeSession, plan: UpdatePlan, *,
                       partial: bool = False) -> dict[str, Any] | None:
    """Send `plan`'s event to a running session as a raw client event (only its fields go
    out) and keep the change where the SDK rebuilds from (see the module docstring); return
    the event sent, or None.

    Raises `LiveUpdateError`, changing nothing, when the plan has refusals, when it changes
    the voice after the model has produced audio, when it changes tools but was planned with
    stand-ins, or when the session has handed off to another agent than the plan's and the
    plan carries instructions, prompt or tools; with `partial=True` it sends what can be
    sent instead and logs the rest."""
    from agents.realtime.model_inputs import RealtimeModelSendRawMessage

    running = getattr(session, "_current_agent", None)
    own = running is not None and running.name == plan.agent  # not handed off since
    if plan.event is None:
        if plan.refusals and not partial:
            raise LiveUpdateError("cannot update the running session", plan.refusals)
        if own:
            _carry(session, running, plan)  # a rename
        return None
    session_fields = copy.deepcopy(plan.event["session"])
    refused = list(plan.refusals)
    if plan.voice and _audio_produced(session):
        refused.append(Problem(("audio", "output", "voice"), "live/voice-after-audio",
                               "the model has produced audio in this session: the API no "
                               "longer accepts a voice change", None,
                               "the new voice applies to new sessions"))
        _drop(session_fields, ("audio", "output", "voice"))
    if "tools" in session_fields and not plan.bound:
        refused.append(Problem(("agent", "tools"), "live/tools-unbound", "the plan changes the "
                               "session's tools, but was made with stand-ins for the names: "
                               "the running agent could not run them", None,
                               "plan with your registry: plan_update(current, new, registry)"))
        session_fields.pop("tools")
    carried = [name for name in AGENT_FIELDS if name in session_fields]
    if not own and carried:
        current = getattr(running, "name", None)
        refused.append(Problem((), "live/agent-changed",
                               f"the session has handed off to {current!r}: the "
                               f"{', '.join(carried)} of {plan.agent!r} are not its own", None,
                               "they apply when a session starts with the profile"))
        for name in carried:
            session_fields.pop(name)
    if refused and not partial:
        raise LiveUpdateError("cannot update the running session as planned", refused)
    for problem in refused:
        LOG.warning("live update: %s", problem.render())
    session_fields = _pruned(session_fields)
    if set(session_fields) == {"type"}:
        return None
    event = {"type": "session.update", "session": session_fields}
    clearing = _clearing_for(plan.clearing, session_fields)
    for fields in ([clearing] if clearing else []) + [session_fields]:
        await session.model.send_event(RealtimeModelSendRawMessage(
            message={"type": "session.update", "other_data": {"session": fields}}))
    _remember(session, plan, voice_sent=_has(session_fields, ("audio", "output", "voice")))
    if own:
        _carry(session, running, plan, tools="tools" in session_fields)
    return event


async def follow(session: RealtimeSession,
                 changes: AsyncIterable[Profile | ProfileError], *, current: Profile,
                 registry: Registry | None = None,
                 report: Callable[[ProfileError], None] | None = None) -> None:
    """Keep a running session on its profile as the profile changes: for each item of
    `changes` (e.g. `loader.watch(...)`), plan and apply the update; an invalid edit or a
    refused update is reported (`report`, default: logged) and the session keeps what it
    has. Runs until `changes` ends or the task is cancelled."""
    say = report or (lambda error: LOG.warning("profile not applied: %s", error.render()))
    async for item in changes:
        if isinstance(item, ProfileError):
            say(item)
            continue
        try:
            plan = await aplan_update(current, item, registry)
            await apply_update(session, plan)
        except ProfileError as exc:  # refused, or a name the registry cannot bind
            say(exc)
            continue
        except Exception:  # one bad update must not end the following: logged whole
            LOG.exception("live update failed; the session keeps its configuration")
            continue
        current = item


# -- the session as the SDK builds it --------------------------------------------------------

async def _session(profile: Profile,
                   registry: Registry | None) -> tuple[dict[str, Any], Any, Any]:
    """The session configuration the SDK builds for `profile` (its first `session.update`),
    the tracing it would send, and the starting agent."""
    from agents.realtime.openai_realtime import OpenAIRealtimeSIPModel

    bound_registry = registry_for(profile, registry)
    bound = bound_registry.bind(profile)
    agent = bound_registry.realtime_agent(profile)
    model_config = {k: v for k, v in bound.model_config.items() if k != "api_key"}
    payload = await OpenAIRealtimeSIPModel.build_initial_session_payload(
        agent, run_config=bound.run_config, model_config=model_config)  # type: ignore[arg-type]
    session: dict[str, Any] = payload.model_dump(mode="json", exclude_unset=True)
    return session, _tracing(profile), agent


def _tracing(profile: Profile) -> Any:
    """What the SDK sends as tracing after `session.created` (None: nothing)."""
    if profile.run_config.get("tracing_disabled"):
        return None
    settings = {**(profile.run_config.get("model_settings") or {}),
                **(profile.model_config.get("initial_model_settings") or {})}
    return settings.get("tracing", "auto")


def _without_stamps(tracing: Any) -> Any:
    if isinstance(tracing, dict) and isinstance(tracing.get("metadata"), dict):
        metadata = {k: v for k, v in tracing["metadata"].items() if k not in STAMP_KEYS}
        return {**tracing, "metadata": metadata}
    return tracing


def _is_stamp(path: PathKey) -> bool:
    from ._fingerprint import is_stamp

    return is_stamp(path)


def _field_changes(old: dict[str, Any],
                   new: dict[str, Any]) -> list[tuple[PathKey, Any, Any]]:
    """The session fields that differ, each whole object (`WHOLE`) as one change."""
    found: dict[PathKey, tuple[Any, Any]] = {}
    for path, _, _ in leaf_diff(old, new):
        if path and path[0] in NEVER_SENT and path != ("model",):
            continue
        field_path = next((w for w in WHOLE if path[:len(w)] == w), None)
        if field_path is None:
            field_path = path[:1] if path and path[0] != "audio" else path[:3]
        found[field_path] = (get(old, field_path), get(new, field_path))
    return [(path, old_value, new_value) for path, (old_value, new_value) in found.items()]


def _put(tree: dict[str, Any], path: PathKey, value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(str(part), {})
    node[str(path[-1])] = value


def _drop(tree: dict[str, Any], path: PathKey) -> None:
    node: Any = tree
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _has(tree: Mapping[str, Any], path: PathKey) -> bool:
    return get(tree, path) is not MISSING


def _clearing_for(clearing: dict[str, Any] | None,
                  session_fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The clearing event's session, for the fields still sent."""
    if clearing is None:
        return None
    kept = {"type": "realtime"}
    for path in NULLABLE:
        if get(clearing["session"], path) is not MISSING and _has(session_fields, path):
            _put(kept, path, None)
    return kept if len(kept) > 1 else None


def _carry(session: RealtimeSession, running: Any, plan: UpdatePlan, *,
           tools: bool = False) -> None:
    """The running agent takes the new profile's agent: its name, instructions and prompt,
    and (when the event changed the tools, planned with the caller's registry) its tools,
    handoffs and MCP servers, so the SDK's own rebuilds (a hand-back to it, `update_agent`)
    and its tool dispatch follow the update. The session's cached dispatch table is dropped
    so the SDK builds it again from the agent."""
    if plan.source is None or running is None:
        return
    names = ("name", *AGENT_ATTRIBUTES) if tools and plan.bound else \
        ("name", "instructions", "prompt")
    for name in names:
        setattr(running, name, getattr(plan.source, name))
    if tools and hasattr(session, "_current_dispatch_snapshot"):
        session._current_dispatch_snapshot = None  # private; pinned by tests/test_live.py


def _pruned(node: dict[str, Any]) -> dict[str, Any]:
    """`node` without the mappings a refusal emptied (`audio: {output: {}}`)."""
    kept: dict[str, Any] = {}
    for key, value in node.items():
        inner = _pruned(value) if isinstance(value, dict) else value
        if inner != {}:
            kept[key] = inner
    return kept


def _validate(event: dict[str, Any]) -> None:
    """The API's own model of the event: the SDK drops an event that does not validate with
    only a log line, so it is checked here, loudly."""
    from openai.types.realtime.session_update_event import SessionUpdateEvent
    from pydantic import ValidationError

    try:
        SessionUpdateEvent.model_validate(event)
    except ValidationError as exc:  # a bug of ours, not of the profile: say what was built
        raise UsageError(f"the planned session.update does not validate against the "
                         f"Realtime API's model: {exc.errors()[0].get('msg')}") from None


# -- where a change is set -------------------------------------------------------------------

Locate = Callable[[PathKey], Mark | None]


def _locator(profile: Profile) -> Locate:
    def locate(path: PathKey) -> Mark | None:
        if not path:
            return None
        try:
            writes = profile.explain(render_path(path)).writes
        except ProfileError:
            return None
        return writes[-1].mark if writes else None

    return locate


def _nowhere(path: PathKey) -> Mark | None:
    return None


def _problem(locate: Locate, path: PathKey, code: str, message: str,
             suggestion: str | None, *, severity: Any = "error") -> Problem:
    return Problem(path, code, message, locate(path), suggestion, severity)


def _first_set(profile: Profile, key: str) -> PathKey:
    """Where `key` of the model settings is set (initial_model_settings wins, as in the SDK)."""
    document = profile.document()
    for section in reversed(MODEL_SETTINGS):
        if get(document, (*section, key)) is not MISSING:
            return (*section, key)
    return ()


def _model_path(profile: Profile) -> PathKey:
    return _first_set(profile, "model_name")


def _tracing_path(profile: Profile) -> PathKey:
    return _first_set(profile, "tracing") or (("run_config", "tracing_disabled")
                                              if "tracing_disabled" in profile.run_config
                                              else ())


def _voice_path(profile: Profile) -> PathKey:
    document = profile.document()
    for section in reversed(MODEL_SETTINGS):
        nested = (*section, "audio", "output", "voice")
        if get(document, nested) is not MISSING:
            return nested
    return _first_set(profile, "voice")


def _graph_changes(current: Profile, new: Profile) -> list[Problem]:
    """The agents handed off to were built when the session started: a change to one of
    them reaches new sessions only."""
    found = []
    for name in sorted({*current.graph, *new.graph}):
        before = current.graph[name].config if name in current.graph else None
        after = new.graph[name].config if name in new.graph else None
        if before != after:
            found.append(Problem(("agent", "handoffs"), "live/new-sessions-only",
                                 f"the agent of profile {name!r}, handed off to, changed: "
                                 "the running session keeps the agent it started with", None,
                                 "it applies to new sessions", "warning"))
    return found


# -- keeping the change for the SDK's later rebuilds -----------------------------------------

def _settings_changes(current: Profile, new: Profile,
                      registry: Registry | None) -> dict[str, Any]:
    """The session-wide model settings that differ, in the SDK's form (`MISSING`: no longer
    set): what the session's base settings must hold so that a later full rebuild (a
    handoff, `update_agent`) sends the new values instead of the old."""
    old, now = _base_settings(current, registry), _base_settings(new, registry)
    keys = [k for k in {**old, **now}
            if k not in ("model_name", "tracing", *_AGENT_SETTINGS)
            and old.get(k, MISSING) != now.get(k, MISSING)]
    return {k: now.get(k, MISSING) for k in keys}


def _base_settings(profile: Profile, registry: Registry | None) -> dict[str, Any]:
    bound = registry_for(profile, registry).bind(profile)
    return {**(bound.run_config.get("model_settings") or {}),
            **(bound.model_config.get("initial_model_settings") or {})}


def _remember(session: RealtimeSession, plan: UpdatePlan, *, voice_sent: bool) -> None:
    """Merge the plan's settings into the session's base settings (a private attribute of
    the SDK's `RealtimeSession`, pinned by tests/test_live.py), so a handoff keeps them."""
    base = getattr(session, "_base_model_settings", None)
    if not isinstance(base, dict):
        LOG.warning("live update: this SDK's session keeps no base settings; a later handoff "
                    "may send the profile's old values")
        return
    for key, planned in plan.settings.items():
        if key == "voice" and not voice_sent:
            continue
        value = _keep_voice(planned, base.get("audio")) \
            if key == "audio" and not voice_sent and isinstance(planned, dict) else planned
        if value is MISSING:  # the refused voice stays out of nested audio settings too
            base.pop(key, None)
        else:
            base[key] = value


def _keep_voice(audio: dict[str, Any], before: Any) -> dict[str, Any]:
    """`audio` (the SDK's nested settings form) with the voice it had `before`."""
    kept = copy.deepcopy(audio)
    output = kept.get("output")
    old_voice = get(before, ("output", "voice")) if isinstance(before, dict) else MISSING
    if isinstance(output, dict):
        if old_voice is MISSING:
            output.pop("voice", None)
        else:
            output["voice"] = old_voice
    return kept


def _audio_produced(session: RealtimeSession) -> bool:
    """Whether the model has sent audio in this session (the SDK's audio tracker keeps a
    state per audio item until the connection closes; private, pinned by a test). When the
    tracker cannot be read, audio is assumed: a voice change is then refused, never sent
    to be rejected by the server."""
    model = session.model
    tracker = getattr(model, "_audio_state_tracker", None)
    states = getattr(tracker, "_states", None)
    if states is None:
        return True
    # audio of a response the client interrupted is skipped by the tracker; it still counts
    return bool(states) or bool(getattr(model, "_interrupted_audio_response_ids", ()))
