"""The command line, in process through `main(argv, stdout, stderr)`, plus one real run of
the installed console script."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES / "broken", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REALTIME_PROFILES_ROOT", raising=False)
    monkeypatch.delenv("REALTIME_PROFILES_ENV", raising=False)
    return tmp_path / "profiles"


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    for name in ("REALTIME_PROFILES_ROOT", "REALTIME_PROFILES_ENV", "OPENAI_API_KEY",
                 "GIT_SHA", "USER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "profiles"


def test_validate_golden_output(broken: Path) -> None:
    code, out, err = run("validate")
    assert code == 1
    assert err == (
        "profiles/agents/phone.yaml:3:5: run_config.model_settings.voic: unknown key (did you "
        "mean 'voice'?) [phone@dev, phone@prod]\n"
        "profiles/agents/phone/prod.yaml:4:7: run_config.model_settings.turn_detection.eagerness:"
        " 'fast' is not one of 'auto', 'low', 'medium', 'high' [phone@prod]\n"
        "profiles/base.yaml:4:3: run_config.tracing_disabled: expected a boolean, got string "
        "'false' (write false without quotes; strings are never coerced) [phone@dev, "
        "phone@prod, web@dev, web@prod]\n"
        "profiles/env/prod.yaml:4:7: run_config.model_settings.turn_detection.threshold: 1.5 is "
        "greater than the maximum of 1 [phone@prod, web@prod]\n"
        "profiles/env/prod.yaml:4:7: run_config.model_settings.turn_detection.threshold: is not "
        "a field of semantic_vad turn detection (type semantic_vad is set at "
        "profiles/base.yaml:2:10; semantic_vad takes create_response, eagerness, "
        "interrupt_response) (remove it: delete the line that sets it or, where it is "
        "inherited, write threshold: !delete beside type: semantic_vad "
        "(~run_config.model_settings.turn_detection.threshold on the command line); or set the "
        "whole run_config.model_settings.turn_detection in one value: a ${vars...} preset "
        "reference, or ++run_config.model_settings.turn_detection={type: semantic_vad, ...}) "
        "[phone@prod, web@prod]\n")
    assert out == "4 profiles checked: 0 valid, 4 invalid; 5 errors, 0 warnings\n"


def test_validate_selects_agents_and_envs(broken: Path) -> None:
    code, out, _ = run("validate", "web", "--env", "dev")
    assert (code, out) == (1, "1 profile checked: 0 valid, 1 invalid; 1 error, 0 warnings\n")


def test_validate_json_for_ci(broken: Path) -> None:
    code, out, _ = run("validate", "--format", "json")
    payload = json.loads(out)
    assert code == 1 and payload["ok"] is False
    first = payload["problems"][0]
    assert first == {"severity": "error", "code": "unknown-key",
                     "path": "run_config.model_settings.voic",
                     "key": ["run_config", "model_settings", "voic"],
                     "message": "unknown key", "suggestion": "did you mean 'voice'?",
                     "file": "profiles/agents/phone.yaml", "line": 3, "column": 5,
                     "profiles": ["phone@dev", "phone@prod"]}


def test_explain_golden_output(broken: Path) -> None:
    code, out, _ = run("explain", "phone", "model_settings.turn_detection.eagerness", "--env",
                       "prod", "++model_settings.turn_detection.eagerness=high")
    assert code == 0
    assert out == (
        'run_config.model_settings.turn_detection.eagerness = "high"\n'
        '  1. profiles/base.yaml:2:30 (base), as vars.calm.eagerness via ${vars.calm} at '
        'profiles/base.yaml:7:5: "low"\n'
        '  2. profiles/agents/phone/prod.yaml:4:7 (agent@env): "fast"\n'
        '  3. command line: ++model_settings.turn_detection.eagerness=high: "high"\n')


def test_validate_shipped_profiles_is_clean(shipped: Path) -> None:
    code, out, err = run("validate")
    assert code == 0, err
    # whatever the tree holds: every combination of the matrix is checked and valid
    total = re.search(r"^(\d+) profiles checked: (\d+) valid, 0 invalid; 0 errors, 1 warning$",
                      out.splitlines()[-1], re.MULTILINE)
    assert total is not None and total.group(1) == total.group(2)
    assert "OPENAI_API_KEY is not set" in err
    assert run("validate", "--strict")[0] == 0  # an unset secret is not the profile's fault
    (shipped / "agents" / "phone" / "dev.yaml").write_text(  # an unknown voice: a warning
        "run_config: {model_settings: {voice: x}}\n")
    assert run("validate", "phone")[0] == 0
    assert run("validate", "phone", "--strict")[0] == 1


def test_show_json_is_the_loaded_document(shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_profiles import load_profile

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    code, out, _ = run("show", "support", "--env", "prod", "--format", "json", "--show-secrets")
    assert code == 0
    assert json.loads(out) == load_profile("support", "prod", root="profiles").document()
    code, out, _ = run("show", "support", "--env", "prod", "--format", "json")
    assert json.loads(out)["model_config"]["api_key"] == "***"
    assert "sk-test-key" not in out


def test_show_yaml_with_overrides_and_unset_secret(shipped: Path) -> None:
    code, out, err = run("show", "phone", "model_settings.voice=verse", "--env", "dev",
                         "+model_settings.speed=1.1")
    assert code == 0
    assert "voice: verse\n" in out and "speed: 1.1\n" in out
    assert "api_key: '*** (unset: OPENAI_API_KEY)'" in out
    assert "warning: model_config.api_key: secret unavailable" in err


def test_show_secrets_needs_the_secret(shipped: Path) -> None:
    code, _, err = run("show", "phone", "--show-secrets")
    assert code == 1
    assert "OPENAI_API_KEY is not set" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("show", "phnoe"), "unknown agent 'phnoe' (did you mean 'phone'?)",
                     id="unknown-agent"),
        pytest.param(("validate", "--env", "prd"), "unknown environment 'prd' (did you mean "
                     "'prod'?)", id="unknown-env"),
        pytest.param(("show", "phone", "model_settings.voic=x"), "did you mean 'voice'?",
                     id="override-typo"),
        pytest.param(("show", "phone", "model_settings.voice=[a,"), "invalid override",
                     id="override-syntax"),
        pytest.param(("--root", "nowhere", "list"), "profile root 'nowhere' is not a directory",
                     id="missing-root"),
        pytest.param(("show",), "the following arguments are required: agent", id="argparse"),
        pytest.param(("show", "../phone"), "invalid agent name", id="path-trick"),
        pytest.param(("explain", "phone", "model_settings.nothing"), "is not set in phone@-",
                     id="explain-unknown"),
        pytest.param(("diff", "phone"), "diff compares two profiles", id="diff-one"),
    ],
)
def test_usage_errors_exit_2_without_traceback(shipped: Path, argv: tuple[str, ...],
                                               message: str) -> None:
    code, _, err = run(*argv)
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err


def test_list(tree: Tree) -> None:
    tree({"base.yaml": "{}\n", "env/dev.yaml": "{}\n", "env/prod.yaml": "{}\n",
          "agents/front.yaml": "{}\n", "agents/back.yaml": "{}\n",
          "agents/back/prod.yaml": "{}\n"})
    code, out, _ = run("list")
    assert code == 0
    assert out == ("root: profiles\nagents: back, front\nenvironments: dev, prod\n"
                   "agent@env files: back@prod\n")


def test_list_names_what_the_loader_finds(shipped: Path) -> None:
    """Whatever the shipped tree holds (a fork adds agents): list agrees with the Loader."""
    from realtime_profiles import Loader

    loader = Loader(shipped)
    code, out, _ = run("list")
    assert code == 0
    assert f"agents: {', '.join(loader.agents())}\n" in out
    assert f"environments: {', '.join(loader.envs())}\n" in out


def test_diff_both_spellings(shipped: Path) -> None:
    code, out, _ = run("diff", "phone", "--env", "dev", "--env", "prod")
    assert code == 1
    assert out.startswith("run_config.model_settings.model_name\n"
                          '  phone@dev   "gpt-realtime-mini"  profiles/env/dev.yaml:5:5 (env)\n'
                          '  phone@prod  "gpt-realtime"  profiles/env/prod.yaml:5:5 (env)\n')
    assert out.endswith("6 differences between phone@dev and phone@prod\n")
    assert run("diff", "phone@dev", "phone@prod")[1] == out
    assert run("diff", "phone@prod", "phone@prod")[0] == 0


def test_environment_defaults(shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALTIME_PROFILES_ENV", "prod")
    monkeypatch.setenv("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE", "verse")
    code, out, _ = run("explain", "phone", "model_settings.voice")
    assert code == 0
    assert ("environment variable REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE: "
            '"verse"') in out
    monkeypatch.chdir(shipped.parent.parent)
    monkeypatch.setenv("REALTIME_PROFILES_ROOT", str(shipped))
    assert run("list")[0] == 0


def test_schema_prints_both_variants(shipped: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["title"] == "realtime-profiles document"
    code, out, _ = run("schema", "--layer")
    assert json.loads(out)["properties"]["vars"]["type"] == "object"


def test_schema_write_is_atomic_and_exact(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    target.write_text("old\n")
    assert run("schema", "--write", "--output", str(target))[0] == 0
    assert target.read_text() == (REPO / "schema.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def test_layer_schema_accepts_every_shipped_layer() -> None:
    import jsonschema
    import yaml

    schema = json.loads((REPO / "realtime_profiles" / "layer-schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    layers = list((REPO / "profiles").rglob("*.yaml"))
    assert layers
    for path in layers:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text()) or {}))
        assert errors == [], (path, errors[0].message if errors else None)
        assert path.read_text().startswith("# yaml-language-server: $schema=")
    assert not validator.is_valid({"run_config": {"model_settings": {"voic": "x"}}})


def test_help_and_validate_import_nothing_heavy(shipped: Path) -> None:
    probe = (
        "import sys, io\n"
        "from realtime_profiles.cli import main\n"
        "main(['--help'], io.StringIO(), io.StringIO())\n"
        "heavy = {'agents', 'openai', 'pydantic', 'jsonschema', 'omegaconf', 'yaml'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "main(['validate'], io.StringIO(), io.StringIO())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'agents', 'openai', "
        "'pydantic'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines() == ["[]", "[]"]


def test_installed_console_script(shipped: Path) -> None:
    script = shutil.which("realtime-profiles", path=str(Path(sys.executable).parent))
    assert script is not None
    done = subprocess.run([script, "validate", "--format", "json"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["ok"] and all(p["ok"] for p in payload["profiles"])
    assert payload["matrix"]["checked"] == payload["matrix"]["combinations"] \
        == len(payload["profiles"])
    module = subprocess.run([sys.executable, "-m", "realtime_profiles", "list"],
                            capture_output=True, text=True, check=False)
    agents = ", ".join(sorted(p.stem for p in (shipped / "agents").glob("*.yaml")))
    assert module.returncode == 0 and f"agents: {agents}\n" in module.stdout


def test_diff_handles_keys_with_spaces_and_dots(tree: Tree) -> None:
    tree({"base.yaml": "run_config:\n  model_settings:\n    tracing:\n      metadata: {}\n",
          "env/dev.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                          "      metadata: {team name: voice, a.b: x}\n",
          "env/prod.yaml": "run_config:\n  model_settings:\n    tracing:\n"
                           "      metadata: {team name: voice-prod, a.b: y}\n",
          "agents/a.yaml": "{}\n"})
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", "a", "--env", "dev", "--env", "prod"], out, err) == 1, err.getvalue()
    assert out.getvalue().endswith("2 differences between a@dev and a@prod\n")
    assert "profiles/env/prod.yaml:4:" in out.getvalue()


def test_validate_warns_about_files_no_profile_reads(tree: Tree) -> None:
    root = tree({"env/prod.yaml": "{}\n", "env/qa.yml": "{}\n",
                 "agents/support.yaml": "{}\n", "agents/support/prd.yaml": "{}\n",
                 "agents/bad name.yaml": "{}\n"})
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate"], out, err) == 0
    assert err.getvalue().splitlines() == [
        "profiles/agents/bad name.yaml: warning: ignored: not a valid name (names match "
        "[A-Za-z0-9][A-Za-z0-9_.-]* (no spaces))",
        "profiles/agents/support/prd.yaml: warning: ignored: there is no environment 'prd' in "
        "env/ (did you mean 'prod'?)",
        "profiles/env/qa.yml: warning: ignored: layer files end in .yaml (rename it to qa.yaml)",
    ]
    assert main(["validate", "--strict"], io.StringIO(), io.StringIO()) == 1
    assert root.is_dir()


def test_global_options_work_after_the_command_and_version(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n"})
    (Path("profiles") / "local.yaml").write_text("run_config: {tracing_disabled: 'no'}\n")
    out = io.StringIO()
    assert main(["validate", "--no-local", "--root", "profiles"], out, io.StringIO()) == 0
    assert main(["validate"], io.StringIO(), io.StringIO()) == 1  # local.yaml was read
    version = io.StringIO()
    assert main(["--version"], version, io.StringIO()) == 0
    assert version.getvalue().startswith("realtime-profiles 0.")


def _help_examples() -> tuple[list[str], list[str]]:
    """The override examples (last column of the overrides table) and the environment
    variable examples of `--help`, as printed."""
    out = io.StringIO()
    assert main(["--help"], out, io.StringIO()) == 0
    text = out.getvalue()
    table = text[text.index("overrides (show, explain, wire):"):text.index("environment:")]
    overrides = [re.split(r"\s{2,}", line.strip())[-1] for line in table.splitlines()[1:]
                 if re.match(r"  \S+\s{2,}\S.*\s{2,}\S+$", line)]
    environment = re.findall(r"^  (REALTIME_PROFILES__\S+=\S+)$", text, re.MULTILINE)
    return overrides, environment


def test_every_help_example_runs_and_does_what_it_says(shipped: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_profiles._overrides import parse_override
    from realtime_profiles._paths import MISSING, get

    overrides, environment = _help_examples()
    assert len(overrides) == 6 and len(environment) == 1
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    for example in overrides:
        (argument,) = shlex.split(example)  # as a shell would pass it
        code, out, err = run("show", "support", "--env", "prod", "--format", "json", argument)
        assert code == 0, (example, err)
        edit = parse_override(argument)
        value = get(json.loads(out), edit.path)
        if edit.kind == "delete":
            assert value is MISSING, example
        elif edit.kind == "append":
            assert value[-len(edit.value):] == edit.value, example
        else:
            assert value == edit.value, example
    for example in environment:
        name, value = example.split("=", 1)
        monkeypatch.setenv(name, value)
        code, out, err = run("explain", "support", "model_settings.voice", "--env", "prod")
        assert code == 0, err
        assert f"environment variable {name}: \"{value}\"" in out


def test_explain_of_a_deleted_key_names_the_delete(tree: Tree) -> None:
    tree({"base.yaml": "vars:\n  calm: {type: semantic_vad, eagerness: low}\n"
                       "run_config:\n  model_settings:\n    turn_detection: ${vars.calm}\n"
                       "    voice: marin\n",
          "env/prod.yaml": "{}\n",
          "agents/a.yaml": "{}\n",
          "agents/a/prod.yaml": "run_config:\n  model_settings:\n    turn_detection:\n"
                                "      type: server_vad\n      eagerness: !delete\n"})
    code, out, _ = run("explain", "a", "model_settings.turn_detection.eagerness", "--env", "prod")
    assert code == 0
    assert out.splitlines() == [
        "run_config.model_settings.turn_detection.eagerness is not set: deleted at "
        "profiles/agents/a/prod.yaml:5:7 (agent@env)",
        "  1. profiles/base.yaml:2:30 (base), as vars.calm.eagerness via ${vars.calm} at "
        'profiles/base.yaml:5:5: "low"',
        "  2. profiles/agents/a/prod.yaml:5:7 (agent@env): deleted"]
    code, out, _ = run("explain", "a", "model_settings.voice", "--env", "prod",
                       "~model_settings.voice")
    assert (code, out.splitlines()[0]) == (0, "run_config.model_settings.voice is not set: "
                                              "deleted at command line: ~model_settings.voice")
    code, _, err = run("explain", "a", "model_settings.speed", "--env", "prod")
    assert code == 2 and "run_config.model_settings.speed is not set in a@prod" in err


@pytest.mark.parametrize("command", ["show", "explain"])
def test_no_env_in_a_tree_with_environments_says_so_in_one_line(
        shipped: Path, command: str) -> None:
    argv = ["show", "phone"] if command == "show" else ["explain", "phone", "model_settings.voice"]
    code, _, err = run(*argv)
    assert code == 0
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert notes == ["note: no --env (or REALTIME_PROFILES_ENV): phone is composed without an "
                     "environment layer; environments: dev, prod, staging"]
    assert "note:" not in run(*argv, "--env", "prod")[2]


def test_no_note_where_there_are_no_environments(tree: Tree) -> None:
    tree({"agents/a.yaml": "{}\n"})
    assert run("show", "a")[2] == ""


# -- exit status whatever happens to the output (issue 13, finding 9) ------------------------

SCRIPT = shutil.which("realtime-profiles", path=str(Path(sys.executable).parent))


def script_env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REALTIME_PROFILES") and k != "OPENAI_API_KEY"}
    return {**env, **extra}


class Failing(io.StringIO):
    """A stdout whose every write fails with `error`."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


INVALID = {"agents/a.yaml": "run_config: {model_settings: {speed: 9}}\n",
           "agents/b.yaml": "{}\n"}


def test_a_closed_pipe_keeps_the_result(tree: Tree) -> None:
    import errno

    tree(INVALID)
    err = io.StringIO()
    assert main(["validate", "--format", "json"], Failing(BrokenPipeError(errno.EPIPE, "x")),
                err) == 1
    assert "cannot write" not in err.getvalue()  # the reader left: its choice, not ours
    assert main(["show", "b"], Failing(BrokenPipeError(errno.EPIPE, "x")), err) == 0
    # the real thing: `validate --format json | head -c 0` under pipefail
    assert SCRIPT is not None
    process = subprocess.Popen([SCRIPT, "validate", "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=script_env())
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the first write: the write gets EPIPE
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 1, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


@pytest.mark.parametrize("redirect", [">&-", "> /dev/full"])
def test_output_that_cannot_be_written_is_an_error(tree: Tree, redirect: str) -> None:
    import errno

    tree(INVALID)
    err = io.StringIO()
    assert main(["show", "b"], Failing(OSError(errno.ENOSPC, "No space left on device")),
                err) == 1
    assert err.getvalue() == ("error: cannot write to standard output: No space left on "
                              "device\n")
    if redirect.endswith("full") and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    for command in ("show b", "validate b --format json"):
        done = subprocess.run(f"{SCRIPT} {command} {redirect}", shell=True,
                              capture_output=True, text=True, env=script_env(), check=False)
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.startswith("error: cannot write to standard output: "), done.stderr
        assert "cannot read" not in done.stderr and "Traceback" not in done.stderr
        assert "Exception ignored" not in done.stderr


@pytest.mark.parametrize(("argv", "code", "message"), [
    pytest.param(("validate", "--format", "json", "nope"), 2, "unknown agent 'nope'",
                 id="unknown-agent"),
    pytest.param(("validate", "--format", "json", "--env", "prd"), 2,
                 "unknown environment 'prd'", id="unknown-env"),
    pytest.param(("validate", "--format=json", "--bogus"), 2, "unrecognized arguments: --bogus",
                 id="bad-option"),
    pytest.param(("show", "a", "--format", "json", "nope=1"), 2, "invalid override",
                 id="bad-override"),
    pytest.param(("show", "a", "--format", "json"), 1, "a@-: 1 error, 0 warnings",
                 id="invalid-profile"),
    pytest.param(("--root", "nowhere", "validate", "--format", "json"), 2,
                 "profile root 'nowhere' is not a directory", id="no-root"),
])
def test_errors_print_json_when_json_was_asked_for(tree: Tree, argv: tuple[str, ...],
                                                   code: int, message: str) -> None:
    tree(INVALID)
    out, err = io.StringIO(), io.StringIO()
    assert main(list(argv), out, err) == code
    payload = json.loads(out.getvalue())
    assert payload["ok"] is False and payload["exit_code"] == code
    assert message in payload["error"]
    assert message in err.getvalue()  # people read stderr


def test_validate_prints_a_bounded_number_of_problems_per_combination(tree: Tree) -> None:
    keys = "".join(f"  u{i:03d}: 1\n" for i in range(120))
    tree({"agents/a.yaml": "run_config:\n" + keys, "env/dev.yaml": "{}\n",
          "env/prod.yaml": "{}\n"})
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate"], out, err) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 51
    assert lines[-1] == "... and 70 more problems in a@dev, a@prod"
    assert out.getvalue() == "2 profiles checked: 0 valid, 2 invalid; 120 errors, 0 warnings\n"
    out = io.StringIO()
    assert main(["validate", "--format", "json"], out, io.StringIO()) == 1
    payload = json.loads(out.getvalue())
    assert len(payload["problems"]) == 50 and payload["omitted"] == 70
    assert [(p["errors"], p["omitted"]) for p in payload["profiles"]] == [(120, 70), (120, 70)]


def test_each_combination_is_checked_once_however_often_it_is_named(tree: Tree) -> None:
    tree({"agents/phone.yaml": "{}\n", "env/prod.yaml": "{}\n", "env/dev.yaml": "{}\n"})
    out = io.StringIO()
    assert main(["validate", "phone", "phone", "--env", "prod", "--env", "prod"], out,
                io.StringIO()) == 0
    assert out.getvalue() == "1 profile checked: 1 valid, 0 invalid; 0 errors, 0 warnings\n"


def test_control_characters_never_reach_the_terminal(tree: Tree) -> None:
    tree({"agents/a.yaml": 'run_config: {model_settings: {"voi\\e[2Jce\\r": x}}\n'
                           'vars: {"k\\e]0;title\\a": 1}\n',
          "env/dev.yaml": "{}\n",
          "env/prod.yaml": 'run_config: {model_settings: {tracing: {metadata: '
                           '{"m\\e[31m": x}}}}\n'})
    outputs = []
    for argv in (("validate",), ("explain", "a", "vars"), ("diff", "a@dev", "a@prod"),
                 ("show", "a", "--env", "prod", "++vars.x=\x1b")):
        out, err = io.StringIO(), io.StringIO()
        main(list(argv), out, err)
        outputs.append(out.getvalue() + err.getvalue())
    text = "\n".join(outputs)
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "run_config.model_settings.voi\\x1b[2Jce\\x0d: unknown key" in outputs[0]


def test_an_undecodable_environment_variable_is_a_located_error(tree: Tree) -> None:
    tree({"agents/a.yaml": "run_config:\n  model_settings:\n    instructions: ${oc.env:X}\n"})
    env = {k.encode(): v.encode() for k, v in script_env().items()}
    env[b"X"] = b"caf\xe9"
    done = subprocess.run([str(SCRIPT), "show", "a", "--format", "json"], capture_output=True,
                          env=env, check=False)
    assert done.returncode == 1
    stdout = done.stdout.decode("utf-8")  # strict: valid UTF-8 whatever the variable holds
    assert json.loads(stdout)["ok"] is False
    assert done.stderr.decode("utf-8").splitlines()[0] == (
        "profiles/agents/a.yaml:3:5: run_config.model_settings.instructions: environment "
        "variable X is not UTF-8 text (set it to UTF-8 text)")
