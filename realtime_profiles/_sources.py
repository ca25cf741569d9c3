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
from typing import Any, Final, NamedTuple, Protocol

from . import _facets
from ._files import StatKey, stat_key
from ._layer import ENV_PREFIX, Edit, Layer, LayerKind, Source, Verbatim
from ._overrides import env_overrides, parse_overrides
from ._paths import PathKey, render_path
from ._tree import Tree, locate
from .errors import Mark, Problem

CALL_MARK: Final = Mark("call override")


class Request(NamedTuple):
    """What a caller asks to compose: one agent, in one environment, with overrides, the
    facet options asked for, and a bucket for weighted facet groups."""

    agent: str
    env: str | None
    overrides: tuple[str, ...] = ()
    facets: tuple[tuple[str, str], ...] = ()
    bucket: str | None = None
    call: tuple[tuple[PathKey, Any], ...] = ()
    """A caller's per-call values, already checked against the profile's contract (only
    `explain` composes with them: loads place them on the composed profile instead)."""


# -- dependencies ----------------------------------------------------------------------------

class State(Protocol):
    """What a dependency is checked against: the environment, and file identities (taken
    once per path while one load checks its caches)."""

    @property
    def environ(self) -> Mapping[str, str]: ...

    def stat(self, path: str) -> StatKey | None: ...

    def env_layer(self) -> tuple[tuple[str, str], ...]: ...


class Snapshot:
    """A `State` for one load: each path stat-ed at most once, and the environment layer's
    variables listed at most once, however many cache entries ask."""

    __slots__ = ("_env_layer", "_stats", "environ")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._stats: dict[str, StatKey | None] = {}
        self._env_layer: tuple[tuple[str, str], ...] | None = None

    def stat(self, path: str) -> StatKey | None:
        if path not in self._stats:
            self._stats[path] = stat_key(path)
        return self._stats[path]

    def env_layer(self) -> tuple[tuple[str, str], ...]:
        if self._env_layer is None:
            self._env_layer = env_layer_items(self.environ)
        return self._env_layer


class FileDep(NamedTuple):
    """A file was read; fresh while its identity is unchanged."""

    path: str
    key: StatKey | None

    def fresh(self, state: State) -> bool:
        return state.stat(self.path) == self.key


class AbsentDep(NamedTuple):
    """A layer file was looked for and not found; fresh while it is still not there."""

    path: str

    def fresh(self, state: State) -> bool:
        return state.stat(self.path) is None


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
        return state.env_layer() == self.items


class DirDep(NamedTuple):
    """A folder whose listing the composition used (facets/ and its groups: a group or an
    option added changes what is chosen); fresh while its identity is unchanged."""

    path: str
    key: StatKey | None

    def fresh(self, state: State) -> bool:
        return state.stat(self.path) == self.key


def facet_dir_deps(root: Path, tree: Tree) -> list[DirDep]:
    """The folders whose listings decided the facet groups and their options."""
    base = os.path.join(os.fspath(root), "facets")  # noqa: PTH118
    paths = [base, *(os.path.join(base, group) for group, _ in tree.facets)]  # noqa: PTH118
    return [DirDep(path, stat_key(path)) for path in paths]


class LinkDep(NamedTuple):
    """A kubelet-style mount's `..data` link and the version folder it pointed to."""

    path: str
    target: str

    def fresh(self, state: State) -> bool:
        try:
            return os.readlink(self.path) == self.target  # noqa: PTH115 - strings, per load
        except OSError:
            return False


class Uncacheable(NamedTuple):
    """Something no stat can revalidate (a custom resolver): never served from a cache."""

    reason: str = "custom resolvers"

    def fresh(self, state: State) -> bool:
        return False


Dep = FileDep | AbsentDep | EnvDep | EnvLayerDep | DirDep | LinkDep | Uncacheable


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
    """What a source may use: the environment, and a cached, stat-checked reader of layer
    files (a `Loader`). Files are found under the gathering's tree root."""

    @property
    def local(self) -> bool: ...

    @property
    def environ(self) -> Mapping[str, str]: ...

    def read_layer(self, source: Source, path: Path,
                   known: StatKey | None = None) -> tuple[Layer, StatKey | None]: ...


class Gathered:
    """The layers of one request, lowest first, everything they depend on, the facet option
    chosen in each group, and problems met while choosing."""

    __slots__ = ("deps", "facets", "layers", "problems", "tree")

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        """The names the request was checked against (one scan for the whole gathering)."""
        self.layers: list[Layer] = []
        self.deps: list[Dep] = []
        self.facets: dict[str, str] = {}
        self.problems: list[Problem] = []


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


def _read_file(parts: tuple[str, ...], context: Context, spec: LayerSpec, out: Gathered) -> None:
    """The layer file at root/parts, when there is one (its absence is a dependency too)."""
    root = out.tree.root
    found = locate(root, parts, out.tree.plain)
    if found is None:
        out.deps.append(AbsentDep(os.path.join(os.fspath(root), *parts)))  # noqa: PTH118
        return
    path, known = found
    layer, key = context.read_layer(spec.source(str(path)), path, known)
    out.layers.append(layer)
    out.deps.append(FileDep(str(path), key))


def file_source(where: Callable[[Request, Context], tuple[str, ...] | None]) -> SourceFn:
    """A source of at most one layer file, at the root-relative path `where` gives (None:
    this request has no such layer, e.g. no environment)."""

    def read(request: Request, context: Context, spec: LayerSpec, out: Gathered) -> None:
        parts = where(request, context)
        if parts is not None:
            _read_file(parts, context, spec, out)

    return read


def facet_source(request: Request, context: Context, spec: LayerSpec, out: Gathered) -> None:
    """facets/<group>/<option>.yaml for the option chosen in each group (groups by name).

    The choice needs the declarations of the layers below (base, env, agent), so this source
    reads them from what was gathered so far, and records the choices for the sources above.
    """
    declared, problems = _facets.declaration(out.layers)
    found, more = _facets.groups(out.tree.groups(), declared)
    out.problems.extend(problems)
    out.problems.extend(more)
    out.facets = _facets.choose(found, dict(request.facets), request.bucket)
    for group, option in out.facets.items():
        _read_file(("facets", group, f"{option}.yaml"), context, spec, out)


def agent_facet_source(request: Request, context: Context, spec: LayerSpec,
                       out: Gathered) -> None:
    """agents/<agent>/facets/<group>/<option>.yaml: one agent's refinement of an option."""
    for group, option in out.facets.items():
        _read_file(("agents", request.agent, "facets", group, f"{option}.yaml"), context, spec,
                   out)


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


def call_source(request: Request, context: Context, spec: LayerSpec, out: Gathered) -> None:
    """A caller's values for one call, each an add-or-replace edit whose value is data."""
    if not request.call:
        return
    edits = tuple(Edit("force", path, Verbatim(value), render_path(path), CALL_MARK)
                  for path, value in request.call)
    out.layers.append(Layer(spec.source("call override"),
                            marks={edit.path: edit.mark for edit in edits}, edits=edits))


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
    LayerSpec("facet", True, "facets/<group>/<option>.yaml, one per group", facet_source),
    LayerSpec("agent-facet", True, "agents/<agent>/facets/<group>/<option>.yaml",
              agent_facet_source),
    LayerSpec("agent@env", True, "agents/<agent>/<env>.yaml", file_source(_agent_env_file)),
    LayerSpec("local", False, "local.yaml (untracked; Loader(local=False) skips it)",
              file_source(_local_file)),
    LayerSpec("environment", False, "REALTIME_PROFILES__* environment variables",
              environment_source),
    LayerSpec("override", False, "overrides: the command line, load(overrides=...)",
              override_source),
    LayerSpec("call", False, "per-call values: load(call_overrides=...), only what the "
              "profile's overridable: allows", call_source),
)
"""Every layer kind, lowest precedence first: a later layer wins."""

DECLARING_ORDER: Final = tuple(spec for spec in PRECEDENCE
                               if spec.kind in _facets.DECLARING_KINDS)
"""The layers that may declare facets: what choosing an option needs read first."""


def gather(request: Request, context: Context, tree: Tree,
           order: tuple[LayerSpec, ...] = PRECEDENCE) -> Gathered:
    """The layers of `request` in precedence order, with their dependencies."""
    out = Gathered(tree)
    for spec in order:
        spec.read(request, context, spec, out)
    return out
