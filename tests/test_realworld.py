"""A table of real-world realtime configs, run through the loader.

The fixtures under tests/fixtures/realworld/ were collected from the openai-agents SDK's docs
and examples and from the OpenAI Realtime API guides (each names its origin in `source:`).
`valid/` holds configs as published, translated to the profile document: each composes with
no error, and warns only where `expect_warnings` says. `invalid/` holds the mistakes people
make with them: each is reported, in one pass, as an error at exactly the expected key, with
the expected text and did-you-mean.

A fixture is an emitted document (run_config, model_config, start_messages, client_messages)
plus keys this test strips before writing it as profiles/base.yaml of a one-agent tree:
`source`, `description`, `environ` (the variables `${oc.env:...}` reads), and `expect` /
`expect_warnings`, lists of {path, contains, suggestion?}: `contains` is a substring of the
message, `suggestion` of the hint. Going through `Loader.check` (not the bare validator)
also covers what the loader adds: literal secrets in tracked files, misplaced top-level keys
and the SDK lints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Tree

from realtime_profiles import CheckResult, Loader
from realtime_profiles.errors import Problem

HERE = Path(__file__).parent / "fixtures" / "realworld"
META = ("source", "description", "environ", "expect", "expect_warnings")
EXPECT_KEYS = frozenset({"path", "contains", "suggestion"})


def fixtures(kind: str) -> list[Path]:
    return sorted((HERE / kind).glob("*.yaml"))


def params(kind: str) -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in fixtures(kind)]


def read(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta, document) of one fixture."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: a fixture is a mapping"
    meta = {k: data[k] for k in META if k in data}
    document = {k: v for k, v in data.items() if k not in META}
    return meta, document


def check(tree: Tree, document: Mapping[str, Any], environ: Mapping[str, str],
          *, strict: bool = False) -> CheckResult:
    root = tree({
        "base.yaml": yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True),
        "agents/a.yaml": "{}\n",
        "env/dev.yaml": "{}\n",
    })
    return Loader(root, environ=dict(environ), local=False).check("a", "dev", strict=strict)


def render(problems: Sequence[Problem]) -> str:
    return "\n".join(f"  {p.severity}: {p.path}: {p.message} ({p.suggestion})"
                     for p in problems) or "  (none)"


def assert_exactly(problems: Sequence[Problem], expected: Sequence[Mapping[str, str]],
                   what: str) -> None:
    """Problems at exactly the expected paths, each with the expected text and hint."""
    found = sorted(p.path for p in problems)
    wanted = sorted(e["path"] for e in expected)
    assert found == wanted, f"{what} at {found}, expected at {wanted}:\n{render(problems)}"
    for entry in expected:
        at_path = [p for p in problems if p.path == entry["path"]]
        assert any(entry["contains"] in p.message
                   and entry.get("suggestion", "") in (p.suggestion or "")
                   for p in at_path), (
            f"no {what[:-1]} at {entry['path']} containing {entry['contains']!r}"
            + (f" suggesting {entry['suggestion']!r}" if "suggestion" in entry else "")
            + f":\n{render(at_path)}")


def interpolated(value: Any, environ: Mapping[str, str]) -> Any:
    """`value` with each `${oc.env:NAME}` replaced as the loader does."""
    if isinstance(value, dict):
        return {k: interpolated(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolated(v, environ) for v in value]
    if isinstance(value, str):
        return re.sub(r"\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)\}",
                      lambda m: environ[m.group(1)], value)
    return value


# -- the table itself ---------------------------------------------------------------------

def test_the_table_has_enough_sourced_fixtures() -> None:
    assert len(fixtures("valid")) >= 8
    assert len(fixtures("invalid")) >= 10
    for path in [*fixtures("valid"), *fixtures("invalid")]:
        meta, document = read(path)
        assert meta.get("source"), f"{path.name}: say where the config comes from"
        assert meta.get("description"), f"{path.name}: say what the config is"
        assert document, f"{path.name}: no document besides the meta keys"
        for entry in [*meta.get("expect", []), *meta.get("expect_warnings", [])]:
            assert {"path", "contains"} <= set(entry) <= EXPECT_KEYS, f"{path.name}: {entry}"
    for path in fixtures("invalid"):
        assert read(path)[0].get("expect"), f"{path.name}: an invalid fixture expects errors"
    for path in fixtures("valid"):
        assert "expect" not in read(path)[0], f"{path.name}: a valid fixture expects no error"


# -- valid: as published, no error ---------------------------------------------------------

@pytest.mark.parametrize("path", params("valid"))
def test_real_world_config_is_valid(tree: Tree, path: Path) -> None:
    meta, document = read(path)
    environ = meta.get("environ", {})
    result = check(tree, document, environ)
    assert not result.errors, f"{path.name} ({meta['source']}) rejected:\n{render(result.errors)}"
    assert_exactly([p for p in result.problems if p.severity == "warning"],
                   meta.get("expect_warnings", []), "warnings")
    # The loader emits exactly the dicts the source passes to the SDK.
    assert result.profile is not None
    assert result.profile.document() == interpolated(document, environ)


@pytest.mark.parametrize("path", params("valid"))
def test_real_world_config_is_valid_under_strict(tree: Tree, path: Path) -> None:
    """`--strict` turns the listed warnings, and nothing else, into errors."""
    meta, document = read(path)
    result = check(tree, document, meta.get("environ", {}), strict=True)
    assert_exactly(result.errors, meta.get("expect_warnings", []), "errors")


# -- invalid: typical mistakes, each an error at its key -------------------------------------

@pytest.mark.parametrize("path", params("invalid"))
def test_typical_mistake_is_an_error_at_its_key(tree: Tree, path: Path) -> None:
    meta, document = read(path)
    result = check(tree, document, meta.get("environ", {}))
    assert_exactly(result.errors, meta["expect"], "errors")
    assert_exactly([p for p in result.problems if p.severity == "warning"],
                   meta.get("expect_warnings", []), "warnings")
    assert result.profile is None
    # Every error points at the line of base.yaml that wrote the key.
    for problem in result.errors:
        assert problem.mark is not None, problem
        assert problem.mark.file.endswith("base.yaml"), problem
        assert problem.mark.line > 0, problem
