"""What the agents a profile hands off to carry into snapshots, bundles and fingerprints.

The handoff targets' sections are part of what a profile sends (its handoff tools): a
snapshot stores them masked, a bundle ships what they derive from any secret of the tree as
references, and the fingerprint counts them (README "Snapshots", "Deploying to a fleet",
"Per call"; docs/security.md "The wire, snapshots, live plans, bundles")."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from conftest import Tree

from realtime_profiles import Bundle, Loader, build_bundle
from realtime_profiles.cli import main
from realtime_profiles.wire import session_wire

CANARY = "sk-CANARY0123456789abcdefghij"
TOKEN_TEXT = "tok-CANARY-xyz-123456"
FILE_SECRET = "filesecret-CANARY-777777"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_snapshot_graph_section_never_holds_a_value_derived_from_a_secret(tree: Tree) -> None:
    """Promise (docs/security.md, README "Snapshots"): a snapshot's document masks secrets and
    derived values as `***`, so a snapshot neither holds a secret nor depends on the machine's
    environment; handed-off agents follow the same rules. The snapshot's `graph` section is
    written from the handed-off agents' resolved configs without any redaction
    (`_snapshot.py`: `"graph": {name: node.config ...}`; only `document` goes through
    `redact`), so b's `handoff_description: "desc ${oc.env:TOKEN}"` is stored with the token.
    Repro: header `Bearer ${oc.env:TOKEN}` in base.yaml, a hands off to b,
    `snapshot --write --environ TOKEN=tok-...`; grep tok- snapshots/a/dev.json."""
    root = tree({
        "base.yaml": """
            run_config:
              model_settings:
                model_name: gpt-realtime
            model_config:
              headers:
                Authorization: Bearer ${oc.env:TOKEN}
            """,
        "agents/a.yaml": "agent:\n  instructions: hi\n  handoffs: [b]\n",
        "agents/b.yaml": """
            agent:
              instructions: hi b
              handoff_description: "desc ${oc.env:TOKEN}"
            """,
        "env/dev.yaml": "{}\n",
    })
    code, out, err = run("--root", str(root), "snapshot", "--write",
                         "--environ", f"TOKEN={TOKEN_TEXT}")
    assert code == 0, out + err
    # b's own snapshot masks it...
    assert TOKEN_TEXT not in Path("snapshots/b/dev.json").read_text()
    # ...a's snapshot stores it in its graph section
    leaked = [str(p) for p in Path("snapshots").rglob("*.json") if TOKEN_TEXT in p.read_text()]
    assert leaked == []


def test_snapshot_graph_section_never_holds_a_file_secret(tree: Tree) -> None:
    """The same with a `${file:...}` secret and a graph two handoffs deep (a -> b -> c):
    c's `instructions`/`handoff_description` quoting the secret file are stored verbatim in
    the graph of a's and b's snapshots (no --environ needed: the file is in the tree).
    Repro: snapshot --write; grep filesecret- snapshots/a/dev.json"""
    root = tree({
        "secrets/tok": FILE_SECRET,
        "base.yaml": """
            run_config:
              model_settings:
                model_name: gpt-realtime
            model_config:
              headers:
                Authorization: Bearer ${file:secrets/tok}
            """,
        "agents/a.yaml": "agent:\n  instructions: hi\n  handoffs: [b]\n",
        "agents/b.yaml": "agent:\n  instructions: hi b\n  handoffs: [c]\n",
        "agents/c.yaml": """
            agent:
              instructions: "C ${file:secrets/tok}"
              handoff_description: "cdesc ${file:secrets/tok}"
            """,
        "env/dev.yaml": "{}\n",
    })
    code, out, err = run("--root", str(root), "snapshot", "--write")
    assert code == 0, out + err
    assert FILE_SECRET not in Path("snapshots/c/dev.json").read_text()
    leaked = [str(p) for p in Path("snapshots").rglob("*.json") if FILE_SECRET in p.read_text()]
    assert leaked == []


# A secret that only the start agent's composition has (credentials in agents/a.yaml), read by
# the agent it hands off to.
AGENT_HEADER = {
    "base.yaml": """
        run_config:
          model_settings:
            model_name: gpt-realtime
        """,
    "agents/a.yaml": """
        model_config:
          headers:
            Authorization: Bearer ${oc.env:TOKEN}
        agent:
          instructions: hi
          handoffs: [b]
        """,
    "agents/b.yaml": """
        agent:
          instructions: "hi b ${oc.env:TOKEN}"
          handoff_description: "desc ${oc.env:TOKEN}"
        """,
    "env/dev.yaml": "{}\n",
}


def test_a_bundle_graph_never_holds_the_start_agents_secret(
        tree: Tree, tmp_path: Path, monkeypatch: Any) -> None:
    """Promise (README "Deploying to a fleet", docs/security.md): a bundle and its ConfigMap
    ship each secret and each value derived from one as a reference, in the profile and in
    the agents it hands off to. a's Authorization header reads TOKEN; b (handed off to by a)
    quotes TOKEN in its instructions and handoff_description. `wire a` scrubs it (the scrub
    works on a's secret texts), but the bundle file of a carries b's section resolved:
    `"handoff_description": "desc tok-..."` — derivation of graph sections is decided in b's
    own composition (where TOKEN feeds no secret), never against the start profile's secret
    sources (`_build.py` graph serialization / `SecretFlow` per composition).
    Repro: TOKEN=tok-... realtime-profiles build --out b; grep tok- b/a--dev--*.json"""
    root = tree(AGENT_HEADER)
    monkeypatch.setenv("TOKEN", TOKEN_TEXT)
    code, out, err = run("--root", str(root), "wire", "a", "--env", "dev")
    assert code == 0 and TOKEN_TEXT not in out + err  # the wire scrubs it
    bundle = tmp_path / "bundle"
    code, out, err = run("--root", str(root), "build", "--out", str(bundle))
    assert code == 0, out + err
    leaked = [p.name for p in bundle.rglob("a--*.json") if TOKEN_TEXT in p.read_text()]
    assert leaked == []
    code, out, err = run("export", "--bundle", str(bundle), "--name", "voice",
                         "--format", "configmap")
    assert code == 0, err
    assert TOKEN_TEXT not in out


def _handoff_tree(description: str) -> dict[str, str]:
    return {
        "base.yaml": """
            run_config:
              model_settings:
                model_name: gpt-realtime
            model_config:
              api_key: ${oc.env:OPENAI_API_KEY}
            """,
        "agents/a.yaml": "agent:\n  instructions: hi\n  handoffs: [b]\n",
        "agents/b.yaml": f"agent:\n  instructions: hi b\n  handoff_description: {description}\n",
        "env/dev.yaml": "{}\n",
    }


def test_the_fingerprint_changes_when_a_handed_off_agent_changes_the_wire(
        tree: Tree, tmp_path: Path) -> None:
    """Promise (README "Fingerprint"): the fingerprint changes whenever an emitted value does,
    so a trace's `profile_fingerprint` leads back to the exact configuration. b's
    `handoff_description` is sent in a's very first `session.update` (the description of the
    `transfer_to_b` tool), yet a's fingerprint (Loader and Bundle alike) is the same for
    'Bills.' and 'Refunds.': the fingerprint hashes only a's own document and facets, never
    the graph (`_fingerprint.fingerprint(document, facets)`).
    Repro: edit agents/b.yaml handoff_description; `show a --env dev --fingerprint` unchanged
    while `wire a --env dev` tools[0].description changed."""
    prints, descriptions = [], []
    for i, text in enumerate(("Bills.", "Refunds.")):
        root = tree(_handoff_tree(text))
        loader = Loader(root, environ={"OPENAI_API_KEY": CANARY})
        profile = loader.load("a", "dev")
        descriptions.append(session_wire(profile).session["tools"][0]["description"])
        build_bundle(loader, tmp_path / f"b{i}")
        bundled = Bundle(tmp_path / f"b{i}", environ={"OPENAI_API_KEY": CANARY}).load("a", "dev")
        assert bundled.fingerprint == profile.fingerprint
        prints.append(profile.fingerprint)
    assert descriptions[0] != descriptions[1]  # what a sends differs...
    assert prints[0] != prints[1]  # ...its fingerprint does not
