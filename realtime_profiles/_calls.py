"""Per-call overrides: the `overridable:` contract a profile declares, and a caller's values
applied to a composed profile as data.

A per-call value is like a SQL parameter: it is placed, never interpolated or resolved, so
nothing a caller sends can make the loader read a file or an environment variable. The
profile says what may change (`overridable:` lists dotted paths, each optionally with an
`enum`, `minimum`/`maximum` or `pattern` narrower than the schema); a secret, the url, the
headers, any name of code (a tool, handoff, guardrail, ...) and anything masked where it is
shown can never be listed. A message about a call value quotes it only when an override's
value there could be quoted (`_secrets.may_echo`).

The per-call path does not compose again. A `Plan`, computed once per composed profile, knows
each overridable path's current value and every emitted value derived from one (a whole
reference, or text around references: the only ways a call value may be used); a call copies
the document, sets the new values and re-renders what derives from them. A `Plan` is plain
data, so a compiled bundle carries it and loads calls without YAML, OmegaConf or jsonschema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple

from . import _secrets
from ._interpolate import Hole, Template
from ._layer import DOCUMENT_SECTIONS, SECTIONS
from ._limits import MAX_CALL_INTEGER, MAX_DEPTH
from ._paths import (
    MISSING,
    KeyError_,
    PathKey,
    assignable,
    child,
    get,
    render_path,
    split_key,
    under,
)
from ._subschema import SchemaNav
from ._validate import _coercion_hint, _describe, _got
from .errors import Mark, Problem, UsageError, did_you_mean, mean

SECTION: Final = "overridable"
CONSTRAINTS: Final = ("enum", "minimum", "maximum", "pattern")
CALL_MARK: Final = Mark("call override")


class OverrideNotAllowedError(UsageError):
    """A caller asked to change what the profile's `overridable:` does not allow."""


class Entry(NamedTuple):
    """One overridable path and the constraint on its value (narrower than the schema)."""

    path: PathKey
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None


# -- the contract --------------------------------------------------------------------------

def contract(section: Any, nav: SchemaNav, masked: Callable[[PathKey], bool] | None = None
             ) -> tuple[tuple[Entry, ...], list[Problem]]:
    """The entries of an `overridable:` section (a mapping of dotted path to constraint, or a
    list of paths), with a located problem for each entry that cannot be allowed. `masked`
    says which paths the composition masks wherever they are shown (`Composition.hides`)."""
    if section is None:
        return (), []
    items: list[tuple[Any, Any]]
    if isinstance(section, dict):
        items = list(section.items())
    elif isinstance(section, list):
        items = [next(iter(i.items())) if isinstance(i, dict) and len(i) == 1 else (i, None)
                 for i in section]
    else:
        return (), [Problem((SECTION,), "type", "expected a mapping of dotted paths to "
                            "constraints (or a list of paths)", None,
                            "write overridable: {run_config.model_settings.voice: {enum: "
                            "[alloy, verse]}}")]
    entries: list[Entry] = []
    problems: list[Problem] = []
    for key, spec in items:
        entry, found = _entry(key, spec, nav)
        problems.extend(found)
        if entry is None:
            continue
        entries.append(entry)
        if masked is not None and masked(entry.path):
            # an error in the profile, which therefore never loads; the entry stays in the
            # plan so that `explain` with such a call key still shows the value masked
            problems.append(masked_problem(entry.path, str(key)))
    return tuple(entries), problems


def masked_problem(path: PathKey, key: str | None = None) -> Problem:
    """The contract lists a path whose value is masked wherever it is shown."""
    return Problem((SECTION, key or render_path(path)), "call-contract", MASKED_REFUSAL[0],
                   None, MASKED_REFUSAL[1])


MASKED_REFUSAL: Final = (
    "is masked wherever it is shown (named like a secret, or holds or reads what a secret "
    "reads): a caller can never set it",
    "secrets come from ${oc.env:...} or ${file:...} only; name a var that is none without "
    "key, token, secret, password, auth, ...")


def _entry(key: Any, spec: Any, nav: SchemaNav) -> tuple[Entry | None, list[Problem]]:
    where: PathKey = (SECTION, str(key))
    if not isinstance(key, str):
        return None, [Problem(where, "type", "expected a dotted path", None)]
    try:
        path = split_key(key, SECTIONS, MAX_DEPTH)
    except KeyError_ as exc:
        return None, [Problem(where, "call-contract", f"not a dotted path: {exc.reason}")]
    refused = refusal(path, nav)
    if refused is not None:
        return None, [Problem(where, "call-contract", refused[0], None, refused[1])]
    if spec is None:
        return Entry(path), []
    if not isinstance(spec, dict):
        return None, [Problem(where, "type", "expected a constraint mapping (enum, minimum, "
                              "maximum, pattern) or null", None)]
    problems = [Problem((*where, name), "unknown-key", "unknown constraint", None,
                        mean(did_you_mean(str(name), CONSTRAINTS))
                        or "constraints: " + ", ".join(CONSTRAINTS))
                for name in spec if name not in CONSTRAINTS]
    enum = spec.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        problems.append(Problem((*where, "enum"), "type", "expected a non-empty list"))
    for bound in ("minimum", "maximum"):
        value = spec.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(Problem((*where, bound), "type", "expected a number"))
    pattern = spec.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            problems.append(Problem((*where, "pattern"), "pattern", f"not a regular expression: "
                                    f"{exc}"))
    if problems:
        return None, problems
    return Entry(path, tuple(enum) if enum else None, spec.get("minimum"),
                 spec.get("maximum"), pattern), []


def refusal(path: PathKey, nav: SchemaNav) -> tuple[str, str] | None:
    """Why `path` cannot be listed as overridable (message, suggestion), or None."""
    forbidden_why = forbidden(path, nav)
    if forbidden_why is not None:
        return forbidden_why
    if path[0] == "vars" or nav.known(path):
        return None
    parent = path[:-1]
    hint = mean(did_you_mean(str(path[-1]), nav.keys_at(parent))) if parent else None
    return (f"{render_path(path)} is not a key of the profile document",
            hint or "list a path the schema knows, or one under vars")


def forbidden(path: PathKey, nav: SchemaNav) -> tuple[str, str] | None:
    """Why no caller may ever write at `path` (message, suggestion), or None."""
    if _secrets.holds_secret(path) or any(_secrets.is_secret_path(path[:cut])
                                          for cut in range(1, len(path) + 1)):
        return ("is or holds a secret: a caller can never set one",
                "secrets come from ${oc.env:...} or ${file:...} only")
    if under(path, ("model_config", "url")) or path == ("model_config",):
        return ("decides where the session connects: a caller can never set it",
                "choose the url with a facet or an environment instead")
    if nav.names_code(path):
        return ("is or holds names of code (tools, handoffs, guardrails, ...): a caller can "
                "never choose code", "use a facet to switch between sets of tools")
    return None


# -- the plan a call follows ---------------------------------------------------------------

class Plan(NamedTuple):
    """What a call needs of one composed profile, computed once (plain data)."""

    entries: tuple[Entry, ...]
    holes: tuple[PathKey, ...]
    """The outermost overridable paths: a call value lands in exactly one of them."""
    base: dict[PathKey, Any]
    """Each hole's value in the composed profile (absent when the profile does not set it)."""
    dependents: tuple[tuple[PathKey, Hole | Template], ...]
    """Emitted values derived from holes, and how to render them from the holes' values."""
    references: dict[PathKey, Any]
    """Each secret's reference text, for the fingerprint."""
    stamp: bool
    """Whether the fingerprint is stamped into tracing metadata."""
    hashes: dict[PathKey, str]
    """Each container's hash in the composed profile's fingerprint (a call rehashes only the
    containers on the way to what it changed)."""
    checks: dict[PathKey, Any]
    """Compiled schema checks by changed path, filled on first use (this plan's own: not
    data, a bundle's plan compiles its own)."""
    pieces: dict[PathKey, dict[str, str]]
    """The fingerprint's canonical text of each member of a container on the way to a hole,
    filled on first use (`_fingerprint.fingerprint(pieces=...)`): not data either."""
    graph: dict[str, str]
    """The fingerprint's digest of each agent the profile hands off to (a call leaves them
    as they are)."""

    def allowed(self) -> list[str]:
        return [render_path(e.path) for e in self.entries]


def outermost(entries: Sequence[Entry]) -> tuple[PathKey, ...]:
    """The entry paths no other entry lies above."""
    paths = [e.path for e in entries]
    return tuple(p for p in paths if not any(q != p and under(p, q) for q in paths))


def dependents_in(tree: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Hole | Template]]:
    """Every Hole or Template in a resolution made with holes, with its path."""
    if isinstance(tree, Hole | Template):
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from dependents_in(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from dependents_in(value, (*path, index))


def flow_problems(dependents: Sequence[tuple[PathKey, Hole | Template]],
                  nav: SchemaNav) -> Iterator[Problem]:
    """A call value must not flow where no caller may write (a secret, the url, a name of
    code), whatever reference carries it there."""
    for path, template in dependents:
        refused = forbidden(path, nav)
        if refused is not None:
            hole = template.entry if isinstance(template, Hole) else next(
                p.entry for p in template.parts if isinstance(p, Hole))
            yield Problem(path, "call-contract",
                          f"draws on {render_path(hole)}, which may be overridden per call, "
                          f"but it {refused[0].split(':')[0]}", None,
                          f"do not list {render_path(hole)} under overridable, or do not use "
                          "it here")


# -- applying a call -----------------------------------------------------------------------

def parse_calls(call_overrides: Mapping[str, Any],
                plan: Plan | None) -> list[tuple[str, PathKey, PathKey]]:
    """(key as given, path, the hole it lands in) for each call value, or one
    `OverrideNotAllowedError` naming every refused key and the allowed ones."""
    parsed: list[tuple[str, PathKey, PathKey]] = []
    refused: list[str] = []
    holes = plan.holes if plan is not None else ()
    memo: dict[Any, Any] = plan.checks if plan is not None else {}
    for key in call_overrides:
        if not isinstance(key, str):  # never str() it: an int may be too long to print
            refused.append(f"a key of type {type(key).__name__}")
            continue
        placed = memo.get(("#key", key))
        if placed is None:  # the same keys come on every call: parsed once a plan
            placed = memo[("#key", key)] = _place(key, holes)
        if not placed:
            refused.append(repr(_secrets.masked_key(key)))
            continue
        parsed.append((key, placed[0], placed[1]))
    if refused:
        allowed = ", ".join(plan.allowed()) if plan is not None and plan.entries else \
            "nothing (the profile has no overridable: section)"
        raise OverrideNotAllowedError(
            f"call override{'s' if len(refused) > 1 else ''} not allowed: "
            f"{', '.join(refused)} (allowed: {allowed})")
    return parsed


def _place(key: str, holes: Sequence[PathKey]) -> tuple[PathKey, ...]:
    """A call key's path and the hole it lands in, or `()` when it may not be set."""
    try:
        path = split_key(key, SECTIONS, MAX_DEPTH)
    except KeyError_:
        return ()
    hole = next((h for h in holes if under(path, h)), None)
    return () if hole is None else (path, hole)


def apply(document: dict[str, Any], plan: Plan, call_overrides: Mapping[str, Any],
          parsed: Sequence[tuple[str, PathKey, PathKey]]
          ) -> tuple[dict[PathKey, Any], list[PathKey], list[Problem]]:
    """Place each call value in `document` (a copy the caller owns) and re-render what
    derives from it. Returns the holes' new values, the document paths changed, and
    problems (a value that is not JSON data, a template that cannot be filled)."""
    values, touched, problems = _hole_values(plan, call_overrides, parsed)
    changed: list[PathKey] = []
    for hole in touched:
        if hole[0] in DOCUMENT_SECTIONS:
            _, problem = _put(document, hole, _copy(values[hole]), hole)
            if problem is not None:
                problems.append(problem)
            else:
                changed.append(hole)
    for path, template in plan.dependents:
        if not _uses(template, touched):
            continue
        rendered, problem = _render(template, values, path)
        if problem is None:
            _, problem = _put(document, path, rendered, path)
        if problem is not None:
            problems.append(problem)
        else:
            changed.append(path)
    # a hole that is also a dependent of itself (a reference to it) is changed once
    return values, list(dict.fromkeys(changed)), problems


def _hole_values(plan: Plan, call_overrides: Mapping[str, Any],
                 parsed: Sequence[tuple[str, PathKey, PathKey]]
                 ) -> tuple[dict[PathKey, Any], dict[PathKey, None], list[Problem]]:
    """Each hole's value for this call: the composed one with the call's values placed."""
    values = dict(plan.base)
    problems: list[Problem] = []
    touched: dict[PathKey, None] = {}
    for key, path, hole in parsed:
        value = call_overrides[key]
        problem = _json_problem(value, path)
        if problem is not None:
            problems.append(problem)
            continue
        rest = path[len(hole):]
        if not rest:
            values[hole] = _copy(value)
        else:
            base = values.get(hole, MISSING)
            if base is MISSING:
                base = {}
            elif hole not in touched:
                base = _copy(base)  # the plan's own value is never changed
            container, problem = _put(base, rest, _copy(value), path)
            if problem is not None:
                problems.append(problem)
                continue
            values[hole] = container
        touched[hole] = None
    return values, touched, problems


def constraint_problems(plan: Plan, values: Mapping[PathKey, Any], touched: Sequence[PathKey],
                        hidden: Callable[[PathKey], bool] = lambda path: False
                        ) -> Iterator[Problem]:
    """The contract's own constraints, for every entry a call touched. A value at a path
    `hidden` says is masked, or that an override's value could not be quoted at, is `***`."""
    for entry in plan.entries:
        hole = next((h for h in touched if under(entry.path, h)), None)
        if hole is None or (entry.enum is None and entry.minimum is None
                            and entry.maximum is None and entry.pattern is None):
            continue
        value = get(values.get(hole), entry.path[len(hole):]) if hole in values else MISSING
        if value is MISSING:
            continue
        found = list(_constraint(entry, value, True))  # the common case: nothing to say
        if found and not (hidden(entry.path)
                          or not _secrets.may_echo_data(entry.path, value)):
            found = list(_constraint(entry, value, False))
        yield from found


def _constraint(entry: Entry, value: Any, masked: bool) -> Iterator[Problem]:
    """The entry's constraints on `value` (all JSON data, integers in range). A `pattern`
    takes a string and `minimum`/`maximum` a number (not a boolean): any other value is
    refused, never let through unchecked. A masked value is `***`, with no did-you-mean."""
    shown = _describe(value, masked)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if entry.pattern is not None and not isinstance(value, str):
        yield Problem(entry.path, "call-type", f"expected a string, got {_got(value, masked)}:"
                      f" the profile's overridable: contract requires one matching "
                      f"{entry.pattern!r}", CALL_MARK, "send the value as a string")
        return
    if (entry.minimum is not None or entry.maximum is not None) and not number:
        yield Problem(entry.path, "call-type", f"expected a number, got {_got(value, masked)}:"
                      " the profile's overridable: contract bounds it", CALL_MARK,
                      None if masked else _coercion_hint(value, ("number",)))
        return
    if entry.enum is not None and value not in entry.enum:
        options = ", ".join(map(repr, entry.enum))
        yield Problem(entry.path, "call-enum", f"{shown} is not one of {options} (the "
                      "profile's overridable: contract)", CALL_MARK,
                      mean(did_you_mean(value, [str(o) for o in entry.enum]))
                      if isinstance(value, str) and not masked else None)
    if entry.minimum is not None and number and value < entry.minimum:
        yield Problem(entry.path, "call-minimum", f"{shown} is less than {entry.minimum}, the "
                      "minimum the profile allows per call", CALL_MARK)
    if entry.maximum is not None and number and value > entry.maximum:
        yield Problem(entry.path, "call-maximum", f"{shown} is greater than {entry.maximum}, "
                      "the maximum the profile allows per call", CALL_MARK)
    if entry.pattern is not None and re.search(entry.pattern, value) is None:
        yield Problem(entry.path, "call-pattern", f"{shown} does not match "
                      f"{entry.pattern!r}, as the profile requires per call", CALL_MARK)


def _uses(template: Hole | Template, touched: Mapping[PathKey, None]) -> bool:
    if isinstance(template, Hole):
        return template.entry in touched
    return any(isinstance(p, Hole) and p.entry in touched for p in template.parts)


def _render(template: Hole | Template, values: Mapping[PathKey, Any],
            path: PathKey) -> tuple[Any, Problem | None]:
    if isinstance(template, Hole):
        value = _fill(template, values)
        if value is MISSING:
            return None, _unfilled(template, path)
        return _copy(value), None
    parts: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            parts.append(part)
            continue
        value = _fill(part, values)
        if value is MISSING:
            return None, _unfilled(part, path)
        parts.append(str(value))
    return "".join(parts), None


def _fill(hole: Hole, values: Mapping[PathKey, Any]) -> Any:
    base = values.get(hole.entry, MISSING)
    return MISSING if base is MISSING else get(base, hole.rest)


def _unfilled(hole: Hole, path: PathKey) -> Problem:
    return Problem(path, "call-missing", f"uses {render_path((*hole.entry, *hole.rest))}, "
                   "which the call overrides leave without a value", CALL_MARK,
                   "give the whole value it needs")


def _put(tree: Any, path: PathKey, value: Any, shown: PathKey) -> tuple[Any, Problem | None]:
    """`tree` with `value` at `path`, creating mappings on the way (a missing list item
    cannot be created: only the index one past the end appends)."""
    node = tree
    for depth, part in enumerate(path[:-1]):
        nxt = child(node, part)
        if nxt is MISSING:
            if isinstance(part, int) or not isinstance(node, dict):
                return tree, _not_placeable(shown, path[: depth + 1])
            nxt = node[part] = {}
        elif not isinstance(nxt, dict | list):
            return tree, _not_placeable(shown, path[: depth + 1])
        node = nxt
    last = path[-1]
    if not assignable(node, last) or (isinstance(node, dict) and isinstance(last, int)):
        return tree, _not_placeable(shown, path)
    if isinstance(node, list) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return tree, None


def _not_placeable(shown: PathKey, where: PathKey) -> Problem:
    return Problem(shown, "call-placement", f"cannot be set: {render_path(where)} is not a "
                   "mapping or list that holds it", CALL_MARK, "override the whole value above")


def _json_problem(value: Any, path: PathKey, depth: int = 0) -> Problem | None:
    """Why a call value is not JSON data a profile may hold (located at the item that is
    not), or None. An integer must lie within +-`MAX_CALL_INTEGER`: checked before anything
    prints one (Python cannot print an integer of more than 4300 digits)."""
    if depth > MAX_DEPTH:
        return Problem(path, "type", f"expected JSON data, nested at most {MAX_DEPTH} deep",
                       CALL_MARK)
    children: Iterable[tuple[str | int, Any]] = ()
    if isinstance(value, dict):
        odd = [key for key in value if not isinstance(key, str)]
        if odd:
            return Problem(path, "type", f"expected JSON data, got a key of type "
                           f"{type(odd[0]).__name__}", CALL_MARK, "keys are strings")
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    elif isinstance(value, int) and not isinstance(value, bool) \
            and abs(value) > MAX_CALL_INTEGER:
        return Problem(path, "call-range", f"expected an integer between -{MAX_CALL_INTEGER} "
                       f"and {MAX_CALL_INTEGER} (a signed 64-bit integer), got one beyond that",
                       CALL_MARK, "send a smaller number, or the digits as a string")
    elif not (value is None or isinstance(value, str | int)
              or (isinstance(value, float) and math.isfinite(value))):
        return Problem(path, "type", f"expected JSON data, got a {type(value).__name__}",
                       CALL_MARK)
    for key, item in children:
        problem = _json_problem(item, (*path, key), depth + 1)
        if problem is not None:
            return problem
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
