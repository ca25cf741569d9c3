"""The command line loads a user's plugins — resolvers and a registry — from a declared module:
`--plugin module:attr` or `[tool.realtime-profiles] plugins` in pyproject.toml. A prompt
written `${sdk:RECOMMENDED_PROMPT_PREFIX}` then works in validate and show, and a registry
makes validate check every name the profiles (and their agent graphs) use."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from agents.extensions.handoff_prompt import RECOMMENDED_PROMPT_PREFIX

from realtime_profiles.cli import main

PLUGIN = '''
from realtime_profiles import Plugin
from realtime_profiles.sdk import Registry

registry = Registry()


@registry.tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id


def house(name):
    return {"voice": "cedar"}[name]


plugin = Plugin(resolvers={"house": house}, registry=registry)


def broken():
    raise RuntimeError("no vault in CI")
'''

PYPROJECT = '''
[project]
name = "voiceapp"

[tool.realtime-profiles]
plugins = ["realtime_profiles.sdk:plugin", "voiceapp.plugins:plugin"]
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An application repository: its package, its pyproject.toml, its profiles."""
    (tmp_path / "voiceapp").mkdir()
    (tmp_path / "voiceapp" / "__init__.py").write_text("")
    (tmp_path / "voiceapp" / "plugins.py").write_text(PLUGIN)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    agents = tmp_path / "profiles" / "agents"
    agents.mkdir(parents=True)
    (agents / "a.yaml").write_text(textwrap.dedent("""
        agent:
          instructions: "${sdk:RECOMMENDED_PROMPT_PREFIX} Help with orders."
          tools: [lookup_ordr]
          handoffs: [b]
        run_config:
          model_settings:
            voice: ${house:voice}
        """).lstrip())
    (agents / "b.yaml").write_text("agent:\n  tools: [lookup_order]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "voiceapp", raising=False)
    monkeypatch.delitem(sys.modules, "voiceapp.plugins", raising=False)
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_pyproject_plugins_give_validate_resolvers_and_a_registry(project: Path) -> None:
    code, out, err = run("validate")
    assert code == 1
    assert err == ("profiles/agents/a.yaml:3:11: agent.tools[0]: unknown tool 'lookup_ordr' "
                   "(did you mean 'lookup_order'? registered tools: lookup_order) [a@-]\n")
    assert out == "2 profiles checked: 1 valid, 1 invalid; 1 error, 0 warnings\n"
    assert str(project) not in sys.path  # the import path is restored


def test_show_resolves_the_sdk_prefix_and_the_users_resolver(project: Path) -> None:
    (project / "profiles" / "agents" / "a.yaml").write_text(
        (project / "profiles" / "agents" / "a.yaml").read_text().replace("lookup_ordr",
                                                                        "lookup_order"))
    code, out, err = run("show", "a", "--format", "json")
    assert code == 0, err
    import json

    document = json.loads(out)
    assert document["agent"]["instructions"] == f"{RECOMMENDED_PROMPT_PREFIX} Help with orders."
    assert document["run_config"]["model_settings"]["voice"] == "cedar"


def test_no_plugins_ignores_the_pyproject_table(project: Path) -> None:
    code, _, err = run("--no-plugins", "validate", "a")
    assert code == 1
    assert ("unknown resolver 'sdk' in '${sdk:RECOMMENDED_PROMPT_PREFIX} Help with orders.' "
            "(known: file, oc.env; add one with Loader(resolvers=...), or on the command line "
            "--plugin module:attr)") in err
    code, _, err = run("--no-plugins", "--plugin", "realtime_profiles.sdk:plugin",
                       "--plugin", "voiceapp.plugins:plugin", "validate", "a")
    assert code == 1 and "unknown tool 'lookup_ordr'" in err  # the same plugins, by option


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--plugin", "nope:plugin"],
                     "error: plugin 'nope:plugin': cannot import 'nope': No module named "
                     "'nope'", id="no-module"),
        pytest.param(["--plugin", "voiceapp.plugins:plugn"],
                     "error: plugin 'voiceapp.plugins:plugn': voiceapp.plugins has no 'plugn' "
                     "(did you mean 'plugin'?)", id="no-attribute"),
        pytest.param(["--plugin", "voiceapp.plugins"],
                     "error: plugin 'voiceapp.plugins': write it as module:attr (e.g. "
                     "myapp.voice:plugin)", id="no-colon"),
        pytest.param(["--plugin", "voiceapp.plugins:broken"],
                     "error: plugin 'voiceapp.plugins:broken': calling it failed: RuntimeError: "
                     "no vault in CI", id="factory-fails"),
        pytest.param(["--plugin", "voiceapp.plugins:registry"],
                     "error: plugin 'voiceapp.plugins:registry': a registry is also provided by "
                     "'voiceapp.plugins:plugin' (give one plugin the registry)",
                     id="two-registries"),
        pytest.param(["--plugin", "voiceapp.plugins:PLUGIN_TEXT"],
                     "error: plugin 'voiceapp.plugins:PLUGIN_TEXT' is a str: expected a "
                     "realtime_profiles.Plugin, a Registry or a mapping of resolvers",
                     id="wrong-type"),
    ],
)
def test_a_bad_plugin_is_a_usage_error_without_traceback(project: Path, argv: list[str],
                                                          message: str) -> None:
    (project / "voiceapp" / "plugins.py").write_text(PLUGIN + "\nPLUGIN_TEXT = 'x'\n")
    code, _, err = run(*argv, "validate")
    assert code == 2
    assert err.strip() == message
    assert "Traceback" not in err


def test_a_plugin_whose_import_fails_is_named(project: Path) -> None:
    (project / "voiceapp" / "plugins.py").write_text("raise ValueError('bad config')\n")
    code, _, err = run("validate")
    assert (code, err.strip()) == (2, "error: plugin 'voiceapp.plugins:plugin': importing "
                                      "'voiceapp.plugins' failed: ValueError: bad config")


def test_a_mistyped_pyproject_table_is_a_usage_error(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.realtime-profiles]\nplugin = ["x:y"]\n')
    code, _, err = run("validate")
    assert code == 2
    assert err.strip() == (f"error: {project / 'pyproject.toml'}: [tool.realtime-profiles] "
                           "has an unknown key 'plugin' (did you mean 'plugins'?)")


def test_the_installed_script_imports_plugins_from_the_project(project: Path) -> None:
    script = Path(sys.executable).parent / "realtime-profiles"
    done = subprocess.run([str(script), "show", "b"], capture_output=True, text=True,
                          check=False, cwd=project)
    assert done.returncode == 0, done.stderr
    assert "lookup_order" in done.stdout
