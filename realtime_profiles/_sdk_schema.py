"""The profile document's schema, derived from the installed openai-agents SDK.

The SDK's TypedDicts are the source of truth for field names, types and docs. What they cannot
say (ranges, closed sets the SDK silently drops, fields that hold objects) comes from the small
overlay below, each entry citing where the limit comes from. Only `schema --write/--check`
imports this module; loading a profile reads the generated, packaged schema.json.
"""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Mapping
from typing import Any

from ._schema import JSONSchema, SchemaBuilder, field_names, tag_values, typeddict_members

SCHEMA_ID = "https://realtime-profiles.invalid/schema.json"

# Built-in voices. Source: openai/types/realtime/realtime_audio_config_output_param.py
# (`Voice` Literal and its docstring) in the openai package the SDK depends on.
BUILTIN_VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin",
                  "cedar"]

# Audio format strings the SDK understands. Source: agents/realtime/audio_formats.py,
# `to_realtime_audio_format`: any other string is logged at debug level and dropped, so the
# session silently keeps the server default. That is why this set is closed.
AUDIO_FORMAT_STRINGS = ["pcm16", "g711_ulaw", "g711_alaw", "audio/pcm", "pcm", "audio/pcmu",
                        "pcmu", "audio/pcma", "pcma"]

def wire_client_event_types() -> list[str]:
    """The client event types the SDK can send raw. Source: `try_convert_raw_message` in
    agents/realtime/openai_realtime.py validates against openai's `RealtimeClientEvent` union;
    any other type is logged and never sent."""
    from openai.types.realtime.realtime_client_event import RealtimeClientEvent

    union = typing.get_args(RealtimeClientEvent)[0]
    return [typing.get_args(m.model_fields["type"].annotation)[0]
            for m in typing.get_args(union)]


def wire_reasoning_efforts() -> list[str]:
    """The SDK types `effort` as an open `Literal[...] | str`, but the session.update model
    (openai/types/realtime/realtime_reasoning_effort.py) is closed: anything else fails
    pydantic validation when the session connects."""
    from openai.types.realtime.realtime_reasoning_effort import RealtimeReasoningEffort

    return list(typing.get_args(RealtimeReasoningEffort))


_REGISTRY_NOTE = (
    "In a profile this holds {what}; the objects cannot live in YAML, so the SDK binding "
    "(realtime_profiles.sdk.Registry) turns each name into the registered object."
)


def _registry_name(kind: str) -> JSONSchema:
    return {"type": "string", "minLength": 1, "x-registry": kind}


def _registry_list(kind: str) -> JSONSchema:
    return {"type": "array", "items": _registry_name(kind)}


AUDIO_FORMAT: JSONSchema = {
    "description": (
        "The audio format for realtime audio streams: a legacy name (pcm16, g711_ulaw, "
        "g711_alaw) or a newer MIME-style name or object (audio/pcm at 24 kHz, audio/pcmu, "
        "audio/pcma)."
    ),
    # The object forms are added by `build_document_schema`, one per member of the wire union
    # (openai/types/realtime/realtime_audio_formats_param.py: AudioPCM, whose rate is
    # Literal[24000] - "Only a 24kHz sample rate is supported." - AudioPCMU, AudioPCMA).
    "anyOf": [{"type": "string", "enum": AUDIO_FORMAT_STRINGS}],
}

VOICE: JSONSchema = {
    "anyOf": [
        {"type": "string", "minLength": 1, "x-known-values": BUILTIN_VOICES},
        {
            "type": "object",
            "description": "A custom voice, e.g. {id: voice_1234}.",
            "properties": {"id": {"type": "string", "minLength": 1}},
            "required": ["id"],
            "additionalProperties": False,
        },
    ]
}

# A single output modality. Source: openai/types/realtime/realtime_session_create_request_param.py
# `output_modalities`: "It is not possible to request both text and audio at the same time."
# An empty list is falsy: the SDK's `output_modalities or modalities or default` then sends
# something else without a word (openai_realtime.py, _get_session_config).
ONE_MODALITY: JSONSchema = {
    "minItems": 1, "maxItems": 1, "uniqueItems": True,
    "x-errors": {"maxItems": {"message": "text and audio cannot be requested together",
                              "suggestion": "choose one: [audio] (audio plus transcript) or "
                                            "[text]"}},
}

# `input_audio_transcription: null` is the only way to switch off the transcription the SDK
# otherwise turns on by default: it checks `"key" in settings` and sends the null, which the
# API documents as "can be set to null to turn off" (openai_realtime.py, _get_session_config;
# openai/types/realtime/realtime_audio_config_input_param.py, transcription).
TRANSCRIPTION_OR_NULL: JSONSchema = {
    "anyOf": [{"$ref": "#/$defs/RealtimeInputAudioTranscriptionConfig"}, {"type": "null"}]
}

# Fields whose generated schema is replaced.
FIELD_OVERRIDES: dict[str, JSONSchema] = {
    "RealtimeSessionModelSettings.voice": VOICE,
    "RealtimeAudioOutputConfig.voice": VOICE,
    "RealtimeSessionModelSettings.input_audio_format": {"$ref": "#/$defs/RealtimeAudioFormat"},
    "RealtimeSessionModelSettings.output_audio_format": {"$ref": "#/$defs/RealtimeAudioFormat"},
    "RealtimeAudioInputConfig.format": {"$ref": "#/$defs/RealtimeAudioFormat"},
    "RealtimeAudioOutputConfig.format": {"$ref": "#/$defs/RealtimeAudioFormat"},
    # tool_choice and Prompt.variables are replaced in `build_document_schema` by the wire
    # unions they are sent as (both pass through the SDK unchanged): placeholders here.
    "RealtimeSessionModelSettings.tool_choice": {},
    "Prompt.variables": {},
    "RealtimeSessionModelSettings.input_audio_transcription": TRANSCRIPTION_OR_NULL,
    "RealtimeAudioInputConfig.transcription": TRANSCRIPTION_OR_NULL,
    # The SDK skips an image part whose detail is not one of these (openai_realtime.py,
    # conversion of RealtimeUserInputMessage content), so the open enum is closed here.
    "RealtimeUserInputImage.detail": {"type": "string", "enum": ["auto", "low", "high"]},
    "RealtimeSessionModelSettings.tools": _registry_list("tool"),
    "RealtimeSessionModelSettings.handoffs": _registry_list("handoff"),
    "RealtimeRunConfig.output_guardrails": _registry_list("output_guardrail"),
    "RealtimeRunConfig.tool_error_formatter": _registry_name("tool_error_formatter"),
    "RealtimeModelConfig.playback_tracker": _registry_name("playback_tracker"),
    "RealtimeModelConfig.api_key": {
        "anyOf": [
            {"type": "string", "minLength": 1, "x-secret": True},
            {
                "type": "object",
                "properties": {"callable": _registry_name("api_key")},
                "required": ["callable"],
                "additionalProperties": False,
            },
        ]
    },
    # Header values often carry credentials (Azure's `api-key`): shown as *** like api_key.
    "RealtimeModelConfig.headers": {
        "type": "object",
        "additionalProperties": {"type": "string", "x-secret": True},
    },
}

FIELD_NOTES: dict[str, str] = {
    "RealtimeSessionModelSettings.tools": _REGISTRY_NOTE.format(what="tool names"),
    "RealtimeSessionModelSettings.handoffs": _REGISTRY_NOTE.format(what="handoff names"),
    "RealtimeRunConfig.output_guardrails": _REGISTRY_NOTE.format(what="guardrail names"),
    "RealtimeRunConfig.tool_error_formatter": _REGISTRY_NOTE.format(what="a formatter name"),
    "RealtimeModelConfig.playback_tracker": _REGISTRY_NOTE.format(what="a tracker name"),
    "RealtimeModelConfig.api_key": (
        "A secret: write it as ${oc.env:NAME} or ${file:path}, never as a literal in a tracked "
        "file. A callable key is written {callable: name} and bound through the registry."
    ),
    "RealtimeSessionModelSettings.tool_choice": (
        "As the Realtime API takes it: auto, required or none, or {type: function, name: ...}"
        " to make the model call one tool (the SDK sends the value unchanged, so any other "
        "string would be refused by the API). MCPToolChoice objects are set in code."
    ),
}

# Limits the TypedDicts cannot express.
FIELD_CONSTRAINTS: dict[str, JSONSchema] = {
    # "Activation threshold for VAD (0.0 to 1.0)": openai/types/realtime/
    # realtime_audio_input_turn_detection_param.py, ServerVad.threshold.
    "RealtimeTurnDetectionConfig.threshold": {"minimum": 0, "maximum": 1},
    # Durations are milliseconds; a negative one is meaningless (same file, prefix_padding_ms
    # and silence_duration_ms are `int` milliseconds).
    "RealtimeTurnDetectionConfig.prefix_padding_ms": {"minimum": 0},
    "RealtimeTurnDetectionConfig.silence_duration_ms": {"minimum": 0},
    # OpenAI Realtime API reference, session.audio.input.turn_detection.idle_timeout_ms:
    # minimum 5000, maximum 30000.
    "RealtimeTurnDetectionConfig.idle_timeout_ms": {"minimum": 5000, "maximum": 30000},
    # "0.25 is the minimum speed. 1.5 is the maximum speed.": openai/types/realtime/
    # realtime_audio_config_output_param.py, speed.
    "RealtimeSessionModelSettings.speed": {"minimum": 0.25, "maximum": 1.5},
    "RealtimeAudioOutputConfig.speed": {"minimum": 0.25, "maximum": 1.5},
    # "an integer between 1 and 4096 ... or 'inf'": the SDK's own docstring of this field.
    "RealtimeSessionModelSettings.max_output_tokens": {"minimum": 1, "maximum": 4096},
    "RealtimeSessionModelSettings.output_modalities": ONE_MODALITY,
    "RealtimeSessionModelSettings.modalities": ONE_MODALITY,
    # Characters accumulated before guardrails run; the SDK treats 0 as 1 (session.py,
    # `threshold if threshold > 0 else 1`), a negative count is meaningless.
    "RealtimeGuardrailsSettings.debounce_text_length": {"minimum": 0},
    # The SDK skips an image part with an empty image_url (openai_realtime.py).
    "RealtimeUserInputImage.image_url": {"minLength": 1},
    # The SDK opens a websocket at this URL (agents/realtime/openai_realtime.py, connect()).
    "RealtimeModelConfig.url": {
        "pattern": "^wss?://",
        "x-errors": {"pattern": {"suggestion": "the SDK opens a websocket: use wss://..."}},
    },
}

# TypedDicts that take keys beyond their declared ones. RealtimeTurnDetectionConfig says it
# "allows extra vendor keys", but the OpenAI wire types do not: it is closed per detector type
# (`_discriminated` below).
OPEN_CLASSES: frozenset[str] = frozenset()

# -- the `agent:` section: RealtimeAgent's dataclass fields, and realtime_handoff()'s options ----
# Nothing in the types says which fields are data: each one is decided here, with the reason.
# Data: name, handoff_description, instructions (a string), prompt, mcp_config's two flags.
# Names bound by the registry: tools, mcp_servers, output_guardrails, a registered Handoff.
# Names of other profiles' agents: handoffs (`x-agent`), built from those profiles.
# Code, refused with a pointer to where it goes: hooks, mcp_config.failure_error_function,
# realtime_handoff's on_handoff and input_type.

def _code_only(message: str, suggestion: str) -> JSONSchema:
    """A field that holds code: any value is refused, saying where the code goes instead."""
    return {"not": {}, "x-code": True,
            "x-errors": {"not": {"message": message, "suggestion": suggestion}}}


def _agent_name() -> JSONSchema:
    """The name of another profile's agent (a file or folder under agents/)."""
    return {"type": "string", "minLength": 1, "x-agent": True}


_REGISTERED_HANDOFF = (
    "register it with Registry().handoff(...) and list it as {handoff: <its tool name>}"
)

AGENT_OVERRIDES: dict[str, JSONSchema] = {
    # A function is code; a string is the whole system prompt.
    "RealtimeAgent.instructions": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "RealtimeAgent.tools": _registry_list("tool"),
    "RealtimeAgent.mcp_servers": _registry_list("mcp_server"),
    "RealtimeAgent.output_guardrails": _registry_list("output_guardrail"),
    # Another profile's agent by its profile name, or one with realtime_handoff()'s options.
    "RealtimeAgent.handoffs": {
        "type": "array",
        "items": {"anyOf": [_agent_name(), {"$ref": "#/$defs/RealtimeHandoff"}]},
    },
    # Nothing in agents/realtime reads `agent.hooks` in 0.24 (the session never calls them).
    "RealtimeAgent.hooks": _code_only(
        "is code, not data: agent hooks are objects (and the realtime session does not call "
        "them in openai-agents 0.24)",
        "set hooks on the agent in Python: profile.realtime_agent(registry).hooks = ..."),
    "MCPConfig.failure_error_function": _code_only(
        "is code, not data: a function that formats MCP tool failures",
        "set it in Python on the agent's mcp_config"),
    "RealtimeHandoff.agent": _agent_name(),
    "RealtimeHandoff.on_handoff": _code_only(
        "is code, not data: a callback run when the handoff happens", _REGISTERED_HANDOFF),
    "RealtimeHandoff.input_type": _code_only(
        "is code, not data: a Python type the handoff input is validated against",
        _REGISTERED_HANDOFF),
    # A callable is code; true/false is data.
    "RealtimeHandoff.is_enabled": {"type": "boolean"},
}

AGENT_NOTES: dict[str, str] = {
    "RealtimeAgent.name": (
        "Defaults to the profile's agent name. A handoff to this agent is the tool "
        "transfer_to_<name>, lower-cased, every character but letters, digits and _ "
        "replaced by _ (the SDK's Handoff.default_tool_name)."
    ),
    "RealtimeAgent.instructions": (
        "In a profile: a string (${file:...} for a prompt file). Instructions computed by a "
        "function are code: give the built agent its function in Python."
    ),
    "RealtimeAgent.tools": _REGISTRY_NOTE.format(what="tool names"),
    "RealtimeAgent.mcp_servers": _REGISTRY_NOTE.format(
        what="names of MCP servers (connected by your application)"),
    "RealtimeAgent.output_guardrails": _REGISTRY_NOTE.format(what="guardrail names"),
    "RealtimeAgent.handoffs": (
        "In a profile: the name of another profile's agent (its file under agents/, loaded "
        "in the same environment), or a mapping with realtime_handoff()'s options, or "
        "{handoff: name} for a Handoff registered in the realtime_profiles.sdk.Registry."
    ),
    "RealtimeHandoff.agent": "In a profile: the name of another profile's agent.",
    "RealtimeHandoff.is_enabled": "A callable is code: register a Handoff built in Python.",
}

AGENT_CONSTRAINTS: dict[str, JSONSchema] = {
    # An empty name makes the handoff tool `transfer_to_`.
    "RealtimeAgent.name": {"minLength": 1},
}

# Our own key in a handoff mapping (not a realtime_handoff() parameter): `x-not-in-sdk`
# keeps it out of the drift comparison with the SDK's signature.
REGISTERED_HANDOFF: JSONSchema = {
    "description": (
        "The tool name of a Handoff registered in the realtime_profiles.sdk.Registry (built "
        "in Python: on_handoff callbacks, input types, callable is_enabled). Instead of agent."
    ),
    **_registry_name("handoff"),
    "x-not-in-sdk": True,
}

HANDOFF_DESCRIPTION = (
    "A handoff with realtime_handoff()'s options: `agent` (another profile's agent) or "
    "`handoff` (a registered Handoff), exactly one of the two."
)

def _opaque(tp: Any) -> JSONSchema | None:
    """Callables and SDK classes have no JSON form; the overlay replaces every such field.

    Reaching here means the SDK added an object-valued field we have not mapped yet: refuse,
    so regeneration fails loudly instead of emitting a schema that accepts anything.
    """
    return None


# -- discriminated unions -------------------------------------------------------------------
#
# Where the wire takes one of several shapes picked by `type` (turn detection: server_vad or
# semantic_vad), the SDK's TypedDict flattens them into one mapping with every field, and the
# SDK sends whatever it is given: `eagerness` inside a server_vad block reaches the API. Each
# such union is closed per member here, with each member's fields read from the openai
# package's own wire types, so `schema --check` notices when they change.

def _wording(what: str, fix: str) -> dict[str, Any]:
    """The `x-errors` text for a field that exists in the union but not in the chosen member.
    `{key}`, `{allowed}`, `{dotted}`, `{value[type]}` and `{at[type]}` (where `type` was set)
    are filled in by the validator."""
    return {
        "message": f"is not a field of {{value[type]}} {what} (type {{value[type]}} is set at "
                   "{at[type]}; {value[type]} takes {allowed})",
        "suggestion": fix,
    }


TURN_DETECTION_FIX = (
    "remove it: delete the line that sets it or, where it is inherited, write {key}: !delete "
    "beside type: {value[type]} (~{dotted}.{key} on the command line); or set the whole "
    "{dotted} in one value: a ${{vars...}} preset reference, or "
    "++{dotted}={{type: {value[type]}, ...}}")
AUDIO_FORMAT_FIX = ("remove {key}: the SDK rebuilds the format from its type (and rate, for "
                    "audio/pcm) and drops anything else")
CONTENT_FIX = "remove {key}, or put it in a part of its own type: the SDK drops it"
WIRE_FIX = "remove {key}: the API takes only the fields of the chosen type"
STRING_OPTIONS_FIX = {
    "tool choice": "the API takes no other string: to make the model call one tool, write "
                   "{type: function, name: <tool name>}",
}


def wire_turn_detection() -> Any:
    """openai/types/realtime/realtime_audio_input_turn_detection_param.py: ServerVad |
    SemanticVad, the session's `audio.input.turn_detection`."""
    from openai.types.realtime import realtime_audio_input_turn_detection_param as wire

    return wire.RealtimeAudioInputTurnDetectionParam


def wire_audio_formats() -> Any:
    """openai/types/realtime/realtime_audio_formats_param.py: AudioPCM | AudioPCMU | AudioPCMA."""
    from openai.types.realtime import realtime_audio_formats_param as wire

    return wire.RealtimeAudioFormatsParam


def wire_tool_choice() -> Any:
    """openai/types/realtime/realtime_tool_choice_config_param.py: "none" | "auto" |
    "required" | {type: function, name} | {type: mcp, server_label, name}. The SDK assigns
    tool_choice to the session unvalidated (openai_realtime.py, `_get_session_config`)."""
    from openai.types.realtime import realtime_tool_choice_config_param as wire

    return wire.RealtimeToolChoiceConfigParam


def wire_prompt_variables() -> Any:
    """openai/types/responses/response_prompt_param.py `Variables`: a string or an
    input_text, input_image or input_file object; the SDK passes variables through as they
    are (agents/realtime/openai_realtime.py, ResponsePrompt)."""
    from openai.types.responses import response_prompt_param as wire

    return wire.Variables


def _object_branch(builder: SchemaBuilder, cls: type, fields: dict[str, JSONSchema],
                   wording: dict[str, Any], keys: list[str]) -> JSONSchema:
    """`$defs[cls]`: the member `cls` of a union, closed to its own fields, with the wording
    for a field of another member (`keys`: every field of the union)."""
    schema = builder.defs[cls.__name__]
    schema["properties"] = {name: fields.get(name, schema["properties"].get(name, {}))
                            for name in field_names(cls)}
    schema["additionalProperties"] = False
    schema["x-errors"] = {"additionalProperties": {**wording, "keys": keys}}
    return {"$ref": f"#/$defs/{cls.__name__}"}


def _discriminated(builder: SchemaBuilder, union: Any, wording: dict[str, Any],
                   order: list[str] | None = None) -> list[JSONSchema]:
    """`$ref`s to a union's TypedDict members as closed `$defs` (built from the wire types),
    ordered like `order` (the discriminator values as the SDK lists them)."""
    members = typeddict_members(union)
    by_tag = {tag_values(m)[0]: m for m in members}
    if order is not None and set(order) != set(by_tag):
        raise RuntimeError(f"the SDK's types {order} and the wire's {sorted(by_tag)} differ")
    keys = sorted({f for m in members for f in field_names(m)})
    refs = []
    for tag in order or list(by_tag):
        builder.schema_for(by_tag[tag])
        refs.append(_object_branch(builder, by_tag[tag], {}, wording, keys))
    return refs


def _close_turn_detection(builder: SchemaBuilder) -> None:
    """RealtimeTurnDetectionConfig as an `anyOf` of the wire's detectors: each member takes
    exactly the fields its openai TypedDict declares, each checked by the SDK's schema for
    that field (with the overlay's limits), and is closed. A block without `type` may hold
    any SDK field: the SDK never sends one (a lint says so where it would). Raw
    `session.update` events reach the same member definitions (`_close_client_events`)."""
    base = builder.defs["RealtimeTurnDetectionConfig"]
    props = base["properties"]
    fields = {name: {k: v for k, v in schema.items() if k != "enum" or name != "type"}
              for name, schema in props.items()}
    order = list(props["type"]["enum"])
    members = typeddict_members(wire_turn_detection())
    by_tag = {tag_values(m)[0]: m for m in members}
    if set(order) != set(by_tag):
        raise RuntimeError(f"turn detection types: SDK {order}, wire {sorted(by_tag)}")
    unknown = sorted({f for m in members for f in field_names(m)} - set(props))
    if unknown:
        raise RuntimeError(f"wire turn detection fields missing from the SDK's "
                           f"RealtimeTurnDetectionConfig: {unknown}")
    wording = _wording("turn detection", TURN_DETECTION_FIX)
    branches = []
    for tag in order:
        cls = by_tag[tag]
        builder.classes[cls.__name__] = cls
        builder.defs[cls.__name__] = {
            "type": "object",
            "description": inspect.cleandoc(cls.__doc__ or tag),
            "properties": {},
            "required": ["type"],
        }
        own = {n: {**fields[n], "const": tag} if n == "type" else fields[n]
               for n in field_names(cls)}
        branches.append(_object_branch(builder, cls, own, wording, list(props)))
    untyped = {"properties": {n: fields[n] for n in props if n != "type"},
               "additionalProperties": False}
    # The mapping checks every SDK field too, so a value is judged even when its field is
    # refused for the detector (`threshold: 1.5` under semantic_vad: both are reported); the
    # member's identical judgement of the same value is the same problem, reported once.
    base["properties"] = fields
    base.pop("additionalProperties", None)
    base["description"] = (
        f"{base.get('description', '')} On the wire each detector takes its own fields only "
        "(openai ServerVad, SemanticVad): a field of the other one is an error.").strip()
    base["anyOf"] = [*branches, untyped]


def wire_client_events() -> Any:
    """openai/types/realtime/realtime_client_event_param.py: the eleven client events. The
    SDK merges a raw message's `other_data` into `{type}` and validates it against this union
    (`try_convert_raw_message`, openai_realtime.py): an event that does not fit is dropped with
    only a log line, and a field of no event is sent as it is."""
    from openai.types.realtime import realtime_client_event_param as wire

    return wire.RealtimeClientEventParam


def _close_client_events(builder: SchemaBuilder) -> None:
    """RealtimeClientMessage (`{type, other_data}`, an open mapping in the SDK) closed per event
    type: `other_data` takes the fields of the wire event of that `type`, checked by the wire
    types (a session.update's turn detection by the same detector definitions as profiles')."""
    message = builder.defs["RealtimeClientMessage"]
    order = list(message["properties"]["type"]["enum"])
    members = typeddict_members(wire_client_events())
    by_tag = {tag_values(m)[0]: m for m in members}
    if set(order) != set(by_tag):
        raise RuntimeError(f"client events: SDK {order}, wire {sorted(by_tag)}")
    branches = []
    for tag in order:
        ref = builder.schema_for(by_tag[tag])["$ref"].rsplit("/", 1)[-1]
        event = builder.defs.pop(ref)  # inlined below, without its `type`
        builder.classes.pop(ref, None)
        body: JSONSchema = {
            "type": "object",
            "description": f"The body of a {tag} event: {event.get('description', '')}".strip(),
            "properties": {k: v for k, v in event["properties"].items() if k != "type"},
            "additionalProperties": False,
        }
        required = [k for k in event.get("required", ()) if k != "type"]
        branch: JSONSchema = {"properties": {"type": {"const": tag}, "other_data": body}}
        if required:
            body["required"] = required
            branch["required"] = ["other_data"]
        branches.append(branch)
    message["anyOf"] = branches


def _close_audio_formats(builder: SchemaBuilder) -> None:
    refs = _discriminated(builder, wire_audio_formats(), _wording("audio format",
                                                                  AUDIO_FORMAT_FIX))
    for ref in refs:  # an object form needs its type: without one the SDK drops the format
        builder.defs[ref["$ref"].rsplit("/", 1)[-1]]["required"] = ["type"]
    builder.defs["RealtimeAudioFormat"]["anyOf"].extend(refs)


def _close_wire_union(builder: SchemaBuilder, owner: str, field: str, union: Any, *,
                      what: str, extra: list[JSONSchema]) -> None:
    """Replace `owner.field` with the wire union (its string options as an enum, its objects
    closed per type), keeping the field's description."""
    refs = _discriminated(builder, union, _wording(what, WIRE_FIX))
    strings = [{"type": "string", "enum": list(v)} for v in _literal_members(union)]
    plain = [{"type": "string"}] if _has_str(union) else []
    target = builder.defs[owner]["properties"]
    description = target[field].get("description")
    schema: JSONSchema = {"anyOf": [*plain, *strings, *refs, *extra]}
    if strings and not plain:
        schema["x-errors"] = {"anyOf": {"suggestion": STRING_OPTIONS_FIX[what]}}
    target[field] = {"description": description, **schema} if description else schema


def _literal_members(union: Any) -> list[tuple[Any, ...]]:
    import types as pytypes

    members = typing.get_args(union) if typing.get_origin(union) in (
        typing.Union, pytypes.UnionType) else (union,)
    return [typing.get_args(m) for m in members if typing.get_origin(m) is typing.Literal]


def _has_str(union: Any) -> bool:
    return str in typing.get_args(union)


def _close_content_parts(builder: SchemaBuilder) -> None:
    """A user message's parts (the SDK's own union: RealtimeUserInputText | ...Image): the
    SDK rebuilds each part from its type's fields and drops the rest."""
    from agents.realtime import config

    union = typing.get_type_hints(config.RealtimeUserInputMessage)["content"]
    members = typeddict_members(typing.get_args(union)[0])
    keys = sorted({f for m in members for f in field_names(m)})
    wording = _wording("message part", CONTENT_FIX)
    for member in members:
        builder.defs[member.__name__]["x-errors"] = {
            "additionalProperties": {**wording, "keys": keys}}


def sdk_types() -> dict[str, Any]:
    """The SDK's TypedDicts and aliases this schema covers, by name."""
    from agents.agent import MCPConfig
    from agents.prompts import Prompt
    from agents.realtime import RealtimeAgent, config, model

    return {
        "RealtimeRunConfig": config.RealtimeRunConfig,
        "RealtimeSessionModelSettings": config.RealtimeSessionModelSettings,
        "RealtimeInputAudioTranscriptionConfig": config.RealtimeInputAudioTranscriptionConfig,
        "RealtimeInputAudioNoiseReductionConfig": config.RealtimeInputAudioNoiseReductionConfig,
        "RealtimeTurnDetectionConfig": config.RealtimeTurnDetectionConfig,
        "RealtimeAudioConfig": config.RealtimeAudioConfig,
        "RealtimeAudioInputConfig": config.RealtimeAudioInputConfig,
        "RealtimeAudioOutputConfig": config.RealtimeAudioOutputConfig,
        "RealtimeReasoningConfig": config.RealtimeReasoningConfig,
        "RealtimeGuardrailsSettings": config.RealtimeGuardrailsSettings,
        "RealtimeToolExecutionConfig": config.RealtimeToolExecutionConfig,
        "RealtimeModelTracingConfig": config.RealtimeModelTracingConfig,
        "RealtimeModelConfig": model.RealtimeModelConfig,
        "RealtimeUserInputText": config.RealtimeUserInputText,
        "RealtimeUserInputImage": config.RealtimeUserInputImage,
        "RealtimeUserInputMessage": config.RealtimeUserInputMessage,
        "RealtimeClientMessage": config.RealtimeClientMessage,
        "Prompt": Prompt,
        "MCPConfig": MCPConfig,
        "RealtimeAgent": RealtimeAgent,
    }


def sdk_localns() -> dict[str, Any]:
    """Names the SDK's modules import only under TYPE_CHECKING, which `get_type_hints` needs
    to resolve RealtimeAgent's annotations (agents/agent.py imports MCPServer that way)."""
    from agents.mcp import MCPServer

    return {"MCPServer": MCPServer}


def build_document_schema() -> JSONSchema:
    """Generate the schema of the emitted profile document from the installed SDK."""
    return _build()[0]


def _build() -> tuple[JSONSchema, SchemaBuilder]:
    """The document schema and the builder that made it (which knows each `$defs` object's
    TypedDict: the SDK's, or the openai wire type a union member comes from)."""
    # Over 60 lines because most of it is the document's own literal (its title, description
    # and four sections), kept whole so the generated file reads like this function.
    from agents.realtime import config, realtime_handoff

    builder = SchemaBuilder(
        aliases={"RealtimeModelName": config.RealtimeModelName},
        field_overrides={**FIELD_OVERRIDES, **AGENT_OVERRIDES},
        field_constraints={**FIELD_CONSTRAINTS, **AGENT_CONSTRAINTS},
        field_notes={**FIELD_NOTES, **AGENT_NOTES},
        opaque=_opaque,
        open_classes=OPEN_CLASSES,
        localns=sdk_localns(),
    )
    builder.defs["RealtimeAudioFormat"] = copy.deepcopy(AUDIO_FORMAT)
    _close_audio_formats(builder)
    roots = sdk_types()
    # The transcription config is only reached through an overlay ($ref or null): name it.
    for name in ("RealtimeRunConfig", "RealtimeModelConfig", "RealtimeUserInputMessage",
                 "RealtimeClientMessage", "RealtimeInputAudioTranscriptionConfig",
                 "RealtimeAgent"):
        builder.schema_for(roots[name])
    builder.function_schema("RealtimeHandoff", realtime_handoff, HANDOFF_DESCRIPTION)
    handoff = builder.defs["RealtimeHandoff"]
    handoff.pop("required", None)  # `agent` or `handoff`: checked with the graph, located
    handoff["properties"]["handoff"] = copy.deepcopy(REGISTERED_HANDOFF)
    # Closed where the wire types are closed (see the two functions above); generated from
    # the installed openai package, so `schema --check` notices when they change.
    builder.defs["RealtimeReasoningConfig"]["properties"]["effort"] = {
        "description": builder.defs["RealtimeReasoningConfig"]["properties"]["effort"].get(
            "description", ""),
        "type": "string", "enum": wire_reasoning_efforts()}
    builder.defs["RealtimeClientMessage"]["properties"]["type"]["enum"] = \
        wire_client_event_types()
    # An image part without `type` or `image_url` is skipped by the SDK (openai_realtime.py),
    # though the TypedDict is total=False.
    builder.defs["RealtimeUserInputImage"]["required"] = ["type", "image_url"]
    _close_turn_detection(builder)
    _close_content_parts(builder)
    _close_client_events(builder)
    _close_wire_union(builder, "RealtimeSessionModelSettings", "tool_choice",
                      wire_tool_choice(), what="tool choice", extra=[{"type": "null"}])
    _close_wire_union(builder, "Prompt", "variables", wire_prompt_variables(),
                      what="prompt variable", extra=[])
    variables = builder.defs["Prompt"]["properties"]["variables"]
    builder.defs["Prompt"]["properties"]["variables"] = {
        **({"description": variables.pop("description")} if "description" in variables else {}),
        "type": "object", "additionalProperties": variables}
    unused = builder.unused_overlays()
    if unused:
        raise RuntimeError(f"overlay entries match no SDK field: {sorted(unused)}")
    model_name = builder.defs["RealtimeModelName"]
    model_name["description"] = "The name of a realtime model (open: any string is sent)."
    document: JSONSchema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "realtime-profiles document",
        # What the schema came from (the SDK line the test extra pins exactly; the openai
        # package it depends on floats, so its version is not written here): a bundle's
        # manifest records it.
        "x-generated-from": {"openai-agents": sdk_version()},
        "description": (
            "A composed realtime profile as emitted by realtime-profiles: the dicts given to "
            "RealtimeRunner(config=...) and runner.run(model_config=...), plus the messages "
            "sent after connecting. Generated from the openai-agents SDK's TypedDicts by "
            "`realtime-profiles schema --write`; do not edit by hand."
        ),
        "type": "object",
        "properties": {
            "agent": {
                "description": (
                    "The session's RealtimeAgent as data (realtime_profiles.sdk builds it: "
                    "profile.realtime_agent(registry)); its handoffs name other profiles' "
                    "agents, so what the profile says about an agent survives every handoff."
                ),
                "$ref": "#/$defs/RealtimeAgent",
            },
            "run_config": {"$ref": "#/$defs/RealtimeRunConfig"},
            "model_config": {"$ref": "#/$defs/RealtimeModelConfig"},
            "start_messages": {
                "description": "Messages agent code sends once the session is open.",
                "type": "array",
                "items": {"$ref": "#/$defs/RealtimeUserInputMessage"},
            },
            "client_messages": {
                "description": "Raw client events agent code sends once the session is open.",
                "type": "array",
                "items": {"$ref": "#/$defs/RealtimeClientMessage"},
            },
        },
        "additionalProperties": False,
        "$defs": dict(sorted(builder.defs.items())),
    }
    return document, builder


def build_layer_schema(document: Mapping[str, Any]) -> JSONSchema:
    """The editor variant for one layer file: nothing required, `${...}` anywhere, `vars` free.

    yaml-language-server then completes and checks keys while a layer is edited, without
    flagging the fields that other layers provide or that interpolation fills in.
    """
    layer: JSONSchema = json.loads(json.dumps(document))  # a tree: no shared sub-dicts
    defs = layer["$defs"]
    for schema in defs.values():
        _relax(schema)
    for name, prop in layer["properties"].items():
        layer["properties"][name] = _relaxed_value(prop)
    layer["properties"]["vars"] = {
        "description": "Free-form values for ${vars.*} interpolation; stripped before emission.",
        "type": "object",
    }
    layer["properties"].update(copy.deepcopy(CONTROL_SECTIONS))
    shorthand = {"type": "string", "description": "Shorthand for one input_text message."}
    start_messages = layer["properties"]["start_messages"]["anyOf"][0]
    start_messages["items"]["anyOf"].append(shorthand)
    for section in ("start_messages", "client_messages"):
        layer["properties"][f"{section}+"] = copy.deepcopy(layer["properties"][section])
    layer["$id"] = SCHEMA_ID.replace("schema.json", "layer-schema.json")
    layer["title"] = "realtime-profiles layer file"
    layer["description"] = (
        "One layer of a realtime profile (base, env, agent, agent@env or local). Every key is "
        "optional, any value may be a ${...} interpolation, `key+:` appends to an inherited "
        "list and `!delete` removes an inherited key."
    )
    return layer


_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}

# The loader's own sections (never emitted): facet declarations, the per-call contract,
# fingerprint stamping. Checked by the loader itself; described here for editors.
CONTROL_SECTIONS: JSONSchema = {
    "facets": {
        "description": "Facet groups (folders under facets/): the default option, the options "
                       "this agent allows, and weights for a traffic split bucketed per call.",
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "default": _NAME,
                "allowed": {"type": "array", "items": _NAME, "minItems": 1},
                "weights": {"type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 0}},
            },
            "additionalProperties": False,
        },
    },
    "overridable": {
        "description": "What a call may change (load(..., call_overrides=...)): dotted paths, "
                       "each with an optional constraint narrower than the schema.",
        "anyOf": [
            {"type": "object", "additionalProperties": {"anyOf": [
                {"type": "null"},
                {"type": "object", "properties": {
                    "enum": {"type": "array", "minItems": 1},
                    "minimum": {"type": "number"}, "maximum": {"type": "number"},
                    "pattern": {"type": "string"}}, "additionalProperties": False}]}},
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        ],
    },
    "fingerprint": {
        "description": "stamp: write profile_fingerprint and profile_facets into the tracing "
                       "metadata (default true).",
        "type": "object",
        "properties": {"stamp": {"type": "boolean"}},
        "additionalProperties": False,
    },
}


def _interpolation() -> JSONSchema:
    return {"type": "string", "pattern": r"\$\{"}


def _relax(schema: JSONSchema) -> None:
    """In place: drop `required`, accept `${...}` in every value position, allow `key+` keys."""
    schema.pop("required", None)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            _relax(branch)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            properties[name] = _relaxed_value(sub)
        schema["patternProperties"] = {r"\+$": {"type": "array"}}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict) and schema[key]:
            schema[key] = _relaxed_value(schema[key])


def _relaxed_value(schema: JSONSchema) -> JSONSchema:
    _relax(schema)
    description = schema.pop("description", None)
    wrapped: JSONSchema = {"anyOf": [schema, _interpolation()]}
    if description:
        wrapped = {"description": description, **wrapped}
    return wrapped


def sdk_field_sets() -> dict[str, list[str]]:
    """Each covered type's field names, straight from the installed packages: the SDK's
    TypedDicts and dataclasses, `realtime_handoff`'s parameters (as `RealtimeHandoff`), and
    the openai wire types the discriminated unions are closed by."""
    import dataclasses
    import inspect

    from agents.realtime import realtime_handoff

    sets: dict[str, list[str]] = {}
    for name, cls in _build()[1].classes.items():
        if dataclasses.is_dataclass(cls):
            sets[name] = [f.name for f in dataclasses.fields(cls)]
        else:
            sets[name] = field_names(cls)
    sets["RealtimeHandoff"] = list(inspect.signature(realtime_handoff).parameters)
    return sets


def schema_field_sets(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each `$defs` object's property names as recorded in a schema file (our own additions,
    marked `x-not-in-sdk`, left out)."""
    return {
        name: [k for k, v in schema.get("properties", {}).items()
               if not (isinstance(v, dict) and v.get("x-not-in-sdk"))]
        for name, schema in document.get("$defs", {}).items()
        if schema.get("type") == "object" and "properties" in schema
    }


def field_drift(sdk: Mapping[str, list[str]], recorded: Mapping[str, list[str]]) -> list[str]:
    """Human lines naming each type and field added or removed between SDK and schema."""
    lines: list[str] = []
    for name in sorted(set(sdk) | set(recorded)):
        if name not in recorded:
            lines.append(f"+ {name} (new type in the SDK)")
            continue
        if name not in sdk:
            lines.append(f"- {name} (no longer in the SDK)")
            continue
        lines.extend(f"+ {name}.{f}" for f in sdk[name] if f not in recorded[name])
        lines.extend(f"- {name}.{f}" for f in recorded[name] if f not in sdk[name])
    return lines


def sdk_version() -> str:
    """The installed SDK's version, for messages."""
    from importlib.metadata import version

    return version("openai-agents")


__all__ = [
    "build_document_schema",
    "build_layer_schema",
    "field_drift",
    "schema_field_sets",
    "sdk_field_sets",
]
