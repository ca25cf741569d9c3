"""Shared helpers: real profile trees written to a temporary directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

Tree = Callable[[Mapping[str, str]], Path]


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write `{relative path: YAML text}` under root/profiles and return that folder."""
    profiles = root / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = profiles / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return profiles


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    """`tree({...})` writes a profile tree and makes tmp_path the working directory, so
    rendered marks read `profiles/base.yaml:3:5` as users see them."""
    monkeypatch.chdir(tmp_path)

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(tmp_path, files)

    return make
