"""Edges a red-team review of the wire, snapshots, live updates and watch found (issue 16).

Each test states a promise of the README, docs/security.md or the Realtime API that the first
version broke: a secret (or a value derived from one) printed by `wire`, `diff --wire`, a
snapshot or a bundle; a handed-off agent's change blamed on the SDK; live updates that a
handoff, a rename or a refused voice undid; watches that lost a change."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Tree

from realtime_profiles import (
    Bundle,
    LiveUpdateError,
    Loader,
    Profile,
    ProfileValidationError,
    build_bundle,
)
from realtime_profiles.cli import main
from realtime_profiles.live import apply_update, follow, plan_update
from realtime_profiles.offline import open_session, stand_ins

CANARY = "sk-CANARY0123456789abcdefghij"
TOKEN_TEXT = "tok-CANARY-xyz-123456"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def session_updates(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") == "session.update"]


# -- 1. secrets ------------------------------------------------------------------------------

DERIVED = {
    "base.yaml": """
        vars:
          key: ${oc.env:OPENAI_API_KEY}
        run_config:
          model_settings:
            model_name: gpt-realtime
            tracing:
              workflow_name: wf
              metadata: {leak: "${vars.key}"}
        model_config:
          api_key: ${vars.key}
        """,
    "agents/a.yaml": """
        agent:
          instructions: "You are A. ${vars.key}"
        """,
    "agents/a/prod.yaml": """
        agent:
          instructions: "Prod. ${vars.key}"
        """,
    "env/dev.yaml": "{}\n",
    "env/prod.yaml": "{}\n",
}


def test_snapshot_document_never_holds_a_secret_value(tree: Tree) -> None:
    """The wire frames are scrubbed, but the stored `document` keeps the api key's value
    wherever it was interpolated (instructions, tracing metadata)."""
    root = tree(DERIVED)
    code, out, err = run("--root", str(root), "snapshot", "--write", "--environ",
                         f"OPENAI_API_KEY={CANARY}")
    assert code == 0, out + err
    leaked = [p for p in Path("snapshots").rglob("*.json") if CANARY in p.read_text()]
    assert leaked == []


def test_diff_wire_scrubs_secrets_like_wire_does(tree: Tree,
                                                 monkeypatch: Any) -> None:
    root = tree(DERIVED)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    code, out, err = run("--root", str(root), "wire", "a", "--env", "prod")
    assert code == 0 and CANARY not in out  # wire scrubs it...
    code, out, err = run("--root", str(root), "diff", "a@dev", "a@prod", "--wire")
    assert CANARY not in out + err  # ...diff --wire prints it


def test_the_raw_value_behind_a_bearer_header_is_scrubbed(tree: Tree, monkeypatch: Any) -> None:
    """`Authorization: Bearer ${oc.env:TOKEN}`: only the composite "Bearer <token>" is
    treated as a secret, so the token itself, used anywhere else, is printed."""
    root = tree({
        "base.yaml": """
            run_config:
              model_settings:
                model_name: gpt-realtime
                tracing:
                  workflow_name: wf
                  metadata: {tok: "${oc.env:TOKEN}"}
            model_config:
              headers:
                Authorization: Bearer ${oc.env:TOKEN}
            """,
        "agents/a.yaml": "agent:\n  instructions: hi\n",
    })
    monkeypatch.setenv("TOKEN", CANARY)
    code, out, err = run("--root", str(root), "wire", "a")
    assert code == 0, err
    assert CANARY not in out


def test_diff_wire_json_and_problems_are_scrubbed(tree: Tree, monkeypatch: Any) -> None:
    root = tree(DERIVED)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    code, out, err = run("--root", str(root), "diff", "a@dev", "a@prod", "--wire",
                         "--format", "json")
    assert code == 1, err  # the instructions differ: an update to send
    assert CANARY not in out + err
    assert "***" in out  # the instructions changed: the event is shown, masked


def test_a_bundle_never_holds_a_value_derived_from_a_secret(tree: Tree, tmp_path: Path) -> None:
    """The bundle (and the ConfigMap made of it) ships derived values as references that a
    worker resolves, like the secret itself; the worker's profile masks them when shown."""
    root = tree(DERIVED)
    out = tmp_path / "bundle"
    build_bundle(Loader(root, environ={"OPENAI_API_KEY": CANARY}), out)
    assert [p.name for p in out.rglob("*") if CANARY in p.read_text()] == []
    profile = Bundle(out, environ={"OPENAI_API_KEY": CANARY}).load("a", "prod")
    assert profile.agent_config["instructions"] == f"Prod. {CANARY}"
    assert profile.run_config["model_settings"]["tracing"]["metadata"]["leak"] == CANARY
    assert CANARY not in str(profile.redacted())


def test_a_derived_value_that_cannot_be_a_reference_is_refused_by_build(
        tree: Tree, tmp_path: Path, monkeypatch: Any) -> None:
    """A whole mapping taken from one that holds a secret's value has no reference text."""
    root = tree({**DERIVED, "base.yaml": """
        vars:
          key: ${oc.env:OPENAI_API_KEY}
          meta: {leak: "${oc.env:OPENAI_API_KEY}"}
        run_config:
          model_settings:
            model_name: gpt-realtime
            tracing: {workflow_name: wf, metadata: "${vars.meta}"}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        """})
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    code, out, err = run("--root", str(root), "build", "--out", str(tmp_path / "b"))
    assert code == 1, out + err
    assert "metadata.leak: cannot ship in a bundle: this value is derived" in out + err
    assert CANARY not in out + err
    assert not (tmp_path / "b").exists()


def test_the_fingerprint_does_not_change_with_a_key(tree: Tree) -> None:
    """A value derived from a secret is fingerprinted as it is written, never by its value."""
    root = tree(DERIVED)
    prints = {Loader(root, environ={"OPENAI_API_KEY": key}).load("a", "dev").fingerprint
              for key in (CANARY, CANARY + "-rotated")}
    assert len(prints) == 1


def test_wire_url_is_scrubbed_like_the_frames(tree: Tree, monkeypatch: Any) -> None:
    root = tree({
        "base.yaml": """
            run_config:
              model_settings: {model_name: gpt-realtime}
            model_config:
              api_key: ${oc.env:OPENAI_API_KEY}
              url: wss://gateway.example/v1/realtime?key=${oc.env:OPENAI_API_KEY}
            """,
        "agents/a.yaml": "agent:\n  instructions: hi\n",
    })
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    code, out, err = run("--root", str(root), "wire", "a")
    assert code == 0, err
    assert CANARY not in out


# -- what the agents a profile hands off to derive from a secret --------------------

GRAPH = {
    # every composition has the header, so TOKEN_TEXT is a secret source in a's and in b's
    "base.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
        model_config:
          headers:
            Authorization: Bearer ${oc.env:TOKEN}
        """,
    "agents/a.yaml": """
        agent:
          instructions: hi
          handoffs: [b]
        """,
    "agents/b.yaml": """
        agent:
          name: Billing
          instructions: hi b
          handoff_description: "desc ${oc.env:TOKEN}"
        """,
    "agents/b/prod.yaml": """
        agent:
          handoff_description: "prod ${oc.env:TOKEN}"
        """,
    "env/dev.yaml": "{}\n",
    "env/prod.yaml": "{}\n",
}


def test_wire_scrubs_what_a_handed_off_agent_derives_from_a_secret(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promise: a value derived from what a secret reads is never printed by any command;
    `wire` and `diff --wire` replace every masked value by `***`. `b.handoff_description`
    reads TOKEN_TEXT (masked in b's own `show`), but the handoff tool of `a` carries it on the
    wire unscrubbed: `wire.secret_values(profile)` collects only the start profile's
    `hidden_paths()`, never those of the agents of its graph.
    Repro: TOKEN=... realtime-profiles wire a --env dev"""
    root = tree(GRAPH)
    monkeypatch.setenv("TOKEN", TOKEN_TEXT)
    code, out, err = run("--root", str(root), "show", "b", "--env", "dev")
    assert code == 0 and TOKEN_TEXT not in out + err  # masked where b is shown...
    code, out, err = run("--root", str(root), "wire", "a", "--env", "dev")
    assert code == 0, err
    assert TOKEN_TEXT not in out + err  # ...printed in a's handoff tool description
    code, out, err = run("--root", str(root), "diff", "a@dev", "a@prod", "--wire")
    assert TOKEN_TEXT not in out + err


def test_live_plan_render_scrubs_a_handed_off_agents_derived_values(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promise: `UpdatePlan.render()`/`to_data()` replace every masked value by `***`. The
    handoff tool's description (b's handoff_description, which reads TOKEN_TEXT) is rendered raw:
    the plan's `secrets` come from `secret_values(old, new)` of the two start profiles only.
    Repro: plan_update(loader.load('a','dev'), loader.load('a','prod')).render()"""
    root = tree(GRAPH)
    loader = Loader(root, environ={"TOKEN": TOKEN_TEXT})
    plan = plan_update(loader.load("a", "dev"), loader.load("a", "prod"))
    assert plan.fields  # the handoff tool changed: there is something to send
    assert TOKEN_TEXT not in plan.render()
    assert TOKEN_TEXT not in json.dumps(plan.to_data())


def test_a_bundle_graph_section_never_holds_a_value_derived_from_a_secret(
        tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promise: a bundle (and the ConfigMap made of it) ships each value derived from a
    secret as the reference it was written as, never its value. b's own combination file
    ships `desc ${oc.env:TOKEN}`, but a's file carries b's `agent:` section in its `graph`
    resolved: `"handoff_description": "desc tok-..."` (the graph is serialized from the
    resolved agent sections, without the reference substitution the document gets).
    Repro: TOKEN=... realtime-profiles build --out bundle; grep tok- bundle/a--dev--*.json"""
    root = tree(GRAPH)
    monkeypatch.setenv("TOKEN", TOKEN_TEXT)
    out = tmp_path / "bundle"
    code, stdout, stderr = run("--root", str(root), "build", "--out", str(out))
    assert code == 0, stdout + stderr
    assert [p.name for p in out.rglob("*.json") if TOKEN_TEXT in p.read_text()] == []
    code, stdout, stderr = run("export", "--bundle", str(out), "--name", "voice",
                               "--format", "configmap")
    assert code == 0, stderr
    assert TOKEN_TEXT not in stdout + stderr


# -- the fingerprint of masked values --------------------------------------------------

FINGERPRINTED = {
    "base.yaml": """
        vars:
          customer_name: ada
          access_token: abc
        run_config:
          model_settings:
            model_name: gpt-realtime
            voice: marin
            tracing:
              workflow_name: wf
              metadata: {tok: "${vars.access_token}"}
        model_config:
          api_key: ${oc.env:OPENAI_API_KEY}
        overridable:
          vars.customer_name: {pattern: "^[a-z]{1,20}$"}
        """,
    "agents/a.yaml": """
        agent:
          instructions: "Hello ${vars.customer_name}."
        """,
    "env/dev.yaml": "{}\n",
}


def test_the_fingerprint_changes_with_a_call_value_in_text_beside_a_secret(tree: Tree) -> None:
    """Promise: the fingerprint changes whenever an emitted value does (and a trace leads
    back to the exact configuration). Instructions `Hello ${vars.customer_name}. key=${oc.env:
    OPENAI_API_KEY}` are hashed as their reference text, so calls with different names send
    different instructions under one fingerprint, equal to the base profile's.
    (Without the secret in the text the fingerprints differ, as they should.)
    Repro: load(..., call_overrides={'vars.customer_name': 'bob'}) vs 'eve'"""
    root = tree({**FINGERPRINTED, "agents/a.yaml": """
        agent:
          instructions: "Hello ${vars.customer_name}. key=${oc.env:OPENAI_API_KEY}"
        """})
    loader = Loader(root, environ={"OPENAI_API_KEY": CANARY})
    bob = loader.load("a", "dev", call_overrides={"vars.customer_name": "bob"})
    eve = loader.load("a", "dev", call_overrides={"vars.customer_name": "eve"})
    assert bob.agent_config["instructions"] != eve.agent_config["instructions"]
    assert bob.fingerprint != eve.fingerprint


def test_the_fingerprint_changes_with_a_literal_behind_a_masked_value(
        tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promise: the fingerprint changes whenever an emitted value does. `metadata.tok:
    ${vars.access_token}` is masked (a vars name that says token) and hashed as the text
    `${vars.access_token}`, so changing the literal it reads (a file, an override, a
    REALTIME_PROFILES__ variable) changes what is sent but not the fingerprint, though no
    secret reads it (root: the fingerprint's `references` cover every masked path, not only
    secrets and what derives from them, and a reference is hashed as its text).
    Repro: show a --env dev --fingerprint vars.access_token=abc / =xyz -> same print"""
    root = tree(FINGERPRINTED)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    prints = {}
    for value in ("abc", "xyz"):
        code, out, err = run("--root", str(root), "show", "a", "--env", "dev",
                             "--fingerprint", f"vars.access_token={value}")
        assert code == 0, err
        prints[value] = out.strip()
    loader = Loader(root, environ={"OPENAI_API_KEY": CANARY})
    sent = {v: loader.load("a", "dev", [f"vars.access_token={v}"])
            .run_config["model_settings"]["tracing"]["metadata"]["tok"] for v in prints}
    assert sent["abc"] != sent["xyz"]  # what is sent differs...
    assert prints["abc"] != prints["xyz"]  # ...the fingerprint does not


def test_a_call_fingerprint_follows_the_call_never_the_key(tree: Tree, tmp_path: Path) -> None:
    """Per call, a value masked for being derived from a secret is fingerprinted with the
    call's text and the secret as `***`: one fingerprint per name, whatever the key. Such a
    value cannot ship in a bundle (its call template would hold the key): build refuses."""
    root = tree({**FINGERPRINTED, "agents/a.yaml": """
        agent:
          instructions: "Hello ${vars.customer_name}. key=${oc.env:OPENAI_API_KEY}"
        """})
    prints = set()
    for key in (CANARY, CANARY + "-rotated"):
        loader = Loader(root, environ={"OPENAI_API_KEY": key})
        for name in ("bob", "eve"):
            profile = loader.load("a", "dev", call_overrides={"vars.customer_name": name})
            prints.add((name, profile.fingerprint))
    assert len(prints) == 2
    with pytest.raises(ProfileValidationError) as info:
        build_bundle(Loader(root, environ={"OPENAI_API_KEY": CANARY}), tmp_path / "b")
    assert [p.path for p in info.value.problems] == ["agent.instructions"]
    assert CANARY not in str(info.value)


def test_a_value_masked_by_its_name_ships_and_stays_masked(tree: Tree, tmp_path: Path) -> None:
    """`metadata.tok: ${vars.access_token}` holds no secret's text (only its name says
    token): it ships as its value, and the worker still shows it as `***`."""
    root = tree(FINGERPRINTED)
    loader = Loader(root, environ={"OPENAI_API_KEY": CANARY})
    build_bundle(loader, tmp_path / "b")
    profile = Bundle(tmp_path / "b", environ={"OPENAI_API_KEY": CANARY}).load("a", "dev")
    assert profile.run_config["model_settings"]["tracing"]["metadata"]["tok"] == "abc"
    assert profile.redacted()["run_config"]["model_settings"]["tracing"]["metadata"]["tok"] \
        == "***"
    assert profile.fingerprint == loader.load("a", "dev").fingerprint



# -- 3. cause classification -----------------------------------------------------------------

def test_a_change_in_a_handed_off_agent_is_not_an_sdk_change(tree: Tree) -> None:
    root = tree({
        "base.yaml": "run_config:\n  model_settings: {model_name: gpt-realtime}\n",
        "agents/front.yaml": "agent:\n  instructions: Route.\n  handoffs: [back]\n",
        "agents/back.yaml": "agent:\n  instructions: Handle.\n  handoff_description: Bills.\n",
    })
    code, out, err = run("--root", str(root), "snapshot", "--write")
    assert code == 0, out + err
    back = root / "agents/back.yaml"
    back.write_text(back.read_text().replace("Bills.", "Bills and refunds."))
    code, out, err = run("--root", str(root), "snapshot", "--check", "front")
    assert code == 1
    assert "SDK changed" not in out, out


# -- 4. live updates -------------------------------------------------------------------------

ENV = {"OPENAI_API_KEY": "sk-live-test-key-000000000000"}
BASE = """
run_config:
  model_settings:
    model_name: gpt-realtime
    voice: marin
    turn_detection: {type: server_vad, threshold: 0.5, silence_duration_ms: 400}
model_config:
  api_key: ${oc.env:OPENAI_API_KEY}
"""
FRONT = """
agent:
  name: Front
  instructions: Route the caller.
  tools: [lookup]
  handoffs: [back]
"""
BACK = """
agent:
  name: Back
  instructions: Handle it.
  handoffs: [front]
"""


def graph(tree: Tree, base: str = BASE) -> Loader:
    root = tree({"base.yaml": base, "agents/front.yaml": FRONT, "agents/back.yaml": BACK})
    return Loader(root, environ=dict(ENV), local=False)


def test_live_instructions_survive_a_handoff_and_back(tree: Tree) -> None:
    """apply_update sends the new instructions, but after front -> back -> front the SDK's
    rebuild sends front's OLD instructions: the live change is silently undone."""
    loader = graph(tree)
    current = loader.load("front")
    new = loader.load("front", None, ["agent.instructions=Be quick."])

    async def scenario() -> None:
        async with open_session(current, stand_ins(current), send_messages=False) as offline:
            await apply_update(offline.session, plan_update(current, new))
            await offline.call_tool("transfer_to_back")
            answer = await offline.call_tool("transfer_to_front")
            [rebuild] = session_updates(answer)
            assert rebuild["session"]["instructions"] == "Be quick."

    asyncio.run(scenario())


def test_a_tool_added_live_can_be_called(tree: Tree) -> None:
    """The plan puts a new tool on the wire, but the running agent does not have it: the
    model's call answers 'Tool refund not found'. Expected: callable, or refused/warned."""
    loader = graph(tree)
    current = loader.load("front")
    new = loader.load("front", None, ["agent.tools=[lookup, refund]"])
    plan = plan_update(current, new)

    async def scenario() -> None:
        async with open_session(current, stand_ins(new), send_messages=False) as offline:
            try:
                await apply_update(offline.session, plan)
            except LiveUpdateError:
                return  # refusing is an acceptable answer
            answer = await offline.call_tool("refund", '{"query": "x"}')
            outputs = [f["item"]["output"] for f in answer
                       if f.get("type") == "conversation.item.create"]
            assert outputs and "not found" not in outputs[0], outputs

    asyncio.run(scenario())


def test_renaming_the_agent_does_not_block_later_instruction_updates(tree: Tree) -> None:
    loader = graph(tree)
    current = loader.load("front")
    renamed = loader.load("front", None, ["agent.name=Front Desk"])
    edited = loader.load("front", None, ["agent.name=Front Desk",
                                         "agent.instructions=Be quick."])
    first = plan_update(current, renamed)
    assert first.problems != () or first.event is not None, \
        "the rename is neither sent nor reported"

    async def scenario() -> None:
        async with open_session(current, stand_ins(current), send_messages=False) as offline:
            await apply_update(offline.session, first)
            # no handoff happened: an instructions edit must not be refused as one
            await apply_update(offline.session, plan_update(renamed, edited))

    asyncio.run(scenario())


def test_a_refused_voice_is_not_resent_by_the_next_handoff(tree: Tree) -> None:
    """audio.output.voice form: apply_update(partial=True) drops the voice after audio, but
    records it in the base settings, so the next handoff's full rebuild sends it."""
    base = """
run_config:
  model_settings:
    model_name: gpt-realtime
    audio:
      output: {voice: marin}
      input:
        turn_detection: {type: server_vad, threshold: 0.5}
model_config:
  api_key: ${oc.env:OPENAI_API_KEY}
"""
    loader = graph(tree, base)
    current = loader.load("front")
    new = loader.load("front", None, ["model_settings.audio.output.voice=cedar",
                                      "model_settings.audio.input.turn_detection.threshold=0.8"])
    plan = plan_update(current, new)

    async def scenario() -> None:
        async with open_session(current, stand_ins(current), send_messages=False) as offline:
            offline.push({"type": "response.output_audio.delta", "event_id": "e1",
                          "response_id": "r1", "item_id": "item_1", "output_index": 0,
                          "content_index": 0, "delta": "AAAA"})
            await offline.settle()
            sent = await apply_update(offline.session, plan, partial=True)
            assert sent is not None and "output" not in sent["session"]["audio"]
            [rebuild] = session_updates(await offline.call_tool("transfer_to_back"))
            assert rebuild["session"]["audio"]["output"]["voice"] == "marin"

    asyncio.run(scenario())


def test_removing_a_key_inside_a_nested_object_is_reported(tree: Tree) -> None:
    """The plan sends turn_detection without `threshold`; the project's own offline server
    (MemorySocket: "mappings merge") and the API's note on noise_reduction.strength keep the
    omitted key, so the running session keeps threshold 0.5. No warning says so."""
    loader = graph(tree)
    current = loader.load("front")
    new = loader.load("front", None, ["~model_settings.turn_detection.threshold"])
    plan = plan_update(current, new)

    async def scenario() -> dict[str, Any]:
        async with open_session(current, stand_ins(current), send_messages=False) as offline:
            await apply_update(offline.session, plan)
            await offline.settle()
            return offline.socket._session  # the server's session as the offline socket holds it

    held = asyncio.run(scenario())
    kept = "threshold" in held["audio"]["input"]["turn_detection"]
    assert not kept or plan.problems, "the removed threshold stays, and the plan says nothing"


def test_follow_survives_an_edit_the_registry_cannot_bind(tree: Tree) -> None:
    """README recipe: follow(..., registry=stand_ins(profile)). A valid edit that names a new
    tool raises RegistryError out of follow: the task dies, nothing is reported, and every
    later edit is ignored."""
    root = tree({"base.yaml": BASE, "agents/desk.yaml":
                 "agent:\n  name: Desk\n  instructions: Answer briefly.\n  tools: [lookup]\n"})
    loader = Loader(root, environ=dict(ENV), local=False)
    current = loader.load("desk")
    registry = stand_ins(current)
    reported: list[Any] = []
    desk = root / "agents/desk.yaml"

    async def scenario() -> list[dict[str, Any]]:
        watch = loader.watch("desk", interval=0.01)
        async with open_session(current, registry, send_messages=False) as offline:
            start = len(offline.frames)
            task = asyncio.create_task(follow(offline.session, watch, current=current,
                                              registry=registry, report=reported.append))
            await asyncio.sleep(0.2)
            desk.write_text(desk.read_text().replace("[lookup]", "[lookup, refund]"))
            await asyncio.sleep(0.5)
            desk.write_text(desk.read_text().replace("briefly", "at length"))
            await asyncio.sleep(0.5)
            watch.close()
            alive = not task.done() or task.exception() is None
            if not task.done():
                task.cancel()
            assert alive, f"follow died: {task.exception()!r}"
            return offline.frames[start:]

    frames = asyncio.run(scenario())
    assert reported or frames


# -- 5. watch ----------------------------------------------------------------------------------

def test_a_cancelled_async_next_does_not_lose_the_change(tree: Tree) -> None:
    root = tree({"base.yaml": BASE, "agents/desk.yaml": "agent:\n  instructions: hi\n"})
    loader = Loader(root, environ=dict(ENV), local=False)
    base = root / "base.yaml"

    async def scenario() -> Any:
        watch = loader.watch("desk", interval=0.05, settle=0.3)
        base.write_text(base.read_text().replace("threshold: 0.5", "threshold: 0.8"))
        with contextlib.suppress(TimeoutError):  # times out during settle
            await asyncio.wait_for(watch.__anext__(), 0.1)
        await asyncio.sleep(0.5)
        try:
            return await asyncio.wait_for(watch.__anext__(), 2.0)
        except TimeoutError:
            return None
        finally:
            watch.close()

    found = asyncio.run(scenario())
    assert isinstance(found, Profile), "the threshold edit was never handed out"


def test_two_bundle_watches_both_see_a_new_build(tree: Tree, tmp_path: Path) -> None:
    """Bundle.watch uses Bundle.reload as its change test, and reload swaps the shared
    state: the first watch to poll 'consumes' the change, the second never sees it (and
    neither does a watch when the app calls bundle.reload() itself)."""
    root = tree({"base.yaml": BASE, "agents/desk.yaml": "agent:\n  instructions: hi\n"})
    out = tmp_path / "bundle"
    build_bundle(Loader(root, local=False, environ={}), out)
    bundle = Bundle(out, environ=dict(ENV))
    first, second = bundle.watch("desk", interval=0), bundle.watch("desk", interval=0)
    base = root / "base.yaml"
    base.write_text(base.read_text().replace("threshold: 0.5", "threshold: 0.65"))
    build_bundle(Loader(root, local=False, environ={}), out)
    assert isinstance(first.poll(), Profile)
    assert isinstance(second.poll(), Profile)


# -- "no network, no key" ----------------------------------------------------------------------

def test_wire_with_a_registry_does_not_call_the_real_key_provider(
        tree: Tree, tmp_path: Path, monkeypatch: Any) -> None:
    root = tree({
        "base.yaml": "run_config:\n  model_settings: {model_name: gpt-realtime}\n"
                     "model_config:\n  api_key: {callable: fetch_key}\n",
        "agents/a.yaml": "agent:\n  instructions: hi\n",
    })
    (tmp_path / "rt16reg.py").write_text(
        "from realtime_profiles.sdk import Registry\n"
        "CALLS = []\n"
        "registry = Registry()\n"
        "def fetch_key():\n"
        "    CALLS.append(1)\n"
        f"    return {CANARY!r}\n"
        "registry.api_key(fetch_key, name='fetch_key')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _out, err = run("--root", str(root), "wire", "a", "--registry", "rt16reg:registry")
    assert code == 0, err
    import rt16reg  # type: ignore[import-not-found]

    assert rt16reg.CALLS == [], "wire called the application's real api-key provider"
