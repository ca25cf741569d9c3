"""The per-call path: a composed profile plus a caller's values -> a validated profile.

Shared by `Loader.load(..., call_overrides=...)` and compiled bundles, so both give the same
document, problems and fingerprint. Nothing is composed, parsed or resolved here: the values are
placed by the profile's `Plan`, checked against the contract, the schema (a compiled check; the
wording from `_subschema`, no jsonschema) and the SDK lints, and the fingerprint is taken again.

A problem about a call value follows the rule of an override's (`_secrets.may_echo`): it quotes
a value only where an override's value could be quoted, never text shaped like a key, and never
a value the profile masks (`Profile.hidden_paths`) or anything that holds one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import _calls, _facets, _fingerprint, _secrets
from ._fastschema import compile_node
from ._paths import MISSING, PathKey, get, render_path, under
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
    hidden = _hider(base)
    problems.extend(_calls.constraint_problems(plan, values, touched, hidden))
    if not problems:
        problems.extend(_schema_problems(validator, plan, document, changed, hidden))
        problems.extend(_lint_problems(document, base, plan, checks=checks, strict=strict,
                                       changed=changed, validator=validator, hidden=hidden))
    if problems:  # what no message may quote: decided only when there is a message
        unsaid = _unsaid(call_overrides, parsed)
        problems = list(sorted_problems(_shown(p, unsaid) for p in problems))
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
                                           pieces=plan.pieces, graph=plan.graph)
    if plan.stamp:
        stamps = {"profile_fingerprint": fingerprint,
                  "profile_base_fingerprint": base.fingerprint,
                  "profile_call_keys": ",".join(sorted({_secrets.masked_key(render_path(p))
                                                        for _, p, _ in parsed}))}
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
    fresh = dict(plan.references)
    for path in stale:
        value = get(document, path)
        if value is MISSING:  # a call value replaced what held it
            del fresh[path]
        else:
            fresh[path] = _secrets.mask_texts(value, texts)
    return fresh


def _hider(base: Profile) -> Callable[[PathKey], bool]:
    """Whether the value at a path is, or holds, one the profile masks where it is shown."""
    masked = base.hidden_paths()

    def hidden(path: PathKey) -> bool:
        return any(under(path, m) or under(m, path) for m in masked)

    return hidden


def _unsaid(call_overrides: Mapping[str, Any],
            parsed: Sequence[tuple[str, PathKey, PathKey]]) -> list[str]:
    """The call's strings that no message may quote: each string of a value written where
    an override's value could not be quoted, longest first (six characters or more: a
    shorter one is masked where it is quoted, `_calls` and `_schema_problems`)."""
    found: set[str] = set()
    for key, path, _ in parsed:
        value = call_overrides[key]
        if not _secrets.may_echo_data(path, value):
            found.update(s for s in _strings(value) if len(s) >= 6)
    return sorted(found, key=len, reverse=True)


def _strings(value: Any) -> list[str]:
    stack, found = [value], []
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _shown(problem: Problem, unsaid: Sequence[str]) -> Problem:
    """`problem` as it may be shown, whichever check raised it (a lint, a plugin's): no key
    segment and no text shaped like a key, none of the call's strings that may not be
    quoted."""
    key = tuple(_secrets.MASK if isinstance(part, str) and _secrets.LITERAL_KEY.search(part)
                else part for part in problem.key)
    message = _secrets.masked_key(problem.message)
    suggestion = problem.suggestion and _secrets.masked_key(problem.suggestion)
    for text in unsaid:
        message = message.replace(text, _secrets.MASK)
        suggestion = suggestion and suggestion.replace(text, _secrets.MASK)
    if (key, message, suggestion) == (problem.key, problem.message, problem.suggestion):
        return problem
    return replace(problem, key=key, message=message, suggestion=suggestion)


def _schema_problems(validator: DocumentValidator, plan: _calls.Plan,
                     document: Mapping[str, Any], changed: Sequence[PathKey],
                     hidden: Callable[[PathKey], bool]) -> list[Problem]:
    """Schema problems of the changed values (the rest was valid when composed): each
    changed value is checked where its validity is decided (`SchemaNav.anchor`) by a check
    compiled once per plan; only a value that fails is explained, quoting nothing from it
    when an override's value could not be quoted there (or the profile masks it)."""
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
        masked = hidden(anchor) or not _secrets.may_echo_data(anchor, value)
        explained = explain(nav, nav.nodes(anchor), value, anchor, masked)
        if masked:  # a did-you-mean would tell what the value is close to
            explained = [p if p.code != "enum" else replace(p, suggestion=None)
                         for p in explained]
        if check is not None and not explained:  # the compiled check knows more: say so
            explained = [Problem(anchor, "call-invalid", "the call overrides make this value "
                                 "invalid", None, "check the overridden values against the "
                                 "schema")]
        found.extend(replace(p, mark=_calls.CALL_MARK) for p in explained)
    return found


def _lint_problems(document: Mapping[str, Any], base: Profile, plan: _calls.Plan, *,
                   checks: Sequence[Check],
                   strict: bool, changed: Sequence[PathKey],
                   validator: DocumentValidator,
                   hidden: Callable[[PathKey], bool]) -> list[Problem]:
    """Lint findings and open-enum warnings the call brought (the composed profile's own were
    reported when it was composed)."""
    known = {(p.key, p.code) for p in base.warnings}
    found: list[Problem] = []
    for check in checks:
        for problem in check(document):
            if (problem.key, problem.code) not in known:
                raised: Severity = "error" if strict else problem.severity
                found.append(replace(problem, severity=raised, mark=_calls.CALL_MARK))
    def unquotable(path: PathKey) -> bool:
        return hidden(path) or not _secrets.may_echo_data(path, get(document, path))

    located = validator.open_enum_problems(document, lambda path, key=False: (None, ()),
                                           "error" if strict else "warning", within=changed,
                                           memo=plan.checks, hides=unquotable)
    found.extend(replace(p, mark=_calls.CALL_MARK) for p in located)
    return found
