"""The profile fingerprint: stable wherever it is computed, different whenever an emitted value
differs, blind to secret values, and stamped into tracing metadata unless turned off."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from realtime_profiles import Loader
from realtime_profiles.cli import main
from tests.conftest import Tree

TREE = {
    "base.yaml": """
        run_config:
          model_settings:
            voice: marin
            speed: 1.1
            turn_detection: {type: server_vad, threshold: 0.5}
            tracing: {workflow_name: w, metadata: {team: voice}}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        """,
    "agents/a.yaml": "{}\n",
}
REORDERED = """
    model_config:
      api_key: ${oc.env:OPENAI_API_KEY}
    run_config:
      model_settings:
        tracing: {metadata: {team: voice}, workflow_name: w}
        turn_detection: {threshold: 0.5, type: server_vad}
        speed: 1.1
        voice: marin
    """


def fingerprint(tree: Tree, files: dict[str, str], environ: dict[str, str] | None = None) -> str:
    root = tree(files)
    return Loader(root, environ={"OPENAI_API_KEY": "k1"} if environ is None else environ).load(
        "a").fingerprint


def test_it_is_hex_and_stamped_into_the_tracing_metadata(tree: Tree) -> None:
    profile = Loader(tree(TREE), environ={"OPENAI_API_KEY": "k1"}).load("a")
    assert re.fullmatch(r"[0-9a-f]{32}", profile.fingerprint)
    metadata = profile.run_config["model_settings"]["tracing"]["metadata"]
    assert metadata == {"team": "voice", "profile_fingerprint": profile.fingerprint}


def test_the_same_content_in_another_key_order_has_the_same_fingerprint(tree: Tree) -> None:
    assert fingerprint(tree, TREE) == fingerprint(tree, {**TREE, "base.yaml": REORDERED})


def test_any_emitted_value_changes_it(tree: Tree) -> None:
    before = fingerprint(tree, TREE)
    for old, new in [("speed: 1.1", "speed: 1.2"), ("voice: marin", "voice: cedar"),
                     ("threshold: 0.5", "threshold: 0.50001"), ("team: voice", "team: Voice")]:
        assert fingerprint(tree, {**TREE, "base.yaml": TREE["base.yaml"].replace(old, new)}) \
            != before, old


def test_secret_values_never_enter_it_but_their_references_do(tree: Tree) -> None:
    one = fingerprint(tree, TREE, {"OPENAI_API_KEY": "sk-a"})
    assert fingerprint(tree, TREE, {"OPENAI_API_KEY": "sk-b"}) == one
    unset = Loader(tree(TREE), environ={}).check("a").profile  # check mode: a placeholder
    assert unset is not None and unset.fingerprint == one
    other = {**TREE, "base.yaml": TREE["base.yaml"].replace("OPENAI_API_KEY", "OTHER_KEY")}
    assert fingerprint(tree, other, {"OTHER_KEY": "sk-a"}) != one


def test_it_is_the_same_in_another_process_and_hash_seed(tree: Tree) -> None:
    root = tree(TREE)
    probe = ("import sys\nfrom realtime_profiles import Loader\n"
             "print(Loader(sys.argv[1], environ={'OPENAI_API_KEY': 'k'}).load('a').fingerprint)")
    seen = {subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True,
                           text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "4242")}
    assert seen == {Loader(root, environ={"OPENAI_API_KEY": "x"}).load("a").fingerprint}


def test_stamping_can_be_turned_off_and_does_not_change_the_fingerprint(tree: Tree) -> None:
    stamped = fingerprint(tree, TREE)
    off = {**TREE, "agents/a.yaml": "fingerprint: {stamp: false}\n"}
    root = tree(off)
    profile = Loader(root, environ={"OPENAI_API_KEY": "k1"}).load("a")
    assert profile.run_config["model_settings"]["tracing"]["metadata"] == {"team": "voice"}
    assert profile.fingerprint == stamped


def test_no_tracing_block_no_stamp(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "run_config: {model_settings: {voice: marin}}\n"})
    profile = Loader(root, environ={}).load("a")
    assert "tracing" not in profile.run_config["model_settings"]
    assert profile.fingerprint


def test_show_prints_it_and_explain_says_where_it_comes_from(tree: Tree) -> None:
    tree(TREE)
    out, err = io.StringIO(), io.StringIO()
    assert main(["--root", "profiles", "show", "a", "--fingerprint"], out, err) == 0
    printed = out.getvalue().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", printed)
    out = io.StringIO()
    assert main(["--root", "profiles", "explain", "a",
                 "model_settings.tracing.metadata.profile_fingerprint"], out, err) == 0
    assert out.getvalue() == (
        f'run_config.model_settings.tracing.metadata.profile_fingerprint = "{printed}"\n'
        "  (stamped by the loader: the fingerprint of this configuration (fingerprint: "
        "{stamp: false} turns it off))\n")
