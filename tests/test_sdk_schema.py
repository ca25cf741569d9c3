"""schema.json against the SDK: every seed field of the reference page with its documented
type, reproducible generation, drift detection, and the SDK-specific overlay."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from realtime_profiles._sdk_schema import (
    build_document_schema,
    field_drift,
    schema_field_sets,
    sdk_field_sets,
)
from realtime_profiles._validate import packaged_schema
from realtime_profiles.cli import main

REPO = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).parent / "fixtures" / "realtime-config-reference.txt"


def spec_fields() -> list[tuple[str, str, str]]:
    """(class, field, annotation) for every field the reference page documents."""
    found: list[tuple[str, str, str]] = []
    current = None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"class (\w+)\(TypedDict\):", line)
        if match:
            current = match.group(1)
            continue
        if current:
            field = re.match(r"    (\w+): (.+?)(\s+#.*)?$", line)
            if field:
                found.append((current, field.group(1), field.group(2)))
            elif line and not line.startswith((" ", '"')):
                current = None
    return found


SEED = spec_fields()

# Where each documented type sits in the profile document, and a minimal valid home for it.
HOMES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "RealtimeRunConfig": (("run_config",), {}),
    "RealtimeSessionModelSettings": (("run_config", "model_settings"), {}),
    "RealtimeInputAudioTranscriptionConfig": (
        ("run_config", "model_settings", "input_audio_transcription"), {}),
    "RealtimeTurnDetectionConfig": (("run_config", "model_settings", "turn_detection"), {}),
    "RealtimeGuardrailsSettings": (("run_config", "guardrails_settings"), {}),
    "RealtimeModelConfig": (("model_config",), {}),
    "RealtimeModelTracingConfig": (("run_config", "model_settings", "tracing"), {}),
    "RealtimeUserInputText": (("start_messages", 0, "content", 0),
                              {"type": "input_text", "text": "hi"}),
    "RealtimeUserInputMessage": (("start_messages", 0),
                                 {"type": "message", "role": "user",
                                  "content": [{"type": "input_text", "text": "hi"}]}),
    "RealtimeClientMessage": (("client_messages", 0), {"type": "response.create"}),
}

# A value of the documented type, and one a user might write that is not of it.
SAMPLES: dict[str, tuple[Any, Any]] = {
    "NotRequired[RealtimeSessionModelSettings]": ({"voice": "marin"}, {"voic": "marin"}),
    "NotRequired[list[OutputGuardrail[Any]]]": (["no_pii"], "no_pii"),
    "NotRequired[RealtimeGuardrailsSettings]": ({"debounce_text_length": 50}, {"debounce": 1}),
    "NotRequired[bool]": (False, "false"),
    "NotRequired[RealtimeModelName]": ("gpt-realtime", 5),
    "NotRequired[str]": ("some text", 5),
    'NotRequired[list[Literal["text", "audio"]]]': (["audio"], ["video"]),
    "NotRequired[RealtimeAudioFormat]": ("g711_ulaw", "mp3"),
    "NotRequired[RealtimeInputAudioTranscriptionConfig]": ({"model": "whisper-1"},
                                                           {"modle": "whisper-1"}),
    "NotRequired[RealtimeTurnDetectionConfig]": ({"type": "server_vad"},
                                                 {"type": "semantic-vad"}),
    "NotRequired[ToolChoice]": ("auto", 5),
    "NotRequired[list[Tool]]": (["lookup_order"], [{"name": "lookup_order"}]),
    "NotRequired[list[Handoff]]": (["billing"], "billing"),
    "NotRequired[RealtimeModelTracingConfig | None]": ({"workflow_name": "w"},
                                                       {"workflow": "w"}),
    'NotRequired[Literal["gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1"] | str]':
        ("whisper-1", 5),
    'NotRequired[Literal["semantic_vad", "server_vad"]]': ("semantic_vad", "semantic-vad"),
    'NotRequired[Literal["auto", "low", "medium", "high"]]': ("low", "fast"),
    "NotRequired[int]": (100, "100"),
    "NotRequired[float]": (0.5, "0.5"),
    "NotRequired[str | Callable[[], MaybeAwaitable[str]]]": ("the-key", 5),
    "NotRequired[dict[str, Any]]": ({"k": 1}, ["k"]),
    'Literal["input_text"]': ("input_text", "output_text"),
    "str": ("hi", 5),
    'Literal["message"]': ("message", "msg"),
    'Literal["user"]': ("user", "assistant"),
    "list[RealtimeUserInputText]": ([{"type": "input_text", "text": "hi"}],
                                    [{"type": "input_text"}]),
}


# Fields whose limits (from the overlay) make the generic sample unfit.
FIELD_SAMPLES: dict[tuple[str, str], tuple[Any, Any]] = {
    ("RealtimeModelConfig", "url"): ("wss://example.test/v1/realtime", 5),
    # Closed to the client events the SDK can send (others are logged and dropped).
    ("RealtimeClientMessage", "type"): ("response.create", "response.creat"),
    # The body of a response.create event, as the wire types define it.
    ("RealtimeClientMessage", "other_data"): ({"response": {"instructions": "Say hi."}},
                                              ["k"]),
}


def place(home: tuple[tuple[Any, ...], dict[str, Any]], field: str, value: Any) -> dict[str, Any]:
    path, base = home
    node: Any = {**copy.deepcopy(base), field: value}
    for part in reversed(path):
        node = [node] if isinstance(part, int) else {part: node}
    if path[0] == "start_messages" and len(path) > 2:  # a content item inside a message
        node = {"start_messages": [{"type": "message", "role": "user",
                                    "content": node["start_messages"][0]["content"]}]}
    return node  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(dict(packaged_schema()))


def test_the_reference_page_documents_forty_seed_fields() -> None:
    assert len(SEED) == 40
    assert {c for c, _, _ in SEED} == set(HOMES)


@pytest.mark.parametrize(("cls", "field", "annotation"), SEED,
                         ids=[f"{c}.{f}" for c, f, _ in SEED])
def test_seed_field_is_in_the_schema_with_its_documented_type(
    validator: jsonschema.Draft202012Validator, cls: str, field: str, annotation: str
) -> None:
    assert field in packaged_schema()["$defs"][cls]["properties"]
    good, bad = FIELD_SAMPLES.get((cls, field)) or SAMPLES[annotation]
    assert list(validator.iter_errors(place(HOMES[cls], field, good))) == []
    assert list(validator.iter_errors(place(HOMES[cls], field, bad))) != []


def test_packaged_copy_and_root_schema_are_identical() -> None:
    root = (REPO / "schema.json").read_text(encoding="utf-8")
    assert root == (REPO / "realtime_profiles" / "schema.json").read_text(encoding="utf-8")


def test_schema_is_reproducible_from_the_installed_sdk() -> None:
    assert build_document_schema() == json.loads((REPO / "schema.json").read_text("utf-8"))


def test_schema_check_passes_on_the_committed_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out, err = io.StringIO(), io.StringIO()
    assert main(["schema", "--check"], out, err) == 0, err.getvalue()
    assert main(["schema", "--check", "--layer"], out, err) == 0, err.getvalue()


def test_schema_check_names_the_drifted_fields(tmp_path: Path) -> None:
    stale = json.loads((REPO / "schema.json").read_text("utf-8"))
    props = stale["$defs"]["RealtimeTurnDetectionConfig"]["properties"]
    del props["idle_timeout_ms"]
    props["legacy_knob"] = {"type": "integer"}
    target = tmp_path / "schema.json"
    target.write_text(json.dumps(stale), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["schema", "--check", "--output", str(target)], out, err) == 1
    report = err.getvalue()
    assert "+ RealtimeTurnDetectionConfig.idle_timeout_ms" in report
    assert "- RealtimeTurnDetectionConfig.legacy_knob" in report


def test_field_drift_reports_new_and_removed_types() -> None:
    assert field_drift({"A": ["x"], "B": ["y"]}, {"A": ["x", "z"], "C": []}) == [
        "- A.z", "+ B (new type in the SDK)", "- C (no longer in the SDK)"]


def test_schema_covers_every_field_of_every_covered_sdk_type() -> None:
    recorded = schema_field_sets(packaged_schema())
    for name, fields in sdk_field_sets().items():
        assert recorded[name] == fields, name


@pytest.mark.parametrize(
    ("path", "value", "ok"),
    [
        pytest.param(("run_config", "model_settings", "turn_detection", "threshold"), 1.5, False,
                     id="threshold-over-1"),
        pytest.param(("run_config", "model_settings", "turn_detection", "threshold"), 0.0, True,
                     id="threshold-0"),
        pytest.param(("run_config", "model_settings", "turn_detection", "prefix_padding_ms"), -1,
                     False, id="negative-duration"),
        pytest.param(("run_config", "model_settings", "turn_detection", "idle_timeout_ms"), 4999,
                     False, id="idle-timeout-low"),
        pytest.param(("run_config", "model_settings", "speed"), 1.6, False, id="speed-high"),
        pytest.param(("run_config", "model_settings", "audio", "output", "speed"), 0.25, True,
                     id="audio-speed-min"),
        pytest.param(("run_config", "model_settings", "max_output_tokens"), "inf", True,
                     id="tokens-inf"),
        pytest.param(("run_config", "model_settings", "max_output_tokens"), 4097, False,
                     id="tokens-over"),
        pytest.param(("run_config", "model_settings", "output_modalities"), ["text", "audio"],
                     False, id="both-modalities"),
        pytest.param(("run_config", "model_settings", "input_audio_format"),
                     {"type": "audio/pcm", "rate": 24000}, True, id="pcm-object"),
        pytest.param(("run_config", "model_settings", "input_audio_format"),
                     {"type": "audio/pcm", "rate": 16000}, False, id="pcm-16k"),
        pytest.param(("run_config", "model_settings", "audio", "input", "format"),
                     {"type": "audio/pcmu"}, True, id="pcmu-object"),
        pytest.param(("run_config", "model_settings", "voice"), {"id": "voice_1234"}, True,
                     id="custom-voice"),
        pytest.param(("run_config", "model_settings", "voice"), "anything", True,
                     id="open-voice"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"type": "server_vad", "vendor_knob": 1}, False,
                     id="turn-detection-closed"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"type": "server_vad", "eagerness": "high"}, False,
                     id="turn-detection-server-vad-no-eagerness"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"type": "semantic_vad", "threshold": 0.5}, False,
                     id="turn-detection-semantic-vad-no-threshold"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"type": "semantic_vad", "eagerness": "high", "create_response": True},
                     True, id="turn-detection-semantic-vad"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"eagerness": "high", "threshold": 0.5}, True,
                     id="turn-detection-untyped-is-for-the-lint"),
        pytest.param(("run_config", "model_settings", "turn_detection"),
                     {"type": "server_vad", "model_version": "v1"}, False,
                     id="turn-detection-no-sdk-only-field"),
        pytest.param(("run_config", "model_settings", "input_audio_format"),
                     {"type": "audio/pcmu", "rate": 8000}, False, id="pcmu-has-no-rate"),
        pytest.param(("run_config", "model_settings", "tool_choice"), "lookup_order", False,
                     id="tool-choice-closed-string"),
        pytest.param(("run_config", "model_settings", "tool_choice"),
                     {"type": "function", "name": "lookup_order"}, True,
                     id="tool-choice-function"),
        pytest.param(("run_config", "model_settings", "tool_choice"),
                     {"type": "function", "name": "x", "server_label": "s"}, False,
                     id="tool-choice-function-closed"),
        pytest.param(("start_messages",), [{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "hi", "image_url": "https://x.test/a.png"}]}],
                     False, id="text-part-closed"),
        pytest.param(("model_config", "initial_model_settings", "prompt"),
                     {"id": "pmpt_1", "variables": {"city": {"type": "input_text", "text": "x",
                                                             "detail": "low"}}}, False,
                     id="prompt-variable-closed"),
        pytest.param(("model_config", "initial_model_settings", "prompt"),
                     {"id": "pmpt_1", "variables": {"city": "Paris", "map": {
                         "type": "input_image", "detail": "low",
                         "image_url": "https://x.test/a.png"}}}, True,
                     id="prompt-variables"),
        pytest.param(("run_config", "model_settings", "turn_detection"), None, True,
                     id="turn-detection-off"),
        pytest.param(("model_config", "url"), "https://api.openai.com", False, id="url-http"),
        pytest.param(("model_config", "api_key"), {"callable": "vault_key"}, True,
                     id="api-key-callable"),
        pytest.param(("model_config", "headers"), {"api-key": 5}, False, id="header-int"),
        pytest.param(("client_messages",),
                     [{"type": "response.create", "other_data": {"any": [1]}}], False,
                     id="client-message-data-is-the-event-body"),
        pytest.param(("client_messages",),
                     [{"type": "input_audio_buffer.append", "other_data": {"audio": "AAAA"}},
                      {"type": "response.create", "other_data": {"response": {
                          "output_modalities": ["text"], "instructions": "Say hi."}}},
                      {"type": "session.update", "other_data": {"session": {
                          "type": "realtime", "audio": {"input": {"turn_detection": {
                              "type": "server_vad", "threshold": 0.4}}}}}}], True,
                     id="client-message-events"),
        pytest.param(("client_messages",), [{"type": "session.update", "other_data": {
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": {
                "type": "server_vad", "eagerness": "high"}}}}}}], False,
                     id="client-message-session-update-turn-detection-closed"),
        pytest.param(("client_messages",), [{"type": "input_audio_buffer.append"}], False,
                     id="client-message-required-body"),
        pytest.param(("client_messages",), [{"type": "response.creat"}], False,
                     id="client-message-unknown-type"),
        pytest.param(("run_config", "model_settings", "input_audio_transcription"), None, True,
                     id="transcription-off"),
        pytest.param(("run_config", "model_settings", "output_modalities"), [], False,
                     id="no-modality"),
        pytest.param(("run_config", "model_settings", "reasoning"), {"effort": "extreme"}, False,
                     id="reasoning-effort-closed"),
        pytest.param(("start_messages",), [{"type": "message", "role": "user", "content": [
            {"image_url": "https://x.test/a.png"}]}], False, id="image-without-type"),
        pytest.param(("start_messages",), [{"type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "max"}]}],
                     False, id="image-detail-closed"),
    ],
)
def test_overlay_limits(validator: jsonschema.Draft202012Validator, path: tuple[str, ...],
                        value: Any, ok: bool) -> None:
    node: Any = value
    for part in reversed(path):
        node = {part: node}
    assert validator.is_valid(node) is ok


def test_registry_fields_say_how_names_are_bound() -> None:
    props = packaged_schema()["$defs"]["RealtimeSessionModelSettings"]["properties"]
    assert props["tools"]["items"]["x-registry"] == "tool"
    assert "Registry" in props["tools"]["description"]


# -- the `agent:` section, derived from RealtimeAgent and realtime_handoff -------------------

def test_agent_section_covers_every_realtime_agent_field_and_handoff_option() -> None:
    import dataclasses
    import inspect

    from agents.realtime import RealtimeAgent, realtime_handoff

    defs = packaged_schema()["$defs"]
    assert list(defs["RealtimeAgent"]["properties"]) == [
        f.name for f in dataclasses.fields(RealtimeAgent)]
    assert [k for k in defs["RealtimeHandoff"]["properties"] if k != "handoff"] == list(
        inspect.signature(realtime_handoff).parameters)
    assert packaged_schema()["properties"]["agent"]["$ref"] == "#/$defs/RealtimeAgent"


def test_agent_docs_come_from_the_sdk_through_its_bases() -> None:
    props = packaged_schema()["$defs"]["RealtimeAgent"]["properties"]
    assert props["name"]["description"].startswith("The name of the agent.")  # AgentBase
    assert props["handoff_description"]["description"].startswith("A description of the agent.")
    assert props["instructions"]["description"].startswith("The instructions for the agent.")
    handoff = packaged_schema()["$defs"]["RealtimeHandoff"]["properties"]
    assert handoff["tool_name_override"]["description"] == (
        "Optional override for the name of the tool that represents the handoff.")


@pytest.mark.parametrize(
    ("path", "value", "ok"),
    [
        pytest.param(("agent",), {"name": "Triage", "instructions": "Help."}, True, id="plain"),
        pytest.param(("agent",), {"instructions": "no name"}, False, id="name-required"),
        pytest.param(("agent", "name"), "", False, id="empty-name"),
        pytest.param(("agent", "instructions"), None, True, id="instructions-null"),
        pytest.param(("agent", "instructions"), {"callable": "f"}, False,
                     id="instructions-callable"),
        pytest.param(("agent", "tools"), ["lookup"], True, id="tool-names"),
        pytest.param(("agent", "tools"), [{"name": "lookup"}], False, id="tool-object"),
        pytest.param(("agent", "handoffs"), ["faq", {"agent": "faq", "tool_name_override": "x",
                                                     "is_enabled": False}], True,
                     id="handoff-forms"),
        pytest.param(("agent", "handoffs"), [{"handoff": "transfer_to_billing"}], True,
                     id="registered-handoff"),
        pytest.param(("agent", "handoffs"), [{"agent": "faq", "on_handoff": "log"}], False,
                     id="on-handoff-is-code"),
        pytest.param(("agent", "handoffs"), [{"agent": "faq", "is_enabled": "yes"}], False,
                     id="is-enabled-bool"),
        pytest.param(("agent", "hooks"), "my_hooks", False, id="hooks-are-code"),
        pytest.param(("agent", "mcp_config"), {"convert_schemas_to_strict": True}, True,
                     id="mcp-flag"),
        pytest.param(("agent", "mcp_config"), {"failure_error_function": "f"}, False,
                     id="mcp-failure-function-is-code"),
        pytest.param(("agent", "mcp_servers"), ["docs"], True, id="mcp-server-names"),
        pytest.param(("agent", "prompt"), {"id": "pmpt_1", "variables": {"city": "Oslo"}}, True,
                     id="prompt"),
        pytest.param(("agent", "voice"), "marin", False, id="voice-is-not-an-agent-field"),
    ],
)
def test_agent_section_limits(validator: jsonschema.Draft202012Validator, path: tuple[str, ...],
                              value: Any, ok: bool) -> None:
    node: Any = value
    for part in reversed(path):
        node = {part: node}
    if path != ("agent",) and "name" not in node["agent"]:
        node["agent"]["name"] = "a"
    assert validator.is_valid(node) is ok


def test_schema_check_names_a_drifted_agent_field(tmp_path: Path) -> None:
    stale = json.loads((REPO / "schema.json").read_text("utf-8"))
    del stale["$defs"]["RealtimeAgent"]["properties"]["hooks"]
    del stale["$defs"]["RealtimeHandoff"]["properties"]["is_enabled"]
    target = tmp_path / "schema.json"
    target.write_text(json.dumps(stale), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["schema", "--check", "--output", str(target)], out, err) == 1
    assert "+ RealtimeAgent.hooks" in err.getvalue()
    assert "+ RealtimeHandoff.is_enabled" in err.getvalue()
    assert "RealtimeHandoff.handoff" not in err.getvalue()  # ours, not the SDK's
