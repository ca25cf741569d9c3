"""The matrix of combinations a tree defines: every agent x environment x facet option the
agent allows. `validate` checks all of it (and `snapshot` and `build` walk the same list), so a
facet option that breaks one agent in one environment is found in CI, not in a call.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ._tree import unknown_name
from .errors import UsageError, did_you_mean, mean

if TYPE_CHECKING:
    from .loader import Loader


class Combination(NamedTuple):
    """One cell of the matrix."""

    agent: str
    env: str | None
    facets: tuple[tuple[str, str], ...] = ()

    def label(self) -> str:
        """`support@prod` or `support@prod[locale=fr,transport=sip]`."""
        where = f"{self.agent}@{self.env or '-'}"
        if not self.facets:
            return where
        return where + "[" + ",".join(f"{g}={o}" for g, o in sorted(self.facets)) + "]"


def facet_filter(loader: Loader, texts: Sequence[str]) -> dict[str, set[str]]:
    """`--facet GROUP=OPTION` arguments as group -> the options to keep, checked against the
    tree (an unknown group or option is a usage error with did-you-mean)."""
    from ._facets import parse_choices

    groups = loader.tree().groups()
    wanted: dict[str, set[str]] = {}
    errors: list[str] = []
    for group, option in parse_choices(texts):
        if group not in groups:
            errors.append(unknown_name("facet group", group, list(groups)))
        elif option not in groups[group]:
            hint = mean(did_you_mean(option, groups[group]))
            errors.append(f"unknown option {option!r} of facet group {group!r} ("
                          f"{hint or 'options: ' + ', '.join(groups[group])})")
        else:
            wanted.setdefault(group, set()).add(option)
    if errors:
        raise UsageError("; ".join(errors))
    return wanted


def combinations(loader: Loader, agents: Sequence[str], envs: Sequence[str | None],
                 wanted: Mapping[str, set[str]] | None = None) -> list[Combination]:
    """Every agent x env x allowed facet option (restricted to `wanted`), in a stable order."""
    found: list[Combination] = []
    for agent in agents:
        for env in envs:
            groups = loader.facet_groups(agent, env)
            options = [[(name, o) for o in group.allowed
                        if not wanted or name not in wanted or o in wanted[name]]
                       for name, group in groups.items()]
            found.extend(Combination(agent, env, tuple(choice))
                         for choice in itertools.product(*options))
    return found


def sample(found: Sequence[Combination], size: int) -> list[Combination]:
    """An even, deterministic sample: the same `size` cells on every run. Cells are taken in
    the order of a hash of their labels, first those that bring an agent, an environment or
    a facet option the sample does not have yet (so every value appears once `size` allows),
    then the rest; the sample is put back in matrix order."""
    ranked = sorted(found, key=lambda c: hashlib.sha256(c.label().encode()).hexdigest())
    values = {c: {("agent", c.agent), ("env", c.env), *c.facets} for c in ranked}
    keep: list[Combination] = []
    seen: set[tuple[str, str | None]] = set()
    while len(keep) < size:  # each step: the cell that brings the most new values
        best = max(ranked, key=lambda c: len(values[c] - seen))  # the first such, by hash
        if not values[best] - seen:
            break  # every value is in: the rest by hash
        keep.append(best)
        seen |= values[best]
    chosen = set(keep)
    keep.extend(c for c in ranked if c not in chosen)
    kept = set(keep[:size])
    return [c for c in found if c in kept]


def summary(found: Sequence[Combination]) -> list[str]:
    """One line per dimension: the agents, the environments, each facet group's options (with
    how many combinations use each)."""
    agents = list(dict.fromkeys(c.agent for c in found))
    envs = list(dict.fromkeys(c.env or "-" for c in found))
    lines = [f"agents: {', '.join(agents)}", f"environments: {', '.join(envs)}"]
    counts: dict[str, Counter[str]] = {}
    for combination in found:
        for group, option in combination.facets:
            counts.setdefault(group, Counter())[option] += 1
    for group in sorted(counts):
        shown = ", ".join(f"{o} ({n})" for o, n in sorted(counts[group].items()))
        lines.append(f"facet {group}: {shown}")
    return lines
