"""The README's architecture map is the package as it is: every module listed, nothing
listed that is gone, and the precedence line equal to `PRECEDENCE`."""

from __future__ import annotations

import re
from pathlib import Path

from realtime_profiles._sources import PRECEDENCE

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def _architecture() -> str:
    start = README.index("## Architecture")
    end = README.find("\n## ", start + 1)
    return README[start:] if end == -1 else README[start:end]


def test_the_module_map_lists_every_module() -> None:
    listed = set(re.findall(r"`([\w]+\.py)`", _architecture()))
    present = {p.name for p in (ROOT / "realtime_profiles").glob("*.py")}
    assert listed == present


def test_the_precedence_line_is_the_tuple() -> None:
    line = " -> ".join(spec.kind for spec in PRECEDENCE)
    assert f"\n{line}\n" in _architecture()


def test_internal_modules_are_private_and_the_public_ones_few() -> None:
    public = sorted(p.stem for p in (ROOT / "realtime_profiles").glob("[!_]*.py"))
    assert public == ["bundle", "cli", "errors", "loader", "offline", "profile", "sdk"]
