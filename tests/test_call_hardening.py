"""Per-call overrides take the caller's data and nothing else, and never echo what may not be
shown: a path masked where it is shown (a var named like a secret, anything holding or reading
what a secret reads) can never be listed under `overridable:`; no problem about a call value
quotes a value shaped like a key or written under a secret's name, nor a refused key's
key-shaped text; an integer too large to print is a located problem; a `pattern` takes a
string and `minimum`/`maximum` a number. `Loader.load` and `Bundle.load` behave the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Tree

from realtime_profiles import Bundle, Loader, ProfileError, build_bundle
from realtime_profiles._calls import OverrideNotAllowedError

CANARY = "sk-CANARY0123456789abcdefghij"
TOKEN = "tok-CANARY-xyz-123456"

CALLS = {
    "base.yaml": """
        vars:
          customer_name: ada
          access_token: abc
        run_config:
          model_settings:
            model_name: gpt-realtime
            voice: marin
            tracing:
              workflow_name: wf
              metadata: {tok: "${vars.access_token}"}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        overridable:
          vars.customer_name: {pattern: "^[a-z]{1,20}$"}
          vars.access_token: {pattern: "^[a-z]{1,10}$"}
          run_config.model_settings.voice: {enum: [marin, verse]}
        """,
    "agents/a.yaml": """
        agent:
          instructions: "Hello ${vars.customer_name}."
        """,
    "env/dev.yaml": "{}\n",
}

# A valid contract: every check below runs against the call value, not a broken profile.
VALID = {
    **CALLS,
    "base.yaml": """
        vars:
          customer_name: ada
          age: 30
          customer: {city: paris}
        run_config:
          model_settings:
            model_name: gpt-realtime
            voice: marin
            output_audio_format: pcm16
            turn_detection: {type: server_vad}
            tracing:
              workflow_name: wf
              metadata: {tok: "x"}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        overridable:
          vars.customer_name: {pattern: "^[a-z]{1,20}$"}
          vars.age: {minimum: 1, maximum: 150}
          vars.customer:
          run_config.model_settings.voice: {enum: [marin, verse]}
          run_config.model_settings.output_audio_format:
          run_config.model_settings.tracing.metadata:
          run_config.model_settings.turn_detection:
        """,
}
ENV = {"OPENAI_API_KEY": "sk-unrelated"}


def loaders(root: Path, tmp_path: Path) -> list[Any]:
    """The Loader and a Bundle built from it: the per-call path of each."""
    loader = Loader(root, environ=ENV)
    out = tmp_path / "bundle"
    build_bundle(Loader(root, environ=ENV), out)
    return [loader, Bundle(out, environ=ENV)]


def failure(source: Any, call: dict[Any, Any]) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        source.load("a", "dev", call_overrides=call)
    return caught.value


def shown(error: ProfileError) -> str:
    return "\n".join([str(error), repr(error), *(p.render() for p in error.problems)])


# -- a masked path is never call-overridable ------------------------------------------------

def test_a_call_value_at_a_secret_named_var_is_not_echoed(tree: Tree) -> None:
    """`vars.access_token` is masked wherever it is shown (named like a secret): `explain`
    masks a call value there, and loading never quotes one."""
    root = tree(CALLS)
    loader = Loader(root, environ={"OPENAI_API_KEY": CANARY})
    shown_value = loader.explain("a", "dev", "vars.access_token",
                                 call_overrides={"vars.access_token": "qwerty"})
    assert "qwerty" not in str(shown_value)
    with pytest.raises(ProfileError) as caught:
        loader.load("a", "dev", call_overrides={"vars.access_token": TOKEN})
    assert TOKEN not in str(caught.value) + repr(caught.value)
    assert all(TOKEN not in p.render() for p in caught.value.problems)


@pytest.mark.parametrize("entry", [
    pytest.param("vars.access_token", id="var-named-like-a-secret"),
    pytest.param("vars.session_password", id="var-named-like-a-secret-unset"),
    pytest.param("vars.k", id="var-reading-the-keys-variable"),
    pytest.param("vars.cfg", id="var-holding-a-masked-value"),
    pytest.param("run_config.model_settings.tracing", id="holds-a-derived-value"),
    pytest.param("run_config.model_settings.tracing.metadata.tok", id="derived-value"),
])
def test_listing_a_masked_path_is_a_located_error_in_the_profile(tree: Tree,
                                                                  entry: str) -> None:
    root = tree({**CALLS, "base.yaml": f"""
        vars:
          customer_name: ada
          access_token: abc
          k: ${{oc.env:OPENAI_API_KEY}}
          cfg: {{city: paris, api_key: q}}
        run_config:
          model_settings:
            model_name: gpt-realtime
            tracing:
              workflow_name: wf
              metadata: {{tok: "${{vars.access_token}}"}}
        model_config:
          api_key: ${{oc.env:OPENAI_API_KEY}}
        overridable:
          vars.customer_name:
          {entry}:
        """})
    result = Loader(root, environ=ENV).check("a", "dev")
    lines = [p.render() for p in result.problems if p.code == "call-contract"]
    assert lines == [f"profiles/base.yaml:16:3: overridable.{entry}: is masked wherever it "
                     "is shown (named like a secret, or holds or reads what a secret "
                     "reads): a caller can never set it (secrets come from ${oc.env:...} or "
                     "${file:...} only; name a var that is none without key, token, secret, "
                     "password, auth, ...)"]
    with pytest.raises(ProfileError):
        Loader(root, environ=ENV).load("a", "dev")


# -- no call problem quotes what may not be echoed -------------------------------------------

def test_call_override_errors_never_quote_a_key_shaped_value(tree: Tree) -> None:
    root = tree(CALLS)
    loader = Loader(root, environ={"OPENAI_API_KEY": "sk-unrelated"})
    for key in ("run_config.model_settings.voice", "vars.customer_name"):
        with pytest.raises(ProfileError) as caught:
            loader.load("a", "dev", call_overrides={key: CANARY})
        assert CANARY not in str(caught.value), key


@pytest.mark.parametrize(("call", "line"), [
    pytest.param({"run_config.model_settings.voice": CANARY},
                 "call override: run_config.model_settings.voice: *** is not one of 'marin', "
                 "'verse' (the profile's overridable: contract)", id="contract-enum"),
    pytest.param({"vars.customer_name": CANARY},
                 "call override: vars.customer_name: *** does not match '^[a-z]{1,20}$', as "
                 "the profile requires per call", id="contract-pattern"),
    pytest.param({"vars.customer_name": [CANARY]},
                 "call override: vars.customer_name: expected a string, got list ***: the "
                 "profile's overridable: contract requires one matching '^[a-z]{1,20}$' "
                 "(send the value as a string)", id="contract-type"),
    pytest.param({"run_config.model_settings.output_audio_format": CANARY},
                 "call override: run_config.model_settings.output_audio_format: *** is not "
                 "one of", id="schema-enum"),
    pytest.param({"run_config.model_settings.output_audio_format": [CANARY]},
                 "call override: run_config.model_settings.output_audio_format: expected ",
                 id="schema-type"),
    pytest.param({"run_config.model_settings.turn_detection": {"type": "server_vad",
                                                                CANARY: 1}},
                 "call override: run_config.model_settings.turn_detection.***: unknown key",
                 id="schema-key"),
    pytest.param({"vars.customer.api_token": 10 ** 30},
                 "call override: vars.customer.api_token: expected an integer between",
                 id="range-under-a-secret-name"),
])
def test_no_call_problem_quotes_a_value_that_may_not_be_echoed(
        tree: Tree, tmp_path: Path, call: dict[str, Any], line: str) -> None:
    for source in loaders(tree(VALID), tmp_path):
        error = failure(source, call)
        assert CANARY not in shown(error)
        assert error.problems[0].render().startswith(line), source


def test_a_warning_a_call_raises_never_quotes_a_key_shaped_value(tree: Tree,
                                                                  tmp_path: Path) -> None:
    """An open enum's unknown value is a warning kept on the profile: masked like an error."""
    for source in loaders(tree({**VALID, "base.yaml": VALID["base.yaml"].replace(
            "{enum: [marin, verse]}", "")}), tmp_path):
        profile = source.load("a", "dev",
                              call_overrides={"run_config.model_settings.voice": CANARY})
        rendered = [w.render() for w in profile.warnings]
        assert any("voice: *** is not a known value" in w for w in rendered), rendered
        assert CANARY not in "\n".join(rendered)


def test_a_refused_call_key_shaped_like_a_key_is_not_echoed(tree: Tree) -> None:
    root = tree(CALLS)
    loader = Loader(root, environ={"OPENAI_API_KEY": "sk-unrelated"})
    for key in (f"vars.{CANARY}", CANARY):
        with pytest.raises(ProfileError) as caught:
            loader.load("a", "dev", call_overrides={key: 1})
        assert CANARY not in str(caught.value) + repr(caught.value), key


def test_refused_keys_show_key_shaped_text_as_stars(tree: Tree, tmp_path: Path) -> None:
    for source in loaders(tree(VALID), tmp_path):
        with pytest.raises(OverrideNotAllowedError) as caught:
            source.load("a", "dev", call_overrides={f"vars.{CANARY}": 1, CANARY: 2,
                                                    10 ** 5000: 3})
        assert caught.value.message.startswith(
            "call overrides not allowed: 'vars.***', '***', a key of type int (allowed: ")


# -- values: integers in range, constraints on their own type --------------------------------

def test_a_huge_integer_call_value_is_a_located_problem(tree: Tree) -> None:
    root = tree(CALLS)
    loader = Loader(root, environ={"OPENAI_API_KEY": "sk-unrelated"})
    for key in ("vars.customer_name", "run_config.model_settings.voice"):
        with pytest.raises(ProfileError):
            loader.load("a", "dev", call_overrides={key: 10 ** 5000})


@pytest.mark.parametrize(("call", "where"), [
    pytest.param({"vars.customer_name": 10 ** 5000}, "vars.customer_name", id="constrained"),
    pytest.param({"run_config.model_settings.voice": -(10 ** 5000)},
                 "run_config.model_settings.voice", id="negative"),
    pytest.param({"vars.customer": {"ids": [1, 2 ** 63]}}, "vars.customer.ids[1]",
                 id="nested"),
    pytest.param({"vars.customer.city": 10 ** 5000}, "vars.customer.city", id="partial"),
    pytest.param({"run_config.model_settings.tracing.metadata": {"n": 10 ** 5000}},
                 "run_config.model_settings.tracing.metadata.n", id="schema-checked"),
])
def test_an_integer_out_of_range_is_located_where_it_lies(
        tree: Tree, tmp_path: Path, call: dict[str, Any], where: str) -> None:
    for source in loaders(tree(VALID), tmp_path):
        error = failure(source, call)
        assert [p.render() for p in error.problems] == [
            f"call override: {where}: expected an integer between -9223372036854775807 and "
            "9223372036854775807 (a signed 64-bit integer), got one beyond that (send a "
            "smaller number, or the digits as a string)"]


def test_integers_within_range_are_accepted(tree: Tree, tmp_path: Path) -> None:
    for source in loaders(tree(VALID), tmp_path):
        profile = source.load("a", "dev", call_overrides={
            "vars.customer": {"ids": [2 ** 63 - 1, -(2 ** 63 - 1)]}, "vars.age": 150})
        assert profile.agent_config["instructions"] == "Hello ada."


def test_a_pattern_constraint_cannot_be_bypassed_with_a_non_string(tree: Tree) -> None:
    root = tree(CALLS)
    loader = Loader(root, environ={"OPENAI_API_KEY": "sk-unrelated"})
    for value in (["x" * 5000], {"ignore previous instructions": 1}):
        with pytest.raises(ProfileError):
            profile = loader.load("a", "dev", call_overrides={"vars.customer_name": value})
            pytest.fail(f"accepted: {profile.agent_config['instructions'][:60]!r}")


@pytest.mark.parametrize(("call", "line"), [
    pytest.param({"vars.customer_name": ["x" * 5000]},
                 "call override: vars.customer_name: expected a string, got list "
                 "[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: the profile's "
                 "overridable: contract requires one matching '^[a-z]{1,20}$' (send the "
                 "value as a string)", id="pattern-list"),
    pytest.param({"vars.customer_name": {"ignore previous instructions": 1}},
                 "call override: vars.customer_name: expected a string, got mapping "
                 "{\"ignore previous instructions\": 1}: the profile's overridable: contract "
                 "requires one matching '^[a-z]{1,20}$' (send the value as a string)",
                 id="pattern-mapping"),
    pytest.param({"vars.customer_name": 7},
                 "call override: vars.customer_name: expected a string, got integer 7: the "
                 "profile's overridable: contract requires one matching '^[a-z]{1,20}$' "
                 "(send the value as a string)", id="pattern-number"),
    pytest.param({"vars.age": True},
                 "call override: vars.age: expected a number, got boolean true: the "
                 "profile's overridable: contract bounds it", id="bound-boolean"),
    pytest.param({"vars.age": "40"},
                 "call override: vars.age: expected a number, got string '40': the profile's "
                 "overridable: contract bounds it (write 40 without quotes; strings are "
                 "never coerced)", id="bound-string"),
    pytest.param({"vars.age": [400]},
                 "call override: vars.age: expected a number, got list [400]: the profile's "
                 "overridable: contract bounds it", id="bound-list"),
])
def test_a_constraint_takes_only_values_of_its_own_type(
        tree: Tree, tmp_path: Path, call: dict[str, Any], line: str) -> None:
    for source in loaders(tree(VALID), tmp_path):
        error = failure(source, call)
        assert [p.render() for p in error.problems] == [line]
