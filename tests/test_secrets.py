"""The secret rules' own tests: which paths are secret is kept equal to the schema's
`x-secret` marks, as the registry's name slots are kept equal to `x-registry`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Tree

from realtime_profiles import _secrets
from tests.schema_walk import marked_paths

ROOT = Path(__file__).parent.parent


def test_secret_paths_match_the_schema() -> None:
    schema = json.loads((ROOT / "schema.json").read_text())
    in_schema = {path for path, flag in marked_paths(schema, "x-secret", schema["$defs"])
                 if flag is True}
    assert in_schema == set(_secrets.SECRET_PATTERNS)


def test_containers_are_the_prefixes_of_secret_paths() -> None:
    prefixes = {pattern[:cut] for pattern in _secrets.SECRET_PATTERNS
                for cut in range(1, len(pattern)) if "*" not in pattern[:cut]}
    assert set(_secrets.SECRET_CONTAINERS) == prefixes
    assert all(_secrets.holds_secret(p) for p in prefixes)
    assert _secrets.is_secret_path(("model_config", "headers", "X-Api-Key"))
    assert not _secrets.is_secret_path(("model_config", "url"))


def test_the_mask_is_one_string_everywhere() -> None:
    from realtime_profiles import profile

    assert profile.MASK == _secrets.MASK


def test_an_unset_secret_is_never_advised_a_default(tree: Tree) -> None:
    """A default is written in the profile, and a secret in a tracked file is what the secret
    rules refuse: the advice is to set the variable."""
    from realtime_profiles import Loader, SecretUnavailableError

    root = tree({"base.yaml": "model_config:\n  api_key: ${oc.env:OPENAI_API_KEY}\n"
                              "  headers: {authorization: 'Bearer ${oc.env:TOKEN}'}\n",
                 "agents/a.yaml": "{}\n"})
    with pytest.raises(SecretUnavailableError) as caught:
        Loader(root, environ={}, checks=()).load("a")
    text = caught.value.render()
    assert "default" not in text
    assert [p.suggestion for p in caught.value.problems] == [
        "set it before loading this profile for use"] * 2
    warnings = Loader(root, environ={}, checks=()).check("a").problems
    assert all("default" not in p.render() for p in warnings)
