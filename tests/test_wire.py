"""`realtime-profiles wire` and `diff --wire` through the real SDK: the frames a session
starts with, the SIP accept body (checked against openai's own request model, unknown keys
included), a user's registry, no secret on stdout, and a clear exit 2 without the SDK."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
from conftest import Tree
from openai.types.realtime.realtime_session_create_request import (
    RealtimeSessionCreateRequest,
)

from realtime_profiles import Loader
from realtime_profiles.cli import main
from realtime_profiles.offline import capture, stand_ins
from realtime_profiles.wire import session_wire, sip_accept_body

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-wire-secret-0123456789abcdefghijkl"

FILES = {
    "base.yaml": """
        facets:
          line: {default: web}
        run_config:
          model_settings:
            voice: marin
            tracing: {workflow_name: "${profile.agent}"}
        model_config:
          headers:
            Authorization: "Bearer ${oc.env:OPENAI_API_KEY}"
            X-Tenant: "${oc.env:TENANT_TOKEN}"
        """,
    "facets/line/web.yaml": "{}\n",
    "facets/line/phone.yaml": """
        run_config:
          model_settings:
            input_audio_format: g711_ulaw
            output_audio_format: g711_ulaw
            turn_detection: {type: server_vad, threshold: 0.6}
        """,
    "agents/desk.yaml": """
        agent:
          name: Desk
          instructions: Answer briefly.
          tools: [lookup_order]
          handoffs: [back]
        start_messages: [Hello]
        client_messages:
          - type: response.create
        """,
    "agents/back.yaml": """
        agent:
          instructions: Handle it.
        """,
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def strict(model: pydantic.BaseModel, where: str = "") -> list[str]:
    """Every key openai's model kept as an extra (its models allow unknown keys)."""
    found = [f"{where}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, pydantic.BaseModel):
                found += strict(item, f"{where}.{name}")
    return found


def test_wire_prints_the_frames_a_session_starts_with(tree: Tree,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tree(FILES)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("TENANT_TOKEN", KEY[::-1])
    code, out, err = run("wire", "desk", "--facet", "line=phone",
                         "model_settings.turn_detection.threshold=0.7")
    assert code == 0, err
    data = json.loads(out)
    assert data["profile"]["facets"] == {"line": "phone"}
    assert data["registry"] == "stand-ins"
    assert data["url"].startswith("wss://api.openai.com/v1/realtime?model=")
    # the client message's response.create waits in the SDK until the response the start
    # message asked for is done: the socket has not carried it yet
    assert [f["type"] for f in data["frames"]] == [
        "session.update", "session.update", "conversation.item.create", "response.create"]
    session = data["frames"][0]["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.7
    assert [t["name"] for t in session["tools"]] == ["lookup_order", "transfer_to_back"]
    assert data["frames"][1]["session"]["tracing"]["workflow_name"] == "desk"
    assert KEY not in out + err and KEY[::-1] not in out + err


def test_wire_equals_what_the_sdk_sends_through_the_library(tree: Tree) -> None:
    root = tree(FILES)
    profile = Loader(root, environ={"OPENAI_API_KEY": "k", "TENANT_TOKEN": "t"}).load("desk")
    captured = capture(profile, registry=stand_ins(profile))
    assert session_wire(profile).frames == captured.frames


def test_wire_works_with_secrets_unset(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(FILES)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TENANT_TOKEN", raising=False)
    code, out, err = run("wire", "desk")
    assert code == 0, err
    assert json.loads(out)["frames"][0]["type"] == "session.update"
    assert "secret unavailable" not in err  # a placeholder stands in, quietly


def test_sip_body_is_a_valid_calls_accept_request(tree: Tree,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tree(FILES)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, out, err = run("wire", "desk", "--facet", "line=phone", "--sip")
    assert code == 0, err
    body = json.loads(out)
    request = RealtimeSessionCreateRequest.model_validate(body)
    assert strict(request) == []
    assert body["type"] == "realtime"
    assert body["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert body["audio"]["output"]["voice"] == "marin"
    assert "tracing" not in body  # the SDK sends tracing once the call's socket is open
    assert KEY not in out


def test_sip_body_of_every_shipped_combination_validates() -> None:
    loader = Loader(REPO / "profiles", local=False, environ={"OPENAI_API_KEY": "k"})
    from realtime_profiles._matrix import combinations

    for combination in combinations(loader, loader.agents(), loader.envs()):
        profile = loader.load(combination.agent, combination.env,
                              facets=dict(combination.facets))
        body = sip_accept_body(profile)
        assert strict(RealtimeSessionCreateRequest.model_validate(body)) == [], \
            combination.label()
        assert body == session_wire(profile).session | {"type": "realtime"}


REGISTRY_MODULE = '''
from agents import function_tool
from realtime_profiles.sdk import Registry

registry = Registry()


@registry.tool
@function_tool
def lookup_order(order_id: str) -> str:
    """Look an order up by its number."""
    return order_id
'''


def test_a_users_registry_puts_the_real_tool_schemas_on_the_wire(
        tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(FILES)
    (tmp_path / "shop_tools.py").write_text(REGISTRY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run("wire", "desk", "--registry", "shop_tools:registry")
    assert code == 0, err
    data = json.loads(out)
    assert data["registry"] == "shop_tools:registry"
    [tool] = [t for t in data["frames"][0]["session"]["tools"] if t["name"] == "lookup_order"]
    assert tool["description"] == "Look an order up by its number."
    assert list(tool["parameters"]["properties"]) == ["order_id"]


def test_a_registry_missing_a_name_is_a_located_error(tree: Tree, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tree({**FILES, "agents/desk.yaml": FILES["agents/desk.yaml"].replace(
        "[lookup_order]", "[lookup_order, refund]")})
    (tmp_path / "shop_tools.py").write_text(REGISTRY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run("wire", "desk", "--registry", "shop_tools:registry")
    assert code == 1 and out == ""
    assert "profiles/agents/desk.yaml:4:25: agent.tools[1]: unknown tool 'refund'" in err
    assert "Traceback" not in err
    code, _, err = run("wire", "desk", "--registry", "shop_tools:nothing")
    assert code == 2 and "shop_tools has no 'nothing'" in err


def test_an_invalid_profile_exits_1_with_every_problem(tree: Tree) -> None:
    tree({**FILES, "agents/desk.yaml": "agent:\n  instructionz: hi\n"})
    code, out, err = run("wire", "desk")
    assert code == 1 and out == ""
    assert "profiles/agents/desk.yaml:2:3: agent.instructionz" in err
    assert "Traceback" not in err


def test_without_the_sdk_wire_exits_2_with_the_pip_command(tree: Tree) -> None:
    tree(FILES)
    program = ("import sys; sys.modules['agents'] = None\n"
               "from realtime_profiles.cli import main\n"
               "sys.exit(main(sys.argv[1:]))")
    for argv in (["wire", "desk"], ["snapshot", "--check"], ["diff", "desk@-", "back@-",
                                                              "--wire"]):
        done = subprocess.run([sys.executable, "-c", program, *argv], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 2, done.stderr
        assert "pip install -e '.[sdk]'" in done.stderr
        assert "Traceback" not in done.stderr


def test_diff_wire_prints_the_update_and_its_refusals(tree: Tree,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree({**FILES, "env/dev.yaml": "{}\n", "env/prod.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
            turn_detection: {type: server_vad, threshold: 0.8}
        """})
    del root
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, out, err = run("diff", "desk@dev", "desk@prod", "--wire")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == ("# the session.update that moves a live session from desk@dev to "
                        "desk@prod (fields: audio.input.turn_detection)")
    assert any("live/model" not in line and "the model cannot change" in line
               and line.startswith("profiles/env/prod.yaml:3:5:") for line in lines)
    assert lines[-1] == "1 field to send, 1 refused, 0 for new sessions only"
    code, out, _ = run("diff", "desk@dev", "desk@prod", "--wire", "--format", "json")
    assert code == 1
    # the SDK's default semantic_vad has interrupt_response, which server_vad here does not
    # set: the API merges into turn detection, so it is cleared first, then written whole
    assert json.loads(out)["events"] == [
        {"type": "session.update", "session": {"type": "realtime", "audio": {
            "input": {"turn_detection": None}}}},
        {"type": "session.update", "session": {"type": "realtime", "audio": {
            "input": {"turn_detection": {"type": "server_vad", "threshold": 0.8}}}}}]
    code, out, _ = run("diff", "desk@dev", "desk@dev", "--wire", "--format", "json")
    assert code == 0
    assert json.loads(out)["event"] is None and json.loads(out)["events"] == []
