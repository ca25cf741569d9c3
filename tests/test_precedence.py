"""Precedence as data: every adjacent pair of `PRECEDENCE` is checked the way
pydantic-settings checks its sources (tests/test_precedence_and_merging.py there): the higher
layer wins, and without it the lower one shows through. A layer kind added to the tuple
without a writer below fails `test_every_kind_has_a_writer`."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from realtime_profiles import Loader
from realtime_profiles._sources import PRECEDENCE
from tests.conftest import Tree

AGENT, ENV = "a", "dev"
KEY = ("run_config", "model_settings", "voice")


@dataclass
class Setup:
    """What one combination writes: files (as data), environment variables and overrides.
    Every tree has one facet group `t` with the default option `web`."""

    data: dict[str, dict[str, object]] = field(default_factory=lambda: {
        "base.yaml": {"facets": {"t": {"default": "web"}},
                      "overridable": {"run_config.model_settings.voice": None}},
        "agents/a.yaml": {}, "env/dev.yaml": {}, "facets/t/web.yaml": {}})
    environ: dict[str, str] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    call: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, str]:
        return {path: yaml.safe_dump(data) for path, data in self.data.items()}


def _file(path: str) -> Callable[[Setup, str], None]:
    def write(setup: Setup, voice: str) -> None:
        setup.data.setdefault(path, {})["run_config"] = {"model_settings": {"voice": voice}}
    return write


def _environment(setup: Setup, voice: str) -> None:
    setup.environ["REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE"] = voice


def _override(setup: Setup, voice: str) -> None:
    setup.overrides.append(f"++model_settings.voice={voice}")


def _call(setup: Setup, voice: str) -> None:
    setup.call["model_settings.voice"] = voice


WRITERS: dict[str, Callable[[Setup, str], None]] = {
    "base": _file("base.yaml"),
    "env": _file("env/dev.yaml"),
    "agent": _file("agents/a.yaml"),
    "facet": _file("facets/t/web.yaml"),
    "agent-facet": _file("agents/a/facets/t/web.yaml"),
    "agent@env": _file("agents/a/dev.yaml"),
    "local": _file("local.yaml"),
    "environment": _environment,
    "override": _override,
    "call": _call,
}


def test_every_kind_has_a_writer() -> None:
    assert [spec.kind for spec in PRECEDENCE] == list(WRITERS)


def _voice(tree: Tree, setup: Setup) -> tuple[str, str]:
    root = tree(setup.files)
    loader = Loader(root, environ=setup.environ)
    profile = loader.load(AGENT, ENV, setup.overrides, call_overrides=setup.call)
    explanation = loader.explain(AGENT, ENV, "model_settings.voice", setup.overrides,
                                 call_overrides=setup.call)
    last = explanation.writes[-1]
    assert last.source is not None
    return profile.run_config["model_settings"]["voice"], last.source.kind


PAIRS = list(itertools.pairwise(spec.kind for spec in PRECEDENCE))


@pytest.mark.parametrize(("lower", "higher"), PAIRS, ids=[f"{a}<{b}" for a, b in PAIRS])
def test_the_higher_of_two_adjacent_layers_wins(tree: Tree, lower: str, higher: str) -> None:
    both = Setup()
    WRITERS[lower](both, "sage")
    WRITERS[higher](both, "verse")
    assert _voice(tree, both) == ("verse", higher)


@pytest.mark.parametrize(("lower", "higher"), PAIRS, ids=[f"{a}<{b}" for a, b in PAIRS])
def test_without_the_higher_layer_the_lower_shows(tree: Tree, lower: str, higher: str) -> None:
    only = Setup()
    WRITERS[lower](only, "sage")
    assert _voice(tree, only) == ("sage", lower)


def test_all_layers_at_once_the_top_wins_and_explain_lists_every_kind(tree: Tree,
                                                                      tmp_path: Path) -> None:
    setup = Setup()
    for index, write in enumerate(WRITERS.values()):
        write(setup, f"v{index}")
    root = tree(setup.files)
    loader = Loader(root, environ=setup.environ)
    explanation = loader.explain(AGENT, ENV, "model_settings.voice", setup.overrides,
                                 call_overrides=setup.call)
    kinds = [w.source.kind for w in explanation.writes if w.source is not None]
    assert kinds == list(WRITERS)
    assert explanation.value == f"v{len(WRITERS) - 1}"
