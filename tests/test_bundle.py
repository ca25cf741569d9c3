"""Bundles: built once, byte for byte the same every time, loaded with no YAML toolchain to
the very profiles the Loader gives; ConfigMaps that Kubernetes accepts; kubelet's mount and
its atomic swap read as one version at a time."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from realtime_profiles import Bundle, Loader, ProfileValidationError, UsageError
from realtime_profiles._build import compile_bundle, write_bundle
from realtime_profiles._calls import OverrideNotAllowedError
from realtime_profiles._matrix import combinations
from realtime_profiles.bundle import BundleError
from realtime_profiles.cli import main
from tests import kubelet
from tests.conftest import Tree, write_tree

REPO = Path(__file__).parent.parent
KEY = "sk-canary-0123456789abcdefghijklmnop"


def build(root: Path, out: Path, environ: dict[str, str] | None = None) -> Path:
    files = compile_bundle(Loader(root, local=False, environ=environ or {}))
    write_bundle(files, out)
    return out


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    return build(REPO / "profiles", tmp_path / "bundle", {"OPENAI_API_KEY": KEY})


def test_the_bundle_gives_the_loaders_profiles_on_the_whole_shipped_matrix(
        shipped: Path) -> None:
    environ = {"OPENAI_API_KEY": KEY}
    loader = Loader(REPO / "profiles", local=False, environ=environ)
    bundle = Bundle(shipped, environ=environ)
    matrix = combinations(loader, loader.agents(), loader.envs())
    assert len(matrix) == len(bundle.manifest["combinations"])
    for combination in matrix:
        facets = dict(combination.facets)
        ours = loader.load(combination.agent, combination.env, facets=facets)
        theirs = bundle.load(combination.agent, combination.env, facets=facets)
        assert theirs.document() == ours.document(), combination.label()
        assert list(theirs.document()["run_config"]) == list(ours.document()["run_config"])
        assert (theirs.facets, theirs.fingerprint) == (ours.facets, ours.fingerprint)
        assert theirs.model_config["api_key"] == KEY
        assert theirs.agent_config == ours.agent_config
        assert {n: (g.env, g.config) for n, g in theirs.graph.items()} == \
            {n: (g.env, g.config) for n, g in ours.graph.items()}, combination.label()
    assert set(bundle.agents) == set(loader.agents())


def test_a_bundle_profile_builds_the_same_agent_graph(shipped: Path) -> None:
    """The SDK's agents from a bundle are those from the tree: handoffs included."""
    from realtime_profiles.offline import stand_ins

    environ = {"OPENAI_API_KEY": KEY}
    ours = Loader(REPO / "profiles", local=False, environ=environ).load("concierge", "prod")
    theirs = Bundle(shipped, environ=environ).load("concierge", "prod")

    def shape(agent: object, seen: set[str]) -> object:
        name = agent.name  # type: ignore[attr-defined]
        if name in seen:
            return name
        seen.add(name)
        return (name, agent.instructions,  # type: ignore[attr-defined]
                sorted(t.name for t in agent.tools),  # type: ignore[attr-defined]
                [shape(h, seen) for h in agent.handoffs])  # type: ignore[attr-defined]

    built = [shape(p.realtime_agent(stand_ins(p)), set()) for p in (ours, theirs)]
    assert built[0] == built[1]
    assert "Support Agent" in repr(built[0]) and "Billing Agent" in repr(built[0])


def test_buckets_and_call_overrides_give_what_the_loader_gives(shipped: Path) -> None:
    environ = {"OPENAI_API_KEY": KEY}
    loader = Loader(REPO / "profiles", local=False, environ=environ)
    bundle = Bundle(shipped, environ=environ)
    for i in range(60):
        transport = ["web", "sip"][i % 2]
        call: dict[str, object] = {"model_settings.voice": ["verse", "cedar", "ash"][i % 3],
                                   "vars.customer_name": f"Caller {i}"}
        if transport == "sip":  # the phone line's contract lets a call tune its server VAD
            call["model_settings.turn_detection.silence_duration_ms"] = 150 + i
        options = {"bucket": f"call-{i}", "call_overrides": call,
                   "facets": {"transport": transport}}
        ours = loader.load("support", "prod", **options)
        theirs = bundle.load("support", "prod", **options)
        assert theirs.document() == ours.document()
        assert (theirs.facets, theirs.fingerprint) == (ours.facets, ours.fingerprint)
    with pytest.raises(OverrideNotAllowedError):
        bundle.load("support", "prod", call_overrides={"model_config.url": "wss://x"})
    with pytest.raises(OverrideNotAllowedError):  # on the web (semantic VAD): not a call's
        bundle.load("support", "prod", facets={"transport": "web"}, call_overrides={
            "model_settings.turn_detection.silence_duration_ms": 300})
    with pytest.raises(ProfileValidationError) as caught:
        bundle.load("support", "prod", call_overrides={"model_settings.voice": "nope"})
    assert caught.value.problems[0].render().startswith(
        "call override: run_config.model_settings.voice: 'nope' is not one of")


def test_two_builds_are_byte_identical_in_any_process(shipped: Path, tmp_path: Path) -> None:
    probe = ("import sys\nfrom pathlib import Path\nfrom realtime_profiles import Loader\n"
             "from realtime_profiles._build import compile_bundle, write_bundle\n"
             "write_bundle(compile_bundle(Loader(sys.argv[1], local=False, environ={})), "
             "Path(sys.argv[2]))")
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-c", probe, str(REPO / "profiles"), str(other)],
                   check=True, env={**os.environ, "PYTHONHASHSEED": "777"})
    again = build(REPO / "profiles", tmp_path / "again")
    for folder in (other, again):
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            p.name for p in shipped.iterdir())
        for path in shipped.iterdir():
            assert (folder / path.name).read_bytes() == path.read_bytes(), path.name


def test_no_secret_value_is_ever_in_a_bundle_or_a_configmap(shipped: Path) -> None:
    for path in shipped.iterdir():
        assert KEY.encode() not in path.read_bytes(), path.name
    out, err = io.StringIO(), io.StringIO()
    assert main(["export", "--bundle", str(shipped)], out, err) == 0
    assert KEY not in out.getvalue()
    environment = {**os.environ, "OPENAI_API_KEY": KEY}
    done = subprocess.run([sys.executable, "-m", "realtime_profiles", "--root",
                           str(REPO / "profiles"), "export"], capture_output=True, text=True,
                          env=environment, check=True)
    assert KEY not in done.stdout and "${oc.env:OPENAI_API_KEY}" in done.stdout


def test_a_tree_with_an_error_builds_nothing_and_keeps_the_old_bundle(tree: Tree,
                                                                     tmp_path: Path) -> None:
    root = tree({"agents/a.yaml": "run_config: {model_settings: {voice: marin}}\n"})
    out = build(root, tmp_path / "bundle")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (root / "agents" / "a.yaml").write_text("run_config: {model_settings: {speed: 9}}\n")
    code_out, err = io.StringIO(), io.StringIO()
    assert main(["--root", str(root), "build", "--out", str(out)], code_out, err) == 1
    assert "speed: 9 is greater than the maximum of 1.5" in err.getvalue()
    assert "nothing was built" in err.getvalue()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".bundle")]


def test_a_secret_that_is_a_value_cannot_ship(tree: Tree, tmp_path: Path) -> None:
    root = tree({"agents/a.yaml": "{}\n", "local.yaml": "model_config: {api_key: sk-x}\n"})
    with pytest.raises(ProfileValidationError) as caught:
        compile_bundle(Loader(root, environ={}))  # local.yaml read: its literal key
    assert caught.value.problems[0].code == "bundle-secret"
    assert not (tmp_path / "out").exists()


def test_a_secret_through_vars_and_text_ships_as_its_source(tree: Tree, tmp_path: Path) -> None:
    root = tree({"agents/a.yaml": """
        vars: {token: "${oc.env:TOKEN}"}
        model_config:
          headers: {Authorization: "Bearer ${vars.token}"}
        """})
    out = build(root, tmp_path / "bundle", {"TOKEN": "t-1"})
    data = json.loads(next(p for p in out.iterdir() if p.name.startswith("a--")).read_text())
    assert data["secrets"]["model_config.headers.Authorization"]["source"] == \
        "Bearer ${oc.env:TOKEN}"
    profile = Bundle(out, environ={"TOKEN": "t-2"}).load("a")
    assert profile.model_config["headers"] == {"Authorization": "Bearer t-2"}
    from realtime_profiles import SecretUnavailableError

    with pytest.raises(SecretUnavailableError, match="TOKEN"):
        Bundle(out, environ={}).load("a")


def test_loading_a_bundle_imports_no_yaml_omegaconf_or_jsonschema(shipped: Path) -> None:
    probe = ("import sys\nfrom realtime_profiles import Bundle\n"
             "b = Bundle(sys.argv[1], environ={'OPENAI_API_KEY': 'k'})\n"
             "b.load('support', 'prod', bucket='c-1')\n"
             "b.load('support', 'prod', call_overrides={'model_settings.voice': 'verse'})\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('yaml', 'omegaconf', 'jsonschema', 'agents', 'openai', 'antlr4')))")
    done = subprocess.run([sys.executable, "-c", probe, str(shipped)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_names_and_damaged_bundles_are_named(shipped: Path, tmp_path: Path) -> None:
    bundle = Bundle(shipped, environ={"OPENAI_API_KEY": "k"})
    with pytest.raises(UsageError, match=r"unknown agent 'suport' in the bundle \(did you "
                                         r"mean 'support'\?\)"):
        bundle.load("suport", "prod")
    with pytest.raises(UsageError, match="unknown option 'sp'"):
        bundle.load("support", "prod", facets={"transport": "sp"})
    broken = tmp_path / "broken"
    shutil.copytree(shipped, broken)
    victim = next(p for p in broken.iterdir() if p.name.startswith("support--prod"))
    victim.write_text(victim.read_text().replace("marin", "cedar"))
    facets = json.loads(victim.read_text())["facets"]
    with pytest.raises(BundleError, match="does not match the manifest"):
        Bundle(broken, environ={"OPENAI_API_KEY": "k"}).load("support", "prod", facets=facets)
    with pytest.raises(BundleError, match="cannot read"):
        Bundle(tmp_path / "nowhere")


# -- Kubernetes ------------------------------------------------------------------------------

def _export(*args: str) -> list[dict[str, object]]:
    out, err = io.StringIO(), io.StringIO()
    assert main(["export", *args], out, err) == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


def test_configmaps_are_valid_kubernetes_objects_and_split_under_the_limit(
        shipped: Path) -> None:
    from kubernetes.client import V1ConfigMap

    one = _export("--bundle", str(shipped), "--name", "voice-profiles", "--namespace", "calls")
    assert len(one) == 1
    many = _export("--bundle", str(shipped), "--name", "voice-profiles", "--max-bytes", "150000")
    assert len(many) > 3
    for document in [*one, *many]:
        parsed = V1ConfigMap.model_validate(document)  # types and field names, per the client
        assert parsed.kind == "ConfigMap"
        data = document["data"]
        assert isinstance(data, dict)
        assert sum(len(v.encode()) for v in data.values()) <= 150000 or document in one
        labels = document["metadata"]["labels"]  # type: ignore[index]
        assert all(len(v) <= 63 for v in labels.values())
        assert labels["realtime-profiles/bundle"] == Bundle(shipped).fingerprint
    names = [d["metadata"]["name"] for d in many]  # type: ignore[index]
    assert names == [f"voice-profiles-{i}" for i in range(1, len(many) + 1)]
    keys = [k for d in many for k in d["data"]]  # type: ignore[union-attr]
    assert len(keys) == len(set(keys)) == len(list(shipped.iterdir()))
    assert keys[0] == "manifest.json"


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "Voice_Profiles"], "a ConfigMap name is a DNS subdomain"),
    (["--namespace=-x"], "a namespace is a DNS label"),
    (["--max-bytes", "2000000"], "between 1024 and 1048576"),
])
def test_bad_configmap_options_are_usage_errors(shipped: Path, args: list[str],
                                                message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["export", "--bundle", str(shipped), *args], out, err) == 2
    assert message in err.getvalue()


def test_a_configmap_mounted_by_kubelet_loads_the_same_profiles(shipped: Path,
                                                               tmp_path: Path) -> None:
    parts = _export("--bundle", str(shipped), "--max-bytes", "150000")
    payload = {key: value.encode() for part in parts
               for key, value in part["data"].items()}  # type: ignore[union-attr]
    mount = tmp_path / "mount"
    kubelet.write(mount, payload)
    assert (mount / "manifest.json").is_symlink()
    environ = {"OPENAI_API_KEY": KEY}
    mounted, original = Bundle(mount, environ=environ), Bundle(shipped, environ=environ)
    assert mounted.fingerprint == original.fingerprint
    for entry in original.manifest["combinations"]:
        args = (entry["agent"], entry["env"])
        assert mounted.load(*args, facets=entry["facets"]).document() == \
            original.load(*args, facets=entry["facets"]).document()


def _versioned_tree(version: int) -> dict[str, bytes]:
    """A tree whose two files carry the same version number: a mix shows at once."""
    files = {
        "base.yaml": f"vars: {{v: '{version}'}}\nrun_config:\n  model_settings:\n"
                     f"    tracing: {{workflow_name: 'w{version}'}}\n",
        "agents/a.yaml": f"run_config: {{model_settings: {{voice: 'v{version}', "
                         "tracing: {group_id: '${vars.v}'}}}\n",
        "prompts/p.md": f"prompt {version}\n",
        "env/dev.yaml": "model_config: {initial_model_settings: "
                        "{instructions: '${file:prompts/p.md}'}}\n",
    }
    return {k: v.encode() for k, v in files.items()}


def _one_version(document: dict[str, object]) -> set[str]:
    settings = document["run_config"]["model_settings"]  # type: ignore[index]
    instructions = document["model_config"]["initial_model_settings"]["instructions"]  # type: ignore[index]
    return {settings["voice"][1:], settings["tracing"]["workflow_name"][1:],  # type: ignore[index]
            settings["tracing"]["group_id"], instructions.split()[1]}  # type: ignore[index]


def test_a_tree_mounted_by_kubelet_is_read_one_version_at_a_time(tmp_path: Path) -> None:
    mount = tmp_path / "profiles"
    kubelet.write(mount, _versioned_tree(0))
    loader = Loader(mount, environ={}, checks=())
    assert _one_version(loader.load("a", "dev").document()) == {"0"}
    done = threading.Event()
    seen: list[set[str]] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(_one_version(loader.load("a", "dev").document()))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for version in range(1, 60):
        kubelet.write(mount, _versioned_tree(version))
    done.set()
    for reader in readers:
        reader.join()
    assert not failures, failures[:1]
    assert all(len(versions) == 1 for versions in seen), [v for v in seen if len(v) > 1][:3]
    assert _one_version(loader.load("a", "dev").document()) == {"59"}


def test_a_bundle_mounted_by_kubelet_reloads_as_one_version(tree: Tree, tmp_path: Path) -> None:
    sources = [write_tree(tmp_path / f"src{i}", {
        "agents/a.yaml": f"run_config: {{model_settings: {{voice: v{i}, speed: 1.{i}}}}}\n"})
        for i in range(3)]
    bundles = [build(src, tmp_path / f"b{i}") for i, src in enumerate(sources)]
    mount = tmp_path / "mount"
    kubelet.write(mount, {p.name: p.read_bytes() for p in bundles[0].iterdir()})
    bundle = Bundle(mount, environ={})
    assert bundle.load("a").run_config["model_settings"]["voice"] == "v0"
    assert bundle.reload() is False
    for i in (1, 2):
        kubelet.write(mount, {p.name: p.read_bytes() for p in bundles[i].iterdir()})
        assert bundle.reload() is True
        settings = bundle.load("a").run_config["model_settings"]
        assert (settings["voice"], settings["speed"]) == (f"v{i}", float(f"1.{i}"))
