"""Loader.watch and Bundle.watch: a new profile for each change that matters, an invalid
edit reported once while the last good profile stays, every kind of dependency seen (layer
files, prompt files, new facet or agent@env files, variables, kubelet swaps)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles import Bundle, Loader, Profile, ProfileError
from realtime_profiles._build import compile_bundle, write_bundle
from tests import kubelet

ENV = {"OPENAI_API_KEY": "sk-watch-test-key-0000000000000"}
FILES = {
    "base.yaml": """
        run_config:
          model_settings:
            voice: marin
            turn_detection: {type: server_vad, threshold: 0.5}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        """,
    "env/prod.yaml": "{}\n",
    "agents/desk.yaml": "agent:\n  instructions: ${file:prompts/desk.md}\n",
    "prompts/desk.md": "Answer briefly.\n",
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_nothing_changed_nothing_yielded(tree: Tree) -> None:
    watch = Loader(tree(FILES), environ=dict(ENV)).watch("desk", "prod", interval=0)
    assert isinstance(watch.current, Profile) and watch.error is None
    assert [watch.poll() for _ in range(3)] == [None, None, None]


def test_each_kind_of_dependency_is_watched(tree: Tree) -> None:
    root = tree(FILES)
    environ = dict(ENV)
    watch = Loader(root, environ=environ).watch("desk", "prod", interval=0)
    seen: list[Profile] = []

    def changed() -> Profile:
        found = watch.poll()
        assert isinstance(found, Profile)
        seen.append(found)
        return found

    edit(root / "base.yaml", "threshold: 0.5", "threshold: 0.6")
    assert changed().run_config["model_settings"]["turn_detection"]["threshold"] == 0.6
    (root / "prompts" / "desk.md").write_text("Answer at length.\n")
    assert changed().agent_config["instructions"] == "Answer at length."
    (root / "agents" / "desk").mkdir()
    (root / "agents" / "desk" / "prod.yaml").write_text(
        "run_config:\n  model_settings:\n    voice: cedar\n")
    assert changed().run_config["model_settings"]["voice"] == "cedar"
    (root / "local.yaml").write_text("run_config:\n  model_settings:\n    speed: 1.2\n")
    assert changed().run_config["model_settings"]["speed"] == 1.2
    environ["REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE"] = "sage"
    assert changed().run_config["model_settings"]["voice"] == "sage"
    environ["OPENAI_API_KEY"] = "sk-rotated-key-00000000000000000"
    assert changed().model_config["api_key"] == "sk-rotated-key-00000000000000000"
    assert watch.poll() is None
    assert watch.current is seen[-1]


def test_saving_the_same_content_yields_nothing(tree: Tree) -> None:
    root = tree(FILES)
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0)
    text = (root / "base.yaml").read_text()
    (root / "base.yaml").write_text(text + "# a comment\n")
    assert watch.poll() is None


def test_an_invalid_edit_is_reported_once_and_the_last_good_profile_stays(tree: Tree) -> None:
    root = tree(FILES)
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0)
    good = watch.current
    edit(root / "base.yaml", "voice: marin", "voice: [marin]")
    error = watch.poll()
    assert isinstance(error, ProfileError)
    assert "profiles/base.yaml:3:5: run_config.model_settings.voice" in error.render()
    assert watch.poll() is None and watch.current is good and watch.error is error
    edit(root / "base.yaml", "voice: [marin]", "voice: {a: 1}")
    assert isinstance(watch.poll(), ProfileError)  # a different error is news
    edit(root / "base.yaml", "voice: {a: 1}", "voice: verse")
    fixed = watch.poll()
    assert isinstance(fixed, Profile) and fixed.run_config["model_settings"]["voice"] == "verse"
    assert watch.error is None


def test_a_watch_that_starts_invalid_yields_the_first_good_profile(tree: Tree) -> None:
    root = tree({**FILES, "agents/desk.yaml": "agent:\n  instructionz: hi\n"})
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0)
    assert watch.current is None and isinstance(watch.error, ProfileError)
    assert watch.poll() is None  # the same error: not repeated
    (root / "agents" / "desk.yaml").write_text("agent:\n  instructions: hi\n")
    assert isinstance(watch.poll(), Profile)


def test_a_bad_name_fails_when_the_watch_is_made(tree: Tree) -> None:
    loader = Loader(tree(FILES), environ=dict(ENV))
    with pytest.raises(ProfileError, match="desc"):
        loader.watch("desc", "prod")
    with pytest.raises(ValueError, match="interval"):
        loader.watch("desk", "prod", interval=-1)


def test_iterating_waits_for_a_change_and_close_ends_it(tree: Tree) -> None:
    root = tree(FILES)
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0.01)
    got: list[Profile | ProfileError] = []

    def consume() -> None:
        got.extend(watch)

    thread = threading.Thread(target=consume)
    thread.start()
    edit(root / "base.yaml", "threshold: 0.5", "threshold: 0.7")
    for _ in range(1000):
        if got:
            break
        threading.Event().wait(0.01)
    watch.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(got) == 1 and isinstance(got[0], Profile)


def test_async_iteration(tree: Tree) -> None:
    root = tree(FILES)
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0.01)

    async def scenario() -> Profile | ProfileError:
        edit(root / "base.yaml", "threshold: 0.5", "threshold: 0.8")
        return await asyncio.wait_for(watch.__anext__(), timeout=10)

    found = asyncio.run(scenario())
    assert isinstance(found, Profile)
    assert found.run_config["model_settings"]["turn_detection"]["threshold"] == 0.8


def test_two_watches_on_one_loader_each_see_the_change(tree: Tree) -> None:
    root = tree(FILES)
    loader = Loader(root, environ=dict(ENV))
    first = loader.watch("desk", "prod", interval=0)
    second = loader.watch("desk", "prod", interval=0)
    edit(root / "base.yaml", "threshold: 0.5", "threshold: 0.9")
    assert isinstance(first.poll(), Profile)
    assert isinstance(second.poll(), Profile)


def test_a_tree_mounted_by_kubelet_is_watched_across_swaps(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    files = {relative: text.encode() for relative, text in {
        "base.yaml": "run_config:\n  model_settings:\n    voice: marin\n",
        "agents/desk.yaml": "agent:\n  instructions: hi\n"}.items()}
    kubelet.write(mount, files)
    watch = Loader(mount, environ={}).watch("desk", interval=0)
    assert watch.poll() is None
    files["base.yaml"] = b"run_config:\n  model_settings:\n    voice: cedar\n"
    kubelet.write(mount, files)
    found = watch.poll()
    assert isinstance(found, Profile) and found.run_config["model_settings"]["voice"] == "cedar"
    assert watch.poll() is None


def test_bundle_watch_follows_a_new_build(tree: Tree, tmp_path: Path) -> None:
    root = tree(FILES)
    out = tmp_path / "bundle"
    write_bundle(compile_bundle(Loader(root, local=False, environ={})), out)
    bundle = Bundle(out, environ=dict(ENV))
    watch = bundle.watch("desk", "prod", interval=0)
    assert watch.poll() is None
    edit(root / "base.yaml", "threshold: 0.5", "threshold: 0.65")
    write_bundle(compile_bundle(Loader(root, local=False, environ={})), out)
    found = watch.poll()
    assert isinstance(found, Profile)
    assert found.run_config["model_settings"]["turn_detection"]["threshold"] == 0.65
    assert watch.poll() is None


def test_bundle_watch_reports_a_damaged_bundle_and_keeps_the_profile(tree: Tree,
                                                                     tmp_path: Path) -> None:
    root = tree(FILES)
    out = tmp_path / "bundle"
    write_bundle(compile_bundle(Loader(root, local=False, environ={})), out)
    watch = Bundle(out, environ=dict(ENV)).watch("desk", "prod", interval=0)
    good = watch.current
    manifest = out / "manifest.json"
    os.chmod(manifest, 0o644)
    manifest.write_text("{not json")
    error = watch.poll()
    assert isinstance(error, ProfileError)
    assert watch.poll() is None and watch.current is good


def test_a_half_written_file_never_counts(tree: Tree) -> None:
    """A save that truncates first and writes after: the state in between (valid here: the
    threshold merely missing) must not be handed out, however the poll falls."""
    root = tree(FILES)
    base = root / "base.yaml"
    full = base.read_text().replace("threshold: 0.5", "threshold: 0.6")
    half = full.replace(", threshold: 0.6", "")
    watch = Loader(root, environ=dict(ENV)).watch("desk", "prod", interval=0, settle=0.3)
    base.write_text(half)
    finish = threading.Timer(0.05, lambda: base.write_text(full))
    finish.start()
    seen = [watch.poll(), watch.poll()]
    finish.join()
    seen.append(watch.poll())
    profiles = [p for p in seen if p is not None]
    assert profiles, seen
    for profile in profiles:
        assert isinstance(profile, Profile)
        assert profile.run_config["model_settings"]["turn_detection"]["threshold"] == 0.6


def test_bundle_watch_sees_each_kubelet_swap_once_and_whole(tmp_path: Path) -> None:
    from conftest import write_tree

    bundles = []
    for i in range(3):
        source = write_tree(tmp_path / f"src{i}", {
            "agents/a.yaml": f"run_config: {{model_settings: {{voice: v{i}, speed: 1.{i}}}}}\n"})
        bundles.append(tmp_path / f"b{i}")
        write_bundle(compile_bundle(Loader(source, local=False, environ={})), bundles[-1])
    mount = tmp_path / "mount"
    kubelet.write(mount, {p.name: p.read_bytes() for p in bundles[0].iterdir()})
    watch = Bundle(mount, environ={}).watch("a", interval=0)
    assert watch.poll() is None
    for i in (1, 2):
        kubelet.write(mount, {p.name: p.read_bytes() for p in bundles[i].iterdir()})
        found = watch.poll()
        assert isinstance(found, Profile)
        settings = found.run_config["model_settings"]
        assert (settings["voice"], settings["speed"]) == (f"v{i}", float(f"1.{i}"))
        assert watch.poll() is None
