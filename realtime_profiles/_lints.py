"""SDK-aware lints: valid profiles the openai-agents SDK (0.24) would not send as written.

The schema says what is well-formed; these say where the SDK's own rules change the meaning:
`RealtimeSession` merges `run_config.model_settings` with `model_config.initial_model_settings`
top-level only, the agent overwrites instructions/tools/handoffs/prompt taken from the run
config, `tracing_disabled` wins over a tracing block, and `audio.*` wins over its flat twin.
Each lint is a pure function of the emitted document, so the core loader runs them without
importing the SDK. Each yields `Problem`s (unlocated: the loader locates them) with a code
`lint/...`. Each message says what the SDK will actually do; the cited lines are in
`agents/realtime/session.py` and `openai_realtime.py` of openai-agents 0.24.0.

Severity follows the claim: where the SDK *always* drops, replaces or refuses what the YAML
says (a certain loss, whatever the agent code does), the lint is an error; where it only *may*
(it depends on the agent, or on a proxy in front of the API), a warning, which `--strict` makes
an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from ._paths import MISSING, PathKey, get
from .errors import Problem, Severity

Lint = Callable[[Mapping[str, Any]], Iterable[Problem]]


def finding(path: PathKey, code: str, message: str, suggestion: str | None,
            severity: Severity) -> Problem:
    """A lint's problem; the loader gives it the mark of the write that set `path`."""
    return Problem(path, f"lint/{code}", message, None, suggestion, severity)

RUN: Final[PathKey] = ("run_config", "model_settings")
MODEL: Final[PathKey] = ("model_config", "initial_model_settings")

# RealtimeSession._get_updated_model_settings_from_agent sets these from the agent after the
# run config's settings are copied, and before initial_model_settings are applied.
AGENT_OWNED: Final = ("instructions", "tools", "handoffs", "prompt")

# OpenAIRealtimeWebSocketModel._get_session_config reads the `audio.*` form first. For
# voice and formats a null `audio.*` value falls back to the flat key (`x or flat`); for the
# others the nested key wins as soon as it is present, even as null (`"key" in audio.*`).
AUDIO_TWINS: Final[tuple[tuple[str, tuple[str, ...], bool], ...]] = (
    ("voice", ("audio", "output", "voice"), False),
    ("output_audio_format", ("audio", "output", "format"), False),
    ("input_audio_format", ("audio", "input", "format"), False),
    ("speed", ("audio", "output", "speed"), True),
    ("input_audio_transcription", ("audio", "input", "transcription"), True),
    ("input_audio_noise_reduction", ("audio", "input", "noise_reduction"), True),
    ("turn_detection", ("audio", "input", "turn_detection"), True),
)
_ABSENT: Final = object()


def _at(doc: Any, path: PathKey, missing: Any = None) -> Any:
    value = get(doc, path)
    return missing if value is MISSING else value


def _settings(doc: Mapping[str, Any]) -> Iterator[tuple[PathKey, Mapping[str, Any]]]:
    for prefix in (RUN, MODEL):
        settings = _at(doc, prefix)
        if isinstance(settings, Mapping):
            yield prefix, settings


def _effective(doc: Mapping[str, Any]) -> dict[str, tuple[PathKey, Any]]:
    """What the session starts from: each top-level setting and the section it came from
    (`{**run_config.model_settings, **model_config.initial_model_settings}`)."""
    merged: dict[str, tuple[PathKey, Any]] = {}
    for prefix, settings in _settings(doc):
        for key, value in settings.items():
            merged[key] = (prefix, value)
    return merged


def agent_owned_settings(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """Instructions, tools and handoffs in the run config never reach the model: an error.
    session.py:2122-2133 (`_get_updated_model_settings_from_agent`) starts from
    `{**run_config.model_settings, **initial_model_settings}` and then sets instructions,
    tools and handoffs from the agent unconditionally (`instructions or ""`, `tools or []`),
    for the first session.update and for every handoff and update_agent. A prompt is replaced
    only when the agent has one (2124-2125: `if agent.prompt is not None`): a warning."""
    settings = _at(doc, RUN)
    if not isinstance(settings, Mapping):
        return
    for key in AGENT_OWNED:
        if key not in settings:
            continue
        # The agent's own value is what the SDK sends on every session.update, handoffs
        # included; initial_model_settings would apply to the first one only (session.py).
        where = (f"set agent.{key}: the SDK sends the agent's own {key} on every "
                 f"session.update, after handoffs too")
        if key == "prompt":  # replaced only when the agent has a prompt of its own
            yield finding((*RUN, key), "agent-owned",
                   "is replaced by the agent's prompt whenever the RealtimeAgent sets one",
                   where, "warning")
        else:
            yield finding((*RUN, key), "agent-owned",
                   f"has no effect: the SDK replaces run_config.model_settings.{key} with the "
                   f"agent's {key} when the session starts", where, "error")


def shallow_merge_loss(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """A mapping in both sections: the session keeps the second one whole, not a merge, so
    the first one's other fields are always lost: an error. session.py:223-226 builds
    `_base_model_settings = {**run_config_settings, **initial_model_settings}` once, and every
    session.update (start, handoff, update_agent) starts from it (2122)."""
    run = _at(doc, RUN)
    model = _at(doc, MODEL)
    if not isinstance(run, Mapping) or not isinstance(model, Mapping):
        return
    for key, value in model.items():
        first = run.get(key)
        if not isinstance(value, Mapping) or not isinstance(first, Mapping):
            continue
        dropped = [k for k in first if k not in value]
        if dropped:
            yield finding((*MODEL, key), "shallow-merge",
                   f"replaces run_config.model_settings.{key} wholesale: the SDK merges the two "
                   f"settings top-level only, so {', '.join(map(str, dropped))} from the run "
                   f"config {'is' if len(dropped) == 1 else 'are'} dropped",
                   f"set the whole {key} mapping in one of the two places", "error")


def turn_detection_without_type(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """Without `type` the SDK's session.update model (a union discriminated by `type`) fails
    to build (openai_realtime.py:1833-1834, `RealtimeAudioConfigInput(**audio_input_args)`),
    so the session always dies at connect time: an error. Only the value the SDK actually
    sends counts: the merged settings, `audio.input.*` before the flat key (1788-1797)."""
    effective = _effective(doc)
    audio = effective.get("audio")
    found: tuple[PathKey, Any] | None = None
    if audio is not None and isinstance(audio[1], Mapping):
        nested = _at(audio[1], ("input", "turn_detection"), _ABSENT)
        if nested is not _ABSENT:
            found = ((*audio[0], "audio", "input", "turn_detection"), nested)
    if found is None and "turn_detection" in effective:
        prefix, value = effective["turn_detection"]
        found = ((*prefix, "turn_detection"), value)
    if found is not None and isinstance(found[1], Mapping) and "type" not in found[1]:
        yield finding(found[0], "turn-detection-type",
               "has no `type`: the SDK cannot build its session.update from it and the "
               "session fails when it connects (pydantic: turn_detection.type Field required)",
               "add type: semantic_vad or type: server_vad", "error")


def tracing_while_disabled(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """`tracing_disabled: true` makes the session set tracing to None (session.py:2147-2149,
    for every update), and the model then sends no tracing update (openai_realtime.py:708,
    `if tracing_config is not None`): any tracing block is always dropped, an error."""
    if _at(doc, ("run_config", "tracing_disabled")) is not True:
        return
    for prefix, settings in _settings(doc):
        if settings.get("tracing") is not None:
            yield finding((*prefix, "tracing"), "tracing-disabled",
                   "is ignored: run_config.tracing_disabled is true, so the SDK sends no "
                   "tracing configuration at all",
                   "remove this block, or set tracing_disabled: false to trace", "error")


def flat_and_audio_twin(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """`voice` and `audio.output.voice` (and the like) both set: only `audio.*` is sent, the
    flat key is always ignored (openai_realtime.py:1744-1821, `_get_session_config` reads the
    `audio.*` form first). Likewise `modalities` beside a non-empty `output_modalities`
    (1823-1826: `output_modalities or modalities`). Certain losses: errors."""
    effective = _effective(doc)
    if "output_modalities" in effective and "modalities" in effective \
            and effective["output_modalities"][1]:
        yield finding((*effective["modalities"][0], "modalities"), "audio-twin",
               "is ignored: output_modalities is also set and the SDK sends that one",
               "remove modalities (output_modalities is the current name)", "error")
    audio = effective.get("audio")
    if audio is None or not isinstance(audio[1], Mapping):
        return
    audio_prefix, audio_value = audio
    for flat, nested, present_wins in AUDIO_TWINS:
        if flat not in effective:
            continue
        twin = _at(audio_value, nested[1:], _ABSENT)
        if twin is _ABSENT or (twin is None and not present_wins):
            continue
        prefix = effective[flat][0]
        dotted = ".".join(map(str, (*audio_prefix, *nested)))
        shown = "null" if twin is None else "the audio.* value"
        yield finding((*prefix, flat), "audio-twin",
               f"is ignored: {dotted} is also set and the SDK sends {shown}",
               f"remove one of the two (the audio.{'.'.join(nested[1:])} form is the newer one)",
               "error")


def call_id_with_model_name(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """Attaching to an existing call (`call_id`) with a model name: the SDK always raises
    UserError in connect() ("Cannot specify both `call_id` and `model_name`",
    openai_realtime.py:610-617): an error."""
    if not _at(doc, ("model_config", "call_id")):
        return
    effective = _effective(doc)
    if effective.get("model_name", (None, None))[1]:
        prefix = effective["model_name"][0]
        yield finding((*prefix, "model_name"), "call-id-model-name",
               "cannot be combined with model_config.call_id: the SDK refuses to connect "
               "(UserError: Cannot specify both `call_id` and `model_name`)",
               "remove model_name when attaching to an existing call", "error")


def headers_without_authorization(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """With `headers` set the SDK sends exactly those and builds no Authorization header
    (openai_realtime.py:635-644), so an api_key beside them is never used: an error (the key
    is read at 623 and goes nowhere). Headers without an authorization or api-key header
    *may* still connect (a gateway that adds credentials): a warning."""
    headers = _at(doc, ("model_config", "headers"), _ABSENT)
    if headers is _ABSENT or headers is None:
        return
    names = {str(k).lower() for k in headers} if isinstance(headers, Mapping) else set()
    if _at(doc, ("model_config", "api_key")) is not None:
        yield finding(("model_config", "api_key"), "headers-authorization",
               "is not used: model_config.headers is set, and then the SDK sends only those "
               "headers, with no Authorization built from the api key",
               "add an authorization (or api-key) header yourself, or drop headers", "error")
    elif not names & {"authorization", "api-key"}:
        yield finding(("model_config", "headers"), "headers-authorization",
               "has no authorization or api-key header: with headers set the SDK sends only "
               "these, so the connection carries no credentials",
               "add authorization: Bearer ${oc.env:OPENAI_API_KEY}", "warning")


SDK_LINTS: Final[tuple[Lint, ...]] = (
    agent_owned_settings,
    shallow_merge_loss,
    turn_detection_without_type,
    tracing_while_disabled,
    flat_and_audio_twin,
    call_id_with_model_name,
    headers_without_authorization,
)
