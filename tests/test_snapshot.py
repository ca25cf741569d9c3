"""`snapshot --write/--check` through the real SDK: the shipped tree matches its stored
snapshots (a property of any valid tree), a profile edit fails naming the profile path and
the file that sets it, a changed SDK default fails as "SDK changed", stale and missing files
are reported, never silently rewritten, and no secret reaches a snapshot."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from agents.realtime import openai_realtime
from conftest import Tree

from realtime_profiles.cli import main

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-snapshot-secret-0123456789abcdefghij"

FILES = {
    "base.yaml": """
        facets:
          line: {default: web}
        run_config:
          model_settings:
            tracing:
              metadata: {git_sha: "${oc.env:GIT_SHA,unknown}"}
        model_config:
          headers:
            Authorization: "Bearer ${oc.env:OPENAI_API_KEY}"
            X-Token: "${oc.env:TOKEN}"
        """,
    "facets/line/web.yaml": "{}\n",
    "facets/line/phone.yaml": """
        run_config:
          model_settings:
            input_audio_format: g711_ulaw
            output_audio_format: g711_ulaw
        """,
    "env/dev.yaml": "{}\n",
    "env/prod.yaml": """
        run_config:
          model_settings:
            voice: cedar
        """,
    "agents/desk.yaml": """
        agent:
          instructions: Answer briefly.
          tools: [lookup]
        start_messages: [Hello]
        """,
    "agents/lobby.yaml": """
        facets:
          line: {allowed: [web]}
        agent:
          instructions: Greet.
          handoffs: [desk]
        """,
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def written(tree: Tree, files: dict[str, str] | None = None) -> Path:
    root = tree(files or FILES)
    code, out, err = run("--root", str(root), "snapshot", "--write")
    assert code == 0, out + err
    return root


def test_the_shipped_tree_matches_its_stored_snapshots() -> None:
    """Whatever the tree holds: after `snapshot --write`, every combination matches."""
    code, out, err = run("--root", str(REPO / "profiles"), "--no-plugins", "snapshot",
                         "--check", "--dir", str(REPO / "snapshots"))
    assert code == 0, out + err
    total = out.splitlines()[-1]
    assert total.endswith(" match") and " changed" not in total, total


def test_write_then_check_is_clean_and_deterministic(tree: Tree,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    written(tree)
    files = sorted(Path("snapshots").rglob("*.json"))
    assert [p.as_posix() for p in files] == [
        "snapshots/desk/dev/line=phone.json", "snapshots/desk/dev/line=web.json",
        "snapshots/desk/prod/line=phone.json", "snapshots/desk/prod/line=web.json",
        "snapshots/lobby/dev/line=web.json", "snapshots/lobby/prod/line=web.json"]
    before = {p: p.read_bytes() for p in files}
    # the machine's environment does not reach a snapshot
    monkeypatch.setenv("GIT_SHA", "abc123")
    monkeypatch.setenv("REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE", "sage")
    Path("profiles/local.yaml").write_text("run_config:\n  model_settings:\n    speed: 2\n")
    assert run("snapshot", "--check")[0] == 0
    assert run("snapshot", "--write")[0] == 0
    assert {p: p.read_bytes() for p in files} == before
    data = json.loads(files[0].read_text())
    assert set(data) == {"format", "profile", "versions", "registry", "document", "graph",
                         "wire"}
    assert data["graph"] == {}  # desk hands off to no one
    assert data["profile"] == {"agent": "desk", "env": "dev", "facets": {"line": "phone"},
                               "fingerprint": data["profile"]["fingerprint"]}
    assert set(data["versions"]) == {"openai-agents", "openai"}
    assert data["registry"] == "stand-ins"
    assert [f["type"] for f in data["wire"]["frames"]] == [
        "session.update", "session.update", "conversation.item.create", "response.create"]
    assert data["wire"]["frames"][0]["session"]["audio"]["input"]["format"] == {
        "type": "audio/pcmu"}


def test_a_profile_edit_fails_naming_the_path_and_the_file(tree: Tree) -> None:
    root = written(tree)
    prod = root / "env" / "prod.yaml"
    prod.write_text(prod.read_text().replace("voice: cedar", "voice: verse"))
    code, out, _ = run("snapshot", "--check")
    assert code == 1
    assert ("desk/prod/line=web.json: desk@prod[line=web]: changed: profile changed\n"
            '  profile run_config.model_settings.voice: "cedar" -> "verse"  '
            "[profiles/env/prod.yaml:3:5 (env)]\n"
            '  wire frames[0] session.update: session.audio.output.voice: "cedar" -> "verse"'
            ) in out
    assert out.splitlines()[-1] == "6 snapshots checked: 3 match, 3 changed"
    assert "SDK changed" not in out


@pytest.mark.parametrize(("patch", "field"), [
    (lambda m: m.setitem(openai_realtime.DEFAULT_MODEL_SETTINGS, "turn_detection",
                         {"type": "server_vad"}), "session.audio.input.turn_detection.type"),
    (lambda m: m.setitem(openai_realtime.DEFAULT_MODEL_SETTINGS, "voice", "marin"),
     "session.audio.output.voice"),
    (lambda m: m.setattr(openai_realtime, "DEFAULT_REALTIME_MODEL", "gpt-realtime-next"),
     "session.model"),
], ids=["turn-detection", "voice", "model"])
def test_a_changed_sdk_default_fails_as_sdk_changed(tree: Tree, monkeypatch: pytest.MonkeyPatch,
                                                     patch: object, field: str) -> None:
    written(tree)
    patch(monkeypatch)  # type: ignore[operator]
    code, out, _ = run("snapshot", "--check", "desk", "--env", "dev", "--facet", "line=web")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("desk/dev/line=web.json: desk@dev[line=web]: changed: SDK changed: "
                            "same profile document and the same versions (openai ")
    assert f"] session.update: {field}" in out
    assert "profile run_config" not in out


def test_other_versions_are_named(tree: Tree) -> None:
    written(tree)
    stored = Path("snapshots/desk/dev/line=web.json")
    data = json.loads(stored.read_text())
    data["versions"]["openai-agents"] = "0.23.0"
    data["wire"]["frames"][0]["session"]["audio"]["output"]["voice"] = "alloy"
    stored.write_text(json.dumps(data))
    code, out, _ = run("snapshot", "--check")
    assert code == 1
    assert "changed: SDK changed: same profile document, openai-agents 0.23.0 -> " in out


def test_missing_and_stale_files_are_reported_not_rewritten(tree: Tree) -> None:
    root = written(tree)
    Path("snapshots/desk/dev/line=web.json").unlink()
    shutil.rmtree(root / "agents" / "lobby.yaml", ignore_errors=True)
    (root / "agents" / "lobby.yaml").unlink()
    code, out, _ = run("snapshot", "--check")
    assert code == 1
    assert "desk/dev/line=web.json: desk@dev[line=web]: missing" in out
    assert "lobby/dev/line=web.json: lobby@dev[line=web]: stale" in out
    assert out.splitlines()[-1] == "4 snapshots checked: 3 match, 1 missing, 2 stale"
    assert not Path("snapshots/desk/dev/line=web.json").exists()  # --check writes nothing
    assert Path("snapshots/lobby/dev/line=web.json").exists()
    code, out, _ = run("snapshot", "--write")
    assert code == 0
    assert "removed lobby/dev/line=web.json (lobby@dev[line=web])" in out
    assert not Path("snapshots/lobby").exists()  # emptied folders go too
    assert run("snapshot", "--check")[0] == 0


def test_a_filtered_check_leaves_other_files_alone(tree: Tree) -> None:
    written(tree)
    code, out, _ = run("snapshot", "--check", "lobby")
    assert code == 0, out
    assert out.splitlines()[-1] == "2 snapshots checked: 2 match"


def test_an_invalid_profile_writes_nothing(tree: Tree) -> None:
    root = written(tree)
    before = {p: p.read_bytes() for p in Path("snapshots").rglob("*.json")}
    prod = root / "env" / "prod.yaml"
    prod.write_text(prod.read_text().replace("voice: cedar", "voice: [cedar]"))
    (root / "agents" / "desk.yaml").write_text(
        (root / "agents" / "desk.yaml").read_text().replace("Answer briefly.", "Be brief."))
    code, out, _ = run("snapshot", "--write")
    assert code == 1
    assert "desk@prod[line=web]: invalid" in out
    assert "profiles/env/prod.yaml:3:5: run_config.model_settings.voice" in out
    assert out.splitlines()[-1].startswith("nothing written to snapshots: 3 profiles")
    assert {p: p.read_bytes() for p in Path("snapshots").rglob("*.json")} == before
    code, out, _ = run("snapshot", "--check")
    assert code == 1 and "invalid" in out


def test_no_secret_reaches_a_snapshot(tree: Tree) -> None:
    root = tree({**FILES, "agents/desk.yaml": FILES["agents/desk.yaml"]})
    code, out, err = run("--root", str(root), "snapshot", "--write", "--environ",
                         f"OPENAI_API_KEY={KEY}", "--environ", f"TOKEN={KEY[::-1]}")
    assert code == 0, out + err
    for path in Path("snapshots").rglob("*.json"):
        text = path.read_text()
        assert KEY not in text and KEY[::-1] not in text
        document = json.loads(text)["document"]
        assert document["model_config"] == {"headers": {"Authorization": "***",
                                                        "X-Token": "***"}}
    # taken without the secrets, the snapshots are the same: secrets never shape a file
    assert run("snapshot", "--check")[0] == 0


def test_an_unreadable_or_foreign_file_is_reported(tree: Tree) -> None:
    written(tree)
    Path("snapshots/notes.json").write_text("[1, 2]")
    Path("snapshots/desk/dev/line=web.json").write_text("{broken")
    code, out, _ = run("snapshot", "--check")
    assert code == 1
    assert "notes.json: notes.json: unreadable" in out
    assert "desk/dev/line=web.json: desk@dev[line=web]: unreadable" in out


def test_json_output_for_ci(tree: Tree) -> None:
    root = written(tree)
    prod = root / "env" / "prod.yaml"
    prod.write_text(prod.read_text().replace("voice: cedar", "voice: verse"))
    code, out, _ = run("snapshot", "--check", "--format", "json")
    assert code == 1
    payload = json.loads(out)
    assert payload["ok"] is False
    changed = [s for s in payload["snapshots"] if s["status"] == "changed"]
    assert len(changed) == 3
    assert changed[0]["profile_changes"][0]["path"] == "run_config.model_settings.voice"
    assert changed[0]["profile_changes"][0]["origin"] == "profiles/env/prod.yaml:3:5 (env)"


def test_a_new_agent_keeps_check_green_after_write(tree: Tree) -> None:
    root = written(tree)
    (root / "agents" / "cafe.yaml").write_text("agent:\n  instructions: Coffee.\n")
    assert run("snapshot", "--check")[0] == 1
    assert run("snapshot", "--write")[0] == 0
    assert run("snapshot", "--check")[0] == 0


def test_a_change_in_an_agent_handed_off_to_is_a_profile_change(tree: Tree) -> None:
    root = written(tree)
    lobby = json.loads(Path("snapshots/lobby/dev/line=web.json").read_text())
    assert lobby["graph"]["desk"]["instructions"] == "Answer briefly."
    desk = root / "agents" / "desk.yaml"
    desk.write_text(desk.read_text().replace("instructions: Answer briefly.",
                                             "instructions: Answer briefly.\n"
                                             "  handoff_description: The desk."))
    code, out, _ = run("snapshot", "--check", "lobby")
    assert code == 1
    assert ("lobby/dev/line=web.json: lobby@dev[line=web]: changed: profile changed\n"
            '  profile graph.desk.handoff_description: (absent) -> "The desk."') in out
    assert "SDK changed" not in out


def test_both_causes_are_told_apart(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored document sent through the installed SDK again: what moved then is the
    SDK's part; the rest is the profile's."""
    root = written(tree)
    monkeypatch.setitem(openai_realtime.DEFAULT_MODEL_SETTINGS, "voice", "marin")
    desk = root / "agents" / "desk.yaml"
    desk.write_text(desk.read_text().replace("Answer briefly.", "Answer at length."))
    code, out, _ = run("snapshot", "--check", "desk", "--env", "dev", "--facet", "line=web")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == ("desk/dev/line=web.json: desk@dev[line=web]: changed: profile changed, "
                        "and SDK changed: same profile document and the same versions "
                        f"(openai {lines[0].split('(openai ')[1]}")
    assert '  profile agent.instructions: "Answer briefly." -> "Answer at length."' in out
    assert ('  wire (SDK) frames[0] session.update: session.audio.output.voice: "ash" -> '
            '"marin"') in out
    assert ('  wire frames[0] session.update: session.instructions: "Answer briefly." -> '
            '"Answer at length."') in out
    assert 'wire frames[0] session.update: session.audio.output.voice' not in out


def test_a_narrowed_check_leaves_unreadable_files_of_other_agents_alone(tree: Tree) -> None:
    written(tree)
    Path("snapshots/lobby/notes.json").write_text("{broken")
    assert run("snapshot", "--check", "desk")[0] == 0
    code, out, _ = run("snapshot", "--check")
    assert code == 1 and "lobby/notes.json: lobby/notes.json: unreadable" in out


def test_what_is_in_the_way_of_a_snapshot_is_named(tree: Tree) -> None:
    written(tree)
    target = Path("snapshots/desk/dev/line=web.json")
    target.unlink()
    target.mkdir()
    code, out, _ = run("snapshot", "--check")
    assert code == 1
    assert "desk/dev/line=web.json: desk@dev[line=web]: unreadable: not a regular file" in out
    code, out, err = run("snapshot", "--write")
    assert code == 1
    assert "snapshots/desk/dev/line=web.json is not a file: remove it" in out + err
    assert ".tmp" not in out + err
    Path("elsewhere").write_text("")
    code, _, err = run("snapshot", "--check", "--dir", "elsewhere")
    assert code == 2 and "--dir 'elsewhere' is not a directory" in err
