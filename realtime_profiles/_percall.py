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
from ._paths import PathKey, render_path, under
from ._subschema import explain
from ._validate import DocumentValidator
from .errors import Problem, ProfileValidationError, Severity, sorted_problems, summarize
from .profile import Explanation, Profile, copy_json

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
        problems.extend(_schema_problems(validator, document, changed))
        problems.extend(_lint_problems(document, base, checks=checks, strict=strict,
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
    fingerprint = _fingerprint.fingerprint(
        _fingerprint.for_hashing(copy_json(document), plan.references), base.facets)
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
        warnings=tuple(sorted_problems([*base.warnings, *problems])),
        facets=dict(base.facets),
        fingerprint=fingerprint,
        _explainer=explainer,
    )
    return profile, tuple(problems)


def _schema_problems(validator: DocumentValidator, document: Mapping[str, Any],
                     changed: Sequence[PathKey]) -> list[Problem]:
    """Schema problems of the changed values (the rest was valid when composed). The
    compiled check decides; only when it finds fault is each changed value explained."""
    if validator.certainly_valid(document):
        return []
    found: list[Problem] = []
    for path in changed:
        value: Any = document
        for part in path:
            value = value[part]
        found.extend(replace(p, mark=_calls.CALL_MARK)
                     for p in explain(validator.nav, validator.nav.nodes(path), value, path))
    if not found:  # the fault is not in a changed value itself: say what made it
        found.append(Problem(tuple(changed[0]) if changed else (), "call-invalid",
                             "the call overrides make the profile invalid", _calls.CALL_MARK,
                             "check the overridden values against the schema"))
    return found


def _lint_problems(document: Mapping[str, Any], base: Profile, *, checks: Sequence[Check],
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
                                           "error" if strict else "warning")
    found.extend(replace(p, mark=_calls.CALL_MARK) for p in located
                 if any(under(p.key, c) for c in changed))
    return found
