"""Parsing one layer file: marks, markers, and every hostile or malformed input located."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_profiles import Loader
from realtime_profiles._layer import DELETE, Append, Source
from realtime_profiles._limits import MAX_FILE_BYTES
from realtime_profiles._sources import Request, gather
from realtime_profiles._tree import check_name, scan
from realtime_profiles._yaml import parse_layer, read_layer
from realtime_profiles.errors import Mark, UsageError


def layer_kinds(root: Path, agent: str, env: str | None, *, local: bool = True) -> list[str]:
    """The kinds of the file layers a request reads, lowest first."""
    loader = Loader(root, local=local, environ={})
    gathered = gather(Request(agent, env), loader, loader.tree())
    return [layer.source.kind for layer in gathered.layers]

BASE = Source("base", "base.yaml", tracked=True)
LOCAL = Source("local", "local.yaml", tracked=False)


def messages(text: str, source: Source = BASE) -> list[str]:
    return [p.render() for p in parse_layer(source, text).problems]


def test_marks_are_one_based_and_recorded_per_key_and_item() -> None:
    layer = parse_layer(BASE, "run_config:\n  model_settings:\n    tools: [a, b]\n")
    assert layer.data == {"run_config": {"model_settings": {"tools": ["a", "b"]}}}
    assert layer.marks[("run_config", "model_settings", "tools")] == Mark("base.yaml", 3, 5)
    assert layer.marks[("run_config", "model_settings", "tools", 1)] == Mark("base.yaml", 3, 16)


def test_delete_tag_and_append_key_become_markers() -> None:
    layer = parse_layer(BASE, "run_config:\n  tracing_disabled: !delete\n"
                              "  model_settings:\n    tools+: [c]\n")
    settings = layer.data["run_config"]
    assert settings["tracing_disabled"] is DELETE
    assert settings["model_settings"]["tools"] == Append(["c"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("run_config: [unclosed\n",
                     "base.yaml:2:1: invalid YAML: while parsing a flow sequence did not find "
                     "expected ',' or ']'", id="syntax"),
        pytest.param("- a\n- b\n",
                     "base.yaml:1:1: a layer file must be a mapping with the keys vars, "
                     "run_config, model_config, start_messages, client_messages, agent, facets, "
                     "overridable, fingerprint",
                     id="not-a-mapping"),
        pytest.param("run_config:\n  tracing_disabled: true\n  tracing_disabled: false\n",
                     "base.yaml:3:3: run_config.tracing_disabled: duplicate key (first set at "
                     "base.yaml:2:3) (keep one; a later duplicate would silently win)",
                     id="duplicate-key"),
        pytest.param("run_confg: {}\n",
                     "base.yaml:1:1: run_confg: unknown top-level key (did you mean "
                     "'run_config'?)", id="unknown-section"),
        pytest.param("model_settings: {}\n",
                     "base.yaml:1:1: model_settings: unknown top-level key (it belongs under "
                     "run_config.model_settings)", id="misplaced-section"),
        pytest.param("vars:\n  x: !!python/object:os.system ls\n",
                     "base.yaml:2:6: vars.x: tag tag:yaml.org,2002:python/object:os.system is "
                     "not allowed (only plain YAML values and !delete)", id="python-tag"),
        pytest.param("vars:\n  x: !env HOME\n",
                     "base.yaml:2:6: vars.x: tag !env is not allowed (only plain YAML values "
                     "and !delete)", id="custom-tag"),
        pytest.param("vars:\n  x: .nan\n",
                     "base.yaml:2:6: vars.x: NaN and infinity have no JSON form", id="nan"),
        pytest.param("vars:\n  base: &b {a: 1}\n  x:\n    <<: *b\n",
                     "base.yaml:4:5: vars.x: YAML merge keys (<<) are not supported (use a "
                     "${vars.name} preset and override fields in a higher layer)",
                     id="merge-key"),
        pytest.param("vars:\n  ? [a]\n  : 1\n",
                     "base.yaml:2:5: vars: mapping keys must be strings (quote the key)",
                     id="non-string-key"),
        pytest.param("vars:\n  x: !delete 3\n",
                     "base.yaml:2:6: vars.x: !delete takes no value: write `key: !delete`",
                     id="delete-with-value"),
        pytest.param("run_config:\n  model_settings:\n    tools+: lookup\n",
                     "base.yaml:3:5: run_config.model_settings.tools: `tools+:` appends a list; "
                     "got a string (write tools+ [item, ...])", id="append-scalar"),
        pytest.param("vars+: [a]\n",
                     "base.yaml:1:1: vars: only list sections can be appended to",
                     id="append-section"),
        pytest.param("model_config:\n  api_key: sk-live-1234567890abcdefghijkl\n",
                     "base.yaml:2:3: model_config.api_key: a literal secret in a tracked file "
                     "(use ${oc.env:NAME} or ${file:path}, or put it in the untracked "
                     "local.yaml)", id="literal-api-key"),
        pytest.param("vars:\n  key: sk-abcdefghijklmnopqrstuvwx\n",
                     "base.yaml:2:3: vars.key: looks like a literal API key in a tracked file "
                     "(read it from the environment: ${oc.env:OPENAI_API_KEY})",
                     id="key-shaped-string"),
        pytest.param("model_config:\n  headers:\n    api-key: abc123\n",
                     "base.yaml:3:5: model_config.headers.api-key: a literal secret in a "
                     "tracked file (use ${oc.env:NAME} or ${file:path}, or put it in the "
                     "untracked local.yaml)", id="literal-header"),
    ],
)
def test_malformed_input_is_located(text: str, expected: str) -> None:
    assert expected in messages(text)


def test_secret_text_never_appears_in_messages() -> None:
    rendered = "\n".join(messages("model_config:\n  api_key: sk-live-1234567890abcdefghijkl\n"))
    assert "sk-live" not in rendered


def test_literal_secrets_are_allowed_in_the_untracked_local_layer() -> None:
    assert messages("model_config:\n  api_key: sk-live-1234567890abcdefghijkl\n", LOCAL) == []


def test_alias_bomb_fails_fast_with_a_clear_message() -> None:
    lines = ["vars:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"  a{i}: &a{i} [{', '.join([prev] * 10)}]")
    problems = messages("\n".join(lines) + "\n")
    assert len(problems) == 1
    assert "expands to more than 100000 values (an alias bomb?)" in problems[0]


def test_small_aliases_expand_normally() -> None:
    layer = parse_layer(BASE, "vars:\n  a: &v {x: 1}\n  b: *v\n")
    assert layer.data == {"vars": {"a": {"x": 1}, "b": {"x": 1}}}
    assert layer.problems == ()


def test_deep_nesting_is_refused() -> None:
    text = "vars: " + "[" * 100 + "]" * 100 + "\n"
    assert "nested deeper than 64 levels" in messages(text)[0]


def test_dates_stay_text() -> None:
    assert parse_layer(BASE, "vars:\n  d: 2024-01-02\n").data == {"vars": {"d": "2024-01-02"}}


def test_empty_file_is_an_empty_layer() -> None:
    layer = parse_layer(BASE, "# only a comment\n")
    assert (layer.data, layer.problems) == ({}, ())


def test_binary_and_non_utf8_and_huge_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"vars:\n  x: \x00\x01\n")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"vars:\n  x: caf\xe9\n")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    render = lambda p: [x.render() for x in read_layer(Source("base", str(p), True), p)[0].problems]  # noqa: E731
    assert render(binary) == [f"{binary}: binary content (NUL byte) is not YAML text"]
    assert render(latin) == [f"{latin}:2:9: not UTF-8 text (byte 14)"]
    assert render(huge) == [f"{huge}: file is {MAX_FILE_BYTES + 1} bytes, over the "
                            f"{MAX_FILE_BYTES}-byte limit"]


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "a b", "/abs", "a\\b"])
def test_names_that_could_leave_the_tree_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="names match"):
        check_name("agent", name)


def test_discovery_and_layer_order(tmp_path: Path) -> None:
    root = tmp_path / "profiles"
    for rel in ["base.yaml", "env/prod.yaml", "env/dev.yaml", "agents/a.yaml",
                "agents/b/prod.yaml", "local.yaml"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")
    tree = scan(root)
    assert (tree.agents, tree.envs, tree.agent_envs()) == (("a", "b"), ("dev", "prod"),
                                                         (("b", "prod"),))
    assert layer_kinds(root, "b", "prod") == ["base", "env", "agent@env", "local"]
    assert layer_kinds(root, "a", "dev", local=False) == ["base", "env", "agent"]


def test_unknown_agent_and_env_suggest(tmp_path: Path) -> None:
    root = tmp_path / "profiles"
    (root / "agents").mkdir(parents=True)
    (root / "agents" / "support.yaml").write_text("{}\n")
    (root / "env").mkdir()
    (root / "env" / "prod.yaml").write_text("{}\n")
    tree = scan(root)
    with pytest.raises(UsageError, match=r"unknown agent 'suport' \(did you mean 'support'\?\)"):
        tree.check("suport", None)
    with pytest.raises(UsageError, match=r"unknown environment 'prd' \(did you mean 'prod'\?\)"):
        tree.check("support", "prd")


def test_a_layer_symlinked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("{}\n")
    root = tmp_path / "profiles"
    (root / "agents").mkdir(parents=True)
    (root / "agents" / "a.yaml").symlink_to(outside)
    with pytest.raises(UsageError, match="leaves the profile root"):
        layer_kinds(root, "a", None)
