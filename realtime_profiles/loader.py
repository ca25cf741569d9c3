"""`Loader` and `load_profile()`: the pipeline behind one small, typed surface, with caches.

A `Loader` owns everything a load needs — caches, resolvers, the environment it reads — so two
loaders, roots or threads never interfere. It caches parsed layers by file identity and
composed profiles by their typed dependencies (`_sources.Dep`), revalidated on every load:
an edited file is seen at once, and an unchanged tree costs a few stats.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import _secrets
from ._compose import Check, Composition, compose, finish, raise_for_overrides
from ._files import StatKey, stat_key
from ._interpolate import ParseCache
from ._layer import Layer, Source
from ._limits import LAYER_CACHE_SIZE, PROFILE_CACHE_SIZE
from ._lints import SDK_LINTS
from ._overrides import parse_key
from ._paths import MISSING, PathKey, get, render_path, under
from ._resolvers import Resolver, default_resolvers
from ._sources import Dep, Request
from ._tree import Tree, scan
from ._validate import DocumentValidator, packaged_validator
from ._yaml import SYNTAX_CODES, read_layer
from .errors import (
    LayerSyntaxError,
    Problem,
    ProfileValidationError,
    SecretUnavailableError,
    UsageError,
    did_you_mean,
    mean,
    summarize,
)
from .profile import ABSENT, CheckResult, Difference, Explanation, Profile, copy_json


class Loader:
    """Loads profiles from one root. Thread-safe; keep one per root to reuse its caches.

    `environ` is read for `${oc.env:...}` and `REALTIME_PROFILES__*` (default: os.environ at
    load time). `resolvers` adds resolvers for this loader only. `local=False` ignores the
    untracked local.yaml (CI should see what git holds). `checks` are extra lints run on
    every valid document, each yielding `Problem`s (default: the SDK lints; `()` turns them
    off).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "profiles",
        *,
        environ: Mapping[str, str] | None = None,
        resolvers: Mapping[str, Resolver] | None = None,
        local: bool = True,
        validator: DocumentValidator | None = None,
        checks: Sequence[Check] | None = None,
    ) -> None:
        self._root = Path(root)
        self._tree_dirs = (self._root, self._root / "agents", self._root / "env")
        self._environ = environ
        self._resolvers = default_resolvers(self._root, environ)
        self._custom_resolvers = bool(resolvers)
        if resolvers:
            self._resolvers.update(resolvers)
        self._local = local
        self._validator = validator
        self._checks = SDK_LINTS if checks is None else tuple(checks)
        self._lock = threading.Lock()
        self._layers: OrderedDict[str, tuple[StatKey | None, Layer]] = OrderedDict()
        self._profiles: OrderedDict[Any, tuple[tuple[Dep, ...], Any]] = OrderedDict()
        self._tree: tuple[Any, Tree] | None = None
        self._parser = ParseCache()

    @property
    def root(self) -> Path:
        return self._root

    @property
    def local(self) -> bool:
        return self._local

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    @property
    def validator(self) -> DocumentValidator:
        return self._validator or packaged_validator()

    # -- discovery -------------------------------------------------------------------------
    def tree(self) -> Tree:
        """Agents, environments and agent@env files (rescanned when a folder changes)."""
        key = tuple(stat_key(p) for p in self._tree_dirs)
        cached = self._tree
        if cached is not None and cached[0] == key and key[0] is not None:
            return cached[1]
        tree = scan(self._root)
        self._tree = (key, tree)
        return tree

    def agents(self) -> tuple[str, ...]:
        return self.tree().agents

    def envs(self) -> tuple[str, ...]:
        return self.tree().envs

    # -- public loading --------------------------------------------------------------------
    def load(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
             strict: bool = False) -> Profile:
        """The profile for use: raises on any error, or on a secret that cannot be read."""
        request = Request(agent, env, tuple(overrides))
        key = ("load", request, strict)
        cached = self._cached(key)
        if cached is not None:
            return cached.fresh()  # type: ignore[no-any-return]
        comp = self._compose(request, lenient=False)
        problems = finish(comp, self.validator, self._checks, strict)
        errors = [p for p in problems if p.severity == "error"]
        raise_for_overrides(errors, comp)
        if comp.missing_secrets and all(p.code == "secret-unavailable" for p in errors):
            names = ", ".join(sorted(set(comp.missing_secrets.values())))
            raise SecretUnavailableError(
                f"{agent}@{env or '-'}: cannot load for use: secret environment variable "
                f"{names} is not set", errors)
        if errors:
            syntax = any(p.code in SYNTAX_CODES for p in errors)
            error = LayerSyntaxError if syntax else ProfileValidationError
            raise error(f"{agent}@{env or '-'}: {summarize(problems)}", problems)
        profile = self._profile(comp, request, problems)
        self._store(key, comp.deps, profile)
        return profile.fresh()

    def check(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              strict: bool = False) -> CheckResult:
        """Every problem of one combination, without raising for them (validate, show).

        Unset secrets are warnings here and appear as `*** (unset: VAR)`.
        """
        request = Request(agent, env, tuple(overrides))
        key = ("check", request, strict)
        cached = self._cached(key)
        if cached is not None:
            return cached.fresh()  # type: ignore[no-any-return]
        comp = self._compose(request, lenient=True)
        problems = finish(comp, self.validator, self._checks, strict)
        raise_for_overrides(problems, comp)
        errors = [p for p in problems if p.severity == "error"]
        profile = None if errors else self._profile(comp, request, problems)
        result = CheckResult(agent, env, tuple(problems), profile)
        self._store(key, comp.deps, result)
        return result.fresh()

    def explain(self, agent: str, env: str | None, key: str,
                overrides: Iterable[str] = ()) -> Explanation:
        """Where one key's value came from, layer by layer."""
        return self.explain_path(agent, env, parse_key(key, key), overrides)

    def explain_path(self, agent: str, env: str | None, path: PathKey,
                     overrides: Iterable[str] = ()) -> Explanation:
        """`explain` for a path tuple: keys with dots or spaces in them (tracing metadata,
        header names) need no quoting."""
        comp = self._compose(Request(agent, env, tuple(overrides)), lenient=True)
        return _explain(comp, path, f"{agent}@{env or '-'}")

    def diff(self, left: tuple[str, str | None], right: tuple[str, str | None],
             overrides: Iterable[str] = ()) -> list[Difference]:
        """Leaf-level differences between two profiles (agent, env), each composed once:
        values as they may be shown (a masked value is `***`, and differs when the real
        values or the references they come from differ) with the write that set each."""
        sides = []
        for agent, env in (left, right):
            request = Request(agent, env, tuple(overrides))
            comp = self._compose(request, lenient=True)
            problems = finish(comp, self.validator, self._checks, False)
            raise_for_overrides(problems, comp)
            errors = [p for p in problems if p.severity == "error"]
            if errors:
                raise UsageError(f"{agent}@{env or '-'} does not validate; fix it before "
                                 "diffing", errors)
            sides.append(comp)
        return _differences(sides[0], sides[1])

    # -- the source context (`_sources.Context`) -------------------------------------------
    def read_layer(self, source: Source, path: Path) -> tuple[Layer, StatKey | None]:
        """A parsed layer file, from the cache while the file's identity is unchanged."""
        label = source.label
        now = stat_key(path)
        with self._lock:
            cached = self._layers.get(label)
            if cached is not None:
                self._layers.move_to_end(label)
        if cached is not None and cached[0] == now and now is not None \
                and cached[1].source == source:
            return cached[1], now
        layer, key = read_layer(source, path)
        if key is not None:
            with self._lock:
                self._layers[label] = (key, layer)
                self._layers.move_to_end(label)
                while len(self._layers) > LAYER_CACHE_SIZE:
                    self._layers.popitem(last=False)
        return layer, key

    # -- pipeline --------------------------------------------------------------------------
    def _compose(self, request: Request, *, lenient: bool) -> Composition:
        return compose(request, self.tree(), self, self._resolvers, self._parser,
                       lenient=lenient, cacheable=not self._custom_resolvers)

    def _profile(self, comp: Composition, request: Request,
                 problems: Sequence[Problem]) -> Profile:
        doc = comp.document
        agent, env, overrides = request.agent, request.env, request.overrides
        return Profile(
            agent=agent,
            env=env,
            run_config=doc.get("run_config") or {},
            model_config=doc.get("model_config") or {},
            start_messages=doc.get("start_messages") or [],
            client_messages=doc.get("client_messages") or [],
            warnings=tuple(p for p in problems if p.severity == "warning"),
            _secrets=comp.secrets,
            _unset=dict(comp.unset),
            _derived=comp.hidden_in_document(),
            _explainer=lambda key: self.explain(agent, env, key, overrides),
        )

    # -- caching ---------------------------------------------------------------------------
    def _cached(self, key: Any) -> Any:
        with self._lock:
            entry = self._profiles.get(key)
        if entry is None:
            return None
        deps, value = entry
        if not all(dep.fresh(self) for dep in deps):
            return None
        return value

    def _store(self, key: Any, deps: tuple[Dep, ...], value: Any) -> None:
        with self._lock:
            self._profiles[key] = (deps, value)
            self._profiles.move_to_end(key)
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)


def _explain(comp: Composition, path: PathKey, label: str) -> Explanation:
    """Where the value at `path` came from, masked wherever it must be (a secret, a mapping of
    secrets, a value derived from what a secret reads, an override that wrote one)."""
    value = get(comp.document, path)
    if value is MISSING and get(comp.raw, path) is MISSING:
        parent = get(comp.document, path[:-1]) if len(path) > 1 else comp.document
        hint = mean(did_you_mean(str(path[-1]), parent)) if isinstance(parent, dict) else None
        raise UsageError(f"{render_path(path)} is not set in {label}"
                         + (f" ({hint})" if hint else ""))
    if value is MISSING:
        value = get(comp.raw, path)
    writes = [replace(w, mark=comp.shown_mark(w.mark)) for w in comp.provenance().writes_for(path)]
    hidden = (*comp.secrets, *_secrets.SECRET_MAPPINGS)
    secret = any(under(path, s) for s in hidden) or comp.hides(path)
    if secret:  # the real value never leaves through the API either (docs/security.md)
        value = _secrets.MASK
        writes = [replace(w, value=_secrets.MASK) for w in writes]
    else:  # `explain model_config` or `explain vars`: what is masked inside is *** too
        if comp.flow:
            value = comp.flow.mask(value, path)
        value = _secrets.mask_below(value, path, hidden, copy_json)
        writes = [replace(w, value=_secrets.MASK) if w.value is not None and comp.flow
                  and comp.flow.holds(path) and not isinstance(w.value, str) else w
                  for w in writes]
    return Explanation(render_path(path), value, tuple(writes), secret)


def _differences(left: Composition, right: Composition) -> list[Difference]:
    """The leaves that differ between two compositions, as they may be shown."""
    found: list[Difference] = []
    for path, one, two in _leaf_diff(left.document, right.document, ()):
        hidden = [_hidden(comp, path) for comp in (left, right)]
        if any(hidden):
            sources = [get(comp.raw, path) for comp in (left, right)]
            if one == two and type(one) is type(two) and sources[0] == sources[1]:
                continue
        elif one == two and type(one) is type(two):
            continue
        shown = tuple(_shown_leaf(comp, path, value, hide)
                      for comp, value, hide in zip((left, right), (one, two), hidden, strict=True))
        origins = tuple(_origin(comp, path, value)
                        for comp, value in zip((left, right), (one, two), strict=True))
        found.append(Difference(path, shown[0], shown[1], origins[0], origins[1], any(hidden)))
    return found


def _hidden(comp: Composition, path: PathKey) -> bool:
    return comp.hides(path) or any(under(path, s) for s in comp.secrets)


def _shown_leaf(comp: Composition, path: PathKey, value: Any, hidden: bool) -> Any:
    if value is ABSENT or not hidden:
        return value
    variables = comp.unset.get(path)
    return _secrets.unset_text(variables) if variables else _secrets.MASK


def _origin(comp: Composition, path: PathKey, value: Any) -> str | None:
    if value is ABSENT:
        return None
    writes = comp.provenance().writes_for(path)
    if not writes:
        return None
    return replace(writes[-1], mark=comp.shown_mark(writes[-1].mark)).describe()


def _leaf_diff(left: Any, right: Any, path: PathKey) -> list[tuple[PathKey, Any, Any]]:
    """Every leaf path where the two differ or might (masked values are compared later),
    in the order of the left side, then the keys only the right side has."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in [*left, *(k for k in right if k not in left)]:
            found += _leaf_diff(left.get(key, ABSENT), right.get(key, ABSENT), (*path, key))
        return found
    return [(path, left, right)]


def load_profile(
    agent: str,
    env: str | None = None,
    root: str | os.PathLike[str] = "profiles",
    overrides: Iterable[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> Profile:
    """Compose, validate and return one profile, or raise `ProfileError` with every problem.

    For repeated loads keep a `Loader(root)`: it caches parsed files and profiles.
    """
    return Loader(root, environ=environ).load(agent, env, overrides, strict=strict)
