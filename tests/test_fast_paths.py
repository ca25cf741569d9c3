"""The fast paths give exactly what the paths they shortcut give.

- Interpolation: `simple_pieces` + `Interpolator._evaluate` against OmegaConf's grammar parser
  and `GrammarVisitor` (fast_path=False), on random strings and trees: the same values (types
  included), the same problems in the same order, the same resolver calls and secret records;
  and, where nothing fails, the same as `OmegaConf.to_container(resolve=True)` itself.
- Validation: the compiled "certainly valid" check against jsonschema's `is_valid` on random
  documents shaped by the packaged schema.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from omegaconf import OmegaConf

from realtime_profiles._fastschema import compile_check
from realtime_profiles._interpolate import Interpolator, simple_pieces
from realtime_profiles._resolvers import EnvResolver, FileResolver
from realtime_profiles._validate import packaged_schema

EXAMPLES = int(os.environ.get("FAST_PATH_EXAMPLES", "200"))
ENVIRON = {"USER": "ada", "GIT_SHA": "abc123", "EMPTY": "", "NUM": "42", "OPENAI_API_KEY": "k"}

# -- interpolation ----------------------------------------------------------------------------

TEXT_CHARS = "ab Z0-_.:,/{}'\"?@%*|+=()[]~#!é\t"
ARGS = ["unknown", "x", "1", "-1", "1.5", ".5", "5.", "1e3", "1_0", "0x1f", "true", "False",
        "null", "NULL", "inf", "-inf", "nan", "info", "nan-x", "x:y", "wss://eu.x/v1", "-a", "+",
        "a@b", "%", "*", "|", "1a", "_", "a.b", "prompts/p.md", "a-b", ":", "???", "a b", "'q'",
        "", "x=y", "a\\,b", "${vars.s}", "[1]"]
NODES = ["vars.s", "vars.i", "vars.f", "vars.b", "vars.n", "vars.d", "vars.l", "vars.l.0",
         "vars.l.1", "vars.t", "vars.missing", "missing", "profile.agent", "profile.env",
         "vars.nested.deep", "vars.a-b", "vars.1", "vars.q", "vars.ref", "vars.cyc",
         ".vars.s", "vars..s", "vars.s ", " vars.s", "vars[s]"]
RESOLVERS = ["oc.env", "file", "nope", "oc.Env", "custom", "custom.typed", "bad-name", "1x"]


@st.composite
def interpolations(draw: Any) -> str:
    kind = draw(st.sampled_from(["node", "call", "call", "raw"]))
    if kind == "node":
        return "${" + draw(st.sampled_from(NODES)) + "}"
    if kind == "raw":
        return draw(st.sampled_from(["${", "}", "$", "\\${vars.s}", "\\\\${vars.s}", "\\",
                                     "${}", "${vars.s", "${oc.env:}", "${oc.env:USER,}"]))
    name = draw(st.sampled_from(RESOLVERS))
    args = draw(st.lists(st.sampled_from([*ARGS, *ENVIRON, "UNSET"]), min_size=0, max_size=3))
    return "${" + name + ":" + ",".join(args) + "}"


@st.composite
def strings(draw: Any) -> str:
    parts = draw(st.lists(st.one_of(st.text(TEXT_CHARS, min_size=1, max_size=4),
                                    interpolations()), min_size=1, max_size=4))
    text = "".join(parts)
    assume("${" in text)
    return text


def _custom(*args: Any) -> Any:
    return "|".join(map(repr, args))


def _typed(kind: Any = "int") -> Any:
    return {"int": 7, "x": None, "a": [1, {"k": 2}], "b": True}.get(kind, 2.5)


def _raw(value: str) -> dict[str, Any]:
    return {
        "vars": {
            "s": "text", "i": 3, "f": 0.5, "b": False, "n": None, "d": {"k": "v", "i": 1},
            "l": ["x", 2], "t": "tracked-${vars.s}", "nested": {"deep": "${vars.i}"},
            "a-b": "dash", "1": "one", "q": "???", "ref": "${vars.d}", "cyc": "${vars.cyc}",
        },
        "run_config": {"value": value, "other": "${vars.s}", "plain": 1},
        "model_config": {"api_key": value},
        "profile": {"agent": "support", "env": "prod"},
    }


def _resolve(raw: dict[str, Any], root: Path, fast: bool) -> tuple[Any, ...]:
    resolvers = {"oc.env": EnvResolver(ENVIRON), "file": FileResolver(root), "custom": _custom,
                 "custom.typed": _typed}
    interpolator = Interpolator(raw, resolvers,
                                secret_paths=frozenset({("model_config", "api_key")}),
                                lenient_secrets=True, fast_path=fast)
    result = interpolator.resolve(("run_config", "model_config"))
    # repr: NaN (`${oc.env:X,nan}` types its default) never equals itself
    return (repr(_typed_repr(result.tree)), result.problems,
            result.unset_secrets, result.failed, result.missing_secrets,
            repr(interpolator.calls))


def _typed_repr(value: Any) -> Any:
    """Values with their exact types: 1, 1.0 and True differ, and so do str subclasses."""
    if isinstance(value, dict):
        return [(k, _typed_repr(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed_repr(v) for v in value]
    return (type(value).__name__, value)


@pytest.fixture(scope="module")
def prompt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fastpath")
    (root / "prompts").mkdir()
    (root / "prompts" / "p.md").write_text("Be brief.\n", encoding="utf-8")
    return root


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=strings())
def test_fast_interpolation_equals_omegaconf_visitor(text: str, prompt_root: Path) -> None:
    raw = _raw(text)
    assert _resolve(raw, prompt_root, fast=True) == _resolve(raw, prompt_root, fast=False)


@st.composite
def simple_strings(draw: Any) -> str:
    """Mostly strings the fast path accepts and that resolve without a problem."""
    plain_args = [a for a in ARGS if simple_pieces("${oc.env:" + a + "}") is not None]
    found = ["vars.s", "vars.i", "vars.f", "vars.b", "vars.n", "vars.d", "vars.l", "vars.l.0",
             "vars.t", "vars.nested.deep", "vars.a-b", "vars.1", "profile.agent", "vars.ref"]
    interpolation = st.one_of(
        st.sampled_from(found).map(lambda k: "${" + k + "}"),
        st.lists(st.sampled_from([*plain_args, *ENVIRON]), min_size=1, max_size=2).map(
            lambda args: "${oc.env:" + ",".join(args) + "}"),
    )
    text_chars = TEXT_CHARS.replace("$", "").replace("\\", "")
    parts = draw(st.lists(st.one_of(st.text(text_chars, min_size=1, max_size=4),
                                    interpolation), min_size=1, max_size=4))
    text = "".join(parts)
    assume("${" in text)
    return text


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=simple_strings())
def test_accepted_strings_parse_and_mean_the_same_in_omegaconf(text: str) -> None:
    """Whatever the fast path accepts, OmegaConf itself resolves to the same value."""
    pieces = simple_pieces(text)
    assume(pieces is not None)
    assert all(p[0] != "call" or p[1] == "oc.env" or p[1] in RESOLVERS for p in pieces)
    assume(all(p[0] != "call" or p[1] == "oc.env" for p in pieces))
    raw = _raw(text)
    del raw["model_config"], raw["vars"]["cyc"]  # OmegaConf resolves every key
    ours = _resolve(raw, Path("."), fast=True)
    assume(not ours[1])  # OmegaConf raises where we report: compare successes only
    with mock.patch.dict(os.environ, ENVIRON, clear=True):
        theirs = OmegaConf.to_container(OmegaConf.create(raw), resolve=True)
    assert isinstance(theirs, dict)
    assert ours[0] == repr(_typed_repr({"run_config": theirs["run_config"]}))


TREE_KEYS = ["a", "b", "c-d", "1", "x"]


@st.composite
def tree_strings(draw: Any) -> str:
    """Strings whose references point into the random tree (or just miss it)."""
    ref = st.lists(st.sampled_from(TREE_KEYS), min_size=1, max_size=3).map(
        lambda keys: "${vars." + ".".join(keys) + "}")
    call = st.lists(st.sampled_from(["USER", "UNSET", "x", "1", "a/b", "true"]), min_size=1,
                    max_size=2).map(lambda args: "${oc.env:" + ",".join(args) + "}")
    parts = draw(st.lists(st.one_of(st.text("ab -:{}", min_size=1, max_size=3), ref, call),
                          min_size=1, max_size=3))
    return "".join(parts)


RANDOM_TREES = st.recursive(
    st.one_of(st.integers(-2, 2), st.booleans(), st.none(), st.sampled_from([0.5, "", "s"]),
              tree_strings()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(TREE_KEYS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(variables=st.dictionaries(st.sampled_from(TREE_KEYS), RANDOM_TREES, max_size=4),
       config=RANDOM_TREES)
def test_fast_path_equals_omegaconf_visitor_on_random_trees(
        variables: dict[str, Any], config: Any, prompt_root: Path) -> None:
    raw = {"vars": variables, "run_config": {"value": config},
           "profile": {"agent": "a", "env": "e"}}
    fast = _resolve(json.loads(json.dumps(raw)), prompt_root, fast=True)
    assert fast == _resolve(json.loads(json.dumps(raw)), prompt_root, fast=False)


def test_fast_path_covers_the_shipped_strings() -> None:
    for text in ["realtime-${profile.agent}", "${oc.env:GIT_SHA,unknown}",
                 "${file:prompts/support.md}", "dev-${oc.env:USER,anonymous}",
                 "${oc.env:OPENAI_API_KEY}", "${profile.agent}-${profile.env}",
                 "${oc.env:REALTIME_EU_URL,wss://eu.api.example.com/v1/realtime}"]:
        assert simple_pieces(text) is not None, text
    for text in ["${oc.env:X,1}", "${oc.env:X,null}", "\\${x}", "${oc.env:X,'quoted'}",
                 "${a:${b}}", "${ x }", "plain"]:
        assert simple_pieces(text) is None, text


# -- validation -------------------------------------------------------------------------------

SCHEMA = packaged_schema()
DEFS = SCHEMA["$defs"]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40000),
    st.floats(min_value=-1, max_value=40000, allow_nan=False),
    st.sampled_from([0, 1, 1.0, 0.5, 1.5, 24000, 24000.0, True, "", "inf", "audio", "text",
                     "pcm16", "audio/pcm", "semantic_vad", "server_vad", "marin", "wss://x",
                     "http://x", "message", "user", "input_text", "low", "near_field"]),
    st.text(max_size=4),
)
RANDOM_JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "voice", "rate", "text", "x", "id"]), inner, max_size=3),
    max_leaves=5,
)


def instances(node: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly schema-shaped values, with random JSON mixed in at every level."""
    if not isinstance(node, dict) or depth > 7:
        return RANDOM_JSON
    if "$ref" in node:
        return instances(DEFS[node["$ref"].rsplit("/", 1)[-1]], depth + 1)
    options: list[st.SearchStrategy[Any]] = []
    options += [instances(branch, depth + 1) for branch in node.get("anyOf", [])]
    if "enum" in node:
        options.append(st.sampled_from(node["enum"]))
    if "const" in node:
        options.append(st.just(node["const"]))
    if "properties" in node:
        props = node["properties"]
        required = node.get("required", [])
        base = st.fixed_dictionaries(
            {k: instances(props[k], depth + 1) for k in required},
            optional={k: instances(v, depth + 1) for k, v in props.items() if k not in required})
        options.append(base)
        options.append(st.builds(lambda d, k, v: {**d, k: v}, base,
                                 st.sampled_from(["voic", "type", "extra"]), LEAVES))
    if isinstance(node.get("items"), dict):
        options.append(st.lists(instances(node["items"], depth + 1), max_size=3))
    kind = node.get("type")
    if kind == "string" or "pattern" in node or "minLength" in node:
        options.append(st.sampled_from(["", "a", "wss://h", "ws://h", "x wss://"]))
    if kind in ("integer", "number"):
        options.append(st.sampled_from([0, 1, 5000, 30000, 4096, 4097, 0.25, 1.5, 1.6, -1, 2.0]))
    if kind == "boolean":
        options.append(st.booleans())
    options.append(RANDOM_JSON)
    return st.one_of(*options)


CHECK = compile_check(SCHEMA)
JSONSCHEMA = Draft202012Validator(SCHEMA)


def test_the_packaged_schema_compiles() -> None:
    assert CHECK is not None


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(document=instances(SCHEMA))
def test_certainly_valid_equals_jsonschema(document: Any) -> None:
    assert CHECK is not None
    assert CHECK(document) == JSONSCHEMA.is_valid(document), json.dumps(document)


def test_shipped_profiles_take_the_fast_path() -> None:
    from realtime_profiles import Loader

    root = Path(__file__).resolve().parent.parent / "profiles"
    loader = Loader(root, environ=ENVIRON, local=False)
    assert CHECK is not None
    for agent in loader.agents():
        for env in loader.envs():
            document = loader.load(agent, env).document()
            assert CHECK(document), (agent, env)


def test_absolute_local_refs_compile() -> None:
    """fastjsonschema (and others) rewrite `#/$defs/X` to `<$id>#/$defs/X` in place."""
    schema = {"$id": "https://example.com/s.json", "$defs": {"n": {"type": "integer"}},
              "properties": {"a": {"$ref": "https://example.com/s.json#/$defs/n"}}}
    check = compile_check(schema)
    assert check is not None
    assert check({"a": 1}) and not check({"a": "x"})


def test_unknown_keywords_give_up() -> None:
    assert compile_check({"type": "object", "patternProperties": {"a": {}}}) is None
    assert compile_check({"not": {"type": "string"}}) is None
    assert compile_check({"$ref": "https://example.com/x"}) is None
    assert compile_check({"format": "uri"}, format_checker=object()) is None
    check = compile_check({"format": "uri", "type": "string"})
    assert check is not None and check("not a uri")


# -- symlink checks: the lstat shortcut sends every link to the full resolve ----------------------

def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_links_inside_the_root_are_followed_and_links_out_refused(tmp_path: Path) -> None:
    from realtime_profiles import Loader
    from realtime_profiles.errors import UsageError

    root = tmp_path / "profiles"
    outside = tmp_path / "outside"
    _write(root / "base.yaml", "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n")
    _write(root / "env" / "prod.yaml", "run_config:\n  tracing_disabled: true\n")
    _write(root / "shared" / "a.yaml",
           "model_config:\n  initial_model_settings:\n    instructions: ${file:p/a.md}\n")
    _write(root / "texts" / "a.md", "Inside.\n")
    _write(outside / "b.yaml", "run_config:\n  tracing_disabled: false\n")
    _write(outside / "prod.yaml", "run_config:\n  tracing_disabled: false\n")
    _write(outside / "c.md", "Outside.\n")
    (root / "agents").mkdir()
    (root / "agents" / "a.yaml").symlink_to(root / "shared" / "a.yaml")  # a link, inside
    (root / "p").symlink_to(root / "texts")                                 # a folder link, inside
    loader = Loader(root, environ={"OPENAI_API_KEY": "k"}, local=False)
    profile = loader.load("a", "prod")
    assert profile.model_config["initial_model_settings"]["instructions"] == "Inside."

    (root / "agents" / "b.yaml").symlink_to(outside / "b.yaml")
    with pytest.raises(UsageError, match="leaves the profile root"):
        Loader(root, environ={"OPENAI_API_KEY": "k"}, local=False).load("b", "prod")

    (root / "agents" / "b.yaml").unlink()
    _write(root / "agents" / "c.yaml", "run_config:\n  tracing_disabled: false\n")
    (root / "agents" / "c").symlink_to(outside)  # a folder on the way leads out
    with pytest.raises(UsageError, match="leaves the profile root"):
        Loader(root, environ={"OPENAI_API_KEY": "k"}, local=False).load("c", "prod")

    (root / "agents" / "c").unlink()
    (root / "q").symlink_to(outside)
    _write(root / "agents" / "d.yaml",
           "model_config:\n  initial_model_settings:\n    instructions: ${file:q/c.md}\n")
    result = Loader(root, environ={"OPENAI_API_KEY": "k"}, local=False).check("d", "prod")
    assert any("leaves the profile root (symlink)" in p.message for p in result.problems)
