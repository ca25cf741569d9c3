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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from . import _secrets
from ._compose import Check, Composition, compose, finish, raise_for_overrides
from ._files import StatKey, stat_key
from ._graph import Closure, Finding, Node, closure, member_findings, start_findings
from ._interpolate import ParseCache
from ._layer import Layer, Source
from ._limits import LAYER_CACHE_SIZE, PROFILE_CACHE_SIZE
from ._lints import SDK_LINTS
from ._overrides import parse_key
from ._paths import MISSING, PathKey, get, render_path, under
from ._provenance import Locator
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
    Severity,
    UsageError,
    did_you_mean,
    mean,
    sorted_problems,
    summarize,
)
from .profile import CheckResult, Explanation, GraphNode, Profile, copy_json


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
    """What one validate run (`check_all`), or one load, learns on the way: whether each file
    is unchanged (asked once), the profiles loaded as graph nodes, each node's closure (the
    agents of a cycle share one) and each node's own problems. Kept for the run only: the
    tree cannot change under it, and nothing outlives it."""

    __slots__ = ("checked", "closure_facts", "closures", "findings", "graph_nodes", "node_deps",
                 "nodes")

    def __init__(self) -> None:
        self.checked: dict[Dep, bool] = {}
        self.nodes: dict[Request, Node] = {}
        self.node_deps: dict[Node, tuple[Dep, ...]] = {}
        self.closures: dict[Node, Closure] = {}
        self.closure_facts: dict[Closure, Any] = {}
        self.graph_nodes: dict[Node, GraphNode] = {}
        self.findings: dict[Any, list[Problem]] = {}


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
        graph = self._graph(request, comp, strict, _Run())
        problems = list(sorted_problems([*finish(comp, self.validator, self._checks, strict),
                                         *graph.problems]))
        errors = [p for p in problems if p.severity == "error"]
        raise_for_overrides(errors, comp.layers)
        if comp.missing_secrets and all(p.code == "secret-unavailable" for p in errors):
            names = ", ".join(sorted(set(comp.missing_secrets.values())))
            raise SecretUnavailableError(
                f"{agent}@{env or '-'}: cannot load for use: secret environment variable "
                f"{names} is not set", errors)
        if errors:
            syntax = any(p.code in SYNTAX_CODES for p in errors)
            error = LayerSyntaxError if syntax else ProfileValidationError
            raise error(f"{agent}@{env or '-'}: {summarize(problems)}", problems)
        profile = self._profile(comp, request, problems, graph)
        self._store(key, (*comp.deps, *graph.deps), profile)
        return profile.fresh()

    def check(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              strict: bool = False) -> CheckResult:
        """Every problem of one combination, without raising for them (validate, show).

        Unset secrets are warnings here and appear as `*** (unset: VAR)`.
        """
        return self._check(Request(agent, env, tuple(overrides)), strict, _Run())

    def check_all(self, combinations: Iterable[tuple[str, str | None]], *,
                  strict: bool = False) -> list[CheckResult]:
        """`check` of every (agent, env), as `validate` runs them: a file shared by many
        profiles (base, env, local, every profile of an agent graph) is stat-checked once for
        the whole run instead of once per profile that depends on it."""
        run = _Run()
        return [self._check(Request(agent, env), strict, run) for agent, env in combinations]

    def _check(self, request: Request, strict: bool, run: _Run) -> CheckResult:
        key = ("check", request, strict)
        cached = self._cached(key, run.checked)
        if cached is not None:
            return cached.fresh()  # type: ignore[no-any-return]
        agent, env = request.agent, request.env
        comp = self._compose(request, lenient=True)
        graph = self._graph(request, comp, strict, run)
        problems = list(sorted_problems([*finish(comp, self.validator, self._checks, strict),
                                         *graph.problems]))
        raise_for_overrides(problems, comp.layers)
        errors = [p for p in problems if p.severity == "error"]
        profile = None if errors else self._profile(comp, request, problems, graph)
        result = CheckResult(agent, env, tuple(problems), profile)
        self._store(key, (*comp.deps, *graph.deps), result)
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
        note = "no layer names the agent: the profile's agent name" \
            if path == ("agent", "name") and get(comp.raw, path) is MISSING else None
        return Explanation(render_path(path), value, tuple(writes), secret, note)

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

    def _profile(self, comp: Composition, request: Request, problems: Sequence[Problem],
                 graph: _Graph) -> Profile:
        doc = comp.document
        agent, env, overrides = request.agent, request.env, request.overrides
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
            _secrets=comp.secrets,
            _unset=dict(comp.unset),
            _explainer=lambda key: self.explain(agent, env, key, overrides),
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
        start = Node(request.agent, comp.document, True)
        members, shared, deps, graph = self._members(request, start, tree, run)
        severity: Severity = "error" if strict else "warning"
        findings = [f for f in (*shared, *start_findings(request.agent, members, severity))
                    if self._checks or f.problem.severity == "error"]
        problems: list[Problem] = []
        locators: dict[str, Locator] = {request.agent: Locator(comp.provenance)}
        for owner, problem in findings:
            if owner not in locators:  # a problem in another profile: only on the error path
                other = self._compose(request._replace(agent=owner, overrides=()), lenient=True)
                locators[owner] = Locator(other.provenance)
            problems.append(locators[owner].attach(problem))
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
        key = request._replace(agent=name, overrides=())
        node = run.nodes.get(key)
        if node is None:
            node, node_deps = self._node(key, run.checked)
            run.nodes[key] = node
            run.node_deps[node] = node_deps
        return node

    def _successors(self, request: Request, node: Node, tree: Tree, run: _Run) -> list[Node]:
        found = (self._graph_load(request, name, tree, run) for name in node.names)
        return [n for n in found if n is not None]

    def _node(self, request: Request,
              checked: dict[Dep, bool] | None = None) -> tuple[Node, tuple[Dep, ...]]:
        """Another profile of a graph, as its handoff target: composed and validated alone
        (unset secrets allowed: its model_config is never used), cached like a profile."""
        key = ("node", request)
        cached = self._cached(key, checked)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        comp = self._compose(request, lenient=True)
        problems = finish(comp, self.validator, self._checks, strict=False)
        ok = not any(p.severity == "error" for p in problems)
        node = Node(request.agent, comp.document, ok)
        value = (node, comp.deps)
        self._store(key, comp.deps, value)
        return value

    def _graph_node(self, request: Request, node: Node, run: _Run) -> GraphNode:
        made = run.graph_nodes.get(node)
        if made is None:
            name, env = node.agent, request.env
            made = GraphNode(name, env, node.document.get("agent") or {},  # copied when read
                             lambda key: self.explain(name, env, key))
            run.graph_nodes[node] = made
        return made

    # -- caching ---------------------------------------------------------------------------
    def _cached(self, key: Any, checked: dict[Dep, bool] | None = None) -> Any:
        """The cached value while every dependency is fresh; `checked` remembers answers
        within one graph, where most profiles share base, env and local files."""
        with self._lock:
            entry = self._profiles.get(key)
        if entry is None:
            return None
        deps, value = entry
        for dep in deps:
            fresh = checked.get(dep) if checked is not None else None
            if fresh is None:
                fresh = dep.fresh(self)
                if checked is not None:
                    checked[dep] = fresh
            if not fresh:
                return None
        return value

    def _store(self, key: Any, deps: tuple[Dep, ...], value: Any) -> None:
        with self._lock:
            self._profiles[key] = (deps, value)
            self._profiles.move_to_end(key)
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)


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
