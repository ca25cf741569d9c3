"""Fuzzing: random layer trees, overrides, environments, argv and raw text or bytes.

Whatever goes in, loading gives plain data that validates against schema.json or a
`ProfileError` whose problems are located; the command line exits 0, 1 or 2 with no
traceback; the parsers raise nothing but our exceptions; and nothing hangs (each example
runs under an alarm). Secret canaries enter through every input channel — a tracked file,
local.yaml, an environment variable read by ${oc.env:}, a REALTIME_PROFILES__* variable
(well-formed or not), an override (well-formed, malformed or with a typo'd key) and a
${file:} — each wired into a secret (REALTIME_PROFILES__ variables write headers that read
them), and none may reach any output: stdout, stderr,
exception text and repr, a profile's repr and redacted form, explain of the secrets and of
what they read, diff, warnings, validate's JSON, a bound profile's repr. The default profile
runs a few dozen examples per test; `HYPOTHESIS_PROFILE=fuzz` runs thousands (see
docs/security.md).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from realtime_profiles import Loader, ProfileError, UsageError
from realtime_profiles._layer import ENV_PREFIX, Source
from realtime_profiles._limits import MAX_FILE_BYTES
from realtime_profiles._overrides import env_overrides, parse_override
from realtime_profiles._validate import packaged_schema
from realtime_profiles._yaml import parse_layer, read_layer
from realtime_profiles.cli import main
from realtime_profiles.errors import Problem
from tests.conftest import deadline

VALIDATOR = Draft202012Validator(packaged_schema())
SECONDS_PER_EXAMPLE = 20
# Secret values planted in every input channel: they must never be printed. Only the first
# is shaped like an OpenAI key; the others can be hidden by masking alone.
CANARY_ENV = "sk-canary-env-0123456789abcdefghij"
CANARY_LOCAL = "canary-local-secret-value"
CANARY_TRACKED = "canary-tracked-literal"
CANARY_FILE = "canary-file-contents"
CANARY_OVERRIDE = "canary-override-value"
CANARY_LAYER = "canary-environment-layer"
CANARIES = (CANARY_ENV, CANARY_LOCAL, CANARY_TRACKED, CANARY_FILE, CANARY_OVERRIDE,
            CANARY_LAYER)


# -- layer trees ----------------------------------------------------------------------------

class Delete:
    """Emitted as `!delete`."""


KEYS = ["vars", "run_config", "model_config", "start_messages", "client_messages", "runconfig",
        "model_settings", "voice", "model_name", "tools", "tools+", "turn_detection", "type",
        "threshold", "eagerness", "speed", "output_modalities", "tracing", "metadata",
        "workflow_name", "tracing_disabled", "instructions", "initial_model_settings", "api_key",
        "headers", "url", "calm", "x", "y", "role", "content", "text", "<<", "a b", ""]
SCALAR_TEXT = ["marin", "verse", "alloyy", "semantic_vad", "server_vad", "low", "fast", "audio",
               "text", "pcm16", "gpt-realtime", "wss://api.example/v1", "https://x", "user",
               "message", "input_text", "${vars.calm}", "${vars.x}", "${vars.missing}",
               "${vars.x}-${profile.agent}", "${profile.env}", "${oc.env:GIT_SHA,unknown}",
               "${oc.env:OPENAI_API_KEY}", "${oc.env:NOPE}", "${file:p.md}", "${file:../p.md}",
               "${file:/etc/passwd}", "${file:missing.md}", "${nope:x}", "${", "${vars.", "\\${x}",
               "${run_config.model_settings.voice}", "${..voice}", "${.x}", "sk-" + "a" * 24,
               "${oc.env:NOPE,${vars.x}}", "'quoted'", "1.5", "true", "", " ", "???", "é"]


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(SCALAR_TEXT), st.none(), st.booleans(),
        st.integers(min_value=-3, max_value=3000), st.sampled_from([0.5, 1.5, -0.1, 1e300]),
        st.text(max_size=6), st.just(Delete()),
    )


values = st.recursive(
    scalars(),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=25,
)
layer_data = st.dictionaries(st.sampled_from(KEYS[:6]), values, max_size=5)


def some(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


# Layers shaped like real ones, so that many compositions load and validation runs deep.
REF = st.sampled_from(["${vars.calm}", "${vars.calm}", "${vars.x}", "${vars.missing}"])
turn_detection = st.one_of(REF, some(
    type=st.sampled_from(["semantic_vad", "server_vad", "semantic_vad", "semantic-vad"]),
    eagerness=st.sampled_from(["low", "high", "auto", "fast"]),
    threshold=st.sampled_from([0.3, 0.5, 0.9, 1.5]), create_response=st.booleans(),
    silence_duration_ms=st.integers(0, 900), x=st.just(Delete())))
realistic = some(
    vars=some(calm=turn_detection, x=st.sampled_from(["verse", "ash", "${vars.x}"])),
    run_config=some(
        tracing_disabled=st.sampled_from([True, False, False, "false"]),
        model_settings=some(
            voice=st.sampled_from(["marin", "verse", "alloyy", "${vars.x}", "${oc.env:VOICE,ash}"]),
            model_name=st.sampled_from(["gpt-realtime", "gpt-realtime-mini"]),
            speed=st.sampled_from([0.25, 1.0, 1.2, 1.5, 9.0]),
            output_modalities=st.sampled_from([["audio"], ["text"], ["audio"], ["text", "audio"]]),
            turn_detection=turn_detection,
            **{"tools+": st.lists(st.sampled_from(["lookup", "refund"]), max_size=2)},
            tracing=some(workflow_name=st.just("w-${profile.agent}"),
                         metadata=st.dictionaries(st.sampled_from(["a", "b"]), scalars())),
            instructions=st.sampled_from(["${file:p.md}", "Be brief.", "${file:p.md}",
                                          "${file:nope.md}"]),
        )),
    model_config=some(
        api_key=st.sampled_from(["${oc.env:OPENAI_API_KEY}"] * 4
                                + ["${oc.env:OPENAI_API_KEY,dev}"]),  # a literal in git
        url=st.sampled_from(["wss://api.example/v1", "wss://eu.example/v1", "https://x.example"]),
        initial_model_settings=some(instructions=st.just("${file:p.md}"),
                                    tools=st.lists(st.sampled_from(["a", "b"]), max_size=2))),
    start_messages=st.lists(st.sampled_from(["Hello", "${vars.x}"]), max_size=2),
)


def emit(value: Any) -> str:
    """Flow YAML for `value` (our own emitter: it writes `!delete`, which PyYAML cannot)."""
    if isinstance(value, Delete):
        return "!delete "
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(emit(v) for v in value) + "]"
    return json.dumps(value)


@st.composite
def layer_texts(draw: st.DrawFn) -> str | bytes:
    """A layer file: mostly well-formed YAML, sometimes mutated, sometimes garbage."""
    kind = draw(st.sampled_from(["realistic", "flow", "block", "mutated", "mutated", "garbage",
                                 "bytes"]))
    if kind == "garbage":
        return draw(st.text(alphabet=YAML_ALPHABET, max_size=80))
    if kind == "bytes":
        return draw(st.binary(max_size=80))
    data = draw(realistic if kind == "realistic" else layer_data)
    if kind == "block":
        plain = json.loads(json.dumps(data, default=lambda _: None))
        return yaml.safe_dump(plain, allow_unicode=True)
    text = emit(data) + "\n"
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 3))
            text = text[:at] + draw(st.sampled_from(MUTATIONS)) + text[at + cut:]
    return text


YAML_ALPHABET = "abc:{}[],&*!|>-#'\"\t\n %@`?~$\\.+0123456789\x85\u2028\x01\ufeff"
MUTATIONS = ["", ":", "{", "}", "[", "]", ",", "&a ", "*a", "!!int ", "!!python/object:x ",
             "!delete ", "\t", "\n", "\n  ", "'", "\"", "#", "? ", "- ", "<<: ", "%YAML 1.1\n",
             "---\n", "...\n", "\x00", "\x01", "${", "}}", "!!binary ", "&b [*a, *a] "]

FILES = ["base.yaml", "env/dev.yaml", "env/prod.yaml", "agents/a.yaml", "agents/b.yaml",
         "agents/a/prod.yaml", "local.yaml"]


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str | bytes]:
    """Every layer file: shaped like real ones (often empty); one may be anything at all.
    Secrets in files: a literal in a tracked file (`vars.tracked_key`, read by a header that
    `secret_overrides` wires), one in local.yaml (the api key itself, or `vars.key` that
    the api key reads), and a `${file:}` that a header reads."""
    files: dict[str, str | bytes] = {}
    for name in FILES:
        if name in ("agents/a/prod.yaml", "local.yaml") and draw(st.booleans()):
            continue
        data = draw(realistic)
        if name == "base.yaml":  # vars.key as the README has it, for overrides that read it;
            # vars.tracked_key, read by a header, sometimes a literal: an error, unprinted
            tracked = draw(st.sampled_from(["${oc.env:OPENAI_API_KEY}"] * 3 + [CANARY_TRACKED]))
            data["vars"] = {**data.get("vars", {}), "key": "${oc.env:OPENAI_API_KEY}",
                            "tracked_key": tracked}
        files[name] = emit(data) + "\n"
    hostile = draw(st.sampled_from([None, *FILES]))
    if hostile is not None:
        files[hostile] = draw(layer_texts())
    local = draw(st.sampled_from([None, "api_key", "vars", "header"]))
    if local == "api_key":
        files["local.yaml"] = f"model_config:\n  api_key: {CANARY_LOCAL}\n"
    elif local == "vars":
        files["local.yaml"] = f"vars:\n  key: {CANARY_LOCAL}\n"
    elif local == "header":
        files["local.yaml"] = f"model_config:\n  headers: {{x-local: {CANARY_LOCAL}}}\n"
    files["p.md"] = "Be brief.\n"
    files["secret.txt"] = CANARY_FILE + "\n"
    return files


# Environment variables that wire the channels into secrets, for every command (overrides
# reach only show and explain): what a secret reads must never be printed, whatever else
# the profile does with it.
WIRING = {f"{ENV_PREFIX}MODEL_CONFIG__HEADERS__X-TRACKED": "${vars.tracked_key}",
          f"{ENV_PREFIX}MODEL_CONFIG__HEADERS__X-FILE": "Bearer ${file:secret.txt}",
          f"{ENV_PREFIX}MODEL_CONFIG__HEADERS__X-ENV": "${oc.env:OPENAI_API_KEY}"}
# Values derived from a secret's sources: the same variable, the same file.
DERIVED = ["++model_config.call_id=${oc.env:OPENAI_API_KEY}",
           "++run_config.model_settings.tracing.group_id=${file:secret.txt}",
           "++model_config.initial_model_settings.instructions=${vars.key}"]
CANARY_OVERRIDES = [f"++model_config.api_key={CANARY_OVERRIDE}",
                    f"++vars.key={CANARY_OVERRIDE}",
                    f"++model_config.apikey={CANARY_OVERRIDE}",
                    f"++model_config.api_key=[{CANARY_OVERRIDE}",
                    f"model_config.api_key={{a: {CANARY_OVERRIDE}, a: b}}",
                    f"++model_config.headers.x=!!int {CANARY_OVERRIDE}",
                    f"++model_config={{api_key: {CANARY_OVERRIDE}, url: [}}",
                    f"~model_config.api_key={CANARY_OVERRIDE}"]


@st.composite
def secret_overrides(draw: st.DrawFn) -> list[str]:
    """Overrides given last: sometimes the api key reading `vars.key`, values derived from
    the secrets' sources, a canary given as an override (well-formed or not)."""
    found = ["++model_config.api_key=${vars.key}"] if draw(st.booleans()) else []
    found += draw(st.lists(st.sampled_from(DERIVED), max_size=2, unique=True))
    if draw(st.sampled_from([False, False, False, True])):  # most should still load
        found.append(draw(st.sampled_from(CANARY_OVERRIDES)))
    return found


OVERRIDE_KEYS = ["model_settings.voice", "model_settings.tools", "model_settings.speed",
                 "model_settings.turn_detection.type", "model_settings.turn_detection",
                 "model_config.url", "model_config.api_key", "model_config.headers.x",
                 "vars.x", "tracing_disabled", "model_settings.tools.0", "model_settings.tools[9]",
                 "start_messages", "nope", "a..b", "", "model_settings"]
OVERRIDE_VALUES = ["verse", "1.2", "[a, b]", "{type: server_vad}", "true", "'x'", "[a,", "!!int x",
                   "!delete", "${vars.x}", "", "null", "&a [*a]", "{a: 1, a: 2}", "\x01", ".nan"]


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    found: list[str] = []
    if draw(st.booleans()):
        return found
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.sampled_from([False] * 9 + [True])):
            found.append(draw(st.text(max_size=20)))
            continue
        op = draw(st.sampled_from(["", "+", "++", "~", "+="]))
        key = draw(st.sampled_from(OVERRIDE_KEYS))
        if op == "~":
            found.append(f"~{key}")
        elif op == "+=":
            found.append(f"{key}+={draw(st.sampled_from(OVERRIDE_VALUES))}")
        else:
            found.append(f"{op}{key}={draw(st.sampled_from(OVERRIDE_VALUES))}")
    return found


CANARY_VARIABLES = [("MODEL_CONFIG__API_KEY", CANARY_LAYER),
                    ("MODEL_CONFIG__API_KEY", f"[{CANARY_LAYER}"),
                    ("MODEL_CONFIG__HEADERS__X", f"{{{CANARY_LAYER}: 1, {CANARY_LAYER}: 2}}"),
                    ("MODEL_CONFIG", f"{{api_key: {CANARY_LAYER}, url: [}}"),
                    ("MODEL_CONFIG", f"{{api_key: {CANARY_LAYER}, api_key: x}}"),
                    ("MODEL_CONFIG__APIKEY", CANARY_LAYER),
                    ("VARS__KEY", CANARY_LAYER)]


@st.composite
def environs(draw: st.DrawFn) -> dict[str, str]:
    env = {"GIT_SHA": "abc123", **WIRING}
    if draw(st.sampled_from([True, True, True, False])):  # unset: the secret is unavailable
        env["OPENAI_API_KEY"] = CANARY_ENV
    if draw(st.sampled_from([False, False, False, True])):
        name = draw(st.sampled_from(["RUN_CONFIG__MODEL_SETTINGS__VOICE", "MODEL_CONFIG__URL",
                                     "MODEL_CONFIG__API_KEY", "X", "RUN_CONFIG____A"]))
        env[ENV_PREFIX + name] = draw(st.sampled_from(OVERRIDE_VALUES))
    if draw(st.sampled_from([False, False, False, True])):  # most should still load
        name, value = draw(st.sampled_from(CANARY_VARIABLES))
        env[ENV_PREFIX + name] = value
    return env


def write(root: Path, files: Mapping[str, str | bytes]) -> Path:
    profiles = root / "profiles"
    for name, content in files.items():
        path = profiles / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return profiles


def is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return type(value) is dict and all(
            type(k) is str and is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return type(value) is list and all(is_plain(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


def assert_located(exc: ProfileError) -> None:
    """A usage error explains itself in its message; any other error lists problems, every
    error among them with a file:line:col or named source."""
    assert exc.message
    if isinstance(exc, UsageError) and not exc.problems:
        return
    errors = [p for p in exc.problems if p.severity == "error"]
    assert errors, exc.render()
    for problem in errors:
        assert_problem_located(problem)


def assert_problem_located(problem: Problem) -> None:
    assert problem.mark is not None, problem.render()
    assert problem.mark.file, problem.render()


def no_secret(*texts: str, shown: frozenset[str] = frozenset()) -> None:
    """No canary in any of `texts`, but those `shown` (not secret in this composition)."""
    for text in texts:
        for canary in CANARIES:
            assert canary in shown or canary not in text, (canary, text)


# The file and the variable are secret because a header reads them. Where that header could
# not be written (model_config or headers is not a mapping in this profile, an error of its
# own), nothing secret reads them, and a value derived from them may be shown.
WIRED_BY = {f"environment variable {ENV_PREFIX}MODEL_CONFIG__HEADERS__X-FILE": CANARY_FILE,
            f"environment variable {ENV_PREFIX}MODEL_CONFIG__HEADERS__X-ENV": CANARY_ENV}


def unwired(problems: Any) -> frozenset[str]:
    return frozenset(WIRED_BY[p.mark.file] for p in problems
                     if p.mark is not None and p.mark.file in WIRED_BY)


def unwired_in(loader: Loader, agent: str, env: str | None) -> frozenset[str]:
    """`unwired` for one composition, without overrides (an override's own mistake would
    stop the check before the variables' problems are known)."""
    try:
        return unwired(loader.check(agent, env).problems)
    except ProfileError as exc:
        return unwired(exc.problems)


def unwired_anywhere(root: Path, environ: dict[str, str]) -> frozenset[str]:
    """`unwired` for every composition the command line may be asked about."""
    loader = Loader(root, environ=environ)
    return frozenset().union(*(unwired_in(loader, agent, env) for agent in ("a", "b")
                               for env in (None, "dev", "prod")))


EXPLAINED = ["model_config", "model_config.api_key", "model_config.headers", "vars",
             "vars.key", "vars.tracked_key", "model_config.call_id",
             "run_config.model_settings.tracing", "model_config.initial_model_settings"]


def shown_by(loader: Loader, agent: str, env: str | None, cli: list[str],
             keys: list[str]) -> list[str]:
    """What the API shows about one composition: explanations (rendered and repr'd) of
    `keys` — secrets, what reads them or is read by them — or the error's text."""
    texts: list[str] = []
    for key in keys:
        try:
            explanation = loader.explain(agent, env, key, cli)
        except ProfileError as exc:
            texts += [exc.render(), repr(exc)]
        else:
            texts += [explanation.render(), repr(explanation)]
    return texts


# -- properties -----------------------------------------------------------------------------

@given(files=trees(), agent=st.sampled_from(["a", "a", "a", "a", "b", "missing", "../a"]),
       env=st.sampled_from([None, "dev", "prod", "prod", "prd"]), cli=overrides(),
       environ=environs(), wiring=secret_overrides(),
       explained=st.lists(st.sampled_from(EXPLAINED), min_size=1, max_size=3, unique=True))
def test_loading_gives_valid_plain_data_or_located_errors(
        files: dict[str, str | bytes], agent: str, env: str | None, cli: list[str],
        environ: dict[str, str], wiring: list[str], explained: list[str]) -> None:
    cli = [*cli, *wiring]
    with tempfile.TemporaryDirectory() as tmp, deadline(SECONDS_PER_EXAMPLE):
        root = write(Path(tmp), files)
        loader = Loader(root, environ=environ)
        shown = unwired_in(loader, agent, env)
        try:
            profile = loader.load(agent, env, cli)
        except ProfileError as exc:
            event(f"load: {type(exc).__name__}")
            assert_located(exc)
            no_secret(exc.render(), str(exc), repr(exc), exc.message,
                      *(json.dumps(p.as_dict()) for p in exc.problems), shown=shown)
        else:
            event("load: ok")
            document = profile.document()
            assert is_plain(document)
            assert VALIDATOR.is_valid(document), list(VALIDATOR.iter_errors(document))[:1]
            no_secret(repr(profile), json.dumps(profile.redacted()),
                      *(p.render() for p in profile.warnings), bound_repr(profile))
        try:
            result = loader.check(agent, env, cli)
        except UsageError as exc:
            assert_located(exc)
            no_secret(exc.render(), repr(exc), shown=shown)
        else:
            assert (result.profile is None) == bool(result.errors)
            for problem in result.errors:
                assert_problem_located(problem)
            no_secret(*(p.render() for p in result.problems), repr(result), shown=shown)
        no_secret(*shown_by(loader, agent, env, cli, explained), shown=shown)


def bound_repr(profile: Any) -> str:
    """`repr(profile.bind(registry))`, or the binding error's text (a name it does not
    know): either way, what it shows."""
    from realtime_profiles.sdk import Registry

    try:
        return repr(profile.bind(Registry()))
    except ProfileError as exc:
        return exc.render()


COMMANDS = st.sampled_from([
    ["list"], ["show", "a"], ["show", "b"], ["show", "a", "--format", "json"],
    ["show", "a", "--env", "prod"], ["show", "a", "--strict"], ["show", "a", "--show-secrets"],
    ["validate"], ["validate", "--format", "json"], ["validate", "a", "--env", "dev"],
    ["validate", "--strict"], ["explain", "a", "model_settings.voice"],
    ["explain", "a", "model_config"], ["explain", "a", "model_config.api_key"],
    ["explain", "a", "vars.x"], ["explain", "a", "vars"], ["explain", "a", "vars.key"],
    ["explain", "a", "vars.tracked_key"], ["explain", "a", "model_config.headers"],
    ["explain", "a", "model_config.call_id"], ["diff", "a", "--env", "dev", "--env", "prod"],
    ["diff", "a@prod", "b@dev"], ["show", "../a"], ["show", "a", "--env", "../dev"],
    ["--no-local", "validate"], ["show"], ["bogus"], [], ["--help"], ["show", "a", "--bogus"],
])


@given(files=trees(), argv=COMMANDS, cli=overrides(), environ=environs(),
       wiring=secret_overrides())
def test_the_command_line_exits_0_1_or_2_without_a_traceback(
        files: dict[str, str | bytes], argv: list[str], cli: list[str],
        environ: dict[str, str], wiring: list[str]) -> None:
    import os
    from unittest import mock

    cli = [*cli, *wiring]
    takes_overrides = argv[:1] in (["show"], ["explain"]) and len(argv) > 1
    with tempfile.TemporaryDirectory() as tmp, deadline(SECONDS_PER_EXAMPLE):
        root = write(Path(tmp), files)
        out, err = io.StringIO(), io.StringIO()
        # The command line reads os.environ; a patched mapping (no real variable changes).
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("REALTIME_PROFILES", "OPENAI_API_KEY"))}
        with mock.patch.dict(os.environ, {**clean, **environ}, clear=True):
            code = main(["--root", str(root), *argv, *(cli if takes_overrides else [])],
                        out, err)
        event(f"exit {code}")
        assert code in (0, 1, 2), (code, err.getvalue())
        assert "Traceback" not in err.getvalue()
        printed = out.getvalue() + err.getvalue()
        if "--show-secrets" not in argv and any(c in printed for c in CANARIES):
            no_secret(printed, shown=unwired_anywhere(root, environ))
        if "json" in argv and (argv[0] == "show" or code != 2 or takes_overrides):
            assert is_plain(json.loads(out.getvalue()))  # JSON, even for an error


LAYER = Source("base", "base.yaml", tracked=True)


@given(text=st.one_of(st.text(), st.text(alphabet=YAML_ALPHABET),
                      st.lists(st.sampled_from(MUTATIONS + KEYS + SCALAR_TEXT))
                      .map(" ".join)))
def test_the_layer_parser_returns_located_problems_for_any_text(text: str) -> None:
    with deadline(SECONDS_PER_EXAMPLE):
        layer = parse_layer(LAYER, text)
    for problem in layer.problems:
        assert problem.mark is not None and problem.mark.file == "base.yaml", problem
    assert is_plain_layer(layer.data)


def is_plain_layer(value: Any) -> bool:
    """Layer data: plain values plus the `!delete` and `key+:` markers."""
    from realtime_profiles._layer import DELETE, Append

    if value is DELETE:
        return True
    if isinstance(value, Append):
        return is_plain_layer(value.items)
    if isinstance(value, dict):
        return all(type(k) is str and is_plain_layer(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain_layer(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


@given(data=st.one_of(st.binary(max_size=200),
                      st.text().map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.sampled_from([b"\xef\xbb\xbfvars: {}\n", "vars: {}\n".encode("utf-16"),
                                       b"\xff\xfe\x00", b"vars:\n  x: caf\xe9\n"])))
def test_reading_any_bytes_gives_a_layer_or_located_problems(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp, deadline(SECONDS_PER_EXAMPLE):
        path = Path(tmp) / "base.yaml"
        path.write_bytes(data)
        layer, _ = read_layer(Source("base", str(path), tracked=True), path)
    for problem in layer.problems:
        assert problem.mark is not None and problem.mark.file == str(path)
    assert is_plain_layer(layer.data)


def test_a_file_just_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_bytes(b"vars: {}\n" + b"#" * MAX_FILE_BYTES)
    layer, _ = read_layer(Source("base", str(path), tracked=True), path)
    assert [p.message for p in layer.problems] == [
        f"file is {MAX_FILE_BYTES + 9} bytes, over the {MAX_FILE_BYTES}-byte limit"]


@given(text=st.one_of(st.text(), st.builds(lambda op, k, v: f"{op}{k}={v}",
                                           st.sampled_from(["", "+", "++", "~"]),
                                           st.sampled_from(OVERRIDE_KEYS),
                                           st.text(alphabet=YAML_ALPHABET))))
def test_the_override_parser_raises_only_usage_errors(text: str) -> None:
    with deadline(SECONDS_PER_EXAMPLE):
        try:
            override = parse_override(text)
        except UsageError as exc:
            assert exc.message.startswith("invalid override")
        else:
            assert override.path and is_plain(override.value)


@given(name=st.text(alphabet="ABC_xyz.0-", max_size=20), value=st.text())
def test_environment_overrides_raise_only_usage_errors(name: str, value: str) -> None:
    with deadline(SECONDS_PER_EXAMPLE):
        try:
            found = env_overrides({ENV_PREFIX + name: value})
        except UsageError as exc:
            assert exc.message.startswith(f"environment variable {ENV_PREFIX}")
        else:
            assert len(found) == 1 and is_plain(found[0][1].value)
