"""`Loader` and `load_profile()`: the pipeline behind one small, typed surface, with caches.

A `Loader` owns everything a load needs — caches, resolvers, the environment it reads — so two
loaders, roots or threads never interfere. It caches parsed layers by file identity and
composed profiles by their typed dependencies (`_sources.Dep`), revalidated on every load:
an edited file is seen at once, and an unchanged tree costs a few stats.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import _facets, _fingerprint, _secrets
from ._calls import Plan, parse_calls
from ._compose import Check, Composition, compose, finish, raise_for_overrides
from ._facets import Group
from ._files import StatKey, stat_key
from ._interpolate import ParseCache
from ._layer import DOCUMENT_SECTIONS, Layer, Source
from ._limits import LAYER_CACHE_SIZE, PROFILE_CACHE_SIZE
from ._lints import SDK_LINTS
from ._overrides import parse_key
from ._paths import MISSING, PathKey, get, render_path, under
from ._percall import call_profile
from ._resolvers import FileResolver, Resolver, default_resolvers
from ._sources import (
    DECLARING_ORDER,
    Dep,
    LinkDep,
    Request,
    Snapshot,
    facet_dir_deps,
    gather,
)
from ._tree import Tree, scan, watched_dirs
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
    sorted_problems,
    summarize,
)
from .profile import CheckResult, Explanation, Profile, copy_json

DATA_LINK = "..data"
"""kubelet's link to the current version of a mounted ConfigMap."""


class Loader:
    """Loads profiles from one root. Thread-safe; keep one per root to reuse its caches.

    `environ` is read for `${oc.env:...}` and `REALTIME_PROFILES__*` (default: os.environ at
    load time). `resolvers` adds resolvers for this loader only. `local=False` ignores the
    untracked local.yaml (CI should see what git holds). `checks` are extra lints run on
    every valid document, each yielding `Problem`s (default: the SDK lints; `()` turns them
    off). `recheck` is how many seconds a cached profile is served without looking at its
    files and variables again: 0 (the default) checks on every load, so an edit is seen at
    once; a hot per-call path may trade that for speed (`recheck=1.0`: edits are seen within
    a second).
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
        recheck: float = 0.0,
    ) -> None:
        self._root = Path(root)
        self._environ = environ
        self._resolvers = default_resolvers(self._root, environ)
        self._default_file = self._resolvers["file"]
        self._custom_resolvers = bool(resolvers)
        if resolvers:
            self._resolvers.update(resolvers)
        self._local = local
        self._validator = validator
        self._checks = SDK_LINTS if checks is None else tuple(checks)
        self._recheck = recheck
        self._lock = threading.Lock()
        self._layers: OrderedDict[str, tuple[StatKey | None, Layer]] = OrderedDict()
        # key -> (dependencies, value, [monotonic time of the last freshness check])
        self._profiles: OrderedDict[Any, tuple[tuple[Dep, ...], Any, list[float]]] = \
            OrderedDict()
        # (the folders watched, their identities, the tree scanned from them)
        self._tree: tuple[tuple[Path, ...], tuple[Any, ...], Tree] | None = None
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
        """Agents, environments and facet groups (rescanned when a folder changes). A root
        mounted the way kubelet mounts a ConfigMap is read through its `..data` link, so a
        load sees one version of every file, never a mix across kubelet's swap."""
        data = self._data_root()
        cached = self._tree
        if cached is not None:
            dirs, key, tree = cached
            if tree.root == data and key[0] is not None \
                    and tuple(stat_key(p) for p in dirs) == key:
                return tree
        dirs = watched_dirs(data)
        key = tuple(stat_key(p) for p in dirs)
        tree = scan(data)
        self._tree = (dirs, key, tree)
        return tree

    def _data_root(self) -> Path:
        """The root, or the folder its `..data` link points to (inside the root)."""
        link = self._root / DATA_LINK
        try:
            target = os.readlink(link)  # noqa: PTH115 - one syscall per load
        except OSError:
            return self._root
        resolved = (self._root / target).resolve()
        if not resolved.is_relative_to(self._root.resolve()):
            raise UsageError(f"{link} points outside the profile root")
        return resolved

    def agents(self) -> tuple[str, ...]:
        return self.tree().agents

    def envs(self) -> tuple[str, ...]:
        return self.tree().envs

    def facet_groups(self, agent: str, env: str | None = None) -> dict[str, Group]:
        """The facet groups `agent` sees in `env`: options, default, allowed options and
        weights, as its base, env and agent layers declare them (cached; problems in the
        declarations are reported by `check`)."""
        return dict(self._groups(agent, env, None))

    def _groups(self, agent: str, env: str | None,
                snapshot: Snapshot | None) -> dict[str, Group]:
        key = ("groups", agent, env)
        cached = self._cached(key, snapshot)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        tree = self.tree()
        tree.check(agent, env)
        gathered = gather(Request(agent, env), self, tree, DECLARING_ORDER)
        declared, _ = _facets.declaration(gathered.layers)
        found, _ = _facets.groups(tree.groups(), declared)
        self._store(key, (*facet_dir_deps(tree.root, tree), *gathered.deps), found)
        return found

    def _request(self, agent: str, env: str | None, overrides: Iterable[str],
                 facets: Mapping[str, str] | None, bucket: str | None, *,
                 snapshot: Snapshot | None = None) -> Request:
        """The request with every facet group chosen: a bucket becomes its option here, so
        composed profiles are cached by choice, not by bucket (one per call)."""
        requested = dict(facets or {})
        if bucket is not None or requested:
            groups = self._groups(agent, env, snapshot)
            if groups:
                requested = _facets.choose(groups, requested, bucket)
            else:
                _facets.choose(groups, requested, None)  # an unknown group: a usage error
        return Request(agent, env, tuple(overrides), tuple(sorted(requested.items())))

    # -- public loading --------------------------------------------------------------------
    def load(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
             facets: Mapping[str, str] | None = None, bucket: str | None = None,
             call_overrides: Mapping[str, Any] | None = None,
             strict: bool = False) -> Profile:
        """The profile for use: raises on any error, or on a secret that cannot be read.

        `facets` picks an option per facet group (the others take their default, or, for a
        weighted group given a `bucket` such as a call id, the bucketed option).
        `call_overrides` (`{"model_settings.voice": "verse"}`, keys as in overrides) are a
        caller's values for this call: only what the profile's `overridable:` allows, applied
        as data on top of everything and validated (`OverrideNotAllowedError` for a key that
        is not allowed).
        """
        snapshot = Snapshot(self.environ)
        request = self._request(agent, env, overrides, facets, bucket, snapshot=snapshot)
        profile, plan = self._load_base(request, strict, snapshot)
        if not call_overrides:
            return profile.fresh()
        call = dict(call_overrides)
        called, _ = call_profile(profile, plan, call, validator=self.validator,
                                 checks=self._checks, strict=strict,
                                 explainer=self._explainer(request, call))
        assert called is not None
        return called

    def _load_base(self, request: Request, strict: bool,
                   snapshot: Snapshot | None = None) -> tuple[Profile, Plan | None]:
        """The composed profile of `request` and its call plan, from the cache when fresh."""
        key = ("load", request, strict)
        cached = self._cached(key, snapshot)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        comp = self._compose(request, lenient=False)
        problems = finish(comp, self.validator, self._checks, strict)
        errors = [p for p in problems if p.severity == "error"]
        raise_for_overrides(errors, comp.layers)
        where = _label(request.agent, request.env, comp.facets)
        if comp.missing_secrets and all(p.code == "secret-unavailable" for p in errors):
            names = ", ".join(sorted(set(comp.missing_secrets.values())))
            raise SecretUnavailableError(
                f"{where}: cannot load for use: secret environment variable "
                f"{names} is not set", errors)
        if errors:
            syntax = any(p.code in SYNTAX_CODES for p in errors)
            error = LayerSyntaxError if syntax else ProfileValidationError
            raise error(f"{where}: {summarize(problems)}", problems)
        entry = (self._profile(comp, request, problems), comp.plan)
        self._store(key, comp.deps, entry)
        return entry

    def check(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              facets: Mapping[str, str] | None = None, bucket: str | None = None,
              call_overrides: Mapping[str, Any] | None = None,
              strict: bool = False) -> CheckResult:
        """Every problem of one combination, without raising for them (validate, show).

        Unset secrets are warnings here and appear as `*** (unset: VAR)`. A call override
        that is not allowed raises `OverrideNotAllowedError`; a bad value is a problem.
        """
        request = self._request(agent, env, overrides, facets, bucket)
        cached = self._checked(request, strict)
        result: CheckResult = cached[0]
        if not call_overrides or result.profile is None:
            return result.fresh()
        call = dict(call_overrides)
        called, found = call_profile(result.profile, cached[1], call, validator=self.validator,
                                     checks=self._checks, strict=strict, lenient=True,
                                     explainer=self._explainer(request, call))
        return replace(result, problems=sorted_problems([*result.problems, *found]),
                       profile=called)

    def check_many(self, combinations: Iterable[tuple[str, str | None, Mapping[str, str]]],
                   *, strict: bool = False) -> list[CheckResult]:
        """`check` for many (agent, env, facets) combinations, for reports (`validate`,
        snapshots, bundles). The results are shared with the cache, not copied: read them,
        do not change them."""
        return [self._checked(self._request(agent, env, (), facets, None), strict)[0]
                for agent, env, facets in combinations]

    def _checked(self, request: Request, strict: bool) -> tuple[CheckResult, Plan | None]:
        """The cached check of `request` (shared, not copied) and its call plan."""
        key = ("check", request, strict)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        result, comp = self._check_composed(request, strict)
        entry = (result, comp.plan)
        self._store(key, comp.deps, entry)
        return entry

    def _check_composed(self, request: Request,
                        strict: bool) -> tuple[CheckResult, Composition]:
        """A check of `request` composed afresh, with its composition (bundles need it)."""
        comp = self._compose(request, lenient=True)
        problems = finish(comp, self.validator, self._checks, strict)
        raise_for_overrides(problems, comp.layers)
        errors = [p for p in problems if p.severity == "error"]
        profile = None if errors else self._profile(comp, request, problems)
        return CheckResult(request.agent, request.env, tuple(problems), profile,
                           dict(comp.facets)), comp

    def _explainer(self, request: Request,
                   call: Mapping[str, Any]) -> Callable[[str], Explanation]:
        """`Profile.explain` of a per-call profile: the call is one more layer ("call")."""
        facets = dict(request.facets)

        def explain(key: str) -> Explanation:
            return self.explain(request.agent, request.env, key, request.overrides,
                                facets=facets, call_overrides=call)

        return explain

    def explain(self, agent: str, env: str | None, key: str, overrides: Iterable[str] = (), *,
                facets: Mapping[str, str] | None = None,
                call_overrides: Mapping[str, Any] | None = None) -> Explanation:
        """Where one key's value came from, layer by layer."""
        return self.explain_path(agent, env, parse_key(key, key), overrides, facets=facets,
                                 call_overrides=call_overrides)

    def explain_path(self, agent: str, env: str | None, path: PathKey,
                     overrides: Iterable[str] = (), *,
                     facets: Mapping[str, str] | None = None,
                     call_overrides: Mapping[str, Any] | None = None) -> Explanation:
        """`explain` for a path tuple: keys with dots or spaces in them (tracing metadata,
        header names) need no quoting. Call overrides are the top layer ("call")."""
        request = self._request(agent, env, overrides, facets, None)
        if call_overrides:
            _, plan = self._checked(request, False)
            parsed = parse_calls(call_overrides, plan)
            request = request._replace(call=tuple(
                (path, call_overrides[key]) for key, path, _ in parsed))
        comp = self._compose(request, lenient=True)
        _stamp(comp)
        if _fingerprint.is_stamp(path) and get(comp.document, path) is not MISSING:
            return Explanation(render_path(path), get(comp.document, path), (),
                               note="stamped by the loader: the fingerprint of this "
                                    "configuration (fingerprint: {stamp: false} turns it off)")
        value = get(comp.document, path)
        if value is MISSING and get(comp.raw, path) is MISSING:
            parent = get(comp.document, path[:-1]) if len(path) > 1 else comp.document
            hint = mean(did_you_mean(str(path[-1]), list(parent))) \
                if isinstance(parent, dict) else None
            raise UsageError(f"{render_path(path)} is not set in {agent}@{env or '-'}"
                             + (f" ({hint})" if hint else ""))
        if value is MISSING:
            value = get(comp.raw, path)
        writes = comp.provenance().writes_for(path)
        hidden = (*comp.secrets, *_secrets.SECRET_MAPPINGS)
        secret = any(under(path, s) for s in hidden)
        if secret:  # the real value never leaves through the API either (docs/security.md)
            value = _secrets.MASK
            writes = [replace(w, value=_secrets.MASK) for w in writes]
        else:  # `explain model_config`: the secrets inside are *** too
            value = _secrets.mask_below(value, path, hidden, copy_json)
        return Explanation(render_path(path), value, tuple(writes), secret)

    # -- the source context (`_sources.Context`) -------------------------------------------
    def read_layer(self, source: Source, path: Path,
                   known: StatKey | None = None) -> tuple[Layer, StatKey | None]:
        """A parsed layer file, from the cache while the file's identity (`known`, when the
        caller just took it) is unchanged."""
        label = source.label
        now = known if known is not None else stat_key(path)
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
        """One composition. Under a kubelet mount, a composition that kubelet's swap overtook
        (the version it read is gone, or no longer current) is done again on the new one."""
        for _ in range(8):
            tree = self._tree_or_none()
            if tree is None:
                continue
            try:
                comp = self._compose_on(tree, request, lenient=lenient)
            except UsageError:
                if tree.root == self._root or self._data_root() == tree.root:
                    raise
                continue
            if tree.root == self._root or self._data_root() == tree.root:
                return comp
        return self._compose_on(self.tree(), request, lenient=lenient)

    def _tree_or_none(self) -> Tree | None:
        """The tree, or None when a kubelet swap removed the version being scanned."""
        try:
            return self.tree()
        except UsageError:
            if self._data_root() == self._root:
                raise
            return None

    def _compose_on(self, tree: Tree, request: Request, *, lenient: bool) -> Composition:
        resolvers = self._resolvers
        if tree.root != self._root and resolvers.get("file") is self._default_file:
            resolvers = {**resolvers, "file": FileResolver(tree.root)}  # the same version
        comp = compose(request, tree, self, resolvers=resolvers,
                       parser=self._parser, nav=self.validator.nav,
                       lenient=lenient, cacheable=not self._custom_resolvers)
        if tree.root != self._root:
            link = os.fspath(self._root / DATA_LINK)
            comp.deps = (*comp.deps, LinkDep(link, os.fspath(tree.root.name)))
        return comp

    def _profile(self, comp: Composition, request: Request,
                 problems: Sequence[Problem]) -> Profile:
        doc = comp.document
        agent, env, overrides = request.agent, request.env, request.overrides
        facets = dict(comp.facets)
        fingerprint = _stamp(comp)
        return Profile(
            agent=agent,
            env=env,
            run_config=doc.get("run_config") or {},
            model_config=doc.get("model_config") or {},
            start_messages=doc.get("start_messages") or [],
            client_messages=doc.get("client_messages") or [],
            warnings=tuple(p for p in problems if p.severity == "warning"),
            facets=facets,
            fingerprint=fingerprint,
            _secrets=comp.secrets,
            _unset=dict(comp.unset),
            _explainer=lambda key: self.explain(agent, env, key, overrides, facets=facets),
        )

    # -- caching ---------------------------------------------------------------------------
    def _cached(self, key: Any, snapshot: Snapshot | None = None) -> Any:
        """The cached value of `key` while every dependency is fresh (checked against
        `snapshot`, so lookups made for one load stat each file once)."""
        with self._lock:
            entry = self._profiles.get(key)
        if entry is None:
            return None
        deps, value, checked = entry
        if self._recheck:
            now = time.monotonic()
            if now - checked[0] < self._recheck:
                return value
        state = snapshot if snapshot is not None else Snapshot(self.environ)
        if not all(dep.fresh(state) for dep in deps):
            return None
        if self._recheck:
            checked[0] = now
        return value

    def _store(self, key: Any, deps: tuple[Dep, ...], value: Any) -> None:
        if isinstance(key[1], Request) and key[1].call:
            return  # a call's values are the caller's: never cached
        with self._lock:
            self._profiles[key] = (deps, value, [time.monotonic()])
            self._profiles.move_to_end(key)
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)


def _stamp(comp: Composition) -> str:
    """The composition's fingerprint, stamped into its document's tracing metadata (unless
    the profile says `fingerprint: {stamp: false}`)."""
    doc = comp.document
    emitted = {k: doc[k] for k in DOCUMENT_SECTIONS if doc.get(k)}
    references = {p: get(comp.raw, p) for p in comp.secrets}
    comp.hashes.clear()  # the plan holds this very mapping
    fingerprint = _fingerprint.fingerprint(emitted, comp.facets, references=references,
                                           record=comp.hashes)
    if comp.stamp:
        stamps = {"profile_fingerprint": fingerprint}
        if comp.facets:
            stamps["profile_facets"] = _facets.label(comp.facets)
        _fingerprint.stamp(doc, stamps)
    return fingerprint


def _label(agent: str, env: str | None, facets: Mapping[str, str]) -> str:
    """`support@prod` or `support@prod[locale=fr,transport=sip]`: a combination in messages."""
    where = f"{agent}@{env or '-'}"
    return f"{where}[{_facets.label(facets)}]" if facets else where


def load_profile(
    agent: str,
    env: str | None = None,
    root: str | os.PathLike[str] = "profiles",
    overrides: Iterable[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    facets: Mapping[str, str] | None = None,
    bucket: str | None = None,
    strict: bool = False,
) -> Profile:
    """Compose, validate and return one profile, or raise `ProfileError` with every problem.

    For repeated loads keep a `Loader(root)`: it caches parsed files and profiles.
    """
    return Loader(root, environ=environ).load(agent, env, overrides, facets=facets,
                                              bucket=bucket, strict=strict)
