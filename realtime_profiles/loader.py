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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from . import _facets, _fingerprint, _secrets
from ._calls import Plan, parse_calls
from ._compose import Check, Composition, compose, finish, raise_for_overrides
from ._facets import Group
from ._files import StatKey, stat_key
from ._graph import Closure, Finding, Node, closure, member_findings, start_findings
from ._interpolate import ParseCache
from ._layer import DOCUMENT_SECTIONS, Layer, Source
from ._limits import LAYER_CACHE_SIZE, PROFILE_CACHE_SIZE
from ._lints import SDK_LINTS
from ._overrides import parse_key
from ._paths import MISSING, PathKey, get, render_path, under
from ._percall import call_profile
from ._provenance import Locator, Provenance, Write
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
from ._watch import SETTLE, Watch
from ._yaml import SYNTAX_CODES, read_layer
from .errors import (
    LayerSyntaxError,
    Problem,
    ProfileValidationError,
    SecretUnavailableError,
    Severity,
    UsageError,
    did_you_mean,
    mean,
    sorted_problems,
    summarize,
)
from .profile import (
    ABSENT,
    CheckResult,
    Difference,
    Explanation,
    GraphNode,
    Profile,
    copy_json,
)


class _Graph(NamedTuple):
    """The agent graph of one composition: the other profiles' agents it reaches through
    handoffs, the graph's problems (located), and what those profiles depended on (so a
    cached profile goes stale when a profile it hands off to changes)."""

    nodes: Mapping[str, GraphNode]
    problems: list[Problem]
    deps: tuple[Dep, ...]


class _Without(Mapping[str, GraphNode]):
    """A closure's graph nodes without the profile's own agent: a view, so the agents of a
    cycle share one mapping instead of copying it each."""

    __slots__ = ("_left_out", "_nodes")

    def __init__(self, nodes: Mapping[str, GraphNode], left_out: str) -> None:
        self._nodes = nodes
        self._left_out = left_out

    def __getitem__(self, name: str) -> GraphNode:
        if name == self._left_out:
            raise KeyError(name)
        return self._nodes[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._nodes if name != self._left_out)

    def __len__(self) -> int:
        return len(self._nodes) - (self._left_out in self._nodes)

    def __repr__(self) -> str:
        return repr(dict(self))


class _Run:
    """What one validate run (`check_many`), or one load, learns on the way: each file's
    identity (taken once: `snapshot`), the profiles loaded as graph nodes, each node's closure
    (the agents of a cycle share one) and each node's own problems. Kept for the run only: the
    tree cannot change under it, and nothing outlives it."""

    __slots__ = ("closure_facts", "closures", "findings", "graph_nodes", "node_deps",
                 "node_requests", "nodes", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.nodes: dict[Request, Node] = {}
        self.node_deps: dict[Node, tuple[Dep, ...]] = {}
        self.node_requests: dict[Node, Request] = {}
        self.closures: dict[Node, Closure] = {}
        self.closure_facts: dict[Closure, Any] = {}
        self.graph_nodes: dict[Node, GraphNode] = {}
        self.findings: dict[Any, list[Problem]] = {}


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
        for _ in range(8):
            data = self._data_root()
            cached = self._tree
            if cached is not None:
                dirs, key, tree = cached
                if tree.root == data and key[0] is not None \
                        and tuple(stat_key(p) for p in dirs) == key:
                    return tree
            dirs = watched_dirs(data)
            key = tuple(stat_key(p) for p in dirs)
            try:
                tree = scan(data)
            except UsageError:
                if data != self._root and self._data_root() != data:
                    continue  # kubelet swapped versions under the scan: read the new one
                raise
            self._tree = (dirs, key, tree)
            return tree
        return scan(self._data_root())

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
        graph = self._graph(request, comp, strict, _Run(snapshot or Snapshot(self.environ)))
        problems = list(sorted_problems([*finish(comp, self.validator, self._checks, strict),
                                         *graph.problems]))
        errors = [p for p in problems if p.severity == "error"]
        raise_for_overrides(errors, comp)
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
        entry = (self._profile(comp, request, problems, graph), comp.plan)
        self._store(key, (*comp.deps, *graph.deps), entry)
        return entry

    def watch(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              facets: Mapping[str, str] | None = None, bucket: str | None = None,
              strict: bool = False, interval: float = 1.0, settle: float = SETTLE) -> Watch:
        """Follow one profile as its files change: iterate (`for`, or `async for` in a
        running session) to get a new `Profile` each time a file, folder or variable it was
        composed from changes, or the `ProfileError` of an invalid edit (the last good profile
        stays `watch.current`). Stat polling every `interval` seconds; a kubelet ConfigMap
        swap is a change; what a load read must then stay unchanged for `settle` seconds
        (a half-written file never counts). The arguments are those of `load`; a bad name
        raises now."""
        request = self._request(agent, env, overrides, facets, bucket)

        def load() -> tuple[Profile, Callable[[], bool]]:
            while True:
                profile, _ = self._load_base(request, strict, Snapshot(self.environ))
                deps = self._deps(("load", request, strict))
                if deps is not None:  # else evicted under us by other loads: once more
                    break

            def changed() -> bool:
                now = Snapshot(self.environ)
                return not all(dep.fresh(now) for dep in deps)

            return profile.fresh(), changed

        return Watch(load, interval, settle)

    def check(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              facets: Mapping[str, str] | None = None, bucket: str | None = None,
              call_overrides: Mapping[str, Any] | None = None,
              strict: bool = False) -> CheckResult:
        """Every problem of one combination, without raising for them (validate, show).

        Unset secrets are warnings here and appear as `*** (unset: VAR)`. A call override
        that is not allowed raises `OverrideNotAllowedError`; a bad value is a problem.
        """
        request = self._request(agent, env, overrides, facets, bucket)
        cached = self._checked(request, strict, _Run(Snapshot(self.environ)))
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
        """`check` for many (agent, env, facets) combinations, as `validate` runs them. A file
        shared by many profiles (base, env, local, every profile of an agent graph) is
        stat-checked once for the whole run, and the results are shared with the cache, not
        copied: read them, do not change them."""
        run = _Run(Snapshot(self.environ))
        return [self._checked(self._request(agent, env, (), facets, None,
                                            snapshot=run.snapshot), strict, run)[0]
                for agent, env, facets in combinations]

    def _checked(self, request: Request, strict: bool,
                 run: _Run) -> tuple[CheckResult, Plan | None]:
        """The cached check of `request` (shared, not copied) and its call plan."""
        key = ("check", request, strict)
        cached = self._cached(key, run.snapshot)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        result, comp, deps = self._check_composed(request, strict, run)
        entry = (result, comp.plan)
        self._store(key, deps, entry)
        return entry

    def _check_composed(self, request: Request, strict: bool,
                        run: _Run | None = None) -> tuple[CheckResult, Composition,
                                                          tuple[Dep, ...]]:
        """A check of `request` composed afresh, with its composition (bundles need it) and
        everything it depended on (its graph's profiles too)."""
        run = run or _Run(Snapshot(self.environ))
        comp = self._compose(request, lenient=True)
        graph = self._graph(request, comp, strict, run)
        problems = list(sorted_problems([*finish(comp, self.validator, self._checks, strict),
                                         *graph.problems]))
        raise_for_overrides(problems, comp)
        errors = [p for p in problems if p.severity == "error"]
        profile = None if errors else self._profile(comp, request, problems, graph)
        return (CheckResult(request.agent, request.env, tuple(problems), profile,
                            dict(comp.facets)), comp, (*comp.deps, *graph.deps))

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
            _, plan = self._checked(request, False, _Run(Snapshot(self.environ)))
            parsed = parse_calls(call_overrides, plan)
            request = request._replace(call=tuple(
                (path, call_overrides[key]) for key, path, _ in parsed))
        comp = self._compose(request, lenient=True)
        run = _Run(Snapshot(self.environ))
        _stamp(comp, self._graph(request, comp, False, run).nodes)
        return _explain(comp, path, _label(agent, env, comp.facets))

    def diff(self, left: tuple[str, str | None], right: tuple[str, str | None],
             overrides: Iterable[str] = (), *, facets: Mapping[str, str] | None = None,
             bucket: str | None = None) -> list[Difference]:
        """Leaf-level differences between two profiles (agent, env) in the same facet
        options, each composed once: values as they may be shown (a masked value is `***`,
        and differs when the real values or the references they come from differ) with the
        write that set each. The loader's stamps (the fingerprint) are left out."""
        sides = []
        for agent, env in (left, right):
            request = self._request(agent, env, overrides, facets, bucket)
            comp = self._compose(request, lenient=True)
            problems = finish(comp, self.validator, self._checks, False)
            raise_for_overrides(problems, comp)
            errors = [p for p in problems if p.severity == "error"]
            if errors:
                raise UsageError(f"{_label(agent, env, comp.facets)} does not validate; fix "
                                 "it before diffing", errors)
            sides.append(comp)
        return _differences(sides[0], sides[1])

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
        comp = compose(request, tree, self, resolvers=resolvers, parser=self._parser,
                       validator=self.validator, lenient=lenient,
                       cacheable=not self._custom_resolvers)
        if tree.root != self._root:
            link = os.fspath(self._root / DATA_LINK)
            comp.deps = (*comp.deps, LinkDep(link, os.fspath(tree.root.name)))
        return comp

    def _profile(self, comp: Composition, request: Request, problems: Sequence[Problem],
                 graph: _Graph) -> Profile:
        doc = comp.document
        agent, env, overrides = request.agent, request.env, request.overrides
        facets = dict(comp.facets)
        fingerprint = _stamp(comp, graph.nodes)
        return Profile(
            agent=agent,
            env=env,
            run_config=doc.get("run_config") or {},
            model_config=doc.get("model_config") or {},
            start_messages=doc.get("start_messages") or [],
            client_messages=doc.get("client_messages") or [],
            agent_config=doc.get("agent") or {},
            graph=graph.nodes if isinstance(graph.nodes, _Without)
            else MappingProxyType(dict(graph.nodes)),  # read-only: a cached profile shares it
            warnings=tuple(p for p in problems if p.severity == "warning"),
            facets=facets,
            fingerprint=fingerprint,
            _secrets=comp.secrets,
            _unset=dict(comp.unset),
            _derived=comp.hidden_in_document(),
            _secret_texts=comp.secret_texts(),
            _explainer=lambda key: self.explain(agent, env, key, overrides, facets=facets),
        )

    # -- the agent graph -------------------------------------------------------------------
    def _graph(self, request: Request, comp: Composition, strict: bool, run: _Run) -> _Graph:
        """Load every profile the composed agent can reach through handoffs and judge the
        graph (`_graph`'s rules). The other profiles are loaded as the tree defines them: the
        same environment, the caller's overrides not applied (they are for this profile);
        `request._replace` keeps whatever else selects a profile (facets, later). `run`
        remembers nodes, closures and their problems across the profiles of one validate run:
        the agents of a cycle share them, so a tree where every agent reaches every other
        costs about what a tree without handoffs does (bench: see README, Agent graphs)."""
        tree = self.tree()
        start = Node(request.agent, comp.document, True, _masked(comp))
        members, shared, deps, graph = self._members(request, start, tree, run)
        severity: Severity = "error" if strict else "warning"
        findings = [f for f in (*shared, *start_findings(request.agent, members, severity))
                    if self._checks or f.problem.severity == "error"]
        problems: list[Problem] = []
        locators: dict[str, Locator] = {request.agent: Locator(comp.provenance)}
        for owner, problem in findings:
            if owner not in locators:  # a problem in another profile: only on the error path
                other = self._compose(self._node_request(request, owner, run), lenient=True)
                locators[owner] = Locator(other.provenance)
            # through this composition's exit for problems: an override's value stays masked
            problems.append(comp.shown(locators[owner].attach(problem)))
        return _Graph(graph, problems, deps)

    def _members(self, request: Request, start: Node, tree: Tree, run: _Run) -> tuple[
            Mapping[str, Node], list[Finding], tuple[Dep, ...], Mapping[str, GraphNode]]:
        """The graph's nodes (the start included), their own problems, what the other
        profiles depend on, and the other profiles' agents for `Profile.graph`."""
        if not start.names:
            members = {request.agent: start}
            return members, list(member_findings(members, env=request.env,
                                                 agents=tree.agents)), (), {}
        if not request.overrides:  # this profile as a node is exactly what the tree defines
            node = self._graph_load(request, request.agent, tree, run)
            assert node is not None  # compose checked the name
            reach = closure(node, lambda n: self._successors(request, n, tree, run),
                            run.closures)
            nodes, shared, deps, graph = self._closure_facts(request, reach, tree, run)
            return nodes, shared, deps, _Without(graph, request.agent)
        # overrides: this composition is the start, the others as the tree defines them
        found: dict[str, Node] = {}
        for name in start.names:
            target = self._graph_load(request, name, tree, run)
            if target is not None:
                found.update(closure(target, lambda n: self._successors(request, n, tree, run),
                                     run.closures).nodes)
        found[request.agent] = start
        shared = list(member_findings(found, env=request.env, agents=tree.agents,
                                      cache=run.findings, transient=start))
        deps = tuple(dict.fromkeys(dep for name, n in found.items() if name != request.agent
                                   for dep in run.node_deps[n]))
        graph = {name: self._graph_node(request, n, run) for name, n in found.items()
                 if name != request.agent}
        return found, shared, deps, graph

    def _closure_facts(self, request: Request, reach: Closure, tree: Tree,
                       run: _Run) -> tuple[Mapping[str, Node], list[Finding],
                                           tuple[Dep, ...], Mapping[str, GraphNode]]:
        """A closure's members, their problems, dependencies and graph nodes: computed once
        per closure in a run, shared by every agent of a cycle."""
        facts = run.closure_facts.get(reach)
        if facts is None:
            nodes = reach.nodes
            findings = list(member_findings(nodes, env=request.env, agents=tree.agents,
                                            cache=run.findings))
            deps = tuple(dict.fromkeys(dep for n in nodes.values() for dep in run.node_deps[n]))
            graph = {name: self._graph_node(request, n, run) for name, n in nodes.items()}
            facts = run.closure_facts[reach] = (nodes, findings, deps, graph)
        return facts

    def _graph_load(self, request: Request, name: str, tree: Tree, run: _Run) -> Node | None:
        """The node of agent `name` in `request`'s selection, once per run; None when `name`
        is not an agent of the tree (reported by the graph rules)."""
        if not tree.has_agent(name):
            return None
        key = self._node_request(request, name, run)
        node = run.nodes.get(key)
        if node is None:
            node, node_deps = self._node(key, run.snapshot)
            run.nodes[key] = node
            run.node_deps[node] = node_deps
            run.node_requests.setdefault(node, key)
        return node

    def _node_request(self, request: Request, name: str, run: _Run) -> Request:
        """The request of agent `name` as a node of `request`'s graph: the same environment,
        each facet option `request` chose that `name` allows too (its own default for the
        rest), and neither the caller's overrides nor call values (they are for this
        profile)."""
        kept: dict[str, str] = {}
        if request.facets:
            groups = self._groups(name, request.env, run.snapshot)
            kept = {g: o for g, o in request.facets if g in groups and o in groups[g].allowed}
        return self._request(name, request.env, (), kept, None, snapshot=run.snapshot)

    def _node_composition(self, request: Request, name: str) -> Composition:
        """The composition of agent `name` as a node of `request`'s graph (a bundle ships what
        its agent section derives from a secret as references: `build` needs its raw tree)."""
        run = _Run(Snapshot(self.environ))
        return self._compose(self._node_request(request, name, run), lenient=True)

    def _successors(self, request: Request, node: Node, tree: Tree, run: _Run) -> list[Node]:
        found = (self._graph_load(request, name, tree, run) for name in node.names)
        return [n for n in found if n is not None]

    def _node(self, request: Request,
              snapshot: Snapshot | None = None) -> tuple[Node, tuple[Dep, ...]]:
        """Another profile of a graph, as its handoff target: composed and validated alone
        (unset secrets allowed: its model_config is never used), cached like a profile."""
        key = ("node", request)
        cached = self._cached(key, snapshot)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        comp = self._compose(request, lenient=True)
        problems = finish(comp, self.validator, self._checks, strict=False)
        ok = not any(p.severity == "error" for p in problems)
        node = Node(request.agent, comp.document, ok, _masked(comp), comp.secret_texts())
        value = (node, comp.deps)
        self._store(key, comp.deps, value)
        return value

    def _graph_node(self, request: Request, node: Node, run: _Run) -> GraphNode:
        made = run.graph_nodes.get(node)
        if made is None:
            name, env = node.agent, request.env
            own = run.node_requests.get(node)
            facets = dict(own.facets) if own is not None else None
            made = GraphNode(name, env, node.document.get("agent") or {},  # copied when read
                             lambda key: self.explain(name, env, key, facets=facets),
                             tuple(p for p in node.hidden if p[:1] == ("agent",)),
                             node.texts)
            run.graph_nodes[node] = made
        return made

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

    def _deps(self, key: Any) -> tuple[Dep, ...] | None:
        """What the cached value of `key` depends on (None when it is not cached)."""
        with self._lock:
            entry = self._profiles.get(key)
        return None if entry is None else entry[0]

    def _store(self, key: Any, deps: tuple[Dep, ...], value: Any) -> None:
        if isinstance(key[1], Request) and key[1].call:
            return  # a call's values are the caller's: never cached
        with self._lock:
            self._profiles[key] = (deps, value, [time.monotonic()])
            self._profiles.move_to_end(key)
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)


def _stamp(comp: Composition, graph: Mapping[str, GraphNode]) -> str:
    """The composition's fingerprint, stamped into its document's tracing metadata (unless
    the profile says `fingerprint: {stamp: false}`): its document, its facets, and the
    sections of the agents it hands off to (`graph`), which shape its handoff tools."""
    doc = comp.document
    emitted = {k: doc[k] for k in DOCUMENT_SECTIONS if doc.get(k)}
    references = comp.references()
    comp.hashes.clear()  # the plan holds these very mappings
    comp.graph_digests.clear()
    comp.graph_digests.update(_graph_digests(graph, comp.secret_texts()))
    fingerprint = _fingerprint.fingerprint(emitted, comp.facets, references=references,
                                           record=comp.hashes, graph=comp.graph_digests)
    if comp.stamp:
        stamps = {"profile_fingerprint": fingerprint}
        if comp.facets:
            stamps["profile_facets"] = _facets.label(comp.facets)
        _fingerprint.stamp(doc, stamps)
    return fingerprint


def _graph_digests(graph: Mapping[str, GraphNode], texts: Sequence[str]) -> dict[str, str]:
    """Each handed-off agent's section as the fingerprint counts it: every secret's text in
    it (this profile's, and that profile's own) as `***`, like a derived value."""
    from ._secrets import mask_texts

    found: dict[str, str] = {}
    for name, node in graph.items():
        hidden = sorted({*texts, *node._secret_texts}, key=len, reverse=True)
        found[name] = _fingerprint.section_digest(mask_texts(node._config, hidden))
    return found


def _label(agent: str, env: str | None, facets: Mapping[str, str]) -> str:
    """`support@prod` or `support@prod[locale=fr,transport=sip]`: a combination in messages."""
    where = f"{agent}@{env or '-'}"
    return f"{where}[{_facets.label(facets)}]" if facets else where


def _deletion(prov: Provenance, path: PathKey) -> tuple[Write, ...] | None:
    """The history of a key that is absent because it was deleted (at its own path or at a
    parent's): its writes, ending with the deletion; None if no deletion explains it."""
    for cut in range(len(path), 0, -1):
        chain = prov.writes.get(path[:cut])
        if chain and chain[-1].op == "delete":
            writes = prov.writes_for(path) if cut < len(path) else chain
            return (*(w for w in writes if w is not chain[-1]), chain[-1])
    return None


def _explain(comp: Composition, path: PathKey, label: str) -> Explanation:
    """Where the value at `path` came from, masked wherever it must be (a secret, a mapping of
    secrets, a value derived from what a secret reads, an override that wrote one); a stamp
    of the loader's and a deleted key say so."""
    if _fingerprint.is_stamp(path) and get(comp.document, path) is not MISSING:
        return Explanation(render_path(path), get(comp.document, path), (),
                           note="stamped by the loader: the fingerprint of this "
                                "configuration (fingerprint: {stamp: false} turns it off)")
    value = get(comp.document, path)
    if value is MISSING and get(comp.raw, path) is MISSING:
        deleted = _deletion(comp.provenance(), path)
        if deleted is not None:  # `!delete` or `~key`: its history ends there
            history = tuple(replace(w, mark=comp.shown_mark(w.mark)) for w in deleted)
            return Explanation(render_path(path), None, history, deleted=True)
        parent = get(comp.document, path[:-1]) if len(path) > 1 else comp.document
        hint = mean(did_you_mean(str(path[-1]), parent)) if isinstance(parent, dict) else None
        raise UsageError(f"{render_path(path)} is not set in {label}"
                         + (f" ({hint})" if hint else ""))
    if value is MISSING:
        value = get(comp.raw, path)
    writes = [replace(w, mark=comp.shown_mark(w.mark))
              for w in comp.provenance().writes_for(path)]
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
    note = "no layer names the agent: the profile's agent name" \
        if path == ("agent", "name") and get(comp.raw, path) is MISSING else None
    return Explanation(render_path(path), value, tuple(writes), secret, note)


def _differences(left: Composition, right: Composition) -> list[Difference]:
    """The leaves that differ between two compositions, as they may be shown."""
    found: list[Difference] = []
    for path, one, two in _every_leaf(left.document, right.document, ()):
        if _fingerprint.is_stamp(path):  # fingerprints differ whenever anything else does
            continue
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


def _masked(comp: Composition) -> tuple[PathKey, ...]:
    """What a graph message about `comp`'s document may not quote: the secrets and every
    value masked with them."""
    return (*comp.secrets, *comp.hidden_in_document())


def _hidden(comp: Composition, path: PathKey) -> bool:
    return comp.hides(path) or any(under(path, s) for s in comp.secrets)


def _shown_leaf(comp: Composition, path: PathKey, value: Any, hidden: bool) -> Any:
    if value is ABSENT:
        return value
    if not hidden:  # a mapping present on one side only: what is masked inside is *** too
        if isinstance(value, dict | list):
            if comp.flow:
                value = comp.flow.mask(value, path)
            value = _secrets.mask_below(value, path, (*comp.secrets,
                                                      *_secrets.SECRET_MAPPINGS), copy_json)
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


def _every_leaf(left: Any, right: Any, path: PathKey) -> list[tuple[PathKey, Any, Any]]:
    """Every leaf path of the two, equal or not (a masked pair is judged by its sources too,
    which `_paths.leaf_diff` cannot see), in the order of the left side, then the keys only
    the right side has."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in [*left, *(k for k in right if k not in left)]:
            found += _every_leaf(left.get(key, ABSENT), right.get(key, ABSENT), (*path, key))
        return found
    return [(path, left, right)]


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
