"""Hostile input end to end through the command line: every file, reference and override that
tries to crash, hang, escape the root or leak a secret gets one located line and exit 1 or 2;
files are replaced atomically; concurrent edits are seen whole. docs/security.md states what
these tests hold."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from realtime_profiles import Loader, ProfileError
from realtime_profiles._limits import MAX_FILE_BYTES, MAX_PROMPT_BYTES
from realtime_profiles.cli import main
from tests.conftest import Tree, deadline

SECONDS = 15


def run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with deadline(SECONDS):
        if environ is None:
            code = main(list(argv), out, err)
        else:
            with pytest.MonkeyPatch.context() as patch:
                for name, value in environ.items():
                    patch.setenv(name, value)
                code = main(list(argv), out, err)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("REALTIME_PROFILES") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)


def doubling(name: str, levels: int, first: str) -> str:
    """vars.{name}0 = first; each next level refers to the previous one twice."""
    lines = [f"  {name}0: {first}"]
    lines += [f"  {name}{i}: ['${{vars.{name}{i - 1}}}', '${{vars.{name}{i - 1}}}']"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB = "vars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
DEEP = "vars:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(80)) + "  " * 81 + "x\n"
RUNAWAY = ("vars:\n  s0: " + "x" * 1000 + "\n"
           + "".join(f"  s{i}: '${{vars.s{i - 1}}}${{vars.s{i - 1}}}'\n" for i in range(1, 12))
           + "run_config: {model_settings: {tracing: {workflow_name: '${vars.s11}'}}}\n")
LIST_BOMB = ("vars:\n" + doubling("l", 20, "[x]")
             + "run_config: {model_settings: {tracing: {metadata: {m: '${vars.l19}'}}}}\n")
FAN_OUT = ("vars:\n  p: ${file:p.md}\nrun_config:\n  model_settings:\n    tracing:\n"
           "      metadata:\n" + "".join(f"        k{i}: ${{vars.p}}\n" for i in range(100)))
PRESET_BASE = ("vars:\n  big:\n" + "".join(f"    k{i}: {i}\n" for i in range(2000))
               + "".join(f"  r{i}: ${{vars.big}}\n" for i in range(55)))
PRESET_AGENT = "vars:\n" + "".join(f"  r{i}: {{x: 1}}\n" for i in range(55))
CHAIN_BASE = ("vars:\n" + "".join(f"  p{i}: ${{vars.p{i - 1}}}\n" for i in range(199, 0, -1))
              + "  p0: {x: 1}\n")
CHAIN_AGENT = "vars:\n" + "".join(f"  p{i}: {{y: 1}}\n" for i in range(1, 200))
A = "profiles/agents/a.yaml"

HOSTILE_FILES = [
    pytest.param({"agents/a.yaml": "run_config: [unclosed\n"},
                 f"{A}:2:1: invalid YAML: while parsing a flow sequence did not find expected "
                 "',' or ']'", id="malformed-yaml"),
    pytest.param({"agents/a.yaml": "run_config:\n\tvoice: x\n"},
                 f"{A}:2:1: invalid YAML: while scanning for the next token found character "
                 "that cannot start any token", id="tab-indent"),
    pytest.param({"agents/a.yaml": "vars: {x: a\x01}\n"},
                 f"{A}:1:12: invalid YAML: unacceptable character #x0001: control characters "
                 "are not allowed", id="control-character"),
    pytest.param({"agents/a.yaml": "- run_config\n"},
                 f"{A}:1:1: a layer file must be a mapping with the keys vars, run_config, "
                 "model_config, start_messages, client_messages, agent, facets, overridable, "
                 "fingerprint",
                 id="top-level-list"),
    pytest.param({"agents/a.yaml": "just text\n"},
                 f"{A}:1:1: a layer file must be a mapping with the keys vars, run_config, "
                 "model_config, start_messages, client_messages, agent, facets, overridable, "
                 "fingerprint",
                 id="top-level-scalar"),
    pytest.param({"agents/a.yaml": "vars: {}\n---\nvars: {}\n"},
                 f"{A}:2:1: invalid YAML: expected a single document in the stream but found "
                 "another document", id="two-documents"),
    pytest.param({"agents/a.yaml": "vars:\n  x: 1\n  x: 2\n"},
                 f"{A}:3:3: vars.x: duplicate key (first set at {A}:2:3) (keep one; a later "
                 "duplicate would silently win)", id="duplicate-key"),
    pytest.param({"agents/a.yaml": BOMB},
                 f"{A}:2:36: vars.a4[7][8][8][8][8]: document expands to more than 100000 "
                 "values (an alias bomb?); refusing to expand further", id="billion-laughs"),
    pytest.param({"agents/a.yaml": "vars:\n  x: &x [*x]\n"},
                 "nested deeper than 64 levels", id="recursive-alias"),
    pytest.param({"agents/a.yaml": b"#" * (MAX_FILE_BYTES + 1)},
                 f"{A}: file is {MAX_FILE_BYTES + 1} bytes, over the {MAX_FILE_BYTES}-byte "
                 "limit", id="huge-file"),
    pytest.param({"agents/a.yaml": b"vars:\n  x: \x00\x01\n"},
                 f"{A}: binary content (NUL byte) is not YAML text", id="binary"),
    pytest.param({"agents/a.yaml": b"vars:\n  x: caf\xe9\n"},
                 f"{A}:2:9: not UTF-8 text (byte 14)", id="latin-1"),
    pytest.param({"agents/a.yaml": "vars: {}\n".encode("utf-16")},
                 f"{A}:1:1: not UTF-8 text (byte 0)", id="utf-16"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !!python/object/apply:os.system [ls]\n"},
                 f"{A}:2:6: vars.x: tag tag:yaml.org,2002:python/object/apply:os.system is not "
                 "allowed on a list", id="python-object"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !!python/name:os.system\n"},
                 f"{A}:2:6: vars.x: tag tag:yaml.org,2002:python/name:os.system is not allowed "
                 "(only plain YAML values and !delete)", id="python-name"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !env HOME\n"},
                 f"{A}:2:6: vars.x: tag !env is not allowed (only plain YAML values and "
                 "!delete)", id="custom-tag"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !!binary aGk=\n"},
                 f"{A}:2:6: vars.x: tag tag:yaml.org,2002:binary is not allowed (only plain "
                 "YAML values and !delete)", id="binary-tag"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !!int abc\n"},
                 f"{A}:2:6: vars.x: this value cannot be read as !!int (fix it, drop the tag, "
                 "or quote it to keep it a string)", id="bad-int-tag"),
    pytest.param({"agents/a.yaml": "vars:\n  x: !!bool maybe\n"},
                 f"{A}:2:6: vars.x: this value cannot be read as !!bool", id="bad-bool-tag"),
    pytest.param({"agents/a.yaml": "vars:\n  x: " + "9" * 5000 + "\n"},
                 f"{A}:2:6: vars.x: this value cannot be read as !!int", id="huge-int"),
    pytest.param({"agents/a.yaml": "vars:\n  x: [a, !delete , b]\n"},
                 f"{A}:2:10: vars.x[1]: !delete removes a key; a list item cannot be deleted "
                 "(replace the whole list)", id="delete-list-item"),
    pytest.param({"agents/a.yaml": DEEP},
                 f"{A}:66:131: vars.k0.k1.k2.k3.k4.k5.k6.k7.k8.k9.k10", id="deep-block-nesting"),
    pytest.param({"agents/a.yaml": "vars: " + "[" * 5000 + "]" * 5000 + "\n"},
                 f"{A}:1:1006: invalid YAML: while increasing flow level exceeded maximum "
                 "nesting depth", id="deep-flow-nesting"),
    pytest.param({"agents/a.yaml": "vars: {a: '${vars.b}', b: '${vars.a}'}\n"
                                   "run_config: {model_settings: {voice: '${vars.a}'}}\n"},
                 f"{A}:1:8: vars.a: interpolation cycle: vars.a -> vars.b -> vars.a",
                 id="interpolation-cycle"),
    pytest.param({"agents/a.yaml": "vars: {a: 'x${vars.a}'}\n"
                                   "run_config: {model_settings: {voice: '${vars.a}'}}\n"},
                 f"{A}:1:8: vars.a: interpolation cycle: vars.a -> vars.a", id="self-reference"),
    pytest.param({"base.yaml": "vars: {a: '${vars.b}', b: '${vars.a}'}\n"
                               "run_config: {model_settings: {turn_detection: '${vars.a}'}}\n",
                  "agents/a.yaml": "run_config: {model_settings: {turn_detection: "
                                   "{type: server_vad}}}\n"},
                 f"{A}:1:31: run_config.model_settings.turn_detection: reference cycle: "
                 "run_config.model_settings.turn_detection -> vars.a -> vars.b -> vars.a",
                 id="preset-cycle"),
    pytest.param({"agents/a.yaml": "run_config: ${vars.missing}\n"},
                 f"{A}:1:1: run_config: ${{vars.missing}} refers to vars.missing, which is not "
                 "set", id="section-reference-fails"),
    pytest.param({"agents/a.yaml": RUNAWAY},
                 f"{A}:12:3: vars.s10: interpolation result is over 1000000 characters",
                 id="runaway-string"),
    pytest.param({"agents/a.yaml": LIST_BOMB},
                 "references expand to more than 100000 values or 10000000 characters (a "
                 "reference bomb?); refusing to expand further", id="reference-bomb"),
    pytest.param({"agents/a.yaml": FAN_OUT, "p.md": "x" * 200_000},
                 "references expand to more than 100000 values or 10000000 characters",
                 id="reference-fan-out"),
    pytest.param({"base.yaml": PRESET_BASE, "agents/a.yaml": PRESET_AGENT},
                 "presets expand to more than 100000 values (a reference bomb?); refusing to "
                 "expand further", id="preset-bomb"),
    pytest.param({"base.yaml": CHAIN_BASE, "agents/a.yaml": CHAIN_AGENT},
                 "presets refer to presets more than 64 levels deep", id="preset-chain"),
    pytest.param({"agents/a.yaml": "run_config: {model_settings: {instructions: '${file:p.md}'"
                                   "}}\n", "p.md": "x" * (MAX_PROMPT_BYTES + 1)},
                 f"{A}:1:31: run_config.model_settings.instructions: file 'p.md' is "
                 f"{MAX_PROMPT_BYTES + 1} bytes, over the {MAX_PROMPT_BYTES}-byte limit",
                 id="huge-prompt"),
    pytest.param({"agents/a.yaml": "run_config: {model_settings: {instructions: '${file:p.md}'"
                                   "}}\n", "p.md": b"caf\xe9"},
                 f"{A}:1:31: run_config.model_settings.instructions: file 'p.md' is not UTF-8 "
                 "text", id="binary-prompt"),
]


@pytest.mark.parametrize(("files", "expected"), HOSTILE_FILES)
def test_hostile_files_get_one_located_error(tree: Tree, files: dict[str, str | bytes],
                                             expected: str) -> None:
    root = tree({k: v for k, v in files.items() if isinstance(v, str)})
    for name, content in files.items():
        if isinstance(content, bytes):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
    code, out, err = run("show", "a")
    assert code == 1, err
    assert out == ""
    assert_one_located_error(err, expected)


def assert_one_located_error(err: str, expected: str) -> None:
    """Exactly one error, the expected one, on its own line, and the summary that counts
    it; no traceback."""
    lines = err.splitlines()
    assert "Traceback" not in err
    assert lines[-1].startswith("error: a@-: 1 error, "), err
    errors = [line for line in lines[:-1] if ": warning: " not in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(expected) or expected in errors[0], err


def test_a_fifo_as_prompt_is_refused_without_blocking(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config: {model_settings: {instructions: "
                                  "'${file:pipe}'}}\n"})
    os.mkfifo(root / "pipe")
    code, _, err = run("show", "a")
    assert code == 1
    assert (f"{A}:1:31: run_config.model_settings.instructions: file 'pipe' is not a regular "
            "file") in err


HOSTILE_OVERRIDES = [
    pytest.param("++vars.x=!!int abc", "invalid override '++vars.x=!!int abc': this value "
                 "cannot be read as !!int", id="bad-int-tag"),
    pytest.param("++vars.x=\x01", "invalid override '++vars.x=\\x01': invalid value: "
                 "unacceptable character #x0001: control characters are not allowed",
                 id="control-character"),
    pytest.param("++vars.x=[&a [1,1,1,1,1,1,1,1,1,1], " + ", ".join(
        f"&a{i} [{','.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]" for i in range(1, 8))
        + "]", "document expands to more than 100000 values (an alias bomb?)",
        id="alias-bomb"),
    pytest.param("++vars.x=&a [*a]", "nested deeper than 64 levels", id="recursive-alias"),
    pytest.param("++vars.x={a: 1, a: 2}", "a: duplicate key", id="duplicate-key"),
    pytest.param("++vars.x=!!python/object:os.system x", "tag tag:yaml.org,2002:python/"
                 "object:os.system is not allowed", id="python-tag"),
    pytest.param("++vars.x=!delete", "!delete and `key+:` belong in layer files (here: ~key, "
                 "key+=[...])", id="delete-tag"),
    pytest.param("++vars." + ".".join(["k"] * 70) + "=1", "key nested deeper than 64 levels",
                 id="deep-key"),
    pytest.param("+model_settings.tools[9]=x", "run_config.model_settings.tools[9]: is not set "
                 "in this profile", id="list-index-past-the-end"),
    pytest.param("++model_settings.voice.x=1", "run_config.model_settings.voice: is a string, "
                 "so x cannot be set inside it (replace it whole: "
                 "++run_config.model_settings.voice=...)", id="key-inside-a-string"),
    pytest.param("++model_settings.tools.x.y=1", "run_config.model_settings.tools.x: is not set "
                 "in this profile", id="name-inside-a-list"),
]


@pytest.mark.parametrize(("override", "expected"), HOSTILE_OVERRIDES)
def test_hostile_overrides_are_usage_errors(tree: Tree, override: str, expected: str) -> None:
    tree({"agents/a.yaml": "run_config: {model_settings: {voice: marin, tools: [a]}}\n"})
    code, out, err = run("show", "a", override)
    assert code == 2, err
    assert expected in err
    assert out == ""


# A process per case costs a start-up each: the default run takes every fourth case (and
# none of the bombs, which take seconds each: they are refused at their limit, not before);
# the fuzz profile runs both tables whole.
HEAVY = {"billion-laughs", "preset-bomb", "preset-chain", "reference-bomb", "alias-bomb"}


def sampled(table: list[Any], everything: bool) -> list[Any]:
    return table if everything else [case for index, case in enumerate(table)
                                      if index % 4 == 0 and case.id not in HEAVY]


def test_the_tables_through_the_installed_console_script(tmp_path: Path) -> None:
    """Every hostile file and override again, each through the installed `realtime-profiles`
    in its own process: the in-process runs cannot see a traceback printed by the
    interpreter, a crash that skips `main`, or what the real streams do. Run side by side."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import write_tree

    script = shutil.which("realtime-profiles", path=str(Path(sys.executable).parent))
    assert script is not None
    everything = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
    cases: list[tuple[Path, list[str], int, str]] = []
    for case in sampled(HOSTILE_FILES, everything):
        files, expected = case.values
        folder = tmp_path / f"file-{case.id}"
        root = write_tree(folder, {k: v for k, v in files.items() if isinstance(v, str)})
        for name, content in files.items():
            if isinstance(content, bytes):
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(content)
        cases.append((folder, ["show", "a"], 1, expected))
    for case in sampled(HOSTILE_OVERRIDES, everything):
        override, expected = case.values
        folder = tmp_path / f"override-{case.id}"
        write_tree(folder, {"agents/a.yaml": "run_config: {model_settings: {voice: marin, "
                                             "tools: [a]}}\n"})
        cases.append((folder, ["show", "a", str(override)], 2, expected))
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("REALTIME_PROFILES") and k != "OPENAI_API_KEY"}
    # Compiled modules cached once for all these processes (in tmp_path, not the tree):
    # without it each process compiles the package and its dependencies again.
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    environ["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")

    def start(folder: Path, argv: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen([script, *argv], cwd=folder, env=environ,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start(cases[0][0], cases[0][1])
    first.wait(timeout=120)  # fills the cache before the rest start side by side
    processes = [first, *(start(folder, argv) for folder, argv, _, _ in cases[1:])]
    for (_, argv, code, expected), process in zip(cases, processes, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == code, (argv, err)
        assert "Traceback" not in err, (argv, err)
        assert out == "", (argv, out)
        if code == 1:
            assert_one_located_error(err, expected)
        else:
            assert expected in err, (argv, err)


# -- path safety ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ("show", ".."), ("show", "../a"), ("show", "/etc/passwd"), ("show", "a/../a"),
    ("show", "a", "--env", "../env/dev"), ("explain", "..", "voice"),
    ("explain", "a", "voice", "--env", "/tmp"), ("diff", "a@../x", "a@dev"),
    ("show", "a", "--env", ".hidden"), ("show", "a\x00b"),
])
def test_names_cannot_leave_the_root(tree: Tree, argv: tuple[str, ...]) -> None:
    tree({"agents/a.yaml": "{}\n", "env/dev.yaml": "{}\n"})
    code, _, err = run(*argv)
    assert code == 2
    assert "names match [A-Za-z0-9][A-Za-z0-9_.-]* (no path separators, no leading dot)" in err


@pytest.mark.parametrize(("link", "target", "argv"), [
    pytest.param("agents", "outside", ("show", "a"), id="agents-folder"),
    pytest.param("env/prod.yaml", "outside/a.yaml", ("show", "a", "--env", "prod"),
                 id="env-file"),
    pytest.param("agents/a", "outside", ("show", "a", "--env", "prod"), id="agent-env-folder"),
    pytest.param("base.yaml", "outside/a.yaml", ("show", "a"), id="base-file"),
    pytest.param("local.yaml", "outside/a.yaml", ("show", "a"), id="local-file"),
])
def test_layer_links_that_leave_the_root_are_refused(tree: Tree, tmp_path: Path, link: str,
                                                     target: str, argv: tuple[str, ...]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.yaml").write_text("vars: {stolen: 1}\n")
    (outside / "prod.yaml").write_text("vars: {stolen: 1}\n")
    root = tree({"env/dev.yaml": "{}\n"})
    if link != "agents":
        (root / "agents").mkdir()
        (root / "agents" / "a.yaml").write_text("{}\n")
    if link != "env/prod.yaml":
        (root / "env" / "prod.yaml").write_text("{}\n")
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(tmp_path / target)
    code, _, err = run(*argv)
    assert code == 2
    assert "is a link that leaves the profile root" in err


def test_links_inside_the_root_are_followed(tree: Tree) -> None:
    root = tree({"shared/a.yaml": "model_config: {initial_model_settings: {instructions: "
                                  "'${file:in.md}'}}\n",
                 "prompts/p.md": "inside\n", "env/dev.yaml": "{}\n"})
    (root / "agents").mkdir()
    (root / "agents" / "a.yaml").symlink_to(root / "shared" / "a.yaml")
    (root / "in.md").symlink_to(root / "prompts" / "p.md")
    code, out, _ = run("show", "a", "--format", "json")
    assert code == 0
    assert json.loads(out)["model_config"]["initial_model_settings"]["instructions"] == "inside"


@pytest.mark.parametrize(("reference", "expected"), [
    pytest.param("../outside/x.md", "file path '../outside/x.md' must stay inside the profile "
                 "root (use a path relative to the root, without '..')", id="dotdot"),
    pytest.param("prompts/../../outside/x.md", "must stay inside the profile root",
                 id="dotdot-inside"),
    pytest.param("OUTSIDE/x.md", "must stay inside the profile root", id="absolute"),
    pytest.param("linked/x.md", "file path 'linked/x.md' leaves the profile root (symlink)",
                 id="linked-folder"),
    pytest.param("link.md", "file path 'link.md' leaves the profile root (symlink)",
                 id="linked-file"),
    pytest.param("prompts", "file 'prompts' is a directory", id="directory"),
    pytest.param("", "file takes one relative path", id="empty"),
])
def test_file_references_cannot_leave_the_root(tree: Tree, tmp_path: Path, reference: str,
                                               expected: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.md").write_text("stolen\n")
    reference = reference.replace("OUTSIDE", str(outside))
    root = tree({"agents/a.yaml": f"run_config: {{model_settings: {{instructions: "
                                  f"'${{file:{reference}}}'}}}}\n", "prompts/p.md": "ok\n"})
    (root / "linked").symlink_to(outside)
    (root / "link.md").symlink_to(outside / "x.md")
    code, out, err = run("show", "a")
    assert code == 1
    assert f"{A}:1:31: run_config.model_settings.instructions: " in err
    assert expected in err
    assert "stolen" not in out + err


# -- secrets --------------------------------------------------------------------------------

CANARY = "sk-canary-0123456789abcdefghijklmn"
LOCAL_CANARY = "local-canary-value"


def test_secrets_are_masked_in_every_output(tree: Tree) -> None:
    # `a` authenticates with the api key; `h` with headers (beside which the SDK would never
    # use an api key: a lint error), and local.yaml adds one header with a literal.
    root = tree({
        "base.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n"
                     "run_config: {model_settings: {voice: alloyy}}\n",
        "env/dev.yaml": "{}\n", "env/prod.yaml": "run_config: {model_settings: {voice: ash}}\n",
        "agents/a.yaml": "{}\n",
        "agents/h.yaml": "model_config:\n  api_key: !delete\n"
                         "  headers: {authorization: 'Bearer ${oc.env:OPENAI_API_KEY}',\n"
                         "            x-key: '${oc.env:OPENAI_API_KEY}'}\n",
        "local.yaml": f"model_config:\n  headers: {{x-local: {LOCAL_CANARY}}}\n",
    })
    environ = {"OPENAI_API_KEY": CANARY}
    outputs = []
    for argv in [("--no-local", "show", "a"), ("show", "h", "--format", "json"), ("validate",),
                 ("validate", "--format", "json"), ("explain", "a", "model_config.api_key"),
                 ("explain", "h", "model_config.headers"), ("explain", "a", "model_config"),
                 ("explain", "h", "model_config.headers.x-local"),
                 ("diff", "h", "--env", "dev", "--env", "prod"),
                 ("show", "h", "++model_config.api_key=[x]")]:
        code, out, err = run(*argv, environ=environ)
        assert code in (0, 1, 2)
        outputs.append((out, err))
    text = "\n".join(out + err for out, err in outputs)
    assert CANARY not in text
    assert LOCAL_CANARY not in text
    assert "api_key: '***'" in outputs[0][0]
    assert json.loads(outputs[1][0])["model_config"]["headers"] == {
        "authorization": "***", "x-key": "***", "x-local": "***"}
    assert outputs[6][0].startswith('model_config = {"api_key": "***", "headers": "***"}')
    profiles = [Loader(root, environ=environ, local=False).load("a"),
                Loader(root, environ=environ).load("h")]
    assert profiles[0].model_config["api_key"] == CANARY  # for use: the real value
    for profile in profiles:
        explanation = profile.explain("model_config")
        for shown in (repr(profile), str(profile.redacted()), repr(explanation),
                      str(explanation), *(w.render() for w in profile.warnings)):
            assert CANARY not in shown and LOCAL_CANARY not in shown
    assert "warning: run_config.model_settings.voice: 'alloyy'" in outputs[0][1]


@pytest.mark.parametrize("local", [
    pytest.param(f"model_config: {{api_key: [{LOCAL_CANARY}]}}", id="list"),
    pytest.param("model_config: {api_key: 1234567890123}", id="number"),
    pytest.param(f"model_config: {{headers: {LOCAL_CANARY}}}", id="headers-string"),
    pytest.param(f"model_config: {{headers: [{LOCAL_CANARY}]}}", id="headers-list"),
    pytest.param(f"model_config: {{api_key: '{LOCAL_CANARY}${{'}}", id="bad-grammar"),
    pytest.param(f"model_config: {{api_key: '{LOCAL_CANARY}${{nope:x}}'}}", id="bad-resolver"),
    pytest.param(f"model_config: {{headers: {{x: '{LOCAL_CANARY}${{vars.no}}'}}}}",
                 id="bad-reference"),
    pytest.param(f"model_config: {{api_key: !!int {LOCAL_CANARY}}}", id="bad-tag"),
    pytest.param(f"model_config: {{api_key: {{{LOCAL_CANARY}: 1}}}}", id="mapping"),
])
def test_an_error_about_a_secret_never_prints_it(tree: Tree, local: str) -> None:
    tree({"agents/a.yaml": "{}\n", "local.yaml": local + "\n"})
    for argv in [("show", "a"), ("validate",), ("show", "a", "--show-secrets")]:
        code, out, err = run(*argv)
        assert code == 1, err
        assert "model_config" in err
        assert LOCAL_CANARY not in out + err
        assert "1234567890123" not in out + err


@pytest.mark.parametrize("override", [
    f"~model_config.api_key={CANARY}", f"+model_config.api_key+={CANARY}",
    f"model_config.api_key=[{CANARY}", f"++model_config.api_key=!!int {CANARY}",
    f"++model_config.headers.x=[{CANARY}", f"++model_config.headers.x.=[{CANARY}",
    f"++model_config.api_key=[{CANARY}]", f"++model_config.headers={{x: [{CANARY}]}}",
])
def test_a_bad_override_of_a_secret_never_prints_it(tree: Tree, override: str) -> None:
    tree({"agents/a.yaml": "model_config: {api_key: '${oc.env:K,x}'}\n"})
    code, out, err = run("show", "a", override)
    assert code == 2, err
    assert "model_config" in err
    assert CANARY not in out + err


@pytest.mark.parametrize(("name", "value"), [
    ("MODEL_CONFIG__API_KEY", f"[{CANARY}"), ("MODEL_CONFIG__API_KEY", f"\x01{CANARY}"),
    ("MODEL_CONFIG__API_KEY", f"[{CANARY}]"), ("MODEL_CONFIG__HEADERS__X", f"{{{CANARY}"),
    ("MODEL_CONFIG__API_KEY__", CANARY), ("MODEL_CONFIG__API_KEY", f"!!int {CANARY}"),
])
def test_a_bad_secret_in_the_environment_is_never_printed(tree: Tree, name: str,
                                                          value: str) -> None:
    tree({"agents/a.yaml": "{}\n"})
    code, out, err = run("show", "a", environ={f"REALTIME_PROFILES__{name}": value})
    assert code in (1, 2), err
    assert f"REALTIME_PROFILES__{name}" in err
    assert CANARY not in out + err


def test_literal_keys_in_tracked_layers_are_rejected(tree: Tree) -> None:
    tree({"base.yaml": f"vars: {{k: {CANARY}}}\n", "env/prod.yaml": f"model_config: "
          f"{{api_key: {CANARY}}}\n", "agents/a.yaml": "model_config: {headers: {h: abc}}\n"})
    code, out, err = run("validate")
    assert code == 1
    assert err.splitlines()[:3] == [
        f"{A}:1:26: model_config.headers.h: a literal secret in a tracked file (use "
        "${oc.env:NAME} or ${file:path}, or put it in the untracked local.yaml) [a@prod]",
        "profiles/base.yaml:1:8: vars.k: looks like a literal API key in a tracked file (read "
        "it from the environment: ${oc.env:OPENAI_API_KEY}) [a@prod]",
        "profiles/env/prod.yaml:1:16: model_config.api_key: a literal secret in a tracked file "
        "(use ${oc.env:NAME} or ${file:path}, or put it in the untracked local.yaml) [a@prod]"]
    assert CANARY not in out + err


# -- concurrency ----------------------------------------------------------------------------

OLD = ("vars: {v: old}\nrun_config:\n  tracing_disabled: false\n  model_settings:\n"
       "    voice: ${vars.v}\n    model_name: gpt-realtime\n    speed: 1.0\n")
NEW = ("vars: {v: new-voice}\nrun_config:\n  tracing_disabled: true\n  model_settings:\n"
       "    voice: ${vars.v}\n    model_name: gpt-realtime-mini\n    speed: 1.25\n"
       "    output_modalities: [audio]\n")


def shape(profile: object) -> tuple[object, ...]:
    run_config = profile.run_config  # type: ignore[attr-defined]
    settings = run_config["model_settings"]
    modalities = settings.get("output_modalities")
    return (settings["voice"].split("/")[0], settings["model_name"], settings["speed"],
            run_config["tracing_disabled"], modalities and tuple(modalities))


def test_loads_during_edits_see_the_old_or_the_new_file(tree: Tree) -> None:
    agents = {f"agents/a{i}.yaml": f"run_config: {{model_settings: {{voice: '${{vars.v}}/a{i}'"
                                   f"}}}}\n" for i in range(4)}
    root = tree({"base.yaml": OLD, "env/dev.yaml": "{}\n", "env/prod.yaml": "{}\n",
                 "agents/a0/prod.yaml": "vars: {w: 1}\n", **agents})
    old = ("old", "gpt-realtime", 1.0, False, None)
    new = ("new-voice", "gpt-realtime-mini", 1.25, True, ("audio",))
    shared = Loader(root, environ={})
    stop = threading.Event()
    seen: list[tuple[object, ...]] = []
    errors: list[BaseException] = []

    def edit() -> None:
        """Replace base.yaml as editors and deploy tools do (temp file + rename), and add
        and remove other files, until the readers are done."""
        number = 0
        while not stop.is_set():
            number += 1
            staged = root / f".base.yaml.{number}.tmp"
            staged.write_text(NEW if number % 2 else OLD)
            staged.replace(root / "base.yaml")
            extra = root / "agents" / "extra.yaml"
            extra.write_text("{}\n") if number % 3 else extra.unlink(missing_ok=True)

    def read(seed: int) -> None:
        choice = random.Random(seed)
        try:
            for _ in range(60):
                loader = shared if choice.random() < 0.7 else Loader(root, environ={})
                agent = f"a{choice.randrange(4)}"
                env = choice.choice([None, "dev", "prod"])
                profile = loader.load(agent, env)
                voice = profile.run_config["model_settings"]["voice"]
                assert voice.endswith(f"/{agent}")
                seen.append(shape(profile))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    editor = threading.Thread(target=edit)
    readers = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    with deadline(60):
        editor.start()
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join()
        stop.set()
        editor.join()
    assert errors == []
    assert set(seen) <= {old, new}
    assert len(seen) == 8 * 60
    (root / "base.yaml").write_text(NEW + "# settled\n")
    assert shape(shared.load("a1", "prod")) == new


# -- writes ---------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("failure", "code", "message"), [
    pytest.param(OSError(errno.ENOSPC, "No space left on device"), 1,
                 "No space left on device (the file is unchanged)", id="disk-full"),
    pytest.param(KeyboardInterrupt(), 130, "", id="interrupted"),
])
def test_an_interrupted_or_failing_write_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, code: int,
        message: str) -> None:
    target = tmp_path / "schema.json"
    target.write_text("old\n")
    packaged = (REPO / "realtime_profiles" / "schema.json").read_bytes()

    def fail(fd: int) -> None:  # the disk fails (or ^C arrives) after the bytes are written
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    got, _, err = run("schema", "--write", "--output", str(target))
    assert got == code
    assert message in err
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]
    assert (REPO / "realtime_profiles" / "schema.json").read_bytes() == packaged


def test_writing_over_a_directory_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "schema.json").mkdir()
    code, _, err = run("schema", "--write", "--output", str(tmp_path / "schema.json"))
    assert code == 1
    assert f"error: cannot write {tmp_path / 'schema.json'}: " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]


def test_checking_an_unreadable_schema_reports_drift(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    target.write_bytes(b"\xff\xfe not json")
    code, _, err = run("schema", "--check", "--output", str(target))
    assert code == 1
    assert f"{target}: cannot be read (" in err


def test_a_profile_error_is_raised_not_printed_by_the_api(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "vars: {x: !!int abc}\n"})
    with pytest.raises(ProfileError) as info:
        Loader(root, environ={}).load("a")
    assert info.value.problems[0].render() == (
        f"{A}:1:11: vars.x: this value cannot be read as !!int (fix it, drop the tag, or "
        "quote it to keep it a string)")


# -- found in review ----------------------------------------------------------------------

def test_an_undecodable_override_byte_is_a_usage_error(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n"})
    code, _out, err = run("show", "a", "model_settings.voice=\udcff")
    assert code == 2 and "not UTF-8 text" in err and "Traceback" not in err


def test_every_bad_environment_variable_is_reported_at_once(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n"})
    code, _out, err = run("show", "a", environ={
        "REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE": "[",
        "REALTIME_PROFILES__RUN_CONFIG__X__Y": "{a: 1, a: 2}"})
    assert code == 2
    assert "REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE" in err
    assert "REALTIME_PROFILES__RUN_CONFIG__X__Y" in err and "duplicate key" in err


def test_an_unreadable_agents_folder_is_named_not_a_traceback(tree: Tree) -> None:
    root = tree({"base.yaml": "{}\n"})
    (root / "agents").symlink_to(root / "agents")  # ELOOP: scandir fails like EACCES would
    code, _out, err = run("list")
    assert code == 2 and "cannot read folder" in err and "Traceback" not in err


def test_an_unset_secret_interpolated_into_another_value_shows_without_a_crash(
        tree: Tree) -> None:
    tree({"base.yaml": "model_config:\n  api_key: ${oc.env:NOPE_KEY}\n"
                       "  initial_model_settings:\n"
                       "    instructions: 'key ${model_config.api_key}'\n",
          "agents/a.yaml": "{}\n"})
    code, out, err = run("show", "a")
    assert code == 0, err
    # derived from the secret, so masked as a whole (docs/security.md, "masking")
    assert "instructions: '***'" in out


def test_cached_checks_hand_out_their_own_copies(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings: {output_modalities: [audio]}\n"})
    loader = Loader(root, environ={})
    first = loader.check("a")
    assert first.profile is not None
    first.profile.run_config["model_settings"]["output_modalities"].append("text")
    again = loader.check("a")
    assert again.profile is not None
    assert again.profile.run_config["model_settings"]["output_modalities"] == ["audio"]


def test_explain_of_a_secret_never_carries_its_value(tree: Tree) -> None:
    root = tree({"base.yaml": "model_config:\n  api_key: ${oc.env:KEY}\n",
                 "agents/a.yaml": "{}\n"})
    (root / "local.yaml").write_text("model_config:\n  headers: {api-key: hunter2-literal}\n")
    loader = Loader(root, environ={"KEY": "hunter2-env"})
    for key in ("model_config.api_key", "model_config.headers.api-key"):
        explanation = loader.explain("a", None, key)
        assert "hunter2" not in repr(explanation) and "hunter2" not in explanation.render()


@pytest.mark.parametrize("written", ["model_config: ${vars.mc}\n",
                                     "model_config:\n  headers: ${vars.mc.headers}\n"])
def test_secrets_cannot_arrive_wholesale_through_a_reference(tree: Tree, written: str) -> None:
    tree({"base.yaml": "vars:\n  mc:\n    headers: {Authorization: 'Bearer ${oc.env:TOKEN}', "
                       "X-Literal: literal-token-in-git}\n" + written,
          "agents/a.yaml": "{}\n"})
    code, out, err = run("show", "a", environ={"TOKEN": "topsecret"})
    assert code == 1
    assert "holds secrets, so it cannot be a ${...} reference" in err
    assert "topsecret" not in out + err and "literal-token-in-git" not in out + err


# -- NUL bytes wherever a path is taken (issue 13, finding 7) --------------------------------

NUL_FILE = "run_config: {model_settings: {instructions: \"${file:'p\\0.md'}\"}}\n"


@pytest.mark.parametrize("argv", [
    pytest.param(("show", "a"), id="show"), pytest.param(("validate",), id="validate"),
    pytest.param(("explain", "a", "model_settings"), id="explain"),
    pytest.param(("show", "a", "--show-secrets"), id="load"),
])
def test_a_nul_in_a_file_reference_is_a_located_error(tree: Tree, argv: tuple[str, ...]) -> None:
    root = tree({"agents/a.yaml": NUL_FILE})
    code, _, err = run(*argv)
    assert code in (0, 1)
    if argv[0] != "explain":
        assert err.startswith(f"{A}:1:31: run_config.model_settings.instructions: file path "
                              "holds a NUL character"), err
    loader = Loader(root, environ={})
    assert [p.code for p in loader.check("a").errors] == ["resolver"]
    with pytest.raises(ProfileError):
        loader.load("a")


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(("schema", "--write", "--output", "x\x00y"),
                 "invalid path 'x\\x00y': a file name cannot hold a NUL character",
                 id="schema-write"),
    pytest.param(("schema", "--check", "--output", "x\x00y"), "a file name cannot hold a NUL",
                 id="schema-check"),
    pytest.param(("schema", "--layer", "--check", "--root", "r\x00"),
                 "a file name cannot hold a NUL", id="schema-layer-root"),
    pytest.param(("--root", "r\x00", "validate"), "profile root 'r\\x00' is not a directory",
                 id="root"),
    pytest.param(("explain", "a", "vars.x\x00"), "invalid key segment", id="explain-key"),
    pytest.param(("show", "a", "++vars.x\x00=1"), "invalid key segment", id="override-key"),
    pytest.param(("show", "a", "--env", "d\x00"), "invalid environment name", id="env-name"),
])
def test_a_nul_in_any_path_argument_is_a_usage_error(tree: Tree, argv: tuple[str, ...],
                                                     message: str) -> None:
    tree({"agents/a.yaml": "{}\n"})
    packaged = (REPO / "realtime_profiles" / "schema.json").read_bytes()
    code, _, err = run(*argv)
    assert code == 2, err
    assert message in err
    assert (REPO / "realtime_profiles" / "schema.json").read_bytes() == packaged


# -- what a cached profile depends on is what was read (issue 13, finding 8) ---------------

class ReplacingOnRead(dict[str, str]):
    """An environment whose variable TRIGGER, when read, atomically replaces a prompt: the
    replacement happens after the prompt was read and before the load is done."""

    def __init__(self, prompt: Path, text: str, **items: str) -> None:
        super().__init__(items)
        self.prompt, self.text = prompt, text

    def __getitem__(self, key: str) -> str:
        if key == "TRIGGER" and self.text:
            staged = self.prompt.with_name(".p.md.tmp")
            staged.write_text(self.text)
            staged.replace(self.prompt)
            self.text = ""
        return super().__getitem__(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default


class ChangingOnRead(dict[str, str]):
    """An environment whose variable X changes right after it is read once."""

    def __getitem__(self, key: str) -> str:
        value = super().__getitem__(key)
        if key == "X" and value == "first":
            self["X"] = "second"
        return value

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default


def test_a_prompt_replaced_during_a_load_is_not_cached_as_new(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    instructions: ${file:prompts/sub/p.md}\n"
                                  "    voice: ${oc.env:TRIGGER}\n",
                 "prompts/sub/p.md": "old\n"})
    # checks=(): instructions in model_settings are an SDK lint's business, not this test's
    loader = Loader(root, environ=ReplacingOnRead(root / "prompts/sub/p.md", "new\n",
                                                  TRIGGER="marin"), checks=())
    assert loader.load("a").run_config["model_settings"]["instructions"] == "old"
    assert loader.load("a").run_config["model_settings"]["instructions"] == "new"


def test_a_variable_changed_during_a_load_is_not_cached_as_new(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    instructions: ${oc.env:X}\n"})
    loader = Loader(root, environ=ChangingOnRead(X="first"), checks=())
    assert loader.load("a").run_config["model_settings"]["instructions"] == "first"
    assert loader.load("a").run_config["model_settings"]["instructions"] == "second"


WRITER = """
import os, sys
from pathlib import Path
prompt = Path(sys.argv[1])
for number in range(int(sys.argv[2])):
    staged = prompt.with_name(f".p.md.{number}")
    staged.write_text(f"v{number}\\n")
    os.replace(staged, prompt)
staged = prompt.with_name(".p.md.final")
staged.write_text("final\\n")
os.replace(staged, prompt)
"""
VOICE = "REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE"
# A stale prompt needs the writer's last write to land inside a load: about one trial in six
# before the fix. The fuzz profile runs enough trials to catch it nearly always.
STRESS_TRIALS = 40 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 2


def test_a_shared_loader_ends_with_what_the_writers_left(tree: Tree) -> None:
    """A writer process replaces a prompt in a subfolder while another thread sets, adds and
    removes REALTIME_PROFILES__* variables, and two threads load through one Loader until
    the writer is done: every load sees whole values, and the first load after the writers
    stop sees their last ones (no sleeps: everyone loops until the writer exits). Each load
    reads the prompt first and then resolves a few hundred more values, so a replacement
    often lands between the read and the end of the load, where a dependency taken after
    the read would record the new file for the old text."""
    import subprocess
    import sys

    metadata = "".join(f"        m{i}: '${{profile.agent}}-{i}'\n" for i in range(100))
    root = tree({"agents/a.yaml": "run_config:\n  model_settings:\n"
                                  "    instructions: ${file:prompts/sub/p.md}\n"
                                  "    tracing:\n      group_id: '${oc.env:GROUP}'\n"
                                  "      metadata:\n" + metadata,
                 "prompts/sub/p.md": "start\n"})
    prompt = root / "prompts/sub/p.md"
    for trial in range(STRESS_TRIALS):
        prompt.write_text("start\n")
        environ: dict[str, str] = {VOICE: "voice-start", "GROUP": "g-start"}
        shared = Loader(root, environ=environ, checks=())  # caching, not the SDK's lints
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(prompt), "100"])
        done = threading.Event()
        seen: list[tuple[str, str, str]] = []
        errors: list[BaseException] = []

        def change_environment(environ: dict[str, str] = environ) -> None:
            # until the writer has started: the environment's last values are then final
            # while the prompt still changes, so a prompt cached stale is not hidden by a
            # later change of the environment
            number = 0
            while prompt.read_text() == "start\n":
                number += 1
                environ[VOICE] = f"voice{number}"
                environ["GROUP"] = f"g{number}"
                extra = f"REALTIME_PROFILES__VARS__X{number % 7}"
                if number % 2:
                    environ[extra] = "1"
                else:
                    environ.pop(extra, None)
            environ[VOICE] = "voice-final"
            environ["GROUP"] = "g-final"

        def read(shared: Loader = shared, done: threading.Event = done,
                 seen: list[tuple[str, str, str]] = seen,
                 errors: list[BaseException] = errors) -> None:
            try:
                while not done.is_set():
                    settings = shared.load("a").run_config["model_settings"]
                    seen.append((settings["instructions"], settings["voice"],
                                 settings["tracing"]["group_id"]))
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=change_environment),
                   *(threading.Thread(target=read) for _ in range(2))]
        with deadline(60):
            for thread in threads:
                thread.start()
            writer.wait()
            done.set()
            for thread in threads:
                thread.join()
        assert writer.returncode == 0 and errors == [], errors
        for instructions, voice, group in seen:
            assert instructions in ("start", "final") or instructions[1:].isdigit()
            assert voice.startswith("voice") and group.startswith("g")
        settings = shared.load("a").run_config["model_settings"]
        assert (settings["instructions"], settings["voice"],
                settings["tracing"]["group_id"]) == ("final", "voice-final", "g-final"), trial
