"""`load_profile()` and `Loader`: the whole pipeline behind one small, typed surface.

discover -> parse (cached by file stats) -> fold -> overrides -> interpolate -> validate ->
emit. Everything a load needs lives on its `Loader`: caches, resolvers, the environment it
reads. No module-level mutable state, so two loaders, roots or threads never interfere.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from .errors import (
    Mark,
    Problem,
    ProfileValidationError,
    SecretUnavailableError,
    UsageError,
    sorted_problems,
    summarize,
)
from .interpolate import Interpolator
from .layers import (
    SECRET_MAPPINGS,
    Layer,
    PathKey,
    Source,
    Tree,
    layer_candidates,
    layer_files,
    read_layer,
    render_path,
    scan,
    secret_paths,
    stat_key,
)
from .lints import SDK_LINTS
from .merge import MISSING, Folder, Provenance, Write, lookup, parse_dotted, ref_target
from .overrides import Override, env_overrides, parse_key, parse_overrides
from .resolvers import Resolver, default_resolvers
from .validate import DocumentValidator, packaged_validator

OUTPUT_SECTIONS: Final = ("run_config", "model_config", "start_messages", "client_messages")
LAYER_ORDER: Final = ("base", "env", "agent", "agent@env", "local", "environment", "override")
PROFILE_CACHE_SIZE: Final = 512
# Parsed layers kept (least recently used dropped): memory stays flat however large the tree;
# validate-all goes agent by agent, so base, env and the agent's own files are always held.
LAYER_CACHE_SIZE: Final = 256
MASK: Final = "***"

# A check: document -> (path, message, suggestion[, "error"]) findings; see lints.py.
Check = Callable[[Mapping[str, Any]], Iterable[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The winning value of one key and every write that led to it, lowest layer first."""

    key: str
    value: Any
    writes: tuple[Write, ...]
    secret: bool = False

    def render(self) -> str:
        shown = MASK if self.secret else _short(self.value)
        lines = [f"{self.key} = {shown}"]
        if not self.writes:
            lines.append("  (not set by any layer)")
        for number, write in enumerate(self.writes, 1):
            if write.op == "delete":
                detail = "deleted"
            elif write.op == "reference":
                detail = f"refers to {write.value}"
            elif write.op in ("merge", "append") and write.value is None:
                detail = "appended to" if write.op == "append" else "merged into"
            else:
                detail = MASK if self.secret else _short(write.value)
            lines.append(f"  {number}. {write.describe()}: {detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        value = MASK if self.secret else repr(self.value)
        return f"Explanation(key={self.key!r}, value={value}, writes={len(self.writes)})"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class Profile:
    """One agent in one environment, composed and validated: plain dicts for the SDK.

    `run_config` goes to `RealtimeRunner(agent, config=...)`, `model_config` to
    `runner.run(model_config=...)`. repr and `redacted()` never show a secret.
    """

    agent: str
    env: str | None
    run_config: dict[str, Any]
    model_config: dict[str, Any]
    start_messages: list[dict[str, Any]]
    client_messages: list[dict[str, Any]]
    warnings: tuple[Problem, ...] = ()
    _secrets: tuple[PathKey, ...] = field(default=(), repr=False)
    _explainer: Callable[[str], Explanation] | None = field(default=None, repr=False,
                                                            compare=False)

    def document(self) -> dict[str, Any]:
        """`{run_config, model_config, start_messages, client_messages}`, empty ones left out."""
        full = {
            "run_config": self.run_config,
            "model_config": self.model_config,
            "start_messages": self.start_messages,
            "client_messages": self.client_messages,
        }
        return {k: _copy(v) for k, v in full.items() if v}

    def redacted(self) -> dict[str, Any]:
        """`document()` with every secret shown as `***` (or `*** (unset: VAR)`)."""
        doc = self.document()
        for path in self._secrets:
            value = lookup(doc, path)
            if isinstance(value, str):  # {callable: name} is not a secret: left as it is
                _set(doc, path, str(value) if value.startswith(MASK) else MASK)
        return doc

    def explain(self, key: str) -> Explanation:
        """Where `key` (dotted, relative to run_config unless prefixed) got its value."""
        if self._explainer is None:
            raise UsageError("this profile was not made by a Loader and cannot explain")
        return self._explainer(key)

    def runner(self, agent: Any, registry: Any = None, *, model: Any = None) -> Any:
        """`RealtimeRunner(agent, config=self.run_config)` with names bound by `registry` (a
        `realtime_profiles.sdk.Registry`). Needs the `sdk` extra; imported only here."""
        from .sdk import Registry

        return (registry or Registry()).runner(agent, self, model=model)

    def bind(self, registry: Any = None) -> Any:
        """`BoundProfile(run_config, model_config)` with names replaced by `registry`'s objects,
        for `runner.run(model_config=profile.bind(registry).model_config)`."""
        from .sdk import Registry

        return (registry or Registry()).bind(self)

    def __repr__(self) -> str:
        return (f"Profile(agent={self.agent!r}, env={self.env!r}, "
                f"document={self.redacted()!r}, warnings={len(self.warnings)})")


def _copy(value: Any) -> Any:
    """A deep copy of JSON data, several times faster than copy.deepcopy. A `str` subclass
    (an unset secret's placeholder, interpolated into another string) leaves as a plain str:
    emitted data is plain JSON data, which every YAML and JSON dumper accepts."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if type(value) is not str and isinstance(value, str):
        return str(value)
    return value


def _set(doc: Any, path: PathKey, value: Any) -> None:
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@dataclass(frozen=True)
class CheckResult:
    """What `Loader.check` found: all problems (errors and warnings) and, if it composed,
    the profile (secrets possibly placeholders: for display, never for use)."""

    agent: str
    env: str | None
    problems: tuple[Problem, ...]
    profile: Profile | None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Composition:
    raw: dict[str, Any]
    layers: list[Layer]
    overrides: list[Override]
    document: dict[str, Any]
    problems: list[Problem]
    secrets: tuple[PathKey, ...]
    unset: dict[PathKey, tuple[str, ...]]
    deps: tuple[Any, ...]
    failed: frozenset[PathKey] = frozenset()
    missing_secrets: dict[PathKey, str] = field(default_factory=dict)
    _prov: list[Provenance] = field(default_factory=list)

    def provenance(self) -> Provenance:
        """The fold again with provenance, done at most once per composition."""
        if not self._prov:
            self._prov.append(_fold_provenance(self.layers, self.overrides, Provenance()))
        return self._prov[0]


class Loader:
    """Loads profiles from one root. Thread-safe; keep one per root to reuse its caches.

    `environ` is read for `${oc.env:...}` and `REALTIME_PROFILES__*` (default: os.environ at
    load time). `resolvers` adds resolvers for this loader only. `local=False` ignores the
    untracked local.yaml (CI should see what git holds). `checks` are extra lints run on
    every valid document (default: the SDK lints of `lints.py`; `()` turns them off).
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
        self.root = Path(root)
        self._tree_dirs = (self.root, self.root / "agents", self.root / "env")
        self._environ = environ
        self._resolvers = default_resolvers(self.root, environ)
        self._custom_resolvers = bool(resolvers)
        if resolvers:
            self._resolvers.update(resolvers)
        self.local = local
        self._validator = validator
        self._checks = SDK_LINTS if checks is None else tuple(checks)
        self._lock = threading.Lock()
        self._layers: OrderedDict[str, tuple[Any, Layer]] = OrderedDict()
        self._profiles: OrderedDict[Any, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._tree: tuple[Any, Tree] | None = None
        self._parse_cache: dict[str, Any] = {}

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
        tree = scan(self.root)
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
        overrides = tuple(overrides)
        key = ("load", agent, env, overrides, strict, self._env_layer_key())
        cached = self._cached(key)
        if cached is not None:
            return _fresh(cached)
        comp = self._compose(agent, env, overrides, lenient=False)
        problems = self._finish(comp, agent, env, strict)
        errors = [p for p in problems if p.severity == "error"]
        self._raise_for_overrides(errors, comp.overrides)
        if comp.missing_secrets and all(_missing_secret(p, comp.missing_secrets) for p in errors):
            names = ", ".join(sorted(set(comp.missing_secrets.values())))
            raise SecretUnavailableError(
                f"{agent}@{env or '-'}: cannot load for use: secret environment variable "
                f"{names} is not set", errors)
        if errors:
            raise ProfileValidationError(
                f"{agent}@{env or '-'}: {summarize(problems)}", problems)
        profile = self._profile(comp, agent, env, overrides, problems)
        self._store(key, comp.deps, profile)
        return _fresh(profile)

    def check(self, agent: str, env: str | None = None, overrides: Iterable[str] = (), *,
              strict: bool = False) -> CheckResult:
        """Every problem of one combination, without raising for them (validate, show).

        Unset secrets are warnings here and appear as `*** (unset: VAR)`.
        """
        overrides = tuple(overrides)
        key = ("check", agent, env, overrides, strict, self._env_layer_key())
        cached = self._cached(key)
        if cached is not None:
            return _fresh_result(cached)
        comp = self._compose(agent, env, overrides, lenient=True)
        problems = self._finish(comp, agent, env, strict)
        self._raise_for_overrides(problems, comp.overrides)
        errors = [p for p in problems if p.severity == "error"]
        profile = None if errors else self._profile(comp, agent, env, overrides, problems)
        result = CheckResult(agent, env, tuple(problems), profile)
        self._store(key, comp.deps, result)
        return _fresh_result(result)

    def explain(self, agent: str, env: str | None, key: str,
                overrides: Iterable[str] = ()) -> Explanation:
        """Where one key's value came from, layer by layer."""
        return self.explain_path(agent, env, parse_key(key, key), overrides)

    def explain_path(self, agent: str, env: str | None, path: PathKey,
                     overrides: Iterable[str] = ()) -> Explanation:
        """`explain` for a path tuple: keys with dots or spaces in them (tracing metadata,
        header names) need no quoting."""
        overrides = tuple(overrides)
        comp = self._compose(agent, env, overrides, lenient=True)
        prov = comp.provenance()
        value = lookup(comp.document, path)
        if value is MISSING and lookup(comp.raw, path) is MISSING:
            parent = lookup(comp.document, path[:-1]) if len(path) > 1 else comp.document
            from .errors import did_you_mean

            hint = did_you_mean(str(path[-1]), list(parent)) if isinstance(parent, dict) \
                else None
            raise UsageError(f"{render_path(path)} is not set in {agent}@{env or '-'}"
                             + (f" ({hint})" if hint else ""))
        if value is MISSING:
            value = lookup(comp.raw, path)
        writes = _writes_for(prov, path)
        hidden = (*comp.secrets, *SECRET_MAPPINGS)
        secret = any(path[: len(s)] == s for s in hidden)
        if secret:  # the real value never leaves through the API either (docs/security.md)
            value = MASK
            writes = [replace(w, value=MASK) for w in writes]
        else:  # `explain model_config`: the secrets inside are *** too
            value = _mask_below(value, path, hidden)
        return Explanation(render_path(path), value, tuple(writes), secret)

    # -- pipeline --------------------------------------------------------------------------
    def _layer(self, source: Source, path: Path) -> tuple[Layer, Any]:
        for _ in range(3):
            before = stat_key(path)
            with self._lock:
                cached = self._layers.get(source.label)
                if cached is not None:
                    self._layers.move_to_end(source.label)
            if cached is not None and cached[0] == before:
                return cached[1], before
            layer = read_layer(source, path)
            after = stat_key(path)
            if before == after:
                with self._lock:
                    self._layers[source.label] = (after, layer)
                    self._layers.move_to_end(source.label)
                    while len(self._layers) > LAYER_CACHE_SIZE:
                        self._layers.popitem(last=False)
                return layer, after
        return layer, after  # a file rewritten three times over: take the last read

    def _compose(self, agent: str, env: str | None, overrides: Sequence[str], *,
                 lenient: bool) -> _Composition:
        tree = self.tree()
        files = layer_files(tree, agent, env, local=self.local)
        env_ovs = env_overrides(self.environ)
        cli_ovs = parse_overrides(overrides)
        layers: list[Layer] = []
        deps: list[Any] = [("tree", tree)]
        for source, path in files:
            layer, key = self._layer(source, path)
            layers.append(layer)
            deps.append(("file", str(path), key))
        deps.extend(("absent", p) for p in _absent_layers(self.root, agent, env, self.local,
                                                          files))
        folder = Folder()
        raw = folder.fold(layers, [*env_ovs, *cli_ovs])
        raw["profile"] = {"agent": agent, "env": env}
        secrets = tuple(path for path, _ in secret_paths(raw))
        interpolator = Interpolator(raw, self._resolvers, self._parse,
                                    secret_paths=frozenset(secrets), lenient_secrets=lenient)
        resolution = interpolator.resolve(OUTPUT_SECTIONS)
        document = resolution.tree
        _expand_shorthand(document)
        problems = [p for layer in layers for p in layer.problems]
        problems.extend(folder.problems)
        problems.extend(resolution.problems)
        deps.extend(interpolator_deps(interpolator, self.root, self.environ))
        if self._custom_resolvers:
            deps.append(("uncacheable", object()))
        comp = _Composition(raw, layers, [*env_ovs, *cli_ovs], document, problems, secrets,
                            resolution.unset_secrets, tuple(deps), resolution.failed,
                            resolution.missing_secrets)
        problems.extend(_secret_problems(comp.provenance, resolution.literal_reads))
        problems.extend(_opaque_secret_containers(raw, layers))
        return comp

    def _finish(self, comp: _Composition, agent: str, env: str | None,
                strict: bool) -> list[Problem]:
        """Validate and lint, then give every problem its file:line (one tracking fold)."""
        problems = list(comp.problems)
        locate = _Locator(comp)
        if not any(p.severity == "error" and not p.path for p in problems):
            problems.extend(p for p in self.validator.problems(comp.document, locate, strict)
                            if not _consequence(p, comp.failed))
            for check in self._checks:
                for path, message, suggestion, *severity in check(comp.document):
                    mark, via = locate(path)
                    always_error = severity == ["error"]
                    problems.append(Problem(render_path(path), message, mark, suggestion,
                                            "error" if strict or always_error else "warning",
                                            via))
        # Not subject to `strict`: a missing secret is about the machine, not the profile,
        # and CI validates without production secrets.
        for path, variables in comp.unset.items():
            mark, via = locate(path)
            problems.append(Problem(
                render_path(path),
                f"secret unavailable: environment variable {', '.join(variables)} is not set",
                mark, "set it before loading this profile for use", "warning", via))
        return list(sorted_problems(locate.attach(p) for p in problems))

    def _raise_for_overrides(self, problems: Sequence[Problem],
                             overrides: Sequence[Override]) -> None:
        """A problem located on a command-line override is a usage error (exit 2)."""
        marks = {ov.mark for ov in overrides if ov.source.kind == "override"}
        bad = [p for p in problems if p.severity == "error" and p.mark in marks]
        if bad:
            raise UsageError("invalid override: " + summarize(bad), bad)

    def _profile(self, comp: _Composition, agent: str, env: str | None,
                 overrides: Sequence[str], problems: Sequence[Problem]) -> Profile:
        doc = comp.document
        return Profile(
            agent=agent,
            env=env,
            run_config=doc.get("run_config") or {},
            model_config=doc.get("model_config") or {},
            start_messages=doc.get("start_messages") or [],
            client_messages=doc.get("client_messages") or [],
            warnings=tuple(p for p in problems if p.severity == "warning"),
            _secrets=comp.secrets,
            _explainer=lambda key: self.explain(agent, env, key, overrides),
        )

    def _parse(self, text: str) -> Any:
        """OmegaConf's grammar parse of an interpolation string, memoized per loader."""
        cached = self._parse_cache.get(text)
        if cached is None:
            from omegaconf.grammar_parser import parse

            cached = parse(text)
            if len(self._parse_cache) < 4096:
                self._parse_cache[text] = cached
        return cached

    # -- caching ---------------------------------------------------------------------------
    def _env_layer_key(self) -> tuple[tuple[str, str], ...]:
        environ = self.environ
        prefix = "REALTIME_PROFILES__"
        return tuple(sorted((k, environ[k]) for k in environ if k.startswith(prefix)))

    def _cached(self, key: Any) -> Any:
        with self._lock:
            entry = self._profiles.get(key)
        if entry is None:
            return None
        deps, value = entry
        if not self._deps_fresh(deps):
            return None
        return value

    def _store(self, key: Any, deps: tuple[Any, ...], value: Any) -> None:
        if any(d[0] == "uncacheable" for d in deps):
            return
        with self._lock:
            self._profiles[key] = (deps, value)
            self._profiles.move_to_end(key)
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)

    def _deps_fresh(self, deps: tuple[Any, ...]) -> bool:
        environ = self.environ
        for dep in deps:
            kind = dep[0]
            if kind == "tree":
                if self.tree() is not dep[1]:
                    return False
            elif kind == "file":
                if stat_key(Path(dep[1])) != dep[2]:
                    return False
            elif kind == "absent":
                if Path(dep[1]).exists():
                    return False
            elif kind == "env" and environ.get(dep[1]) != dep[2]:
                return False
        return True


def _mask_below(value: Any, path: PathKey, secrets: Sequence[PathKey]) -> Any:
    """`value` (found at `path`) with every secret below it replaced by ***."""
    below = [s[len(path):] for s in secrets if len(s) > len(path) and s[: len(path)] == path]
    below = [rest for rest in below if lookup(value, rest) is not MISSING]
    if not below:
        return value
    value = _copy(value)
    for rest in below:
        _set(value, rest, MASK)
    return value


def _consequence(problem: Problem, failed: frozenset[PathKey]) -> bool:
    """Whether a schema problem only follows from a value that failed to resolve (already
    reported): it is at or inside that value, or it judges a container above it by contents
    the failure changed (a failed value is left out of a mapping and is null in a list): the
    failed key is missing, the list has duplicates, the mapping or list fits no shape."""
    if not failed:
        return False
    path = parse_dotted(problem.path)
    message = problem.message
    for f in failed:
        if path[: len(f)] == f:
            return True
        if len(path) >= len(f) or f[: len(path)] != path:
            continue
        if (message == f"missing required key {f[-1]!r}" and len(path) == len(f) - 1) \
                or message == "has duplicate items" \
                or (message.startswith("expected ") and (", got mapping" in message
                                                         or ", got list" in message)):
            return True
    return False


def _opaque_secret_containers(raw: Mapping[str, Any],
                              layers: Sequence[Layer]) -> Iterator[Problem]:
    """`model_config: ${vars.x}` or `headers: ${vars.h}` would bring secrets in wholesale,
    where no secret rule sees them (secret paths are known before interpolation): refused."""
    for path in (("model_config",), ("model_config", "headers")):
        value = lookup(raw, path)
        if isinstance(value, str) and "${" in value:
            # located where the reference is written (the last layer to write it)
            mark = next((m for layer in reversed(layers) if (m := layer.marks.get(path))),
                        None)
            yield Problem(
                render_path(path),
                "holds secrets, so it cannot be a ${...} reference: its values could be "
                "neither checked for literals nor masked", mark,
                "write it as a mapping here; each value may be ${oc.env:NAME} or ${vars.x}")


def _fresh_result(result: CheckResult) -> CheckResult:
    """A cached check handed out with its own copy of the profile: a caller that edits the
    dicts cannot change what the next check of the same combination says."""
    if result.profile is None:
        return result
    return replace(result, profile=_fresh(result.profile))


def _fresh(profile: Profile) -> Profile:
    """A cached profile handed out with its own copies of the dicts."""
    return replace(profile, run_config=_copy(profile.run_config),
                   model_config=_copy(profile.model_config),
                   start_messages=_copy(profile.start_messages),
                   client_messages=_copy(profile.client_messages))


def _absent_layers(root: Path, agent: str, env: str | None, local: bool,
                   found: Sequence[tuple[Source, Path]]) -> list[str]:
    """The layer files that do not exist (a cached profile is stale once one appears)."""
    present = {source.kind for source, _ in found}
    base = os.fspath(root)
    return [os.path.join(base, *parts)  # noqa: PTH118 - strings: this runs per load
            for kind, parts in layer_candidates(agent, env, local=local)
            if kind not in present]


def interpolator_deps(interpolator: Interpolator, root: Path,
                      environ: Mapping[str, str]) -> list[Any]:
    """What a resolution read from outside the tree: env vars and files, to revalidate."""
    deps: list[Any] = []
    for name, args in interpolator.calls:
        if name == "oc.env" and args and isinstance(args[0], str):
            deps.append(("env", args[0], environ.get(args[0])))
        elif name == "file" and args and isinstance(args[0], str):
            path = root / args[0]
            deps.append(("file", str(path), stat_key(path)))
    return deps


def _expand_shorthand(document: dict[str, Any]) -> None:
    """`start_messages: ["Hi"]` -> one user message with one input_text part each."""
    messages = document.get("start_messages")
    if isinstance(messages, list):
        document["start_messages"] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": m}]}
            if isinstance(m, str) else m
            for m in messages
        ]


def _missing_secret(problem: Problem, missing: Mapping[PathKey, str]) -> bool:
    """Whether `problem` is the one saying that a secret's environment variable is unset."""
    name = missing.get(parse_dotted(problem.path))
    return name is not None and problem.message == f"environment variable {name} is not set"


def _secret_problems(provenance: Callable[[], Provenance],
                     literal_reads: Mapping[PathKey, Sequence[PathKey]]) -> Iterator[Problem]:
    """A secret that draws on a literal written in a tracked file, through references at any
    depth (the secret's own literals were checked per file when parsed), at the secret."""
    if not literal_reads:
        return
    prov = provenance()
    for path, literals in literal_reads.items():
        secret_write = _last_write(prov, path)
        for literal in literals:
            write = _last_write(prov, literal)
            if write is None or write.source is None or not write.source.tracked:
                continue
            where = f" at {write.mark.render()}" if write.mark is not None else ""
            yield Problem(render_path(path),
                          "a secret must come from ${oc.env:...} or ${file:...}; it draws on "
                          f"{render_path(literal)}, a literal written{where} in a tracked file",
                          secret_write.mark if secret_write is not None else None,
                          "move the value to an environment variable")


def _last_write(prov: Provenance, path: PathKey) -> Write | None:
    """The write that won at `path` or, if none is recorded there, its nearest ancestor."""
    for cut in range(len(path), 0, -1):
        chain = prov.writes.get(path[:cut])
        if chain:
            return chain[-1]
    return None


def _fold_provenance(layers: Sequence[Layer], overrides: Sequence[Override],
                     prov: Provenance) -> Provenance:
    """The fold again, recording who wrote what (the hot path folds without it)."""
    Folder(prov).fold(layers, overrides)
    return prov


def _writes_for(prov: Provenance, path: PathKey) -> list[Write]:
    """The writes at `path`; inside a referenced value, those of what it refers to."""
    writes = prov.chain(path)
    if writes:
        return writes
    for cut in range(len(path) - 1, 0, -1):
        chain = prov.chain(path[:cut])
        if chain:
            target = ref_target(chain[-1].value)
            if target is not None:
                return [*chain, *_writes_for(prov, target + path[cut:])]
            return chain
    return []


class _Locator:
    """Maps a path to the mark of the write that won there, folding with provenance once."""

    def __init__(self, comp: _Composition) -> None:
        self.comp = comp
        self._prov: Provenance | None = None

    def provenance(self) -> Provenance:
        if self._prov is None:
            self._prov = self.comp.provenance()
        return self._prov

    def __call__(self, path: PathKey, key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        return self._locate(path, (path,), 1, key)

    def _locate(self, path: PathKey, seen: tuple[PathKey, ...], floor: int,
                key: bool = False) -> tuple[Mark | None, tuple[Mark, ...]]:
        """The last write at `path` or its nearest written ancestor (not above `floor`);
        a write that is a pure reference is followed to where the value was defined (unless
        the question is where the key itself was written)."""
        prov = self.provenance()
        for cut in range(len(path), floor - 1, -1):
            chain = prov.writes.get(path[:cut])
            if not chain:
                continue
            last = chain[-1]
            target = ref_target(last.value)
            if target is not None and not (key and cut == len(path)):
                followed = target + path[cut:]
                if followed in seen and len(seen) > 1:
                    return None, ()  # a cycle: located where the first reference of it is
                if len(seen) < 16 and followed not in seen:
                    mark, via = self._locate(followed, (*seen, followed), len(target))
                    if mark is not None:
                        return mark, (*(m for m in (last.mark,) if m is not None), *via)
            return last.mark, ()
        return None, ()

    def attach(self, problem: Problem) -> Problem:
        if problem.mark is not None or not problem.path:
            return problem
        mark, via = self(parse_dotted(problem.path))
        return replace(problem, mark=mark, via=via)


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
