"""The per-call path: a composed profile plus a caller's values -> a validated profile.

Shared by `Loader.load(..., call_overrides=...)` and compiled bundles, so both give the same
document, problems and fingerprint. Nothing is composed, parsed or resolved here: the values are
placed by the profile's `Plan`, checked against the contract, the schema (a compiled check; the
wording from `_subschema`, no jsonschema) and the SDK lints, and the fingerprint is taken again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import _calls, _facets, _fingerprint
from ._fastschema import compile_node
from ._paths import MISSING, PathKey, get, render_path
from ._subschema import explain
from ._validate import DocumentValidator
from .errors import Problem, ProfileValidationError, Severity, sorted_problems, summarize
from .profile import Explanation, Profile

Check = Callable[[Mapping[str, Any]], Iterable[Problem]]


def call_profile(base: Profile, plan: _calls.Plan | None, call_overrides: Mapping[str, Any], *,
                 validator: DocumentValidator, checks: Sequence[Check], strict: bool,
                 explainer: Callable[[str], Explanation] | None = None,
                 lenient: bool = False) -> tuple[Profile | None, tuple[Problem, ...]]:
    """The profile for one call, and the call's problems. Refused keys raise
    `OverrideNotAllowedError`; with `lenient` (check) bad values are returned as problems,
    otherwise they raise `ProfileValidationError`."""
    parsed = _calls.parse_calls(call_overrides, plan)
    assert plan is not None  # parse_calls refuses every key when there is no plan
    document = base.document()
    values, changed, problems = _calls.apply(document, plan, call_overrides, parsed)
    touched = list(dict.fromkeys(hole for _, _, hole in parsed))
    problems.extend(_calls.constraint_problems(plan, values, touched))
    if not problems:
        problems.extend(_schema_problems(validator, plan, document, changed))
        problems.extend(_lint_problems(document, base, plan, checks=checks, strict=strict,
                                       changed=changed, validator=validator))
    problems = list(sorted_problems(problems))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        if lenient:
            return None, tuple(problems)
        where = f"{base.agent}@{base.env or '-'}"
        if base.facets:
            where += f"[{_facets.label(base.facets)}]"
        raise ProfileValidationError(f"{where}: call overrides: {summarize(problems)}",
                                     problems)
    fingerprint = _fingerprint.fingerprint(document, base.facets,
                                           references=_references(plan, document, changed,
                                                                  base._secret_texts),
                                           known=plan.hashes, changed=changed,
                                           pieces=plan.pieces)
    if plan.stamp:
        stamps = {"profile_fingerprint": fingerprint,
                  "profile_base_fingerprint": base.fingerprint,
                  "profile_call_keys": ",".join(sorted({render_path(p) for _, p, _ in parsed}))}
        if base.facets:
            stamps["profile_facets"] = _facets.label(base.facets)
        _fingerprint.stamp(document, stamps)
    profile = replace(
        base,
        run_config=document.get("run_config") or {},
        model_config=document.get("model_config") or {},
        start_messages=document.get("start_messages") or [],
        client_messages=document.get("client_messages") or [],
        agent_config=document.get("agent") or {},
        warnings=tuple(sorted_problems([*base.warnings, *problems])),
        facets=dict(base.facets),
        fingerprint=fingerprint,
        _explainer=explainer,
    )
    return profile, tuple(problems)


def _references(plan: _calls.Plan, document: Mapping[str, Any], changed: Sequence[PathKey],
                texts: Sequence[str]) -> Mapping[PathKey, Any]:
    """The fingerprint's stand-ins for masked values, with each one the call changed (a
    template over a call value beside a secret) taken again from the call's document."""
    stale = [path for path in plan.references  # below or above what the call changed
             if any(path == c[:len(path)] or c == path[:len(c)] for c in changed)]
    if not stale:
        return plan.references
    from ._secrets import mask_texts

    fresh = dict(plan.references)
    for path in stale:
        value = get(document, path)
        if value is MISSING:  # a call value replaced what held it
            del fresh[path]
        else:
            fresh[path] = mask_texts(value, texts)
    return fresh


def _schema_problems(validator: DocumentValidator, plan: _calls.Plan,
                     document: Mapping[str, Any], changed: Sequence[PathKey]) -> list[Problem]:
    """Schema problems of the changed values (the rest was valid when composed): each
    changed value is checked where its validity is decided (`SchemaNav.anchor`) by a check
    compiled once per plan; only a value that fails is explained."""
    nav = validator.nav
    found: list[Problem] = []
    for path in changed:
        memo = plan.checks.get(path)
        if memo is None:
            anchor = nav.anchor(path)
            memo = plan.checks[path] = (anchor, compile_node(nav.schema, nav.nodes(anchor)))
        anchor, check = memo
        value = get(document, anchor)
        if check is not None and check(value):
            continue
        explained = explain(nav, nav.nodes(anchor), value, anchor)
        if check is not None and not explained:  # the compiled check knows more: say so
            explained = [Problem(anchor, "call-invalid", "the call overrides make this value "
                                 "invalid", None, "check the overridden values against the "
                                 "schema")]
        found.extend(replace(p, mark=_calls.CALL_MARK) for p in explained)
    return found


def _lint_problems(document: Mapping[str, Any], base: Profile, plan: _calls.Plan, *,
                   checks: Sequence[Check],
                   strict: bool, changed: Sequence[PathKey],
                   validator: DocumentValidator) -> list[Problem]:
    """Lint findings and open-enum warnings the call brought (the composed profile's own were
    reported when it was composed)."""
    known = {(p.key, p.code) for p in base.warnings}
    found: list[Problem] = []
    for check in checks:
        for problem in check(document):
            if (problem.key, problem.code) not in known:
                raised: Severity = "error" if strict else problem.severity
                found.append(replace(problem, severity=raised, mark=_calls.CALL_MARK))
    located = validator.open_enum_problems(document, lambda path, key=False: (None, ()),
                                           "error" if strict else "warning", within=changed,
                                           memo=plan.checks)
    found.extend(replace(p, mark=_calls.CALL_MARK) for p in located)
    return found
