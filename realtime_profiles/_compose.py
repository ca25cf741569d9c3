"""One composition, stage by stage: gather layers (in precedence order) -> fold -> interpolate
-> secret rules -> validate and lint -> locate every problem.

Pure with respect to the `Loader`: everything it reads comes through the source context and
the resolver table it is given, and everything it read is returned as dependencies, so the
loader can cache the result and know when it goes stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from . import _secrets
from ._interpolate import Interpolator, ParseCache
from ._layer import Layer
from ._merge import Folder
from ._paths import PathKey, get
from ._provenance import Locator, Provenance
from ._resolvers import Reads, Resolver, recording
from ._sources import Context, Dep, EnvDep, FileDep, Request, TreeDep, Uncacheable, gather
from ._tree import Tree
from ._validate import DocumentValidator
from .errors import Mark, Problem, Severity, Suggestions, UsageError, sorted_problems, summarize

OUTPUT_SECTIONS: Final = ("run_config", "model_config", "start_messages", "client_messages")

Check = Callable[[Mapping[str, Any]], Iterable[Problem]]
"""A lint: the emitted document in, `Problem`s out (unlocated; `finish` locates them)."""


# Problems whose message quotes the text being resolved (a reference, a resolver call).
_QUOTING_CODES: Final = frozenset({"interpolation-syntax", "resolver", "reference-missing",
                                   "unknown-resolver", "env-unset", "secret-unavailable"})


@dataclass
class Composition:
    """Everything one composition found: the raw tree and the resolved document, problems so
    far, the secret paths (and which are unset), what must be masked where it is shown, and
    what it depended on."""

    raw: dict[str, Any]
    layers: list[Layer]
    document: dict[str, Any]
    problems: list[Problem]
    secrets: tuple[PathKey, ...]
    unset: dict[PathKey, tuple[str, ...]]
    deps: tuple[Dep, ...]
    failed: frozenset[PathKey] = frozenset()
    missing_secrets: dict[PathKey, str] = field(default_factory=dict)
    flow: _secrets.SecretFlow | None = None
    # an override's mark -> the same with its value masked, for overrides that write a value
    # that is masked (a secret, or what one is derived from)
    relabel: dict[Mark, Mark] = field(default_factory=dict)
    _prov: list[Provenance] = field(default_factory=list)

    def hides(self, path: PathKey) -> bool:
        """Whether the value at `path` is masked wherever it is shown."""
        return self.flow is not None and self.flow.hides(path)

    def hidden_in_document(self) -> tuple[PathKey, ...]:
        """The paths of the document shown as `***` besides the secrets themselves."""
        return self.flow.hidden_in(self.document) if self.flow is not None else ()

    def shown(self, problem: Problem) -> Problem:
        """`problem` as it may be shown: no masked value quoted in its message, no masked
        override value in its marks."""
        if self.flow and problem.key and problem.code in _QUOTING_CODES \
                and self.flow.hides(problem.key):
            text = get(self.raw, problem.key)
            if isinstance(text, str) and "${" in text:
                message = _secrets.unquoted(problem.message, text,
                                            drop_tail=problem.code == "interpolation-syntax")
                problem = replace(problem, message=message)
        if self.relabel and (problem.mark in self.relabel
                             or any(m in self.relabel for m in problem.via)):
            problem = replace(problem, mark=self.shown_mark(problem.mark),
                              via=tuple(self.relabel.get(m, m) for m in problem.via))
        return problem

    def shown_mark(self, mark: Mark | None) -> Mark | None:
        return self.relabel.get(mark, mark) if mark is not None else None

    def provenance(self) -> Provenance:
        """The fold again with provenance, done at most once per composition."""
        if not self._prov:
            prov = Provenance()
            Folder(prov).fold(self.layers)
            self._prov.append(prov)
        return self._prov[0]


def compose(request: Request, tree: Tree, context: Context, resolvers: Mapping[str, Resolver],
            parser: ParseCache, *, lenient: bool, cacheable: bool = True) -> Composition:
    """Compose `request`: its layers folded and resolved, with the problems found on the way
    (validation comes after, in `finish`). `lenient` resolves an unset secret to a
    placeholder (validate, show) instead of failing (load)."""
    tree.check(request.agent, request.env)
    gathered = gather(request, context)
    layers = gathered.layers
    suggest = Suggestions()  # one did-you-mean budget for the whole composition
    folder = Folder(suggest=suggest)
    raw = folder.fold(layers)
    raw["profile"] = {"agent": request.agent, "env": request.env}
    secrets = tuple(path for path, _ in _secrets.secret_paths(raw))
    reads = Reads(suggest)
    interpolator = Interpolator(raw, recording(resolvers, reads), parser,
                                secret_paths=frozenset(secrets), lenient_secrets=lenient,
                                reads=reads)
    resolution = interpolator.resolve(OUTPUT_SECTIONS)
    document = resolution.tree
    problems = [p for layer in layers for p in layer.problems]
    problems.extend(folder.problems)
    problems.extend(resolution.problems)
    deps: list[Dep] = [TreeDep(tree), *gathered.deps, *_resolver_deps(reads)]
    if not cacheable:
        deps.append(Uncacheable())
    flow = _secrets.SecretFlow.build(raw, document, resolution.edges, resolution.sources,
                                     folder.copies)
    _expand_shorthand(document)
    comp = Composition(raw, layers, document, problems, secrets, resolution.unset_secrets,
                       tuple(deps), resolution.failed, resolution.missing_secrets, flow)
    locator = Locator(comp.provenance)  # folds with provenance only if a check asks
    roots = _secrets.secret_roots(raw, document)
    problems.extend(_secrets.literal_read_problems(raw, roots, resolution.edges,
                                                   locator.winner))
    if folder.copies:
        problems.extend(_secrets.preset_literal_problems(raw, folder.copies, locator.winner))
    problems.extend(_secrets.container_reference_problems(layers))
    if flow:
        comp.relabel = {edit.mark: _secrets.masked_mark(edit.mark)
                        for layer in layers if layer.source.kind == "override"
                        for edit in layer.edits if flow.holds(edit.path)}
    return comp


def finish(comp: Composition, validator: DocumentValidator, checks: Sequence[Check],
           strict: bool) -> list[Problem]:
    """Validate and lint the document, then give every problem its file:line (one tracking
    fold, only when a problem needs locating)."""
    problems = list(comp.problems)
    locate = Locator(comp.provenance)
    if not any(p.severity == "error" and not p.key for p in problems):
        problems.extend(validator.problems(comp.document, locate, strict, comp.failed,
                                           comp.hides))
        for check in checks:
            for problem in check(comp.document):
                severity: Severity = "error" if strict else problem.severity
                problems.append(locate.attach(_with_severity(problem, severity)))
    # Not subject to `strict`: a missing secret is about the machine, not the profile,
    # and CI validates without production secrets.
    for path, variables in comp.unset.items():
        mark, via = locate(path)
        problems.append(Problem(
            path, "secret-unavailable",
            f"secret unavailable: environment variable {', '.join(variables)} is not set",
            mark, _secrets.UNSET_ADVICE, "warning", via))
    return list(sorted_problems(comp.shown(locate.attach(p)) for p in problems))


def _with_severity(problem: Problem, severity: Severity) -> Problem:
    return problem if problem.severity == severity else replace(problem, severity=severity)


def raise_for_overrides(problems: Sequence[Problem], comp: Composition) -> None:
    """A problem located on an override the caller typed is a usage error (exit 2)."""
    marks = {edit.mark for layer in comp.layers if layer.source.kind == "override"
             for edit in layer.edits}
    marks.update(comp.relabel.values())
    bad = [p for p in problems if p.severity == "error" and p.mark in marks]
    if bad:
        raise UsageError("invalid override: " + summarize(bad), bad)


def _resolver_deps(reads: Reads) -> list[Dep]:
    """What a resolution read from outside the tree, exactly as it was read — each variable's
    value, the identity of each file's bytes — to revalidate a cached profile against."""
    deps: dict[Dep, None] = {}
    for name, value in reads.env:
        deps[EnvDep(name, value)] = None
    for path, key in reads.files:
        deps[FileDep(path, key)] = None
    return list(deps)


def _expand_shorthand(document: dict[str, Any]) -> None:
    """`start_messages: ["Hi"]` -> one user message with one input_text part each."""
    messages = document.get("start_messages")
    if isinstance(messages, list):
        document["start_messages"] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": m}]}
            if isinstance(m, str) else m
            for m in messages
        ]
