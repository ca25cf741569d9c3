"""One composition, stage by stage: gather layers (in precedence order) -> fold -> interpolate
-> secret rules -> validate and lint -> locate every problem.

Pure with respect to the `Loader`: everything it reads comes through the source context and
the resolver table it is given, and everything it read is returned as dependencies, so the
loader can cache the result and know when it goes stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from . import _calls, _facets, _fingerprint, _secrets
from ._interpolate import MUST_SET, MUST_SET_HINT, Interpolator, ParseCache, copy_value
from ._layer import DOCUMENT_SECTIONS, Layer
from ._merge import Folder
from ._paths import MISSING, PathKey, get
from ._provenance import Locator, Provenance
from ._resolvers import Reads, Resolver, recording
from ._sources import (
    Context,
    Dep,
    EnvDep,
    FileDep,
    Request,
    Uncacheable,
    facet_dir_deps,
    gather,
)
from ._subschema import SchemaNav
from ._tree import Tree
from ._validate import DocumentValidator
from .errors import Mark, Problem, Severity, Suggestions, UsageError, sorted_problems, summarize

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
    facets: dict[str, str] = field(default_factory=dict)
    stamp: bool = True
    plan: _calls.Plan | None = None
    hashes: dict[PathKey, str] = field(default_factory=dict)
    # the digest of each handed-off agent's section in the fingerprint (filled when stamped;
    # the plan holds this very mapping)
    graph_digests: dict[str, str] = field(default_factory=dict)
    """Each container's hash in the fingerprint (a call's fingerprint reuses them)."""
    flow: _secrets.SecretFlow | None = None
    # outside source -> the text it gave (`Resolution.outputs`)
    outputs: dict[tuple[str, Any], str] = field(default_factory=dict)
    # an override's mark -> the same with its value masked, for overrides that write a value
    # that is masked (a secret, or what one is derived from)
    relabel: dict[Mark, Mark] = field(default_factory=dict)
    # the strings an override or a variable wrote that no message may quote (`may_echo`)
    unechoed: frozenset[str] = frozenset()
    _prov: list[Provenance] = field(default_factory=list)

    def hides(self, path: PathKey) -> bool:
        """Whether the value at `path` is masked wherever it is shown."""
        return self.flow is not None and self.flow.hides(path)

    def masks(self, path: PathKey) -> bool:
        """Whether a value set at `path` is masked wherever it is shown, or holds one that
        is: what a call may never set (`_calls.contract`). A var named like a secret is
        masked once set, whether or not a layer sets it (`_secrets.named_roots`)."""
        return _secrets.named_secret_var(path) or (
            self.flow is not None and self.flow.holds(path))

    def holds(self, path: PathKey) -> bool:
        """Whether the value at `path`, or anything inside it, is masked: a message that
        would quote it as a whole (a type error on a list) must not."""
        return self.flow is not None and self.flow.holds(path)

    def hidden_in_document(self) -> tuple[PathKey, ...]:
        """The paths of the document shown as `***` besides the secrets themselves."""
        return self.flow.hidden_in(self.document) if self.flow is not None else ()

    def secret_texts(self) -> tuple[str, ...]:
        """The text of every secret and of everything a secret reads from outside (a
        variable's value, a file's content), longest first: what no fingerprint hashes."""
        found = {value for path in self.secrets
                 if isinstance(value := get(self.document, path), str)}
        if self.flow is not None:
            found.update(text for source in self.flow.outside
                         if isinstance(text := self.outputs.get(source), str))
        found.discard("")
        return tuple(sorted(found, key=len, reverse=True))

    def references(self) -> dict[PathKey, Any]:
        """What the fingerprint hashes in place of a masked value: each secret's text as
        written (`${oc.env:NAME}`), and each value masked for being derived from one as it
        is with every secret text in it as `***` (`Hello bob. key=***`). The fingerprint
        changes with what is sent besides the secrets, never with a key, and cannot be used
        to test guesses of one."""
        found = {p: get(self.raw, p) for p in self.secrets}
        hidden = self.hidden_in_document()
        if hidden:
            texts = self.secret_texts()
            for path in hidden:
                if path not in found:
                    found[path] = _secrets.mask_texts(get(self.document, path), texts)
        return found

    def shown(self, problem: Problem) -> Problem:
        """`problem` as it may be shown: no masked value quoted in its message, no masked
        override value in its marks, and no value an override or a variable wrote that
        may not be echoed (a key-shaped value, one under a secret's name) nor anything
        shaped like a key in its message or suggestion — whichever check wrote them."""
        if self.unechoed or "sk-" in problem.message or "sk-" in (problem.suggestion or ""):
            message = _secrets.unquote_all(problem.message, self.unechoed)
            suggestion = _secrets.unquote_all(problem.suggestion, self.unechoed) \
                if problem.suggestion else problem.suggestion
            if message != problem.message or suggestion != problem.suggestion:
                problem = replace(problem, message=message, suggestion=suggestion)
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


def compose(request: Request, tree: Tree, context: Context, *,
            resolvers: Mapping[str, Resolver], parser: ParseCache,
            validator: DocumentValidator, lenient: bool, cacheable: bool = True) -> Composition:
    """Compose `request`: its layers folded and resolved, with the problems found on the way
    (validation comes after, in `finish`). `lenient` resolves an unset secret to a
    placeholder (validate, show) instead of failing (load)."""
    # Over 60 lines because it is the pipeline itself, one stage per line in order (gather,
    # fold, resolve, secret flow, problems, plan): split, the order would hide in calls.
    tree.check(request.agent, request.env)
    gathered = gather(request, context, tree)
    layers = [_checked(layer, validator) for layer in gathered.layers]
    suggest = Suggestions()  # one did-you-mean budget for the whole composition
    folder = Folder(free_form=validator.free_form, suggest=suggest)
    raw = folder.fold(layers)
    raw["profile"] = {"agent": request.agent, "env": request.env}
    secrets = tuple(path for path, _ in _secrets.secret_paths(raw))
    reads = Reads(suggest)
    interpolator = Interpolator(raw, recording(resolvers, reads), parser,
                                secret_paths=frozenset(secrets), lenient_secrets=lenient,
                                reads=reads)
    resolution = interpolator.resolve(DOCUMENT_SECTIONS)
    document = resolution.tree
    # what a secret reads, and what reads the same, is masked wherever it is shown: decided
    # on the document as resolved, before the shorthand and the default name reshape it
    flow = _secrets.SecretFlow.build(raw, document, resolution.edges, resolution.sources,
                                     folder.copies)
    # a name is shown where no mask reaches (the SDK's tool names and logs): never a secret
    names = list(_secrets.derived_name_problems(document, flow, validator.nav.registry))
    _expand_shorthand(document)
    _default_agent_name(document, request.agent)
    problems = [p for layer in layers for p in layer.problems]
    problems.extend(names)
    problems.extend(gathered.problems)
    problems.extend(_facets.misplaced(layers))
    problems.extend(folder.problems)
    stamp, settings_problems = _fingerprint.stamping(raw.get("fingerprint"))
    problems.extend(settings_problems)
    problems.extend(resolution.problems)
    unset_marks = list(_must_set(document, ()))
    problems.extend(unset_marks)
    deps: list[Dep] = [*facet_dir_deps(tree.root, tree), *gathered.deps,
                       *_resolver_deps(reads)]
    if not cacheable:
        deps.append(Uncacheable())
    failed = resolution.failed
    if unset_marks:  # left out like a value that failed: nothing else piles onto them
        failed |= {p.key for p in unset_marks}
        for problem in unset_marks:
            _remove(document, problem.key)
    comp = Composition(raw, layers, document, problems, secrets, resolution.unset_secrets,
                       tuple(deps), failed, resolution.missing_secrets,
                       gathered.facets, stamp, flow=flow, outputs=resolution.outputs)
    locator = Locator(comp.provenance)  # folds with provenance only if a check asks
    roots = _secrets.secret_roots(raw, document)
    problems.extend(_secrets.literal_read_problems(raw, roots, resolution.edges,
                                                   locator.winner))
    if folder.copies:
        problems.extend(_secrets.preset_literal_problems(raw, folder.copies, locator.winner))
    problems.extend(_secrets.container_reference_problems(layers))
    if flow:
        comp.relabel = {edit.mark: _secrets.masked_mark(edit.mark)
                        for layer in layers if layer.source.kind in _USAGE_LAYERS
                        for edit in layer.edits if flow.holds(edit.path)}
    comp.unechoed = _secrets.unechoed_values(
        (edit.path, edit.value) for layer in layers if layer.source.kind in _USAGE_LAYERS
        for edit in layer.edits if edit.kind != "delete")
    entries, contract_problems = _calls.contract(raw.get(_calls.SECTION), validator.nav,
                                                 comp.masks)
    problems.extend(contract_problems)
    if entries:
        comp.plan = _plan(comp, entries, resolvers, parser, validator.nav)
    return comp


def _plan(comp: Composition, entries: tuple[_calls.Entry, ...],
          resolvers: Mapping[str, Resolver], parser: ParseCache,
          nav: SchemaNav) -> _calls.Plan:
    """What a call on this composition needs: resolve once more with the overridable paths
    left open, to learn what derives from each (and refuse where a call value may not go)."""
    holes = _calls.outermost(entries)
    secrets = frozenset(comp.secrets)
    opened = Interpolator(comp.raw, resolvers, parser, secret_paths=secrets,
                          lenient_secrets=True, holes=frozenset(holes))
    resolution = opened.resolve(DOCUMENT_SECTIONS)
    dependents = tuple(_calls.dependents_in(resolution.tree))
    comp.problems.extend(p for p in resolution.problems if p.code == "call-contract")
    comp.problems.extend(_calls.flow_problems(dependents, nav))
    plain = Interpolator(comp.raw, resolvers, parser, secret_paths=secrets,
                         lenient_secrets=True)
    if comp.flow:  # a var no emitted value reads is unknown to the flow: resolved here
        for entry in entries:
            if entry.path[0] in DOCUMENT_SECTIONS or comp.masks(entry.path):
                continue
            plain.value_or_missing(entry.path)
            if comp.flow.draws_on(entry.path, plain.edges, plain.sources):
                comp.problems.append(_calls.masked_problem(entry.path))
    base: dict[PathKey, Any] = {}
    for hole in holes:
        value = get(comp.document, hole) if hole[0] in DOCUMENT_SECTIONS \
            else plain.value_or_missing(hole)
        if value is not MISSING:
            base[hole] = copy_value(value)
    references = comp.references()
    return _calls.Plan(entries, holes, base, dependents, references, comp.stamp, comp.hashes,
                       {}, {}, comp.graph_digests)


def _checked(layer: Layer, validator: DocumentValidator) -> Layer:
    """An override or variable layer with every edit whose key the schema does not know
    taken out and reported on the layer (a usage error: exit 2), so a typo is never added to
    the profile, nor blamed on a file that happens to hold the parent key."""
    if layer.source.kind not in _USAGE_LAYERS or not layer.edits:
        return layer
    variable = layer.source.label.removeprefix("environment variable ") \
        if layer.source.kind == "environment" else None
    kept, problems = [], list(layer.problems)
    for edit in layer.edits:
        problem = validator.edit_problem(edit, variable)
        if problem is None:
            kept.append(edit)
        else:
            problems.append(problem)
    if len(kept) == len(layer.edits):
        return layer
    return replace(layer, edits=tuple(kept), problems=tuple(problems))


def finish(comp: Composition, validator: DocumentValidator, checks: Sequence[Check],
           strict: bool) -> list[Problem]:
    """Validate and lint the document, then give every problem its file:line (one tracking
    fold, only when a problem needs locating)."""
    problems = list(comp.problems)
    locate = Locator(comp.provenance)
    if not any(p.severity == "error" and not p.key for p in problems):
        problems.extend(validator.problems(comp.document, locate, strict, comp.failed,
                                           comp.holds))
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


# Layers typed by the caller, not read from the tree: a problem there is a usage error.
_USAGE_LAYERS: Final = {"override": "override", "environment": "environment variable"}


def raise_for_overrides(problems: Sequence[Problem], comp: Composition) -> None:
    """A problem located on an override the caller typed, or on a `REALTIME_PROFILES__*`
    variable, is a usage error (exit 2): the input to fix is the command line or the
    environment, not a file of the tree. (A masked override's mark counts as its own.)"""
    kinds = {mark: _USAGE_LAYERS[layer.source.kind] for layer in comp.layers
             if layer.source.kind in _USAGE_LAYERS for mark in layer.marks.values()}
    for mark, shown in comp.relabel.items():
        if mark in kinds:
            kinds[shown] = kinds[mark]
    bad = [p for p in problems if p.severity == "error" and p.mark in kinds]
    if bad:
        named = sorted({kinds[p.mark] for p in bad if p.mark is not None})
        raise UsageError(f"invalid {' and '.join(named)}: {summarize(bad)}", bad)


def _resolver_deps(reads: Reads) -> list[Dep]:
    """What a resolution read from outside the tree, exactly as it was read — each variable's
    value, the identity of each file's bytes — to revalidate a cached profile against."""
    deps: dict[Dep, None] = {}
    for name, value in reads.env:
        deps[EnvDep(name, value)] = None
    for path, key in reads.files:
        deps[FileDep(path, key)] = None
    return list(deps)


def _default_agent_name(document: dict[str, Any], agent: str) -> None:
    """An `agent:` section without `name` is the profile's agent: `agents/faq.yaml` builds a
    RealtimeAgent named `faq`, handed off to as `transfer_to_faq`."""
    section = document.get("agent")
    if isinstance(section, dict) and "name" not in section:
        section["name"] = agent


def _must_set(node: Any, path: PathKey) -> Iterator[Problem]:
    """Every `???` left in the document: Hydra's "must be overridden" marker, which the SDK
    would otherwise receive as a value."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _must_set(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _must_set(value, (*path, index))
    elif isinstance(node, str) and node == MUST_SET:
        yield Problem(path, "missing-value", f"is {MUST_SET}: a value that must be set",
                      None, MUST_SET_HINT)


def _remove(document: dict[str, Any], path: PathKey) -> None:
    """Leave a value out of the document (a list keeps its place with null, as for a value
    that failed to resolve)."""
    from ._paths import get, remove

    parent = get(document, path[:-1])
    if isinstance(parent, list):
        parent[int(path[-1])] = None
    else:
        remove(parent, path[-1])


def _expand_shorthand(document: dict[str, Any]) -> None:
    """`start_messages: ["Hi"]` -> one user message with one input_text part each."""
    messages = document.get("start_messages")
    if isinstance(messages, list):
        document["start_messages"] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": m}]}
            if isinstance(m, str) else m
            for m in messages
        ]
