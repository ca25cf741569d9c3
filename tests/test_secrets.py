"""The secret rules' own tests: which paths are secret is kept equal to the schema's
`x-secret` marks, as the registry's name slots are kept equal to `x-registry`."""

from __future__ import annotations

import json
from pathlib import Path

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
