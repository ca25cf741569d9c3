"""Sources and their precedence, as data.

`PRECEDENCE` is the one ordered tuple of layer kinds, lowest first; composition walks it and
asks each kind's source for its layers. Every source returns the same record (`_layer.Layer`),
so the fold and provenance never special-case where a layer came from. Adding a layer kind is
one source function plus one entry here (tests/test_precedence.py checks every adjacent pair).

A source also names what it read, as typed dependencies (`Dep`): a cached profile is reused
only while every dependency is fresh. The records here are NamedTuples rather than dataclasses
on purpose: a dataclass costs about a millisecond to create at import time, and every CLI run
imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, NamedTuple, Protocol

from ._files import StatKey, stat_key
from ._layer import Layer, LayerKind, Source
from ._overrides import ENV_PREFIX, env_overrides, parse_overrides
from ._tree import Tree, locate


class Request(NamedTuple):
    """What a caller asks to compose: one agent, in one environment, with overrides."""

    agent: str
    env: str | None
    overrides: tuple[str, ...] = ()


# -- dependencies ----------------------------------------------------------------------------

class State(Protocol):
    """What a dependency is checked against: the loader's current view of the world."""

    @property
    def environ(self) -> Mapping[str, str]: ...

    def tree(self) -> Tree: ...


class FileDep(NamedTuple):
    """A file was read; fresh while its identity is unchanged."""

    path: str
    key: StatKey | None

    def fresh(self, state: State) -> bool:
        return stat_key(self.path) == self.key


class AbsentDep(NamedTuple):
    """A layer file was looked for and not found; fresh while it is still not there."""

    path: str

    def fresh(self, state: State) -> bool:
        return not os.path.exists(self.path)  # noqa: PTH110 - strings: this runs per load


class EnvDep(NamedTuple):
    """An environment variable was read (None: it was unset)."""

    name: str
    value: str | None

    def fresh(self, state: State) -> bool:
        return state.environ.get(self.name) == self.value


class EnvLayerDep(NamedTuple):
    """The `REALTIME_PROFILES__*` variables, all of them: one more or less changes a profile."""

    items: tuple[tuple[str, str], ...]

    def fresh(self, state: State) -> bool:
        return env_layer_items(state.environ) == self.items


class TreeDep(NamedTuple):
    """The agent and environment names the composition was checked against."""

    tree: Tree

    def fresh(self, state: State) -> bool:
        return state.tree() is self.tree


class Uncacheable(NamedTuple):
    """Something no stat can revalidate (a custom resolver): never served from a cache."""

    reason: str = "custom resolvers"

    def fresh(self, state: State) -> bool:
        return False


Dep = FileDep | AbsentDep | EnvDep | EnvLayerDep | TreeDep | Uncacheable


def env_layer_items(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The environment-variable layer's inputs, sorted: what its layers are made of. Read
    as one snapshot: another thread may set or unset variables meanwhile."""
    for _ in range(8):
        try:
            return tuple(sorted(_prefixed(environ)))
        except (RuntimeError, KeyError):  # changed while it was read: read it again
            continue
    return tuple(sorted(_prefixed(dict(environ))))


def _prefixed(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The REALTIME_PROFILES__* items of `environ`. A plain dict is copied in one step (no
    Python code runs meanwhile); another mapping (`os.environ`) is read name by name, only
    the values of our variables (a variable unset meanwhile is left out)."""
    if type(environ) is dict:
        return [(k, v) for k, v in list(environ.items()) if k.startswith(ENV_PREFIX)]
    found = []
    for name in [k for k in environ if k.startswith(ENV_PREFIX)]:
        value = environ.get(name)
        if value is not None:
            found.append((name, value))
    return found


# -- the context a source reads through ------------------------------------------------------

class Context(Protocol):
    """What a source may use: the root, the environment, and a cached, stat-checked reader
    of layer files (a `Loader`)."""

    @property
    def root(self) -> Path: ...

    @property
    def local(self) -> bool: ...

    @property
    def environ(self) -> Mapping[str, str]: ...

    def read_layer(self, source: Source, path: Path) -> tuple[Layer, StatKey | None]: ...


class Gathered:
    """The layers of one request, lowest first, and everything they depend on."""

    __slots__ = ("deps", "layers")

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.deps: list[Dep] = []


SourceFn = Callable[[Request, Context, "LayerSpec", Gathered], None]


class LayerSpec(NamedTuple):
    """One entry of the precedence order: a kind of layer and the source that reads it."""

    kind: LayerKind
    tracked: bool
    where: str
    """Where layers of this kind come from, for people (README, `explain`)."""
    read: SourceFn

    def source(self, label: str) -> Source:
        return Source(self.kind, label, self.tracked)


def file_source(where: Callable[[Request, Context], tuple[str, ...] | None]) -> SourceFn:
    """A source of at most one layer file, at the root-relative path `where` gives (None:
    this request has no such layer, e.g. no environment)."""

    def read(request: Request, context: Context, spec: LayerSpec, out: Gathered) -> None:
        parts = where(request, context)
        if parts is None:
            return
        path = locate(context.root, parts)
        if path is None:
            out.deps.append(AbsentDep(os.path.join(os.fspath(context.root), *parts)))  # noqa: PTH118
            return
        layer, key = context.read_layer(spec.source(str(path)), path)
        out.layers.append(layer)
        out.deps.append(FileDep(str(path), key))

    return read


def environment_source(request: Request, context: Context, spec: LayerSpec,
                       out: Gathered) -> None:
    """`REALTIME_PROFILES__A__B=value`: one layer per variable, sorted by name."""
    items = env_layer_items(context.environ)
    out.deps.append(EnvLayerDep(items))
    if items:
        for name, edit in env_overrides(dict(items)):
            out.layers.append(Layer(spec.source(f"environment variable {name}"),
                                    marks={edit.path: edit.mark}, edits=(edit,)))


def override_source(request: Request, context: Context, spec: LayerSpec,
                    out: Gathered) -> None:
    """Overrides given by the caller (command line, `load(overrides=...)`), in order."""
    for edit in parse_overrides(request.overrides):
        out.layers.append(Layer(spec.source("command line"), marks={edit.path: edit.mark},
                                edits=(edit,)))


def _env_file(request: Request, context: Context) -> tuple[str, ...] | None:
    return ("env", f"{request.env}.yaml") if request.env is not None else None


def _agent_env_file(request: Request, context: Context) -> tuple[str, ...] | None:
    if request.env is None:
        return None
    return ("agents", request.agent, f"{request.env}.yaml")


def _local_file(request: Request, context: Context) -> tuple[str, ...] | None:
    return ("local.yaml",) if context.local else None


PRECEDENCE: Final[tuple[LayerSpec, ...]] = (
    LayerSpec("base", True, "base.yaml", file_source(lambda r, c: ("base.yaml",))),
    LayerSpec("env", True, "env/<env>.yaml", file_source(_env_file)),
    LayerSpec("agent", True, "agents/<agent>.yaml",
              file_source(lambda r, c: ("agents", f"{r.agent}.yaml"))),
    LayerSpec("agent@env", True, "agents/<agent>/<env>.yaml", file_source(_agent_env_file)),
    LayerSpec("local", False, "local.yaml (untracked; Loader(local=False) skips it)",
              file_source(_local_file)),
    LayerSpec("environment", False, "REALTIME_PROFILES__* environment variables",
              environment_source),
    LayerSpec("override", False, "overrides: the command line, load(overrides=...)",
              override_source),
)
"""Every layer kind, lowest precedence first: a later layer wins."""


def gather(request: Request, context: Context,
           order: tuple[LayerSpec, ...] = PRECEDENCE) -> Gathered:
    """The layers of `request` in precedence order, with their dependencies."""
    out = Gathered()
    for spec in order:
        spec.read(request, context, spec, out)
    return out
