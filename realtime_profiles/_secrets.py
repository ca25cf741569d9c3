"""Every rule about secrets, in one file a reviewer can read whole.

Which paths hold secrets (kept in step with the schema's `x-secret` by a test), what a tracked
layer may not contain, which values must be masked wherever something is shown (the secrets,
and every value derived from what a secret is derived from), and the stand-in for a secret
whose environment variable is unset. Other modules ask this one; none decides on its own what
is secret.

Three moments, three checks:

- a layer is read: `tracked_layer_problems` scans every key, item and string of a tracked
  layer (literal secrets, `sk-...` anywhere, a literal default in a secret's `${oc.env:...}`);
- the layers are folded: `container_reference_problems` (no layer may write `model_config` or
  `headers` as one `${...}`) and `preset_literal_problems` (a secret copied out of a refined
  preset is judged by the write that won there);
- the tree is resolved: `SecretFlow` follows what each secret read — references, preset
  copies, environment variables, files — to the literals it draws on (`literal_read_problems`)
  and to everything that must be masked with it (`SecretFlow.hides`, `SecretFlow.mask`).

Every walk is linear in the tree and the references (memoized, or indexed by path), and what
a problem names is bounded (`_limits.MAX_NAMED_LITERALS`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple

from . import _omegaconf
from ._layer import Append, Layer
from ._limits import MAX_COUNTED_LITERALS, MAX_DEPTH, MAX_NAMED_LITERALS
from ._paths import (
    MISSING,
    PathKey,
    Pattern,
    get,
    matches,
    ref_target,
    render_path,
    select,
    set_at,
    under,
)
from .errors import Mark, Problem

MASK: Final = "***"

# The secret leaves of a document: the api key and every header value. Kept equal to the
# paths the schema marks `x-secret` (tests/test_secrets.py derives them from schema.json).
SECRET_PATTERNS: Final[tuple[Pattern, ...]] = (
    ("model_config", "api_key"),
    ("model_config", "headers", "*"),
)
# A mapping whose every value is a secret: shown masked as a whole in messages.
SECRET_MAPPINGS: Final[tuple[PathKey, ...]] = (("model_config", "headers"),)
# Mappings a secret lies in: a reference standing for one of them would bring secrets in
# wholesale, where no rule sees them.
SECRET_CONTAINERS: Final[tuple[PathKey, ...]] = (("model_config",), *SECRET_MAPPINGS)

# Shaped like an OpenAI key: refused anywhere in a tracked layer.
LITERAL_KEY: Final = re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")

UNSET_ADVICE: Final = "set it before loading this profile for use"
"""What to do about a secret's unset variable. Never "give a default": a default written in
a tracked file is a literal secret in git."""


def is_secret_path(path: PathKey) -> bool:
    """Whether `path` is a secret leaf (`model_config.api_key`, a header value)."""
    return any(matches(path, pattern) for pattern in SECRET_PATTERNS)


def holds_secret(path: PathKey) -> bool:
    """A secret, or a mapping a secret lies in (`model_config`, `model_config.headers`)."""
    return is_secret_path(path) or any(
        len(path) < len(pattern) and matches(path, pattern[: len(path)])
        for pattern in SECRET_PATTERNS)


def secret_paths(document: Mapping[str, Any]) -> Iterator[tuple[PathKey, Any]]:
    """The secret leaves present in a document (raw or resolved), with their values."""
    api_key = get(document, ("model_config", "api_key"))
    if api_key is not MISSING:
        yield ("model_config", "api_key"), api_key
    headers = get(document, ("model_config", "headers"))
    if isinstance(headers, dict):
        for name, value in headers.items():
            yield ("model_config", "headers", name), value


def masked_paths(document: Mapping[str, Any]) -> set[PathKey]:
    """What a message about `document` must never show: each secret leaf, and each mapping
    of secrets as a whole (`headers: [sk-...]` is reported as `got list ***`)."""
    return {path for path, _ in secret_paths(document)} | set(SECRET_MAPPINGS)


# Key names that say "secret", and the names of the secret keys themselves: a value written
# under a key that is, or is a slip away from, one of these is never echoed in a message.
_SECRET_WORDS: Final = frozenset({
    "key", "apikey", "api_key", "headers", "header", "authorization", "auth", "token",
    "secret", "secrets", "password", "passwd", "credential", "credentials", "bearer",
})
_SECRET_NAMES: Final = ("api_key", "headers", "authorization", "token", "secret", "password",
                        "credentials", "bearer")


_WORDS: Final = re.compile(r"[^a-z0-9]+")
# Every secret word holds one of these: a name that holds none is not split at all (this
# runs for every key under vars of every composition).
_SECRET_STEMS: Final = re.compile("key|header|auth|token|secret|passw|credential|bearer")
# The keys of model_config (kept equal to the schema's by tests/test_secrets.py): any other
# key there is an error anyway, and if it is named like a secret, it is masked.
MODEL_CONFIG_KEYS: Final = frozenset({"api_key", "url", "headers", "initial_model_settings",
                                      "playback_tracker", "call_id"})


def named_secret(name: str) -> bool:
    """Whether a key's name says it holds a secret: one of its words is `key`, `token`,
    `password`, ... (`key`, `openai_key`, `api-token`; not `max_output_tokens`)."""
    folded = name.lower()
    if _SECRET_STEMS.search(folded) is None:
        return False
    return folded in _SECRET_WORDS or any(
        word in _SECRET_WORDS for word in _WORDS.split(folded) if word)


def resembles_secret(name: str) -> bool:
    """`named_secret`, or a slip away from a secret's name (`apikey`, `api_kye`, `header`).
    Decides only what is masked, never what is valid."""
    import difflib

    if named_secret(name):
        return True
    folded = name.replace("-", "_").lower()
    return bool(difflib.get_close_matches(folded, _SECRET_NAMES, n=1, cutoff=0.75))


def may_hold_secret(path: PathKey) -> bool:
    """Whether a value written at `path` (an override, an environment variable) may be a
    secret as far as its path tells: a secret, a mapping of secrets, anything inside one, or
    a key whose name resembles a secret's (a typo'd `model_config.apikey`)."""
    if holds_secret(path) or any(is_secret_path(path[:cut]) for cut in range(1, len(path))):
        return True
    return any(isinstance(part, str) and resembles_secret(part) for part in path)


# -- what a tracked layer may hold ---------------------------------------------------------

_LITERAL_ADVICE: Final = ("use ${oc.env:NAME} or ${file:path}, or put it in the untracked "
                          "local.yaml")


def tracked_layer_problems(data: Mapping[str, Any],
                           marks: Mapping[PathKey, Mark]) -> Iterator[Problem]:
    """A tracked (git) layer holds no secret: a secret leaf must be a `${...}` reference
    without a literal default, and no key, list item or string anywhere — the text inside
    `${...}` included — may look like an API key."""
    for path, text, is_key in _texts(data, ()):
        if is_key:
            if LITERAL_KEY.search(text):  # the key itself would print the secret
                yield Problem((*path[:-1], MASK), "secret-literal",
                              "a key that looks like a literal API key in a tracked file",
                              marks.get(path), "a key is never a place for a secret")
            continue
        if is_secret_path(path):
            if "${" not in text:
                yield Problem(path, "secret-literal", "a literal secret in a tracked file",
                              marks.get(path), _LITERAL_ADVICE)
            elif LITERAL_KEY.search(text):
                yield Problem(path, "secret-literal",
                              "looks like a literal API key in a tracked file", marks.get(path),
                              "read it from the environment: ${oc.env:OPENAI_API_KEY}")
            elif has_literal_default(text):
                yield Problem(path, "secret-literal",
                              "a secret's ${oc.env:NAME,default} has a literal default in a "
                              "tracked file", marks.get(path),
                              "drop the default: unset, the variable is a warning for "
                              "validate and an error for use")
        elif LITERAL_KEY.search(text):
            yield Problem(path, "secret-literal",
                          "looks like a literal API key in a tracked file", marks.get(path),
                          "read it from the environment: ${oc.env:OPENAI_API_KEY}")


def _texts(node: Any, path: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    """Every mapping key and every string (mapping values, list items, appended items) of
    layer data, with its path and whether it is a key."""
    stack: list[tuple[PathKey, Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, Append):
            value = value.items
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    yield (*where, key), key, True
                stack.append(((*where, key), item))
        elif isinstance(value, list):
            stack.extend(((*where, index), item) for index, item in enumerate(value))
        elif isinstance(value, str):
            yield where, value, False


def has_literal_default(text: str) -> bool:
    """Whether `text` calls `${oc.env:NAME,default}` with a default that is literal text (not
    empty, not null, not itself a `${...}`): for a secret, that default is a literal secret."""
    if "oc.env" not in text or "," not in text:
        return False
    found: list[bool] = []

    def resolver(name: str, args: tuple[Any, ...], args_str: tuple[str, ...]) -> Any:
        if name == "oc.env" and len(args) >= 2 and len(args_str) >= 2:
            found.append("${" not in args_str[1] and args[1] not in (None, ""))
        return ""

    try:  # a dry run of OmegaConf's visitor: it reports each call's arguments as written
        tree = _omegaconf.parse(_omegaconf.fill_empty_args(text))
        _omegaconf.evaluate(tree, lambda key, memo: "", resolver)
    except Exception:  # noqa: BLE001 - a grammar error is reported where it is resolved
        return False
    return any(found)


def container_reference_problems(layers: Sequence[Layer]) -> Iterator[Problem]:
    """`model_config: ${vars.x}` or `headers: ${vars.h}`, in any layer (refined by a higher
    one or not), would bring secrets in wholesale, where no rule sees them as secrets:
    refused at every place it is written."""
    for layer in layers:
        for container in SECRET_CONTAINERS:
            if layer.data and _is_reference(get(layer.data, container)):
                yield _container_problem(container, layer.marks.get(container))
            for edit in layer.edits:
                if edit.kind != "delete" and under(container, edit.path) \
                        and _is_reference(get(edit.value, container[len(edit.path):])):
                    yield _container_problem(container, edit.mark)


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _container_problem(path: PathKey, mark: Mark | None) -> Problem:
    return Problem(
        path, "secret-container-reference",
        "holds secrets, so it cannot be a ${...} reference: its values could be "
        "neither checked for literals nor masked", mark,
        "write it as a mapping here; each value may be ${oc.env:NAME} or ${vars.x}")


# (mark, tracked) of the write that won at a path, or None.
WinningWrite = Callable[[PathKey], tuple[Mark | None, bool] | None]


def preset_literal_problems(raw: Mapping[str, Any], copies: Sequence[tuple[PathKey, PathKey]],
                            winner: WinningWrite) -> Iterator[Problem]:
    """A secret that a refined preset copied into place (`model_config: ${vars.mc}` refined
    by a higher layer) was never a secret path in the layer that wrote it: judged here, after
    the fold, by the write that won at the secret (provenance follows the copy)."""
    destinations = {dest for _, dest in copies}
    for path, value in secret_paths(raw):
        if not any(path[:cut] in destinations for cut in range(len(path), 0, -1)):
            continue
        if isinstance(value, dict | list) or _is_reference(value):
            continue
        write = winner(path)
        if write is not None and write[1]:
            yield Problem(path, "secret-literal", "a literal secret in a tracked file",
                          write[0], _LITERAL_ADVICE)


# -- where secrets come from and where they go ---------------------------------------------

def source_id(name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    """What a resolver call reads, as an identity two calls share when they read the same
    thing: the variable of `oc.env` (whatever the default), the normalized path of `file`,
    otherwise the call itself."""
    if args and isinstance(args[0], str):
        if name == "oc.env":
            return ("oc.env", args[0])
        if name == "file":
            return ("file", posixpath.normpath(args[0]))
    return (name, repr(args))


class _Literals(NamedTuple):
    """Tracked literals one node draws on: at most `MAX_COUNTED_LITERALS`, and whether more
    were left out (then the count is a floor)."""

    paths: frozenset[PathKey]
    capped: bool


_NO_LITERALS: Final = _Literals(frozenset(), False)


class SecretFlow:
    """Which values must be masked wherever they are shown, for one resolved tree.

    `hidden` are the raw paths whose value is, or is derived from, something a secret is
    derived from: the secrets; every node a secret read (through references at any depth,
    refined-preset copies, whole referenced mappings); every node that read the same
    environment variable or file as a secret; and every node that read any of those.
    `holding` are the paths with something hidden below them (the parents, and references to
    them). A path of the resolved document is hidden when the walk from the root, through
    pure references, reaches a hidden node: `hides`. Both sets are built in one pass over the
    references (each node and each reference visited once).
    """

    def __init__(self, raw: Mapping[str, Any], hidden: set[PathKey],
                 holding: set[PathKey], outside: frozenset[tuple[str, Any]] = frozenset()
                 ) -> None:
        self.raw = raw
        self.hidden = hidden
        self.holding = holding
        self.outside = outside  # the outside sources (variables, files) secrets read

    @classmethod
    def build(cls, raw: Mapping[str, Any], document: Mapping[str, Any],
              edges: Mapping[PathKey, Sequence[PathKey]],
              sources: Mapping[PathKey, set[tuple[str, Any]]],
              copies: Sequence[tuple[PathKey, PathKey]]) -> SecretFlow:
        roots = [*secret_roots(raw, document), *named_roots(raw)]
        if not roots:
            return cls(raw, set(), set())
        by_dest: dict[PathKey, list[PathKey]] = {}
        by_target: dict[PathKey, list[PathKey]] = {}
        for target, dest in copies:
            by_dest.setdefault(dest, []).append(target)
            by_target.setdefault(target, []).append(dest)
        read = _reach(raw, roots, edges, by_dest)
        outside: set[tuple[str, Any]] = set()
        for node in read:
            outside.update(sources.get(node, ()))
        hidden = set(read)
        if outside:
            hidden.update(p for p, found in sources.items() if not found.isdisjoint(outside))
        readers: dict[PathKey, list[PathKey]] = {}
        for reader, targets in edges.items():
            for target in targets:
                readers.setdefault(target, []).append(reader)
        holding: set[PathKey] = set()
        _spread(raw, hidden, holding, readers, by_target)
        return cls(raw, hidden, holding, frozenset(outside))

    def __bool__(self) -> bool:
        return bool(self.hidden)

    def _follow(self, path: PathKey) -> PathKey:
        """Where the value at `path` comes from, through pure references that hold secrets."""
        for _ in range(MAX_DEPTH + 1):
            if path not in self.holding:
                return path
            target = ref_target(get(self.raw, path))
            if target is None:
                return path
            path = target
        return path

    def hides(self, path: PathKey) -> bool:
        """Whether the value at `path` (in the raw tree or the resolved document) is masked as
        a whole: it or a parent is hidden."""
        if not self.hidden:
            return False
        current: PathKey = ()
        for part in path:
            current = (*self._follow(current), part)
            if current in self.hidden:
                return True
            if current not in self.holding:
                return False
        return False

    def draws_on(self, path: PathKey, edges: Mapping[PathKey, Sequence[PathKey]],
                 sources: Mapping[PathKey, set[tuple[str, Any]]]) -> bool:
        """Whether the value at `path`, resolved apart with these `edges` and `sources` (a var
        that nothing in the document reads, hence unknown to this flow), reads a hidden node
        or the same environment variable or file as a secret: masked too, were it read."""
        if not self.hidden:
            return False
        return any(node in self.hidden or not self.outside.isdisjoint(sources.get(node, ()))
                   for node in _reach(self.raw, [path], edges, {}))

    def holds(self, path: PathKey) -> bool:
        """Whether anything at or below `path` is masked."""
        if not self.hidden:
            return False
        if self.hides(path):
            return True
        current: PathKey = ()
        for part in path:
            current = (*self._follow(current), part)
        return current in self.holding or not path

    def mask(self, value: Any, path: PathKey) -> Any:
        """`value` (found at `path`) as it may be shown: `***` when it is hidden, a copy with
        the hidden parts masked when it holds some, else itself."""
        if self.hides(path):
            return MASK
        if not self.holds(path):
            return value
        current: PathKey = ()
        for part in path:
            current = (*self._follow(current), part)
        return self._masked(value, current)

    def _masked(self, value: Any, counterpart: PathKey) -> Any:
        origin = self._follow(counterpart)
        items = _members(value)
        if items is None:
            return value
        out: dict[Any, Any] = {}
        for key, item in items:
            child = (*origin, key)
            if child in self.hidden:
                out[key] = MASK
            elif child in self.holding:
                out[key] = self._masked(item, child)
            else:
                out[key] = item
        return out if isinstance(value, dict) else list(out.values())

    def hidden_in(self, document: Mapping[str, Any]) -> tuple[PathKey, ...]:
        """The top-most paths of `document` that are masked when it is shown."""
        if not self.hidden:
            return ()
        found: list[PathKey] = []
        stack: list[tuple[PathKey, PathKey, Any]] = [((), (), document)]
        while stack:
            path, counterpart, value = stack.pop()
            origin = self._follow(counterpart)
            items = _members(value)
            if items is None:
                continue
            for key, item in items:
                child = (*origin, key)
                if child in self.hidden:
                    found.append((*path, key))
                elif child in self.holding:
                    stack.append(((*path, key), child, item))
        return tuple(sorted(found, key=render_path))


# The names of agents and handoffs (besides the registry names, which the schema marks
# `x-registry`): what the SDK shows as tool names (`transfer_to_<name>`, lower-cased, where no
# scrub of the value's text finds it), logs, and every error about the graph quotes.
AGENT_NAME_PATTERNS: Final[tuple[Pattern, ...]] = (
    ("agent", "name"),
    ("agent", "handoffs", "*"),
    ("agent", "handoffs", "*", "agent"),
    ("agent", "handoffs", "*", "tool_name_override"),
)

DERIVED_NAME_TEXT: Final = ("a name cannot be derived from a secret: names are shown in "
                              "tool lists, logs and errors")


def derived_name_problems(document: Mapping[str, Any], flow: SecretFlow,
                          registry: Iterable[Pattern]) -> Iterator[Problem]:
    """A name of an agent, a handoff or a registered object (`registry`: the schema's
    `x-registry` slots) that is masked (`flow.hides`): refused, since a name is shown where
    no mask reaches — the SDK's tool list and logs, the graph's and the registry's errors.
    The message never quotes the value. Unlocated: `finish` locates it."""
    if not flow:
        return
    for pattern in (*AGENT_NAME_PATTERNS, *registry):
        for path, value in select(document, pattern):
            if isinstance(value, str) and flow.hides(path):
                yield Problem(path, "secret-name", DERIVED_NAME_TEXT, None,
                              "write the name as plain text: it is not a secret, and a "
                              "secret does not belong in it")


def _members(value: Any) -> Iterable[tuple[Any, Any]] | None:
    """(key or index, item) of a mapping or a list; None for anything else."""
    if isinstance(value, dict):
        return value.items()
    if isinstance(value, list):
        return enumerate(value)
    return None


def secret_roots(raw: Mapping[str, Any], document: Mapping[str, Any]) -> list[PathKey]:
    """The secrets whose value is secret: every secret leaf but an api key given as
    `{callable: name}` (a name, not a key), and a mapping of secrets written as something
    else (`headers: [sk-...]`)."""
    roots = [path for path, _ in secret_paths(raw) if not _is_callable_key(path, document)]
    roots += [path for path in SECRET_MAPPINGS
              if get(raw, path) is not MISSING and not isinstance(get(raw, path), dict)]
    return roots


def named_roots(raw: Mapping[str, Any]) -> list[PathKey]:
    """Values masked for their name, whoever reads them: a key of `model_config` named like
    a secret that is not one (`apikey`, `headrs`: a typo, an error anyway, whose value is
    surely the secret), and a value in `vars` whose name says it is a secret (`vars.key`,
    `vars.openai_token`), which another combination's api key may read even where this
    one's does not."""
    roots: list[PathKey] = []
    section = raw.get("model_config")
    if isinstance(section, dict):
        roots += [("model_config", key) for key in section
                  if isinstance(key, str) and key not in MODEL_CONFIG_KEYS
                  and resembles_secret(key)]
    stack: list[tuple[PathKey, Any]] = [(("vars",), raw.get("vars"))]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and named_secret(key):
                    roots.append((*path, key))
                else:
                    stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return roots


def _is_callable_key(path: PathKey, document: Mapping[str, Any]) -> bool:
    value = get(document, path)
    return path == ("model_config", "api_key") and isinstance(value, dict) \
        and set(value) <= {"callable"}


def _reach(raw: Mapping[str, Any], roots: Sequence[PathKey],
           edges: Mapping[PathKey, Sequence[PathKey]],
           by_dest: Mapping[PathKey, Sequence[PathKey]]) -> set[PathKey]:
    """Every node the roots read: references at any depth, whole referenced containers, and
    the preset a refined copy came from. `profile.*` (the agent and environment names) are
    never secret."""
    found: set[PathKey] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in found or (node and node[0] == "profile"):
            continue
        found.add(node)
        stack.extend(edges.get(node, ()))
        value = get(raw, node)
        if isinstance(value, dict):
            stack.extend((*node, key) for key in value)
        elif isinstance(value, list):
            stack.extend((*node, index) for index in range(len(value)))
        for cut in range(len(node), 0, -1):
            stack.extend(target + node[cut:] for target in by_dest.get(node[:cut], ()))
    return found


def _spread(raw: Mapping[str, Any], hidden: set[PathKey], holding: set[PathKey],
            readers: Mapping[PathKey, Sequence[PathKey]],
            by_target: Mapping[PathKey, Sequence[PathKey]]) -> None:
    """Grow `hidden` and `holding` to everything that shows a hidden value: a reader of a
    hidden node is hidden; a pure reference to a node holding secrets holds them too (its
    value is a copy), any other reader embeds the value and is hidden; a preset copy of a
    hidden node is hidden; the parents of either hold secrets. Each node is expanded once."""
    todo = list(hidden)
    holds: list[PathKey] = []

    def hide(path: PathKey) -> None:
        if path not in hidden:
            hidden.add(path)
            todo.append(path)

    def hold(path: PathKey) -> None:
        for cut in range(len(path), -1, -1):
            parent = path[:cut]
            if parent in holding:
                return
            holding.add(parent)
            holds.append(parent)

    while todo or holds:
        while todo:
            node = todo.pop()
            for reader in readers.get(node, ()):
                hide(reader)
            for cut in range(len(node), 0, -1):
                for dest in by_target.get(node[:cut], ()):
                    hide(dest + node[cut:])
            hold(node[:-1])
        while holds:
            node = holds.pop()
            for reader in readers.get(node, ()):
                if ref_target(get(raw, reader)) is not None:  # a copy: holds what it holds
                    hold(reader)
                else:  # embedded in text: shows it
                    hide(reader)


def literal_read_problems(flow_raw: Mapping[str, Any], roots: Sequence[PathKey],
                          edges: Mapping[PathKey, Sequence[PathKey]],
                          winner: WinningWrite) -> Iterator[Problem]:
    """A secret that draws on a literal written in a tracked file, through references at any
    depth (the secret's own text was checked when its layer was parsed): one problem per
    secret, at the secret, naming a few of the literals and counting the rest.

    What each node draws on is computed once and shared (a hundred headers that read one
    mapping cost one walk of it), and capped at `MAX_COUNTED_LITERALS`, so the work is linear
    in the tree and the references whatever their shape."""
    reader = _LiteralReader(flow_raw, edges, winner)
    for root in roots:
        literals = reader.drawn_on(root)
        if literals.paths:
            write = winner(root)
            yield Problem(root, "secret-literal",
                          "a secret must come from ${oc.env:...} or ${file:...}; "
                          f"it draws on {reader.describe(literals)}",
                          write[0] if write is not None else None,
                          "move the value to an environment variable")


class _LiteralReader:
    """Memoized: the tracked literals each node draws on when it is referenced."""

    def __init__(self, raw: Mapping[str, Any], edges: Mapping[PathKey, Sequence[PathKey]],
                 winner: WinningWrite) -> None:
        self.raw = raw
        self.edges = edges
        self.winner = winner
        self.memo: dict[PathKey, _Literals] = {}
        self.marks: dict[PathKey, Mark | None] = {}
        self.described: dict[_Literals, str] = {}  # secrets that share what they draw on

    def drawn_on(self, root: PathKey) -> _Literals:
        """What the secret at `root` draws on: the referenced nodes of its own text and of
        anything inside it (its own text is not a literal read)."""
        parts: list[_Literals] = []
        stack = [root]
        while stack:
            node = stack.pop()
            parts.extend(self._referenced(t) for t in self.edges.get(node, ()))
            value = get(self.raw, node)
            if isinstance(value, dict):
                stack.extend((*node, key) for key in value)
            elif isinstance(value, list):
                stack.extend((*node, index) for index in range(len(value)))
        return _union(parts, self.order)

    def _children(self, node: PathKey) -> list[PathKey]:
        value = get(self.raw, node)
        found = list(self.edges.get(node, ()))
        if isinstance(value, dict):
            found.extend((*node, key) for key in value)
        elif isinstance(value, list):
            found.extend((*node, index) for index in range(len(value)))
        return found

    def _referenced(self, start: PathKey) -> _Literals:
        """Post-order over references and containers, without recursion (a chain of
        references may be long); a node met again while in progress (a cycle, reported
        elsewhere) adds nothing."""
        if start in self.memo:
            return self.memo[start]
        active: set[PathKey] = set()
        stack: list[tuple[PathKey, bool]] = [(start, False)]
        while stack:
            node, done = stack.pop()
            if node in self.memo:
                continue
            if not done:
                if node in active:
                    continue
                active.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in self._children(node)
                             if child not in self.memo and child not in active)
                continue
            active.discard(node)
            parts = [self.memo.get(child, _NO_LITERALS) for child in self._children(node)]
            if self._is_tracked_literal(node):
                parts.append(_Literals(frozenset((node,)), False))
            self.memo[node] = _union(parts, self.order)
        return self.memo.get(start, _NO_LITERALS)

    def _is_tracked_literal(self, node: PathKey) -> bool:
        value = get(self.raw, node)
        if isinstance(value, dict | list) or value is MISSING:
            return False
        if isinstance(value, str) and "${" in value and not has_literal_default(value):
            return False
        write = self.winner(node)
        if write is None or not write[1]:
            return False
        self.marks[node] = write[0]
        return True

    def order(self, path: PathKey) -> tuple[Any, ...]:
        """Reading order: by where the literal is written, then by path."""
        mark = self.marks.get(path)
        where = (mark.file, mark.line, mark.column) if mark is not None else ("\uffff", 0, 0)
        return (*where, render_path(path))

    def describe(self, literals: _Literals) -> str:
        """`vars.key, a literal written at f:1:2 in a tracked file`, or for several
        `vars.a (at f:1:2), vars.b (at f:2:2) and 3 more, literals written in tracked
        files`."""
        if literals not in self.described:
            self.described[literals] = self._describe(literals)
        return self.described[literals]

    def _describe(self, literals: _Literals) -> str:
        ordered = sorted(literals.paths, key=self.order)
        if len(ordered) == 1:
            mark = self.marks.get(ordered[0])
            where = f" at {mark.render()}" if mark is not None else ""
            return f"{render_path(ordered[0])}, a literal written{where} in a tracked file"
        named = []
        for path in ordered[:MAX_NAMED_LITERALS]:
            mark = self.marks.get(path)
            named.append(render_path(path) + (f" (at {mark.render()})" if mark else ""))
        rest = len(ordered) - len(named)
        text = ", ".join(named)
        if rest or literals.capped:
            text += f" and {'at least ' if literals.capped else ''}{rest} more"
        return f"{text}, literals written in tracked files"


def _union(parts: Sequence[_Literals], order: Callable[[PathKey], Any]) -> _Literals:
    """The union of `parts`, capped to the first in `order` (sharing the one part when
    there is only one)."""
    parts = [p for p in parts if p.paths]
    if not parts:
        return _NO_LITERALS
    if len(parts) == 1:
        return parts[0]
    merged: set[PathKey] = set()
    for part in parts:
        merged |= part.paths
    capped = any(part.capped for part in parts)
    if len(merged) > MAX_COUNTED_LITERALS:
        merged = set(sorted(merged, key=order)[:MAX_COUNTED_LITERALS])
        capped = True
    return _Literals(frozenset(merged), capped)


# -- masking -------------------------------------------------------------------------------

class UnsetSecret(str):
    """Stand-in for a secret whose variable is unset, in validate/show (never for use)."""

    variables: tuple[str, ...]

    def __new__(cls, variables: tuple[str, ...]) -> UnsetSecret:
        obj = super().__new__(cls, unset_text(variables))
        obj.variables = variables
        return obj


def unset_placeholder(variable: str) -> str:
    """What an unset secret variable reads as inside a lenient resolution."""
    return unset_text((variable,))


def redact(document: dict[str, Any], secrets: Sequence[PathKey],
           unset: Mapping[PathKey, tuple[str, ...]],
           derived: Sequence[PathKey] = ()) -> dict[str, Any]:
    """`document` (a copy the caller owns) with each secret string shown as `***`, or as
    `*** (unset: VAR)` when its variable is unset, and each value derived from what a secret
    reads (`derived`, from `SecretFlow.hidden_in`) as `***`. Decided by path, never by the
    value's text. `{callable: name}` is not a secret and stays as it is."""
    for path in derived:
        if get(document, path) is not MISSING:
            set_at(document, path, MASK)
    for path in secrets:
        if isinstance(get(document, path), str):
            variables = unset.get(path)
            set_at(document, path, unset_text(variables) if variables else MASK)
    return document


def mask_texts(value: Any, texts: Sequence[str], shortest: int = 1) -> Any:
    """`value` with every occurrence of each of `texts` (secret texts, longest first) inside
    its strings replaced by `***`; texts shorter than `shortest` only where a whole string is
    one. A copy where anything changed; containers are walked."""
    if not texts:
        return value
    if isinstance(value, str):
        if value in texts:
            return MASK
        for text in texts:
            if len(text) >= shortest and text in value:
                value = value.replace(text, MASK)
        return value
    if isinstance(value, Mapping):
        return {key: mask_texts(item, texts, shortest) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_texts(item, texts, shortest) for item in value]
    return value


def unset_text(variables: Sequence[str]) -> str:
    """`*** (unset: A, B)`: how a secret whose variables are unset is shown."""
    return f"{MASK} (unset: {', '.join(variables)})"


def mask_below(value: Any, path: PathKey, secrets: Sequence[PathKey],
               copy: Callable[[Any], Any]) -> Any:
    """`value` (found at `path`) with every secret below it replaced by `***` (a copy when
    anything is masked)."""
    below = [s[len(path):] for s in secrets if len(s) > len(path) and under(s, path)]
    below = [rest for rest in below if get(value, rest) is not MISSING]
    if not below:
        return value
    value = copy(value)
    for rest in below:
        set_at(value, rest, MASK)
    return value


def may_echo(path: PathKey | None, value: str) -> bool:
    """Whether an error may quote `value`, written at `path` by an override or a variable:
    only when the key parsed, names nothing that may hold a secret (`may_hold_secret`), and
    the value does not look like a key itself (an `sk-...` under any name)."""
    return path is not None and not may_hold_secret(path) and not LITERAL_KEY.search(value)


def may_echo_data(path: PathKey, value: Any) -> bool:
    """`may_echo` for a value of any JSON shape written at `path` (a call value, or what a
    call changed): only when `path` names nothing that may hold a secret, no key below it is
    named like a secret or shaped like a key, and no string in it looks like a key."""
    if may_hold_secret(path):
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if LITERAL_KEY.search(item):
                return False
        elif isinstance(item, dict):
            for key, below in item.items():
                if not isinstance(key, str) or LITERAL_KEY.search(key) \
                        or resembles_secret(key):
                    return False
                stack.append(below)
        elif isinstance(item, list):
            stack.extend(item)
    return True


def masked_key(text: str) -> str:
    """A key as an error may show it: every part shaped like a key is `***`
    (`vars.sk-...` is `vars.***`). The rest of a key is a name, never a value."""
    return LITERAL_KEY.sub(MASK, text)


def named_secret_var(path: PathKey) -> bool:
    """Whether `path` lies in `vars` under a key whose name says it is a secret: masked
    wherever it is shown once it is set (`named_roots`), whoever sets it."""
    return len(path) > 1 and path[0] == "vars" and any(
        isinstance(part, str) and named_secret(part) for part in path[1:])


def unechoed_values(written: Iterable[tuple[PathKey, Any]]) -> frozenset[str]:
    """The strings an override or a variable wrote (`(path, value)` pairs, values at any
    depth) that no message may quote: those `may_echo` refuses."""
    found: set[str] = set()
    for path, value in written:
        for where, text, is_key in _texts(value, path):
            if text and not may_echo(where[:-1] if is_key else where, text):
                found.add(text)
    return frozenset(found)


# A quote cut short (`'...sk-ABC...'`, values over 60 characters) may end inside a key.
_CUT_KEY: Final = re.compile(r"\bsk-[A-Za-z0-9_-]*\.\.\.")


def unquote_all(text: str, values: Iterable[str]) -> str:
    """`text` (a message, a suggestion) with each of `values` replaced by `***` — quoted,
    or bare when it is long enough not to be a word of the message — and anything shaped
    like a key (whole or cut short) too, whoever wrote it."""
    for value in values:
        if value in text:
            text = text.replace(repr(value), MASK)
            if len(value) >= MIN_BARE_MASK:
                text = text.replace(value, MASK)
    if "sk-" in text:
        text = _CUT_KEY.sub(MASK, LITERAL_KEY.sub(MASK, text))
    return text


MIN_BARE_MASK: Final = 6
"""A masked value this long is replaced wherever it occurs in a text, not only quoted."""


def masked_override(text: str, path: PathKey | None) -> str:
    """An override (`key=value`) as an error shows it: the value is `***` unless
    `may_echo`."""
    if "=" not in text:
        return text
    key, _, value = text.partition("=")
    return text if may_echo(path, value) else key + "=" + MASK


def masked_mark(mark: Mark) -> Mark:
    """An override's mark (`command line: ++vars.key=VALUE`) with its value masked."""
    head, equals, _ = mark.file.partition("=")
    return Mark(head + equals + MASK, mark.line, mark.column) if equals else mark


def unquoted(message: str, text: Any, *, drop_tail: bool = False) -> str:
    """`message` with `text` (quoted or not) replaced by ***; with `drop_tail` (a grammar
    error, whose detail quotes pieces of the text) everything after it is dropped too."""
    if not isinstance(text, str) or not text:
        return message
    for quoted in (repr(text), text):
        if quoted in message:
            head, _, tail = message.partition(quoted)
            return head + MASK + ("" if drop_tail else tail)
    return message
