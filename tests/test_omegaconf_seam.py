"""The OmegaConf internals we use live behind one module, and each is pinned here: an
OmegaConf upgrade that moves one fails this test, naming it, instead of failing somewhere deep
in a load."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from realtime_profiles import _omegaconf

PACKAGE = Path(__file__).parent.parent / "realtime_profiles"


@pytest.mark.parametrize(("module", "name"), _omegaconf.PINNED,
                         ids=[f"{m}.{n}" for m, n in _omegaconf.PINNED])
def test_pinned_internal_exists(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"


def test_only_the_seam_touches_omegaconf_internals() -> None:
    pattern = re.compile(r"omegaconf\._|from omegaconf\.grammar|import omegaconf")
    users = sorted(p.name for p in PACKAGE.glob("*.py") if pattern.search(p.read_text("utf-8")))
    assert users == ["_omegaconf.py"]


def test_every_internal_the_seam_imports_is_pinned() -> None:
    source = (PACKAGE / "_omegaconf.py").read_text("utf-8")
    imported = set(re.findall(r"from (omegaconf[\w.]*) import (\w+)", source))
    imported = {(m, "parse" if n == "parse" else n) for m, n in imported}
    assert imported <= set(_omegaconf.PINNED)


def test_the_seam_evaluates_like_omegaconf() -> None:
    tree = _omegaconf.parse("a-${x}-${r:1,b}")
    calls: list[tuple[str, tuple[object, ...]]] = []

    def node(key: object, memo: object) -> object:
        return "X"

    def resolver(name: str, args: tuple[object, ...], args_str: tuple[str, ...]) -> object:
        calls.append((name, args))
        return "R"

    assert _omegaconf.evaluate(tree, node, resolver) == "a-X-R"
    assert calls == [("r", (1, "b"))]
