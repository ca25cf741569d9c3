"""Facets: the dimensions a profile varies along besides agent and environment.

A facet group is a folder `facets/<group>/`, its options the `*.yaml` files in it (transport:
web, sip; locale: en, fr; variant: control, new_voice). The `facets:` section of base, env and
agent layers declares, per group, the `default` option, the options an agent `allowed`, and
`weights` that make the group a traffic split. A load picks one option per group: the one the
caller asked for, else (for a weighted group, given a bucket) the bucketed one, else the default.

Bucketing is weighted rendezvous hashing over SHA-256: the same bucket (a call id, a caller
number) gets the same option in every process, on every machine and Python version; each
option's share is its weight's; and changing one option's weight moves only buckets to or from
that option — the minimum that must move.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._paths import PathKey
from .errors import Mark, Problem, UsageError, did_you_mean, mean

if TYPE_CHECKING:
    from ._layer import Layer

SECTION: Final = "facets"
DECLARING_KINDS: Final = frozenset({"base", "env", "agent"})
FIELDS: Final = ("default", "allowed", "weights")


class Group(NamedTuple):
    """One facet group as a given agent in a given environment sees it."""

    name: str
    options: tuple[str, ...]
    """Every option of the group (files under facets/<group>/)."""
    default: str | None
    allowed: tuple[str, ...]
    """The options this agent allows (all of them unless the declarations narrow them)."""
    weights: tuple[tuple[str, int], ...]
    """(option, weight) of a traffic split, empty for a plain group."""


class Declaration(NamedTuple):
    """The `facets:` sections of the declaring layers, folded field by field (a later layer
    replaces a field), with the mark of each field's winning write."""

    fields: dict[str, dict[str, Any]]
    marks: dict[PathKey, Mark]


def declaration(layers: Sequence[Layer]) -> tuple[Declaration, list[Problem]]:
    """Fold the `facets:` sections of the declaring layers (base, env, agent); the sections
    of other layers are ignored here (`misplaced` reports them)."""
    fields: dict[str, dict[str, Any]] = {}
    marks: dict[PathKey, Mark] = {}
    problems: list[Problem] = []
    for layer in layers:
        section = layer.data.get(SECTION)
        if section is None or layer.source.kind not in DECLARING_KINDS:
            continue
        if not isinstance(section, dict):
            problems.append(Problem((SECTION,), "type", "expected a mapping of facet groups",
                                    layer.marks.get((SECTION,)),
                                    "write facets: {transport: {default: web}}"))
            continue
        for group, spec in section.items():
            problems.extend(_fold_group(layer, group, spec, fields, marks))
    return Declaration(fields, marks), problems


def misplaced(layers: Sequence[Layer]) -> Iterator[Problem]:
    """A `facets:` section in a layer that cannot declare one: it would come after the choice
    is made (agent@env, local, a facet file itself)."""
    for layer in layers:
        if SECTION in layer.data and layer.source.kind not in DECLARING_KINDS:
            yield Problem(
                (SECTION,), "facet-declaration", "facets are declared in base.yaml, "
                f"env/<env>.yaml or agents/<agent>.yaml, not in a {layer.source.kind} layer",
                layer.marks.get((SECTION,)), "move this section to one of those files")


def _fold_group(layer: Layer, group: str, spec: Any, fields: dict[str, dict[str, Any]],
                marks: dict[PathKey, Mark]) -> Iterator[Problem]:
    path: PathKey = (SECTION, group)
    if not isinstance(spec, dict):
        yield Problem(path, "type", "expected a mapping with default, allowed or weights",
                      layer.marks.get(path), "write {default: <option>}")
        return
    known = fields.setdefault(group, {})
    for name, value in spec.items():
        where = (*path, name)
        if name not in FIELDS:
            yield Problem(where, "unknown-key", "unknown key",
                          layer.mark_at(where), mean(did_you_mean(name, FIELDS))
                          or "allowed here: " + ", ".join(FIELDS))
            continue
        if _holds_reference(value):
            yield Problem(where, "facet-declaration", "a facet declaration cannot use ${...}: "
                          "facets are chosen before anything is resolved",
                          layer.mark_at(where), "write the option names themselves")
            continue
        known[name] = value
        marks[where] = layer.mark_at(where) or Mark(layer.source.label)


def _holds_reference(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_holds_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_reference(v) for v in value)
    return False


def groups(tree_facets: Mapping[str, tuple[str, ...]],
           declared: Declaration) -> tuple[dict[str, Group], list[Problem]]:
    """Every group of the tree as declared (problems for what cannot be used)."""
    found: dict[str, Group] = {}
    problems: list[Problem] = []
    for name in declared.fields:
        if name not in tree_facets:
            mark = declared.marks.get(next(((SECTION, name, f) for f in FIELDS
                                            if (SECTION, name, f) in declared.marks),
                                           (SECTION, name)))
            problems.append(Problem(
                (SECTION, name), "unknown-facet", f"there is no facet group {name!r} "
                "(no folder facets/" f"{name}/)", mark,
                mean(did_you_mean(name, list(tree_facets)))
                or f"groups: {', '.join(tree_facets) or 'none'}"))
    for name, options in tree_facets.items():
        group, more = _group(name, options, declared)
        problems.extend(more)
        found[name] = group
    return found, problems


def _group(name: str, options: tuple[str, ...],
           declared: Declaration) -> tuple[Group, list[Problem]]:
    spec = declared.fields.get(name, {})
    problems: list[Problem] = []

    def problem(field: str, code: str, message: str, hint: str | None) -> None:
        path = (SECTION, name, field)
        problems.append(Problem(path, code, message, declared.marks.get(path), hint))

    def known(option: Any, field: str) -> bool:
        if isinstance(option, str) and option in options:
            return True
        hint = mean(did_you_mean(option, options)) if isinstance(option, str) else None
        problem(field, "unknown-facet-option", f"{option!r} is not an option of facet group "
                f"{name!r} (files in facets/{name}/: {', '.join(options) or 'none'})",
                hint or f"add facets/{name}/{option}.yaml, or use one of the options")
        return False

    allowed = options
    raw_allowed = spec.get("allowed")
    if raw_allowed is not None:
        if not isinstance(raw_allowed, list) or not raw_allowed:
            problem("allowed", "type", "expected a non-empty list of options",
                    "write allowed: [web]")
        else:
            allowed = tuple(o for o in raw_allowed if known(o, "allowed"))
    default = spec.get("default")
    if default is None:
        problem("default", "facet-default", f"facet group {name!r} has no default option",
                f"declare it in base.yaml: facets: {{{name}: {{default: "
                f"{options[0] if options else '<option>'}}}}}")
    elif not known(default, "default"):
        default = None
    elif default not in allowed:
        problem("default", "facet-default", f"the default {default!r} is not among the "
                f"allowed options ({', '.join(allowed)})",
                "set a default this agent allows")
        default = None
    weights = _weights(spec.get("weights"), allowed, known, problem)
    return Group(name, options, default, allowed, weights), problems


def _weights(raw: Any, allowed: tuple[str, ...], known: Any,
             problem: Any) -> tuple[tuple[str, int], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        problem("weights", "type", "expected a mapping of option to weight",
                "write weights: {control: 90, new_voice: 10}")
        return ()
    weights: list[tuple[str, int]] = []
    for option, weight in raw.items():
        if not known(option, "weights"):
            continue
        if option not in allowed:
            problem("weights", "facet-weights", f"{option!r} has a weight but is not allowed "
                    "here", "weigh only the allowed options")
            continue
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            problem("weights", "facet-weights", f"the weight of {option!r} must be an integer "
                    f">= 0, got {weight!r}", "weights are relative: 90 and 10 split 90/10")
            continue
        weights.append((option, weight))
    if weights and sum(w for _, w in weights) == 0:
        problem("weights", "facet-weights", "every weight is 0", "give one option a weight")
        return ()
    return tuple(weights)


def choose(found: Mapping[str, Group], requested: Mapping[str, str],
           bucket: str | None) -> dict[str, str]:
    """The option of every group: the requested one, else the bucketed one (a weighted
    group, given a bucket), else the default. A request the tree cannot satisfy is the
    caller's mistake (`UsageError`, exit 2)."""
    errors: list[str] = []
    for name, option in requested.items():
        group = found.get(name)
        if group is None:
            hint = mean(did_you_mean(name, list(found)))
            errors.append(f"unknown facet group {name!r} ("
                          f"{hint or 'groups: ' + (', '.join(found) or 'none')})")
        elif option not in group.options:
            hint = mean(did_you_mean(option, group.options))
            errors.append(f"unknown option {option!r} of facet group {name!r} ("
                          f"{hint or 'options: ' + ', '.join(group.options)})")
        elif option not in group.allowed:
            errors.append(f"facet {name}={option} is not allowed for this agent (allowed: "
                          f"{', '.join(group.allowed)})")
    if errors:
        raise UsageError("; ".join(errors))
    chosen: dict[str, str] = {}
    for name, group in found.items():
        if name in requested:
            chosen[name] = requested[name]
        elif bucket is not None and group.weights:
            chosen[name] = bucket_option(name, group.weights, bucket)
        elif group.default is not None:
            chosen[name] = group.default
    return chosen


_UNIT: Final = 2.0 ** -53


def bucket_option(group: str, weights: Sequence[tuple[str, int]], bucket: str) -> str:
    """The option `bucket` falls in: weighted rendezvous hashing (each option draws
    -ln(u)/weight from SHA-256 of group, option and bucket; the smallest draw wins), so shares
    follow the weights and a weight change moves only the buckets it must."""
    best, best_draw = "", math.inf
    for option, weight in weights:
        if weight <= 0:
            continue
        digest = hashlib.sha256(f"{group}\x00{option}\x00{bucket}".encode()).digest()
        u = ((int.from_bytes(digest[:8], "big") >> 11) + 0.5) * _UNIT  # in (0, 1)
        draw = -math.log(u) / weight
        if draw < best_draw:
            best, best_draw = option, draw
    return best


def label(chosen: Mapping[str, str]) -> str:
    """`locale=fr,transport=sip`: the choices, sorted by group (for traces and messages)."""
    return ",".join(f"{g}={o}" for g, o in sorted(chosen.items()))


def parse_choices(texts: Sequence[str]) -> list[tuple[str, str]]:
    """`GROUP=OPTION` command-line arguments, or one `UsageError` naming every bad one."""
    pairs: list[tuple[str, str]] = []
    bad = [t for t in texts if "=" not in t or not all(t.split("=", 1))]
    if bad:
        raise UsageError("--facet takes GROUP=OPTION: " + ", ".join(map(repr, bad)))
    for text in texts:
        group, option = text.split("=", 1)
        pairs.append((group.strip(), option.strip()))
    return pairs
