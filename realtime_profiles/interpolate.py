"""Resolve `${...}` in a folded tree with OmegaConf's grammar, over plain dicts.

OmegaConf defines what an interpolation means: we parse with its grammar and evaluate with its
`GrammarVisitor`, so escapes (`\\${`), nesting, string concatenation and typed resolver
arguments behave exactly as in OmegaConf. What we supply are the two callbacks: node lookup in
our plain tree (no DictConfig is built, which is most of OmegaConf's cost) and resolver calls
into this loader's own table (OmegaConf's is process-global). A pure `${a.b}` reference skips
the parser; a property test holds both paths equal to `OmegaConf.to_container(resolve=True)`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import Problem, did_you_mean
from .layers import PathKey, render_path
from .merge import MISSING, lookup, parse_dotted, ref_target
from .resolvers import SECRET_SOURCES, MissingVariableError, Resolver, ResolverError

MAX_DEPTH: Final = 64
MAX_RESULT_CHARS: Final = 1_000_000


class UnsetSecret(str):
    """Stand-in for a secret whose variable is unset, in validate/show (never for use)."""

    variables: tuple[str, ...]

    def __new__(cls, variables: tuple[str, ...]) -> UnsetSecret:
        obj = super().__new__(cls, f"*** (unset: {', '.join(variables)})")
        obj.variables = variables
        return obj


_FAILED: Final = object()


class _Failed(Exception):
    """Resolution of one path failed; the problem is recorded, dependants fail quietly."""


@dataclass
class Resolution:
    """The resolved tree plus what the secret checks and the error report need."""

    tree: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    # path -> resolver names used (transitively) while resolving it
    uses: dict[PathKey, frozenset[str]] = field(default_factory=dict)
    unset_secrets: dict[PathKey, tuple[str, ...]] = field(default_factory=dict)
    failed: frozenset[PathKey] = frozenset()
    # variables a secret needs that are unset, when loading for use
    missing_secrets: dict[PathKey, str] = field(default_factory=dict)


class Interpolator:
    """Resolves one raw tree. Cheap to create: one per resolution."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        resolvers: Mapping[str, Resolver],
        parse: Callable[[str], Any],
        *,
        secret_paths: frozenset[PathKey] = frozenset(),
        lenient_secrets: bool = False,
    ) -> None:
        self.raw = raw
        self.resolvers = resolvers
        self.parse = parse
        self.secret_paths = secret_paths
        self.lenient = lenient_secrets
        self.done: dict[PathKey, Any] = {}
        self.active: list[PathKey] = []
        self.use_stack: list[set[str]] = []
        self.missing_stack: list[set[str]] = []
        self.result = Resolution({})
        self.secret_depth = 0
        self.failed: set[PathKey] = set()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def resolve(self, sections: tuple[str, ...]) -> Resolution:
        """Resolve the named sections (others, like `vars`, only as far as referenced).

        A value that fails is left out (its container keeps the rest), and its path is
        recorded in `failed`, so validation does not pile consequences onto the one mistake.
        """
        tree: dict[str, Any] = {}
        for name in sections:
            if name in self.raw:
                tree[name] = self._partial((name,))
        self.result.tree = tree
        self.result.failed = frozenset(self.failed)
        return self.result

    def _partial(self, path: PathKey) -> Any:
        """`value_at`, but a failing container yields its resolvable parts."""
        try:
            return self.value_at(path)
        except _Failed:
            raw = lookup(self.raw, path)
            if isinstance(raw, dict):
                return {k: v for k in raw if (v := self._partial((*path, k))) is not _FAILED}
            if isinstance(raw, list):
                return [None if v is _FAILED else v
                        for v in (self._partial((*path, i)) for i in range(len(raw)))]
            return _FAILED

    # -- nodes -----------------------------------------------------------------------------
    def value_at(self, path: PathKey) -> Any:
        """The resolved value at `path` (memoized; cycles reported)."""
        if path in self.done:
            if self.use_stack and path in self.result.uses:
                self.use_stack[-1].update(self.result.uses[path])
            return self.done[path]
        if path in self.failed:
            raise _Failed
        if path in self.active:
            cycle = " -> ".join(render_path(p) for p in (*self.active[self.active.index(path):],
                                                         path))
            self._problem(path, f"interpolation cycle: {cycle}")
            raise _Failed
        raw = lookup(self.raw, path)
        if raw is MISSING:
            raise KeyError(path)
        secret = path in self.secret_paths
        self.active.append(path)
        self.use_stack.append(set())
        self.missing_stack.append(set())
        self.secret_depth += secret
        try:
            value = self._resolve_value(raw, path)
        except _Failed:
            self.failed.add(path)
            raise
        finally:
            self.secret_depth -= secret
            self.active.pop()
            uses = frozenset(self.use_stack.pop())
            missing = self.missing_stack.pop()
            if self.use_stack:
                self.use_stack[-1].update(uses)
            if self.missing_stack:
                self.missing_stack[-1].update(missing)
        self.result.uses[path] = uses
        if secret and missing:
            self.result.unset_secrets[path] = tuple(sorted(missing))
            value = UnsetSecret(tuple(sorted(missing)))
        self.done[path] = value
        return value

    def _resolve_value(self, raw: Any, path: PathKey) -> Any:
        if isinstance(raw, str):
            if "${" not in raw:
                return raw
            return self._resolve_string(raw, path)
        if isinstance(raw, dict):
            out: dict[str, Any] = {}
            failed = False
            for key in raw:
                try:
                    out[key] = self.value_at((*path, key))
                except _Failed:
                    failed = True
            if failed:
                raise _Failed
            return out
        if isinstance(raw, list):
            items = []
            failed = False
            for index in range(len(raw)):
                try:
                    items.append(self.value_at((*path, index)))
                except _Failed:
                    failed = True
            if failed:
                raise _Failed
            return items
        return raw

    def _resolve_string(self, text: str, path: PathKey) -> Any:
        if len(self.active) > MAX_DEPTH:
            self._problem(path, f"interpolation nested deeper than {MAX_DEPTH} levels")
            raise _Failed
        target = ref_target(text)
        if target is not None:
            return self._node(target, path, text)
        try:
            tree = self.parse(text)
        except Exception as exc:  # noqa: BLE001 - the grammar's errors have no common base
            self._problem(path, f"invalid interpolation {text!r}: {_first_line(exc)}",
                          "escape a literal ${ as \\${")
            raise _Failed from None
        from omegaconf.grammar_visitor import GrammarVisitor

        def node_callback(key: Any, memo: Any) -> Any:
            parts = tuple(int(p) if p.isdigit() else p for p in key.parts)
            if key.relative_dots:
                parts = path[: len(path) - key.relative_dots] + parts
            return self._node(parts, path, text)

        def resolver_callback(name: str, args: tuple[Any, ...], args_str: tuple[str, ...]) -> Any:
            return self._call(name, args, path, text)

        visitor = GrammarVisitor(node_callback, resolver_callback, memo=None)
        try:
            value = visitor.visit(tree)
        except _Failed:
            raise
        except Exception as exc:  # noqa: BLE001 - a resolver or the visitor; reported, located
            self._problem(path, f"cannot resolve {text!r}: {_first_line(exc)}")
            raise _Failed from None
        if isinstance(value, str) and len(value) > MAX_RESULT_CHARS:
            self._problem(path, f"interpolation result is over {MAX_RESULT_CHARS} characters")
            raise _Failed
        return value

    def _node(self, target: PathKey, path: PathKey, text: str) -> Any:
        if target and target[0] == "profile" and "profile" not in self.raw:
            self._problem(path, f"{text}: no such key")
            raise _Failed
        try:
            value = self.value_at(target)
        except KeyError:
            parent = lookup(self.raw, target[:-1]) if len(target) > 1 else self.raw
            hint = did_you_mean(str(target[-1]), list(parent)) if isinstance(parent, dict) \
                else None
            self._problem(path, f"{text} refers to {render_path(target)}, which is not set",
                          hint)
            raise _Failed from None
        # A referenced container is copied: the same object never sits at two places.
        return copy.deepcopy(value) if isinstance(value, dict | list) else value

    def _call(self, name: str, args: tuple[Any, ...], path: PathKey, text: str) -> Any:
        resolver = self.resolvers.get(name)
        if resolver is None:
            self._problem(path, f"unknown resolver {name!r} in {text!r}",
                          did_you_mean(name, self.resolvers) or
                          "known: " + ", ".join(sorted(self.resolvers)))
            raise _Failed
        if self.use_stack:
            self.use_stack[-1].add(name)
        self.calls.append((name, args))
        try:
            return resolver(*args)
        except MissingVariableError as exc:
            if self.secret_depth and self.lenient:
                self.missing_stack[-1].add(exc.name)
                return f"*** (unset: {exc.name})"
            if self.secret_depth:
                secret = next(p for p in self.active if p in self.secret_paths)
                self.result.missing_secrets[secret] = exc.name
            self._problem(path, str(exc), exc.suggestion)
            raise _Failed from None
        except ResolverError as exc:
            self._problem(path, str(exc), exc.suggestion)
            raise _Failed from None

    def _problem(self, path: PathKey, message: str, suggestion: str | None = None) -> None:
        self.result.problems.append(Problem(render_path(path), message, None, suggestion))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def secret_source_used(uses: frozenset[str]) -> bool:
    """Whether a secret came through a resolver that reads outside the tree."""
    return bool(uses & SECRET_SOURCES)


__all__ = ["Interpolator", "Resolution", "UnsetSecret", "parse_dotted"]
