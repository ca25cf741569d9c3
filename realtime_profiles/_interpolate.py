"""Resolve `${...}` in a folded tree with OmegaConf's grammar, over plain dicts.

OmegaConf defines what an interpolation means: we parse with its grammar and evaluate with its
`GrammarVisitor`, so escapes (`\\${`), nesting, string concatenation and typed resolver
arguments behave exactly as in OmegaConf. What we supply are the two callbacks: node lookup in
our plain tree (no DictConfig is built, which is most of OmegaConf's cost) and resolver calls
into this loader's own table (OmegaConf's is process-global). A pure `${a.b}` reference skips
the parser; a property test holds both paths equal to `OmegaConf.to_container(resolve=True)`.

Fast path: a string made only of plain text, `${a.b}` references and resolver calls with plain
unquoted arguments (`realtime-${profile.agent}`, `${oc.env:GIT_SHA,unknown}`,
`${file:prompts/x.md}`) is split by a regular expression instead of ANTLR and evaluated with the
same callbacks, in the same order, joined the way `GrammarVisitor` joins. Anything else (escapes,
quotes, nesting, whitespace, an argument that OmegaConf would type: `1`, `true`, `null`, `inf`)
takes OmegaConf's parser and visitor. tests/test_fast_paths.py holds the two paths equal, values
and problems, on random strings and trees.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from . import _omegaconf, _secrets
from ._layer import Verbatim
from ._limits import (
    MAX_DEPTH,
    MAX_EXPANDED_CHARS,
    MAX_EXPANDED_VALUES,
    MAX_RESULT_CHARS,
    PARSE_CACHE_SIZE,
)
from ._paths import MISSING, PathKey, get, kind_of, ref_parts, render_path
from ._resolvers import MissingVariableError, Reads, Resolver, ResolverError
from .errors import Problem, Suggestions, mean


class ParseCache:
    """Parses of interpolation strings (the fast path's pieces, OmegaConf's grammar trees),
    memoized for one Loader and bounded: the same strings recur in every profile of a tree."""

    def __init__(self, size: int = PARSE_CACHE_SIZE) -> None:
        self.size = size
        self._pieces: dict[str, tuple[Piece, ...] | None] = {}
        self._trees: dict[str, Any] = {}

    def pieces(self, text: str) -> tuple[Piece, ...] | None:
        if text in self._pieces:
            return self._pieces[text]
        pieces = simple_pieces(text)
        if len(self._pieces) < self.size:
            self._pieces[text] = pieces
        return pieces

    def tree(self, text: str) -> Any:
        """OmegaConf's parse tree, or the grammar's exception."""
        cached = self._trees.get(text)
        if cached is None:
            cached = _omegaconf.parse(text)
            if len(self._trees) < self.size:
                self._trees[text] = cached
        return cached


_FAILED: Final = object()

# OmegaConf's and Hydra's "must be set" marker. Plain text to the merge (a higher layer
# replaces it like any value), but never sent: a reference to it fails as in OmegaConf, and
# one left in the document is an error (`_compose`).
MUST_SET: Final = "???"
MUST_SET_HINT: Final = ("set it in a higher layer, with an override or a REALTIME_PROFILES__ "
                        "variable")


class _Failed(Exception):
    """Resolution of one path failed; the problem is recorded, dependants fail quietly."""


@dataclass
class Resolution:
    """The resolved tree plus what the secret checks and the error report need."""

    tree: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    unset_secrets: dict[PathKey, tuple[str, ...]] = field(default_factory=dict)
    failed: frozenset[PathKey] = frozenset()
    # variables a secret needs that are unset, when loading for use: the path of each
    # problem that says so -> the variable
    missing_secrets: dict[PathKey, str] = field(default_factory=dict)
    # path -> the paths its own text referred to (whether or not they resolved)
    edges: dict[PathKey, list[PathKey]] = field(default_factory=dict)
    # path -> the outside sources its own text read (`_secrets.source_id`)
    sources: dict[PathKey, set[tuple[str, Any]]] = field(default_factory=dict)
    # outside source -> the text it gave (a variable's value, a file's content)
    outputs: dict[tuple[str, Any], str] = field(default_factory=dict)


class Interpolator:
    """Resolves one raw tree. Cheap to create: one per resolution."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        resolvers: Mapping[str, Resolver],
        parser: ParseCache | None = None,
        *,
        secret_paths: frozenset[PathKey] = frozenset(),
        lenient_secrets: bool = False,
        fast_path: bool = True,
        holes: frozenset[PathKey] = frozenset(),
        reads: Reads | None = None,
    ) -> None:
        self.raw = raw
        # Paths left open (per-call overridable values): they resolve to `Hole`s, and what
        # uses them to `Template`s, so a call can fill them in without resolving again.
        self.holes = holes
        self._hole_parents = {h[:cut] for h in holes for cut in range(1, len(h))}
        self.fast_path = fast_path
        self.resolvers = resolvers
        self.parser = parser if parser is not None else ParseCache()
        self.secret_paths = secret_paths
        self.lenient = lenient_secrets
        self.reads = reads if reads is not None else Reads()
        self.suggest: Suggestions = self.reads.suggest
        self.done: dict[PathKey, Any] = {}
        self.active: list[PathKey] = []
        self.missing_stack: list[set[str]] = []
        self.result = Resolution({})
        self.edges = self.result.edges
        self.sources = self.result.sources
        self.secret_depth = 0
        self.failed: set[PathKey] = set()  # every path known to fail (a memo)
        # The paths whose own value failed (a string), not a container that only lost a part:
        # validation skips these and what lies below them, and still checks the rest.
        self.own_failed: set[PathKey] = set()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.expanded = [0, 0]  # values, characters produced by references and resolvers

    def resolve(self, sections: tuple[str, ...]) -> Resolution:
        """Resolve the named sections (others, like `vars`, only as far as referenced).

        A value that fails is left out (its container keeps the rest), and its path is
        recorded in `failed`, so validation does not pile consequences onto the one mistake;
        its containers are not recorded: every other problem in them is still reported.
        """
        tree: dict[str, Any] = {}
        for name in sections:
            if name in self.raw:
                value = self._partial((name,))
                if value is not _FAILED:  # `run_config: ${vars.missing}`: left out, reported
                    tree[name] = value
        self.result.tree = tree
        self.result.failed = frozenset(self.own_failed)
        return self.result

    def _partial(self, path: PathKey) -> Any:
        """`value_at`, but a failing container yields its resolvable parts."""
        try:
            return self.value_at(path)
        except _Failed:
            raw = get(self.raw, path)
            if isinstance(raw, dict):
                return {k: v for k in raw if (v := self._partial((*path, k))) is not _FAILED}
            if isinstance(raw, list):
                return [None if v is _FAILED else v
                        for v in (self._partial((*path, i)) for i in range(len(raw)))]
            return _FAILED

    # -- nodes -----------------------------------------------------------------------------
    def value_at(self, path: PathKey, raw: Any = MISSING) -> Any:
        """The resolved value at `path` (memoized; cycles reported). `raw`, when the caller
        has it, is the unresolved value there (saves looking it up from the root)."""
        if self.holes:
            hole = self._hole(path)
            if hole is not None:
                return Hole(hole, path[len(hole):])
        if path in self.done:
            return self.done[path]
        self._refuse_known_failure(path)
        if raw is MISSING:
            raw = get(self.raw, path)
            if raw is MISSING:
                raise KeyError(path)
        secret = path in self.secret_paths
        # Unset variables are collected only on the way to a secret (they make it unset).
        tracking = secret or self.secret_depth > 0
        self.active.append(path)
        if tracking:
            self.missing_stack.append(set())
        self.secret_depth += secret
        missing: set[str] = set()
        try:
            value = self._resolve_value(raw, path)
        except _Failed:
            self.failed.add(path)
            if not isinstance(raw, dict | list):
                self.own_failed.add(path)
            raise
        finally:
            self.secret_depth -= secret
            self.active.pop()
            if tracking:
                missing = self.missing_stack.pop()
                if self.missing_stack:
                    self.missing_stack[-1].update(missing)
        if secret and missing:
            self.result.unset_secrets[path] = tuple(sorted(missing))
            value = _secrets.UnsetSecret(tuple(sorted(missing)))
        self.done[path] = value
        return value

    def value_or_missing(self, path: PathKey) -> Any:
        """The resolved value at `path`, or MISSING when it is not set or fails (the failure
        is reported in the resolution's problems)."""
        try:
            return self.value_at(path)
        except (KeyError, _Failed):
            return MISSING

    def _refuse_known_failure(self, path: PathKey) -> None:
        """Fail at once for a path that failed before, or that is being resolved (a cycle)."""
        if path in self.failed:
            raise _Failed
        if path in self.active:
            cycle = " -> ".join(render_path(p) for p in (*self.active[self.active.index(path):],
                                                         path))
            self._problem(path, "cycle", f"interpolation cycle: {cycle}",
                          "one of these must hold a value instead of a reference")
            raise _Failed

    def _hole(self, path: PathKey) -> PathKey | None:
        """The open path `path` is or lies under, if any."""
        for hole in self.holes:
            if path[: len(hole)] == hole:
                return hole
        return None

    def _needs_work(self, path: PathKey, child: Any) -> Any:
        """`_inert_copy(child)`, except that a path on the way to a hole always needs work."""
        if self.holes and (path in self._hole_parents or self._hole(path) is not None):
            return _NEEDS_WORK
        return _inert_copy(child)

    def _resolve_value(self, raw: Any, path: PathKey) -> Any:
        if isinstance(raw, str):
            if "${" not in raw:
                return raw
            return self._resolve_string(raw, path)
        if isinstance(raw, Verbatim):  # a caller's value: data, never a template
            return copy_value(raw.value)
        if isinstance(raw, dict):
            return self._resolve_mapping(raw, path)
        if isinstance(raw, list):
            return self._resolve_list(raw, path)
        return raw

    def _resolve_mapping(self, raw: dict[str, Any], path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        failed = False
        for key, child in raw.items():
            value = self._needs_work((*path, key), child)
            if value is not _NEEDS_WORK:  # what value_at would return; nothing to record
                out[key] = value
                continue
            try:
                out[key] = self.value_at((*path, key), child)
            except _Failed:
                failed = True
        if failed:
            raise _Failed
        return out

    def _resolve_list(self, raw: list[Any], path: PathKey) -> list[Any]:
        items = []
        failed = False
        for index, item in enumerate(raw):
            value = self._needs_work((*path, index), item)
            if value is not _NEEDS_WORK:
                items.append(value)
                continue
            try:
                items.append(self.value_at((*path, index), item))
            except _Failed:
                failed = True
        if failed:
            raise _Failed
        return items

    def _resolve_string(self, text: str, path: PathKey) -> Any:
        if len(self.active) > MAX_DEPTH:
            self._problem(path, "limit", f"interpolation nested deeper than {MAX_DEPTH} levels")
            raise _Failed
        target = ref_parts(text)
        if target is not None:
            return self._node(target, path, text)
        pieces = self.parser.pieces(text) if self.fast_path else None
        if pieces is not None:
            return self._guarded(lambda: self._evaluate(pieces, path, text), path, text)
        try:
            # `${oc.env:X,}`: OmegaConf reads the missing element as '' and says so with a
            # UserWarning on stderr, unlocated; writing the '' gives the same value quietly.
            tree = self.parser.tree(_omegaconf.fill_empty_args(text))
        except Exception as exc:  # noqa: BLE001 - the grammar's errors have no common base
            self._problem(path, "interpolation-syntax",
                          f"invalid interpolation {text!r}: {_first_line(exc)}",
                          "escape a literal ${ as \\${")
            raise _Failed from None

        def node_callback(key: Any, memo: Any) -> Any:
            parts: tuple[str | int, ...] = tuple(key.parts)
            if key.relative_dots:
                if key.relative_dots > len(path):  # `${...x}` above the root
                    self._problem(path, "reference-missing", f"{text} refers above the "
                                  "top of the profile", "use fewer leading dots")
                    raise _Failed
                parts = path[: len(path) - key.relative_dots] + parts
            value = self._node(parts, path, text)
            if isinstance(value, Hole | Template):
                self._problem(path, "call-contract",
                              f"{render_path(_hole_of(value))} may be overridden per call, so "
                              f"it can only be used whole (${{...}}) or in plain text around "
                              f"references, not in {text!r}",
                              "move the escape, quote, nesting or resolver call elsewhere")
                raise _Failed
            return value

        def resolver_callback(name: str, args: tuple[Any, ...], args_str: tuple[str, ...]) -> Any:
            return self._call(name, args, path, text)

        return self._guarded(lambda: _omegaconf.evaluate(tree, node_callback, resolver_callback),
                             path, text)

    def _guarded(self, evaluate: Callable[[], Any], path: PathKey, text: str) -> Any:
        """Run one evaluation (fast path or OmegaConf's visitor): a resolver's own failure
        becomes a located problem, and a runaway result is refused."""
        try:
            value = evaluate()
        except _Failed:
            raise
        except Exception as exc:  # noqa: BLE001 - a resolver or the visitor; reported, located
            self._problem(path, "resolver", f"cannot resolve {text!r}: {_first_line(exc)}")
            raise _Failed from None
        if isinstance(value, str) and len(value) > MAX_RESULT_CHARS:
            self._problem(path, "limit",
                          f"interpolation result is over {MAX_RESULT_CHARS} characters")
            raise _Failed
        return value

    def _evaluate(self, pieces: tuple[Piece, ...], path: PathKey, text: str) -> Any:
        """What `GrammarVisitor.visitText` gives for a string `simple_pieces` accepted: one
        interpolation keeps its value as is; otherwise str() of each value, joined."""
        if len(pieces) == 1:
            return self._piece(pieces[0], path, text)
        parts: list[str] = []
        open_parts: list[str | Hole] | None = None  # set once a hole is met
        escaped_missing = False
        for piece in pieces:
            if piece[0] == "text":
                parts.append(piece[1])
                continue
            value = self._piece(piece, path, text)
            if isinstance(value, Hole | Template):
                open_parts = [*(open_parts or []), "".join(parts)] if parts else \
                    [*(open_parts or [])]
                open_parts.extend(value.parts if isinstance(value, Template) else (value,))
                parts = []
                continue
            if type(value) not in _PLAIN_TYPES:  # e.g. a custom resolver's OmegaConf node
                value, escaped = _omegaconf.plain_value(value)
                escaped_missing |= escaped
            parts.append(str(value))
        if open_parts is not None:
            return Template(tuple(p for p in (*open_parts, "".join(parts)) if p != ""))
        result = "".join(parts)
        return _omegaconf.escaped_missing(result) if escaped_missing else result

    def _piece(self, piece: Piece, path: PathKey, text: str) -> Any:
        if piece[0] == "node":
            return self._node(piece[1], path, text)
        return self._call(piece[1], piece[2], path, text)

    def _node(self, target: tuple[str | int, ...], path: PathKey, text: str) -> Any:
        if target and target[0] == "profile" and "profile" not in self.raw:
            self._problem(path, "reference-missing", f"{text}: no such key")
            raise _Failed
        value = self._select(target, path, text)
        if isinstance(value, str) and value == MUST_SET:
            shown = render_path(tuple(_shown(p) for p in target))
            self._problem(path, "missing-value", f"{text} refers to {shown}, which is "
                          f"{MUST_SET}: a value that must be set", MUST_SET_HINT)
            raise _Failed
        self._spend(value, path)
        # A referenced container is copied: the same object never sits at two places.
        return copy_value(value) if isinstance(value, dict | list) else value

    def _select(self, target: tuple[str | int, ...], path: PathKey, text: str) -> Any:
        """The resolved value `target` names, with OmegaConf's rules: a segment is a key on a
        mapping and an index on a list (`int()` of its text; negative counts from the end),
        and the path may pass through references and presets (`${vars.b.aa}` where
        `b: ${vars.a}`), which are resolved on the way."""
        node: Any = self.raw
        at: list[str | int] = []  # the path walked so far, lists by index
        through = False  # past a reference: `node` is resolved data, not the raw tree
        for number, segment in enumerate(target):
            if not through and at and isinstance(node, str) and "${" in node:
                self.edges.setdefault(path, []).append(tuple(at))
                node = self.value_at(tuple(at))
                through = True
            key = self._step(node, segment, tuple(at), target[number:], path=path, text=text)
            at.append(key)
            node = node[key]
        if through:
            return node
        self.edges.setdefault(path, []).append(tuple(at))
        return self.value_at(tuple(at), node)

    def _step(self, node: Any, segment: str | int, at: PathKey, rest: tuple[str | int, ...], *,
              path: PathKey, text: str) -> str | int:
        """The key `segment` selects in `node` (found at `at`), or a problem that says why
        there is none."""
        if isinstance(node, dict):
            key = segment if isinstance(segment, str) else str(segment)
            if key in node:
                return key
        elif isinstance(node, list):
            index = _index(segment)
            if index is not None and -len(node) <= index < len(node):
                return index + len(node) if index < 0 else index
        # no such key: say why (rendered here only, off the path every valid reference takes)
        after = tuple(_shown(p) for p in rest[1:])
        wanted = render_path((*at, _shown(segment), *after))
        if isinstance(node, dict):
            key = segment if isinstance(segment, str) else str(segment)
            hint = mean(self.suggest.closest(key, node))
            self._problem(path, "reference-missing",
                          f"{text} refers to {wanted}, which is not set", hint)
            raise _Failed
        if isinstance(node, list):
            index = _index(segment)
            if index is None:
                self._problem(path, "reference-missing",
                              f"{text} refers to {wanted}, but {render_path(at)} is a list: "
                              f"{segment!s} is not an index",
                              "index a list with a number: 0 is the first item, -1 the last")
                raise _Failed
            position = index + len(node) if index < 0 else index
            if not 0 <= position < len(node):
                wanted = render_path((*at, index, *after))
                self._problem(path, "reference-missing",
                              f"{text} refers to {wanted}, but {render_path(at)} has "
                              f"{len(node)} item{'s' * (len(node) != 1)} (no index {index})")
                raise _Failed
            return position
        self._problem(path, "reference-missing",
                      f"{text} refers to {wanted}, but {render_path(at) or 'the profile'} is "
                      f"{kind_of(node)}, which has no {segment!s}",
                      "refer to the value itself, or make it a mapping")
        raise _Failed

    def _spend(self, value: Any, path: PathKey) -> None:
        """Charge a reference's or resolver's result to the expansion budget (weighed before
        it is copied); past the budget every further expansion fails."""
        values, chars = self.expanded
        over = values > MAX_EXPANDED_VALUES or chars > MAX_EXPANDED_CHARS
        if not over:
            more = _weigh(value, MAX_EXPANDED_VALUES - values + 1, MAX_EXPANDED_CHARS - chars + 1)
            self.expanded = [values + more[0], chars + more[1]]
            if self.expanded[0] > MAX_EXPANDED_VALUES or self.expanded[1] > MAX_EXPANDED_CHARS:
                self._problem(path, "limit",
                              f"references expand to more than {MAX_EXPANDED_VALUES} "
                              f"values or {MAX_EXPANDED_CHARS} characters (a reference "
                              "bomb?); refusing to expand further")
                over = True
        if over:
            raise _Failed

    def _call(self, name: str, args: tuple[Any, ...], path: PathKey, text: str) -> Any:
        resolver = self.resolvers.get(name)
        if resolver is None:
            self._problem(path, "unknown-resolver", f"unknown resolver {name!r} in {text!r}",
                          mean(self.suggest.closest(name, self.resolvers)) or
                          "known: " + ", ".join(sorted(self.resolvers)) + "; add one with "
                          "Loader(resolvers=...), or on the command line --plugin module:attr")
            raise _Failed
        self.calls.append((name, args))
        files = len(self.reads.files)
        try:
            result = resolver(*args)
        except MissingVariableError as exc:
            if self.secret_depth and self.lenient:
                self.missing_stack[-1].add(exc.name)
                return _secrets.unset_placeholder(exc.name)
            if self.secret_depth:  # the variable is a secret's: unavailable, not invalid
                self.result.missing_secrets[path] = exc.name
                self._problem(path, "secret-unavailable", str(exc), _secrets.UNSET_ADVICE)
            else:
                self._problem(path, "env-unset", str(exc), exc.suggestion)
            raise _Failed from None
        except ResolverError as exc:
            self._problem(path, "resolver", str(exc), exc.suggestion)
            raise _Failed from None
        finally:  # what this path read from outside the tree, read or not
            found = self.sources.setdefault(path, set())
            read = [_secrets.source_id(name, args),
                    *(("inode", key[0]) for _, key in self.reads.files[files:] if key)]
            found.update(read)
        if isinstance(result, str):  # what was read: a secret's never enters a fingerprint
            outputs = self.result.outputs
            for source in read:
                outputs[source] = result
        self._spend(result, path)
        return result

    def _problem(self, path: PathKey, code: str, message: str,
                 suggestion: str | None = None) -> None:
        if self.secret_depth:  # the text being resolved may be (or hold) the secret
            message = _secrets.unquoted(message, get(self.raw, path),
                                        drop_tail=code == "interpolation-syntax")
        self.result.problems.append(Problem(path, code, message, None, suggestion))


def _index(segment: str | int) -> int | None:
    """A list index from a reference segment, as OmegaConf reads it (`int()`: `-1`, `+1`,
    `01`, `1_0`), or None."""
    if isinstance(segment, int):
        return segment
    try:
        return int(segment)
    except ValueError:
        return None


def _shown(segment: str | int) -> str | int:
    """A segment as the reference wrote it, for messages: `list.-1` reads `[-1]`."""
    index = _index(segment) if isinstance(segment, str) and segment[:1] in "-+" else None
    return index if index is not None else segment


def _weigh(value: Any, max_values: int, max_chars: int) -> tuple[int, int]:
    """(values, characters) in `value`, counting no further than either limit."""
    values = chars = 0
    stack = [value]
    while stack and values < max_values and chars < max_chars:
        node = stack.pop()
        values += 1
        if isinstance(node, str):
            chars += len(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
            chars += sum(len(k) for k in node if isinstance(k, str))
        elif isinstance(node, list):
            stack.extend(node)
    return values, chars


_ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def copy_value(value: Any) -> Any:
    """`copy.deepcopy` of resolved data without its memo machinery: plain dicts and lists are
    rebuilt, plain scalars shared (deepcopy shares them too), anything else deep-copied."""
    kind = type(value)
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if kind is list:
        return [copy_value(item) for item in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


_NEEDS_WORK: Final = object()


def _inert_copy(value: Any) -> Any:
    """What value_at returns for a value with nothing to resolve anywhere inside (the value,
    or a fresh copy of a container), or `_NEEDS_WORK` at the first `${` found."""
    if isinstance(value, str):
        return _NEEDS_WORK if "${" in value else value
    if isinstance(value, Verbatim):
        return copy_value(value.value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            copied = _inert_copy(item)
            if copied is _NEEDS_WORK:
                return _NEEDS_WORK
            out[key] = copied
        return out
    if isinstance(value, list):
        items = []
        for item in value:
            copied = _inert_copy(item)
            if copied is _NEEDS_WORK:
                return _NEEDS_WORK
            items.append(copied)
        return items
    return value


# -- holes: values left open for per-call overrides -----------------------------------------

class Hole(NamedTuple):
    """The value of an open (call-overridable) path `entry`, at `rest` below it."""

    entry: PathKey
    rest: PathKey


class Template(NamedTuple):
    """A string made of plain text and open values, filled in per call."""

    parts: tuple[str | Hole, ...]


def _hole_of(value: Hole | Template) -> PathKey:
    if isinstance(value, Hole):
        return value.entry
    return next(p.entry for p in value.parts if isinstance(p, Hole))


# -- the fast path -------------------------------------------------------------------------

# ("text", str) | ("node", PathKey) | ("call", resolver name, args)
Piece = tuple[Any, ...]

_PLAIN_TYPES: Final = frozenset({str, int, float, bool, type(None), dict, list})
_KEY: Final = r"[A-Za-z0-9_-]+"
_NAME: Final = r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*"
# Characters that OmegaConf's lexer reads as ID, UNQUOTED_CHAR, COLON, INT or FLOAT tokens
# inside resolver arguments; no quotes, escapes, whitespace, `$`, `?`, brackets or `=`.
_ARG: Final = r"[A-Za-z0-9_/.:@%+*|-]+"
_PIECE: Final = re.compile(
    rf"\$\{{(?:(?P<name>{_NAME}):(?P<args>{_ARG}(?:,{_ARG})*)|(?P<node>{_KEY}(?:\.{_KEY})*))\}}"
    r"|(?P<text>[^$\\]+)"
)
# An argument the grammar would turn into a number, a boolean or null: left to OmegaConf.
_TYPED_ARG: Final = re.compile(r"[+-]?(?:[0-9_.]+(?:[eE][+-]?[0-9_]+)?|inf|nan|true|false|null)",
                               re.IGNORECASE)


def simple_pieces(text: str) -> tuple[Piece, ...] | None:
    """`text` split into literal text, references and resolver calls, or None when the string
    uses anything beyond that (then OmegaConf's parser and visitor evaluate it). A pure
    function of `text` (`ParseCache` memoizes it per loader)."""
    pieces: list[Piece] = []
    position = 0
    while position < len(text):
        match = _PIECE.match(text, position)
        if match is None:
            return None
        position = match.end()
        if match.group("text") is not None:
            pieces.append(("text", match.group("text")))
        elif match.group("node") is not None:
            pieces.append(("node", tuple(match.group("node").split("."))))
        else:
            args = tuple(match.group("args").split(","))
            if any(_TYPED_ARG.fullmatch(arg) for arg in args):
                return None
            pieces.append(("call", match.group("name"), args))
    if not pieces or all(p[0] == "text" for p in pieces):
        return None
    return tuple(pieces)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["Interpolator", "ParseCache", "Resolution", "simple_pieces"]
