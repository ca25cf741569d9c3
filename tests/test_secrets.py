"""The secret rules' own tests: which paths are secret is kept equal to the schema's
`x-secret` marks, as the registry's name slots are kept equal to `x-registry`; then every
rule through every input channel (files, local.yaml, REALTIME_PROFILES__* variables,
overrides, `${file:}`) and every output (show, explain, diff, validate, JSON, errors,
warnings, repr)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles import Loader, ProfileError, _secrets, load_profile
from realtime_profiles.cli import main
from tests.schema_walk import marked_paths

ROOT = Path(__file__).parent.parent


def test_secret_paths_match_the_schema() -> None:
    schema = json.loads((ROOT / "schema.json").read_text())
    in_schema = {path for path, flag in marked_paths(schema, "x-secret", schema["$defs"])
                 if flag is True}
    assert in_schema == set(_secrets.SECRET_PATTERNS)


def test_model_config_keys_match_the_schema() -> None:
    schema = json.loads((ROOT / "schema.json").read_text())
    assert set(schema["$defs"]["RealtimeModelConfig"]["properties"]) == \
        _secrets.MODEL_CONFIG_KEYS


def test_containers_are_the_prefixes_of_secret_paths() -> None:
    prefixes = {pattern[:cut] for pattern in _secrets.SECRET_PATTERNS
                for cut in range(1, len(pattern)) if "*" not in pattern[:cut]}
    assert set(_secrets.SECRET_CONTAINERS) == prefixes
    assert all(_secrets.holds_secret(p) for p in prefixes)
    assert _secrets.is_secret_path(("model_config", "headers", "X-Api-Key"))
    assert not _secrets.is_secret_path(("model_config", "url"))


def test_the_mask_is_one_string_everywhere() -> None:
    from realtime_profiles import profile

    assert profile.MASK == _secrets.MASK


def test_an_unset_secret_is_never_advised_a_default(tree: Tree) -> None:
    """A default is written in the profile, and a secret in a tracked file is what the secret
    rules refuse: the advice is to set the variable."""
    from realtime_profiles import Loader, SecretUnavailableError

    root = tree({"base.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n"
                              "  headers: {authorization: 'Bearer ${oc.env:TOKEN}'}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(SecretUnavailableError) as caught:
        Loader(root, environ={}, checks=()).load("a")
    text = caught.value.render()
    assert "default" not in text
    assert [p.suggestion for p in caught.value.problems] == [
        "set it before loading this profile for use"] * 2
    warnings = Loader(root, environ={}, checks=()).check("a").problems
    assert all("default" not in p.render() for p in warnings)


# -- every input channel, every output channel ---------------------------------------------

CANARY = "sk-canary-0123456789abcdefghijklmn"
PLAIN_CANARY = "plain-canary-value-42"  # not shaped like a key: only masking can hide it
A = "profiles/agents/a.yaml"


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("REALTIME_PROFILES") or name.endswith("_KEY"):
                patch.delenv(name)
        for name, value in (environ or {}).items():
            patch.setenv(name, value)
        code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def leaks(*texts: str) -> bool:
    return any(CANARY in t or PLAIN_CANARY in t for t in texts)


@pytest.mark.parametrize(("environ", "override"), [
    pytest.param({"REALTIME_PROFILES__MODEL_CONFIG": f"{{api_key: {CANARY}, url: [}}"}, None,
                 id="env-section-bad-yaml"),
    pytest.param({"REALTIME_PROFILES__MODEL_CONFIG": f"{{api_key: {CANARY}, api_key: x}}"},
                 None, id="env-section-duplicate-key"),
    pytest.param({"REALTIME_PROFILES__MODEL_CONFIG": f"{{api_key: *{PLAIN_CANARY}}}"}, None,
                 id="env-section-undefined-alias"),
    pytest.param({"REALTIME_PROFILES__MODEL_CONFIG": f"{{{CANARY}: 1, {CANARY}: 2}}"}, None,
                 id="env-secret-as-a-duplicate-key"),
    pytest.param({"REALTIME_PROFILES__MODEL_CONFIG__APIKEY": f"[{PLAIN_CANARY}"}, None,
                 id="env-typo-of-the-key"),
    pytest.param({}, f"++model_config.apikey={PLAIN_CANARY}", id="override-typo-of-the-key"),
    pytest.param({}, f"++model_config.headrs.x={PLAIN_CANARY}", id="override-typo-of-headers"),
    pytest.param({}, f"++model_config={{api_key: {PLAIN_CANARY}, url: [}}",
                 id="override-section-bad-yaml"),
    pytest.param({}, f"++vars.openai_key=[{PLAIN_CANARY}", id="override-named-like-a-key"),
    pytest.param({}, f"~model_config..api_key={PLAIN_CANARY}", id="override-bad-key"),
])
def test_a_malformed_secret_is_never_echoed(tree: Tree, environ: dict[str, str],
                                           override: str | None) -> None:
    """Finding 2: the value of an environment variable or override that may be a secret is
    masked in every error, whatever channel it came from and however it fails."""
    root = tree({"agents/a.yaml": "{}\n", "env/dev.yaml": "{}\n"})
    extra = [override] if override else []
    for argv in (("show", "a", *extra), ("validate", "--format", "json"),
                 ("explain", "a", "model_config", *extra), ("show", "a", "--format", "json",
                                                            *extra)):
        if override and argv[0] == "validate":
            continue
        code, out, err = cli(*argv, environ=environ)
        assert code in ((0, 1, 2) if argv[0] == "explain" else (1, 2)), err
        assert not leaks(out, err), out + err
        if "json" in argv:
            assert json.loads(out)["ok"] is False
    if environ:
        with pytest.raises(ProfileError) as info:
            load_profile("a", root=root, environ=environ)
        assert not leaks(str(info.value), repr(info.value))


def test_a_typo_of_a_secret_key_is_masked_in_its_location(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n"})
    code, _, err = cli("show", "a", f"++model_config.apikey={PLAIN_CANARY}")
    assert code == 2
    assert err.splitlines()[0] == ("command line: ++model_config.apikey=***: "
                                   "model_config.apikey: unknown key (did you mean 'api_key'? "
                                   "write ++model_config.api_key=...)")


REFINED = [
    pytest.param({"base.yaml": "vars: {mc: {api_key: " + PLAIN_CANARY + "}}\n"
                               "model_config: ${vars.mc}\n",
                  "agents/a.yaml": "model_config: {url: wss://x.example/v1}\n"},
                 {}, (), ("model_config",), id="model-config-refined-by-a-file"),
    pytest.param({"base.yaml": "vars: {mc: {api_key: " + PLAIN_CANARY + "}}\n"
                               "model_config: ${vars.mc}\n", "agents/a.yaml": "{}\n"},
                 {"REALTIME_PROFILES__MODEL_CONFIG__URL": "wss://x.example/v1"}, (),
                 ("model_config",), id="model-config-refined-by-the-environment"),
    pytest.param({"base.yaml": "vars: {mc: {api_key: " + PLAIN_CANARY + "}}\n"
                               "model_config: ${vars.mc}\n", "agents/a.yaml": "{}\n"},
                 {}, ("++model_config.url=wss://x.example/v1",), ("model_config",),
                 id="model-config-refined-by-an-override"),
    pytest.param({"base.yaml": "vars: {h: {x-key: " + PLAIN_CANARY + "}}\n"
                               "model_config:\n  headers: ${vars.h}\n",
                  "env/dev.yaml": "model_config: {headers: {y: '${oc.env:Y}'}}\n",
                  "agents/a.yaml": "{}\n"}, {"Y": "y"}, (),
                 ("model_config", "headers"), id="headers-refined-by-a-file"),
    pytest.param({"base.yaml": "vars: {h: {x-key: " + PLAIN_CANARY + "}}\n"
                               "model_config:\n  headers: ${vars.h}\n",
                  "agents/a.yaml": "{}\n"},
                 {"REALTIME_PROFILES__MODEL_CONFIG__HEADERS__Y": "y"}, (),
                 ("model_config", "headers"), id="headers-refined-by-the-environment"),
    pytest.param({"base.yaml": "vars: {h: {x-key: " + PLAIN_CANARY + "}}\n"
                               "model_config:\n  headers: ${vars.h}\n",
                  "agents/a.yaml": "{}\n"}, {}, ("++model_config.headers.x=abc",),
                 ("model_config", "headers"), id="headers-refined-by-an-override"),
]


@pytest.mark.parametrize(("files", "environ", "overrides", "container"), REFINED)
def test_a_literal_in_a_refined_secret_preset_is_refused(
        tree: Tree, files: dict[str, str], environ: dict[str, str],
        overrides: tuple[str, ...], container: tuple[str, ...]) -> None:
    """Finding 3: refining a `model_config` or `headers` preset no longer launders the
    literal it holds; the reference is refused in any layer, and the literal is reported
    where it is written."""
    root = tree(files)
    loader = Loader(root, environ=environ, local=False)
    result = loader.check("a", "dev" if "env/dev.yaml" in files else None, overrides)
    codes = sorted((p.code, p.key) for p in result.errors)
    assert ("secret-container-reference", container) in codes, codes
    literal = [p for p in result.errors if p.message == "a literal secret in a tracked file"]
    assert literal and literal[0].mark is not None  # located at the key that holds it
    key = "api_key" if container == ("model_config",) else "x-key"
    assert literal[0].mark.render() == f"profiles/base.yaml:1:{files['base.yaml'].index(key) + 1}"
    with pytest.raises(ProfileError) as info:
        loader.load("a", "dev" if "env/dev.yaml" in files else None, overrides)
    assert not leaks(info.value.render())
    code, out, err = cli("--no-local", "validate", "--strict", environ=environ)
    assert code == 1 and not leaks(out, err)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("model_config: {api_key: '${oc.env:OPENAI_API_KEY," + CANARY + "}'}",
                 "1:16: model_config.api_key: looks like a literal API key", id="default-key"),
    pytest.param("model_config: {api_key: '${oc.env:OPENAI_API_KEY,devkey}'}",
                 "1:16: model_config.api_key: a secret's ${oc.env:NAME,default} has a literal "
                 "default in a tracked file", id="default-literal"),
    pytest.param("model_config: {api_key: \"${oc.env:K,'quoted literal'}\"}",
                 "1:16: model_config.api_key: a secret's ${oc.env:NAME,default} has a literal "
                 "default", id="default-quoted"),
    pytest.param("model_config: {headers: {a: 'Bearer " + CANARY + "${oc.env:SUFFIX,}'}}",
                 "1:26: model_config.headers.a: looks like a literal API key",
                 id="key-beside-a-reference"),
    pytest.param("vars: {keys: [a, " + CANARY + "]}",
                 "1:18: vars.keys[1]: looks like a literal API key", id="list-under-vars"),
    pytest.param("start_messages: ['hello " + CANARY + "']",
                 "1:18: start_messages[0]: looks like a literal API key", id="start-messages"),
    pytest.param("client_messages: [{type: x, other_data: {k: " + CANARY + "}}]",
                 "client_messages[0].other_data.k: looks like a literal API key",
                 id="client-messages"),
    pytest.param("vars: {" + CANARY + ": 1}",
                 "1:8: vars.***: a key that looks like a literal API key", id="mapping-key"),
    pytest.param("run_config: {model_settings: {tools+: [" + CANARY + "]}}",
                 "run_config.model_settings.tools[0]: looks like a literal API key",
                 id="appended-item"),
])
def test_a_literal_key_anywhere_in_a_tracked_layer_is_refused(tree: Tree, text: str,
                                                              expected: str) -> None:
    """Finding 4: keys, list items, appended items, the defaults inside `${...}`, every
    section."""
    root = tree({"agents/a.yaml": text + "\n"})
    result = Loader(root, environ={}).check("a")
    rendered = [p.render() for p in result.errors if p.code == "secret-literal"]
    assert len(rendered) == 1, rendered
    assert expected in rendered[0]
    assert not leaks(*rendered)
    code, out, err = cli("validate")
    assert code == 1 and not leaks(out, err)


def test_a_default_read_by_a_secret_through_a_reference_is_a_literal(tree: Tree) -> None:
    root = tree({"base.yaml": "vars: {key: '${oc.env:KEY,devkey}'}\n"
                              "model_config: {api_key: '${vars.key}'}\n",
                 "agents/a.yaml": "{}\n"})
    assert [p.render() for p in Loader(root, environ={}).check("a").errors] == [
        "profiles/base.yaml:2:16: model_config.api_key: a secret must come from "
        "${oc.env:...} or ${file:...}; it draws on vars.key, a literal written at "
        "profiles/base.yaml:1:8 in a tracked file (move the value to an environment "
        "variable)"]


def test_an_unset_secret_variable_never_advises_a_default(tree: Tree) -> None:
    root = tree({"base.yaml": "model_config: {api_key: '${oc.env:NOPE_KEY}'}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(ProfileError) as info:
        Loader(root, environ={}).load("a")
    assert "default" not in info.value.render()
    assert "(set it before loading this profile for use)" in info.value.render()


SECRET_IN_VARS = {"base.yaml": "model_config:\n  api_key: ${vars.key}\n"
                               "run_config:\n  model_settings:\n"
                               "    tracing: {metadata: {m: 'k-${vars.key}', fine: ok}}\n",
                  "env/dev.yaml": "{}\n", "agents/a.yaml": "{}\n",
                  "local.yaml": f"vars: {{key: {PLAIN_CANARY}, other: shown}}\n"}


def test_what_a_secret_reads_is_masked_wherever_it_is_shown(tree: Tree) -> None:
    """Finding 5: `api_key: ${vars.key}` with the key in local.yaml (the README's pattern):
    `vars.key`, `vars` and everything that reads `vars.key` are masked in explain, show,
    diff, JSON and the API."""
    root = tree(SECRET_IN_VARS)
    outputs = [cli(*argv) for argv in (
        ("explain", "a", "vars.key"), ("explain", "a", "vars"),
        ("explain", "a", "model_settings.tracing.metadata"), ("show", "a"),
        ("show", "a", "--format", "json"), ("validate", "--format", "json"),
        ("diff", "a@dev", "a"))]
    assert not leaks(*(o + e for _, o, e in outputs))
    assert outputs[0][1].startswith("vars.key = ***\n")
    assert outputs[1][1].startswith('vars = {"key": "***", "other": "shown"}')
    metadata = json.loads(outputs[4][1])["run_config"]["model_settings"]["tracing"]["metadata"]
    assert metadata.pop("profile_fingerprint")  # the loader's stamp
    assert metadata == {"m": "***", "fine": "ok"}
    loader = Loader(root, environ={})
    profile = loader.load("a")
    assert profile.model_config["api_key"] == PLAIN_CANARY  # for use: the real value
    for shown in (repr(profile), str(profile.redacted()), str(profile.explain("vars.key")),
                  repr(profile.explain("vars")), str(loader.explain("a", None, "vars")),
                  repr(loader.check("a"))):
        assert not leaks(shown), shown


def test_masking_is_decided_by_where_a_value_comes_from_not_by_its_text(tree: Tree) -> None:
    """Finding 6: a value that starts with `***` is not therefore masked already."""
    # the api key in a@-, a header in a@dev (never both: the SDK would not use the key)
    tree({"base.yaml": "model_config:\n  api_key: '***${oc.env:OPENAI_API_KEY}'\n",
          "agents/a.yaml": "{}\n",
          "env/dev.yaml": "model_config:\n  api_key: !delete\n"
                          "  headers: {authorization: '***${oc.env:OPENAI_API_KEY}'}\n"})
    environ = {"OPENAI_API_KEY": PLAIN_CANARY}
    for argv in (("show", "a"), ("show", "a", "--format", "json"), ("validate",),
                 ("explain", "a", "model_config"), ("diff", "a", "a@dev")):
        code, out, err = cli(*argv, environ=environ)
        assert code in (0, 1), err
        assert not leaks(out, err), out + err


def test_a_bound_profile_never_shows_a_secret_in_its_repr(tree: Tree) -> None:
    pytest.importorskip("agents")
    from realtime_profiles.sdk import Registry

    root = tree({"base.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n"
                              "  call_id: ${oc.env:OPENAI_API_KEY}\n"
                              "  headers: {authorization: 'Bearer ${oc.env:OPENAI_API_KEY}'}\n",
                 "agents/a.yaml": "{}\n"})
    # checks=(): the SDK would not use the key beside headers (a lint), the repr is the subject
    loader = Loader(root, environ={"OPENAI_API_KEY": PLAIN_CANARY}, checks=())
    bound = loader.load("a").bind(Registry())
    assert bound.model_config["api_key"] == PLAIN_CANARY
    assert repr(bound) == ("BoundProfile(run_config={}, model_config={'api_key': '***', "
                           "'call_id': '***', 'headers': {'authorization': '***'}})")


def test_diff_reports_a_secret_whose_source_differs(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n",
          "env/dev.yaml": "model_config:\n  api_key: ${oc.env:DEV_KEY}\n",
          "env/prod.yaml": "model_config:\n  api_key: ${oc.env:PROD_KEY}\n"})
    environ = {"DEV_KEY": PLAIN_CANARY, "PROD_KEY": PLAIN_CANARY}
    code, out, err = cli("diff", "a", "--env", "dev", "--env", "prod", environ=environ)
    assert code == 1, err
    assert out == (
        "model_config.api_key  (masked: the values or their sources differ)\n"
        '  a@dev   "***"  profiles/env/dev.yaml:2:3 (env)\n'
        '  a@prod  "***"  profiles/env/prod.yaml:2:3 (env)\n'
        "1 difference between a@dev and a@prod\n")
    # the same source and the same value on both sides: no difference
    code, out, _ = cli("diff", "a@dev", "a@dev", environ=environ)
    assert (code, out) == (0, "0 differences between a@dev and a@dev\n")


DERIVED = [
    pytest.param("++model_config.call_id=${oc.env:OPENAI_API_KEY}",
                 ("model_config", "call_id"), id="same-variable"),
    pytest.param("++model_config.initial_model_settings.instructions=key "
                 "${model_config.headers.authorization}",
                 ("model_config", "initial_model_settings", "instructions"), id="the-secret"),
    pytest.param("++run_config.model_settings.tracing.workflow_name=${file:key.txt}",
                 ("run_config", "model_settings", "tracing", "workflow_name"), id="same-file"),
    pytest.param("++run_config.model_settings.tracing.group_id=${vars.k}",
                 ("run_config", "model_settings", "tracing", "group_id"), id="what-it-reads"),
]


@pytest.mark.parametrize(("override", "path"), DERIVED)
def test_a_value_derived_from_a_secret_source_is_masked(tree: Tree, override: str,
                                                        path: tuple[str, ...]) -> None:
    """Issue 18, item 5: `call_id: ${oc.env:OPENAI_API_KEY}` and its kind are masked in
    show, explain, diff, JSON and repr, like the secret they share a source with."""
    root = tree({"base.yaml": "vars: {k: '${oc.env:OPENAI_API_KEY}'}\n"
                              "model_config:\n"
                              "  headers: {authorization: 'Bearer ${vars.k}',\n"
                              "            x-file-key: '${file:key.txt}'}\n",
                 "key.txt": PLAIN_CANARY + "\n", "agents/a.yaml": "{}\n",
                 "env/dev.yaml": "{}\n"})
    environ = {"OPENAI_API_KEY": PLAIN_CANARY}
    dotted = ".".join(path)
    for argv in (("show", "a", override), ("show", "a", "--format", "json", override),
                 ("explain", "a", dotted, override), ("explain", "a", path[0], override)):
        code, out, err = cli(*argv, environ=environ)
        assert code == 0, err
        assert not leaks(out, err), out + err
    profile = Loader(root, environ=environ).load("a", None, [override])
    assert PLAIN_CANARY in json.dumps(profile.document())  # the real value, for use
    assert not leaks(repr(profile), json.dumps(profile.redacted()))
    assert profile.redacted()[path[0]][path[1]] is not None


def test_an_error_about_a_derived_value_does_not_echo_it(tree: Tree) -> None:
    tree({"base.yaml": "model_config: {api_key: '${oc.env:OPENAI_API_KEY}'}\n"
                       "run_config:\n  model_settings:\n"
                       "    speed: ${oc.env:OPENAI_API_KEY}\n"
                       "    voice: ${oc.env:OPENAI_API_KEY}\n",
          "agents/a.yaml": "{}\n"})
    code, out, err = cli("validate", environ={"OPENAI_API_KEY": PLAIN_CANARY})
    assert code == 1
    assert not leaks(out, err)
    assert "run_config.model_settings.speed: expected a number, got string ***" in err


def test_a_value_named_like_a_secret_is_masked_where_no_secret_reads_it(tree: Tree) -> None:
    """dev reads the key from local.yaml through `vars.key`, prod from the environment:
    `explain a vars.key --env prod` must not print the dev key either."""
    tree({"agents/a.yaml": "{}\n",
          "env/dev.yaml": "model_config: {api_key: '${vars.key}'}\n",
          "env/prod.yaml": "model_config: {api_key: '${oc.env:PROD_KEY}'}\n",
          "local.yaml": f"vars: {{key: {PLAIN_CANARY}, openai_token: {PLAIN_CANARY}, "
                        "voice: shown}\n"})
    code, out, err = cli("explain", "a", "vars", "--env", "prod", environ={"PROD_KEY": "p"})
    assert code == 0, err
    assert out.startswith('vars = {"key": "***", "openai_token": "***", "voice": "shown"}')


def test_a_warning_about_a_derived_value_is_given_masked(tree: Tree) -> None:
    tree({"base.yaml": "model_config: {api_key: '${oc.env:OPENAI_API_KEY}'}\n"
                       "run_config: {model_settings: {voice: '${oc.env:OPENAI_API_KEY}'}}\n",
          "agents/a.yaml": "{}\n"})
    code, out, err = cli("show", "a", environ={"OPENAI_API_KEY": PLAIN_CANARY})
    assert code == 0 and not leaks(out, err)
    assert "run_config.model_settings.voice: *** is not a known value (known: " in err


@pytest.mark.parametrize("override", [f"++vars.openai=[{CANARY}", f"++vars.openai=*{CANARY}"])
def test_a_key_typed_under_any_name_is_not_echoed_by_an_error(tree: Tree,
                                                              override: str) -> None:
    tree({"agents/a.yaml": "{}\n"})
    code, out, err = cli("show", "a", override)
    assert code == 2 and not leaks(out, err)
    assert "invalid override '++vars.openai=***': the value is not valid YAML" in err


@pytest.mark.parametrize("argv", [
    pytest.param(("show", "a", "--bogus", f"++model_config.api_key={PLAIN_CANARY}"),
                 id="beside-an-unknown-option"),
    pytest.param(("validate", f"++model_config.api_key={PLAIN_CANARY}"), id="as-an-agent"),
    pytest.param(("diff", "a", f"x={PLAIN_CANARY}"), id="as-a-profile"),
    pytest.param(("explain", "a", f"model_config.api_key={PLAIN_CANARY}"), id="as-a-key"),
])
def test_an_override_typed_where_it_does_not_belong_is_not_echoed(
        tree: Tree, argv: tuple[str, ...]) -> None:
    """Found by the fuzz profile: argparse listed the unrecognized arguments verbatim."""
    tree({"agents/a.yaml": "{}\n"})
    code, out, err = cli(*argv)
    assert code == 2 and not leaks(out, err)
    assert "=***" in err
