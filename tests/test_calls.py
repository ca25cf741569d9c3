"""Per-call overrides: only what `overridable:` allows, values as data, validated like files;
the per-call fast path gives exactly what composing with a call layer gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_profiles import Loader, ProfileValidationError, UsageError
from realtime_profiles._calls import OverrideNotAllowedError
from realtime_profiles._fingerprint import STAMP_KEYS
from realtime_profiles.errors import ProfileError
from tests.conftest import Tree, write_tree

BASE = """
vars:
  customer_name: friend
  greeting: "Hello ${vars.customer_name}"
run_config:
  model_settings:
    voice: marin
    turn_detection: {type: server_vad, threshold: 0.5, silence_duration_ms: 500}
    tracing:
      workflow_name: w
      metadata: {customer: "${vars.customer_name}", agent: "${profile.agent}"}
model_config:
  api_key: ${oc.env:OPENAI_API_KEY}
  initial_model_settings:
    instructions: "${vars.greeting}, I am ${profile.agent}."
overridable:
  run_config.model_settings.voice: {enum: [marin, verse, cedar]}
  run_config.model_settings.turn_detection.silence_duration_ms: {minimum: 200, maximum: 1200}
  vars.customer_name: {pattern: '^[A-Za-z ${}:._/\\\\-]{1,60}$'}
  model_config.call_id:
"""
ENV = {"OPENAI_API_KEY": "sk-test-not-a-real-key"}
PATTERN = r"^[A-Za-z ${}:._/\\-]{1,60}$"  # as the YAML above reads


@pytest.fixture
def loader(tree: Tree) -> Loader:
    return Loader(tree({"base.yaml": BASE, "agents/a.yaml": "{}\n"}), environ=ENV)


def test_allowed_values_land_and_derived_values_follow(loader: Loader) -> None:
    profile = loader.load("a", call_overrides={
        "model_settings.voice": "verse",
        "run_config.model_settings.turn_detection.silence_duration_ms": 300,
        "vars.customer_name": "Ada",
        "model_config.call_id": "rtc_123"})
    settings = profile.run_config["model_settings"]
    assert settings["voice"] == "verse"
    assert settings["turn_detection"] == {"type": "server_vad", "threshold": 0.5,
                                          "silence_duration_ms": 300}
    assert settings["tracing"]["metadata"]["customer"] == "Ada"
    assert profile.model_config["initial_model_settings"]["instructions"] == \
        "Hello Ada, I am a."
    assert profile.model_config["call_id"] == "rtc_123"
    base = loader.load("a")
    assert base.run_config["model_settings"]["voice"] == "marin"  # the cache is untouched
    stamps = settings["tracing"]["metadata"]
    assert stamps["profile_fingerprint"] == profile.fingerprint != base.fingerprint
    assert stamps["profile_base_fingerprint"] == base.fingerprint
    assert stamps["profile_call_keys"] == (
        "model_config.call_id,run_config.model_settings.turn_detection.silence_duration_ms,"
        "run_config.model_settings.voice,vars.customer_name")


@pytest.mark.parametrize("value", ["${oc.env:OPENAI_API_KEY}", "${file:base.yaml}",
                                   "${vars.greeting}", "\\${x}"])
def test_call_values_are_data_never_interpolated(loader: Loader, value: str) -> None:
    profile = loader.load("a", call_overrides={"vars.customer_name": value,
                                               "model_config.call_id": value})
    assert profile.model_config["call_id"] == value
    assert profile.run_config["model_settings"]["tracing"]["metadata"]["customer"] == value
    key = ENV["OPENAI_API_KEY"]
    assert key not in repr(profile.run_config)
    assert key not in repr(profile.model_config["initial_model_settings"])


def test_every_refused_key_is_named_at_once_with_the_allowed_ones(loader: Loader) -> None:
    with pytest.raises(OverrideNotAllowedError) as caught:
        loader.load("a", call_overrides={"model_settings.speed": 1.2,
                                         "model_config.api_key": "x",
                                         "model_settings.turn_detection": {"type": "x"},
                                         "model_settings.voice": "verse"})
    assert caught.value.message == (
        "call overrides not allowed: 'model_settings.speed', 'model_config.api_key', "
        "'model_settings.turn_detection' (allowed: run_config.model_settings.voice, "
        "run_config.model_settings.turn_detection.silence_duration_ms, vars.customer_name, "
        "model_config.call_id)")
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2


def test_a_profile_without_a_contract_allows_nothing(tree: Tree) -> None:
    loader = Loader(tree({"agents/a.yaml": "{}\n"}), environ={})
    with pytest.raises(OverrideNotAllowedError, match=r"allowed: nothing \(the profile has "
                       r"no overridable: section\)"):
        loader.load("a", call_overrides={"model_settings.voice": "verse"})


@pytest.mark.parametrize(("call", "line"), [
    pytest.param({"model_settings.voice": "alloy"},
                 "call override: run_config.model_settings.voice: 'alloy' is not one of "
                 "'marin', 'verse', 'cedar' (the profile's overridable: contract)",
                 id="contract-enum"),
    pytest.param({"model_settings.turn_detection.silence_duration_ms": 100},
                 "call override: run_config.model_settings.turn_detection.silence_duration_ms: "
                 "100 is less than 200, the minimum the profile allows per call",
                 id="contract-minimum"),
    pytest.param({"model_settings.turn_detection.silence_duration_ms": "300"},
                 "call override: run_config.model_settings.turn_detection.silence_duration_ms: "
                 "expected a number, got string '300': the profile's overridable: contract "
                 "bounds it (write 300 without quotes; strings are never coerced)",
                 id="contract-type"),
    pytest.param({"vars.customer_name": "Ada!"},
                 "call override: vars.customer_name: 'Ada!' does not match "
                 f"{PATTERN!r}, as the profile requires per call",
                 id="contract-pattern"),
    pytest.param({"model_config.call_id": object()},
                 "call override: model_config.call_id: expected JSON data, got a object",
                 id="not-json"),
])
def test_a_bad_value_is_a_located_problem(loader: Loader, call: dict[str, Any],
                                          line: str) -> None:
    with pytest.raises(ProfileValidationError) as caught:
        loader.load("a", call_overrides=call)
    assert [p.render() for p in caught.value.problems] == [line]
    result = loader.check("a", call_overrides=call)
    assert not result.ok and result.profile is None
    assert line in [p.render() for p in result.problems]


@pytest.mark.parametrize(("entry", "message"), [
    pytest.param("model_config.api_key", "is or holds a secret: a caller can never set one",
                 id="secret"),
    pytest.param("model_config.headers.X-Key", "is or holds a secret", id="header"),
    pytest.param("model_config", "is or holds a secret", id="model-config"),
    pytest.param("model_config.url", "decides where the session connects", id="url"),
    pytest.param("model_settings.tools", "is or holds names of code", id="tools"),
    pytest.param("model_settings.tools.0", "is or holds names of code", id="a-tool"),
    pytest.param("run_config.output_guardrails", "is or holds names of code",
                 id="guardrails"),
    pytest.param("model_settings", "is or holds names of code", id="above-names"),
    pytest.param("model_config.playback_tracker", "is or holds names of code", id="tracker"),
    pytest.param("model_settings.voic", "run_config.model_settings.voic is not a key of the "
                 "profile document", id="unknown"),
])
def test_what_a_caller_may_never_set_cannot_be_declared(tree: Tree, entry: str,
                                                        message: str) -> None:
    root = tree({"agents/a.yaml": f"overridable:\n  {entry}:\n"})
    result = Loader(root, environ=ENV, checks=()).check("a")
    assert not result.ok
    [problem] = result.problems
    assert problem.code == "call-contract" and message in problem.message
    assert problem.mark is not None and problem.mark.render() == "profiles/agents/a.yaml:2:3"


def test_a_call_value_may_not_flow_into_a_secret_or_a_resolver(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        vars: {who: x}
        model_config:
          api_key: ${vars.who}
          initial_model_settings:
            instructions: "${oc.env:HOME,${vars.who}}"
        overridable:
          vars.who:
        """})
    problems = Loader(root, environ=ENV, checks=()).check("a").problems
    found = {(p.path, p.code) for p in problems}
    assert ("model_config.api_key", "call-contract") in found
    assert ("model_config.initial_model_settings.instructions", "call-contract") in found


def test_explain_shows_the_call_layer(loader: Loader) -> None:
    profile = loader.load("a", call_overrides={"model_settings.voice": "cedar"})
    assert profile.explain("model_settings.voice").render() == (
        'run_config.model_settings.voice = "cedar"\n'
        '  1. profiles/base.yaml:6:5 (base): "marin"\n'
        '  2. call override: "cedar"')


def _without_stamps(document: Any) -> Any:
    metadata = document["run_config"]["model_settings"]["tracing"]["metadata"]
    for key in STAMP_KEYS:
        metadata.pop(key, None)
    return document


@given(voice=st.sampled_from(["marin", "verse", "cedar"]),
       silence=st.integers(200, 1200),
       name=st.text(alphabet="Abc ${}:._/\\-", min_size=1, max_size=20),
       call_id=st.text(max_size=10))
def test_the_fast_path_equals_composing_with_a_call_layer(voice: str, silence: int, name: str,
                                                         call_id: str) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        root = write_tree(Path(tmp), {"base.yaml": BASE, "agents/a.yaml": "{}\n"})
        loader = Loader(root, environ=ENV)
        call = {"model_settings.voice": voice,
                "model_settings.turn_detection.silence_duration_ms": silence,
                "vars.customer_name": name, "model_config.call_id": call_id}
        try:
            fast = loader.load("a", call_overrides=call)
        except ProfileError:
            raise
        composed = {section: loader.explain_path("a", None, (section,),
                                                 call_overrides=call).value
                    for section in ("run_config", "model_config")}
        composed["model_config"]["api_key"] = fast.model_config["api_key"]  # masked in explain
        assert _without_stamps(fast.document()) == _without_stamps(composed)
        # the call's fingerprint (rehashing only what changed) is the one computed afresh
        stamp = ("run_config", "model_settings", "tracing", "metadata", "profile_fingerprint")
        assert loader.explain_path("a", None, stamp, call_overrides=call).value == \
            fast.fingerprint


_CALL_KEYS = ("model_settings.voice", "model_settings.turn_detection.silence_duration_ms",
              "vars.customer_name")


@pytest.fixture(scope="module")
def shared_loader(tmp_path_factory: pytest.TempPathFactory) -> Loader:
    root = write_tree(tmp_path_factory.mktemp("calls"),
                      {"base.yaml": BASE, "agents/a.yaml": "{}\n"})
    return Loader(root, environ=ENV)


@given(calls=st.lists(st.fixed_dictionaries({}, optional={
    _CALL_KEYS[0]: st.sampled_from(["marin", "verse", "cedar"]),
    _CALL_KEYS[1]: st.integers(200, 1200),
    _CALL_KEYS[2]: st.text(alphabet="Abc ${}:._-", min_size=1, max_size=12)}),
    min_size=1, max_size=6))
def test_many_calls_on_one_loader_each_get_the_fingerprint_of_their_document(
        shared_loader: Loader, calls: list[dict[str, Any]]) -> None:
    """One loader serves call after call, each changing other keys: the fingerprint's cached
    text of what a call left alone must never carry a value an earlier call set."""
    stamp = ("run_config", "model_settings", "tracing", "metadata", "profile_fingerprint")
    for call in calls:
        fast = shared_loader.load("a", call_overrides=call)
        afresh = shared_loader.explain_path("a", None, stamp, call_overrides=call).value
        assert fast.fingerprint == afresh, call


def test_load_profile_passes_facets_and_bucket_through(tree: Tree) -> None:
    from realtime_profiles import load_profile

    root = tree({"agents/a.yaml": "facets: {t: {default: x}}\n", "facets/t/x.yaml": "{}\n",
                 "facets/t/y.yaml": "run_config: {model_settings: {voice: ash}}\n"})
    profile = load_profile("a", root=root, environ={}, facets={"t": "y"})
    assert profile.facets == {"t": "y"}
    assert profile.run_config["model_settings"]["voice"] == "ash"
