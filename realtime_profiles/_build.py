"""Compile a profile tree into a bundle: the artifact a fleet of workers loads.

One JSON file per agent x environment x facet combination (the composed, validated profile,
its warnings, its call plan), the packaged schema, and `manifest.json` (every combination's
fingerprint and file hash, the facet groups and their weights, the bundle's own fingerprint,
the tool and schema versions, the git commit). Secrets are never resolved into a bundle: each
stays the reference it was written as (`${oc.env:NAME}`, `${file:path}`, with plain text
around), resolved by the worker that loads it. Two builds of the same tree are byte-identical;
nothing is written unless the whole tree is valid, and the bundle is swapped in whole.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from . import __version__, _matrix
from ._calls import Plan
from ._interpolate import Hole, Template, simple_pieces
from ._paths import MISSING, PathKey, get, render_path
from .errors import Problem, ProfileValidationError, sorted_problems, summarize

if TYPE_CHECKING:
    from ._compose import Composition
    from .loader import Loader

FORMAT: Final = 1
MANIFEST: Final = "manifest.json"
SCHEMA: Final = "schema.json"
SHIPPABLE_RESOLVERS: Final = ("oc.env", "file")


def dumps(value: Any) -> bytes:
    """The bundle's one serialization: two-space indent, UTF-8, final newline. Keys stay in
    the order they were written (a document keeps its files' order, as `load` gives it);
    composition is deterministic, so the bytes are too."""
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode(
        "utf-8")


def compile_bundle(loader: Loader, *, strict: bool = False,
                   source_date_epoch: str | None = None) -> dict[str, bytes]:
    """Every file of the bundle of `loader`'s tree, by name; `ProfileValidationError` with
    every problem of every combination when the tree is not valid (nothing is compiled)."""
    tree = loader.tree()
    envs: list[str | None] = list(tree.envs) or [None]
    matrix = _matrix.combinations(loader, tree.agents, envs)
    results = loader.check_many(((c.agent, c.env, dict(c.facets)) for c in matrix),
                                strict=strict)
    where: dict[Problem, list[str]] = {}
    for combination, result in zip(matrix, results, strict=True):
        for problem in result.errors:
            where.setdefault(problem, []).append(combination.label())
    if where:
        raise ProfileValidationError(
            f"the tree does not validate ({len(where)} error"
            f"{'s' if len(where) != 1 else ''} in "
            f"{sum(1 for r in results if not r.ok)} of {len(results)} combinations): "
            "nothing was built", sorted_problems(where))
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    problems: list[Problem] = []
    # a bundle holds every combination: what any secret of the tree reads (a token in one
    # agent's header) is a secret's text in all of them, even where no secret reads it
    texts = tree_secret_texts(results)
    for combination in matrix:
        name, data, found = _combination_file(loader, combination, strict, texts)
        problems.extend(found)
        files[name] = dumps(data)
        entries.append({"agent": combination.agent, "env": combination.env,
                        "facets": dict(combination.facets), "label": combination.label(),
                        "file": name, "fingerprint": data["fingerprint"],
                        "sha256": hashlib.sha256(files[name]).hexdigest()})
    if problems:
        raise ProfileValidationError(f"the tree cannot be shipped as a bundle: "
                                     f"{summarize(problems)}; nothing was built",
                                     sorted_problems(problems))
    from ._schema_files import packaged_text

    files[SCHEMA] = packaged_text().encode("utf-8")
    files[MANIFEST] = dumps(_manifest(loader, envs, entries, files, source_date_epoch))
    return files


def tree_secret_texts(results: Iterable[Any]) -> tuple[str, ...]:
    """The secret texts (`Profile._secret_texts`) of every checked profile, longest first."""
    found = {t for r in results if r.profile is not None for t in r.profile._secret_texts}
    return tuple(sorted(found, key=len, reverse=True))


def _combination_file(loader: Loader, combination: _matrix.Combination, strict: bool,
                      texts: Sequence[str]) -> tuple[str, dict[str, Any], list[Problem]]:
    """The file of one combination: its document with each secret as its reference."""
    from ._sources import Request

    request = Request(combination.agent, combination.env, (), combination.facets)
    result, comp, _ = loader._check_composed(request, strict)
    profile = result.profile                                 # the composition's raw tree
    assert profile is not None  # the tree validated
    document = profile.document()
    secrets: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for path in comp.secrets:
        value = get(document, path)
        if not isinstance(value, str):  # {callable: name}: a name, not a secret value
            continue
        reference = get(comp.raw, path)
        source = shippable_source(comp, reference)
        if source is None:
            problems.append(Problem(path, "bundle-secret", "cannot ship in a bundle: a "
                                    "bundle holds a secret only as a reference to where it "
                                    "is read, and this one is a value, or is built in a way "
                                    "a worker cannot resolve", profile_mark(comp, path),
                                    "write it as ${oc.env:NAME} or ${file:path}, with plain "
                                    "text around if needed"))
            continue
        _set(document, path, reference)
        secrets[render_path(path)] = {"key": list(path), "reference": reference,
                                      "source": source}
    problems.extend(_ship_derived(comp, document, secrets))
    quoting = [path for path, text in _strings_at(document)
               if render_path(path) not in secrets and any(t in text for t in texts)]
    if quoting:
        problems.extend(_ship_derived(comp, document, secrets, quoting, texts))
    data = {
        "format": FORMAT,
        "agent": combination.agent,
        "env": combination.env,
        "facets": dict(combination.facets),
        "fingerprint": profile.fingerprint,
        "document": document,
        "secrets": secrets,
        # the build machine's unset secrets are not the bundle's: a worker reads them
        "warnings": [_problem_data(p) for p in profile.warnings
                     if p.code != "secret-unavailable"],
        "plan": plan_data(comp.plan),
        # the agents it hands off to, as the profile's graph: their agent sections, with
        # what those derive from a secret as references (resolved by a worker)
        "graph": _graph_data(loader, request, profile, problems, texts),
    }
    return file_name(combination), data, problems


def _graph_data(loader: Loader, request: Any, profile: Any, problems: list[Problem],
                texts: Sequence[str]) -> dict[str, Any]:
    """The graph section of a combination file: each handoff target's agent section, its
    values derived from a secret shipped as references like the document's own."""
    graph: dict[str, Any] = {}
    for name, node in sorted(profile.graph.items()):
        entry: dict[str, Any] = {"env": node.env, "agent": node.config}
        document = {"agent": entry["agent"]}
        # what quotes a secret of the tree (the header token of the profile handing off,
        # read by the target too) ships as a reference, whatever the target's own secrets
        quoting = [path for path, text in _strings_at(document)
                   if any(t in text for t in texts)]
        if node._hidden or quoting:
            comp = loader._node_composition(request, name)
            secrets: dict[str, dict[str, Any]] = {}
            found = list(_ship_derived(comp, document, secrets, quoting, texts))
            problems.extend(replace(p, message=f"{p.message} (agent {name!r}, handed off "
                                    f"to by {profile.agent!r})") for p in found)
            entry["secrets"] = secrets
        graph[name] = entry
    return graph


def _ship_derived(comp: Composition, document: dict[str, Any],
                  secrets: dict[str, dict[str, Any]], extra: Sequence[PathKey] = (),
                  more_texts: Sequence[str] = ()) -> Iterator[Problem]:
    """Values derived from what a secret reads (an instruction quoting the key, a token also
    put in tracing metadata) ship as their reference, like the secret, so the bundle and the
    ConfigMap made of it never hold the secret's text; a worker resolves them and masks
    them wherever they are shown. One that cannot be put as a reference is refused."""
    texts: tuple[str, ...] | None = None
    for path in dict.fromkeys([*comp.hidden_in_document(), *extra]):
        value = get(document, path)
        if value is MISSING or render_path(path) in secrets:
            continue
        reference = get(comp.raw, path)
        source = shippable_source(comp, reference) if isinstance(value, str) else None
        if source is None:
            if texts is None:
                from ._secrets import mask_texts

                texts = (*comp.secret_texts(), *more_texts)
            if mask_texts(value, texts) == value and "${" not in str(value):
                # masked by its name alone (`vars.access_token`): no secret's text in it
                if isinstance(value, str):  # still shown as *** by a worker
                    secrets[render_path(path)] = {"key": list(path), "reference": value,
                                                  "source": value, "derived": True}
                continue
            yield Problem(path, "bundle-secret", "cannot ship in a bundle: this value is "
                          "derived from what a secret reads, and a bundle holds such a value "
                          "only as a reference to where it is read", profile_mark(comp, path),
                          "write it as text around ${oc.env:NAME} or ${file:path}, or do not "
                          "build it from a secret")
            continue
        _set(document, path, reference)
        secrets[render_path(path)] = {"key": list(path), "reference": reference,
                                      "source": source, "derived": True}


def _strings_at(value: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """(path, text) of every string in `value`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_at(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings_at(item, (*path, index))


def profile_mark(comp: Composition, path: PathKey) -> Any:
    from ._provenance import Locator

    return Locator(comp.provenance)(path)[0]


def shippable_source(comp: Composition, reference: Any, depth: int = 0) -> str | None:
    """The secret as a worker resolves it: plain text and `${oc.env:NAME[,default]}` and
    `${file:path}` only, references to other values followed (None when it cannot be put
    that way, or holds no reference at all: a value)."""
    if not isinstance(reference, str) or "${" not in reference or depth > 16:
        return None
    pieces = simple_pieces(reference)
    if pieces is None:
        return None
    out: list[str] = []
    for piece in pieces:
        if piece[0] == "text":
            out.append(piece[1])
        elif piece[0] == "call":
            if piece[1] not in SHIPPABLE_RESOLVERS:
                return None
            out.append("${" + piece[1] + ":" + ",".join(piece[2]) + "}")
        else:
            target = get(comp.raw, piece[1])
            inner = shippable_source(comp, target, depth + 1)
            if inner is None:
                return None
            out.append(inner)
    return "".join(out)


def file_name(combination: _matrix.Combination) -> str:
    """`support--prod--locale-fr--transport-sip--1a2b3c4d.json`: readable, unique (the hash
    of the label), and a valid Kubernetes ConfigMap key (letters, digits, `-`, `_`, `.`)."""
    parts = [combination.agent, combination.env or "-",
             *(f"{g}-{o}" for g, o in sorted(combination.facets))]
    digest = hashlib.sha256(combination.label().encode()).hexdigest()[:8]
    return "--".join([*parts, digest]) + ".json"


def plan_data(plan: Plan | None) -> dict[str, Any] | None:
    """A call plan as plain JSON data (the compiled checks are rebuilt where it is loaded)."""
    if plan is None:
        return None
    return {
        "entries": [{"path": list(e.path), "enum": list(e.enum) if e.enum else None,
                     "minimum": e.minimum, "maximum": e.maximum, "pattern": e.pattern}
                    for e in plan.entries],
        "holes": [list(h) for h in plan.holes],
        "base": [[list(h), value] for h, value in plan.base.items()],
        "dependents": [[list(path), _template_data(t)] for path, t in plan.dependents],
        "references": [[list(p), ref] for p, ref in plan.references.items()],
        "stamp": plan.stamp,
        "hashes": [[list(p), digest] for p, digest in sorted(plan.hashes.items(),
                                                              key=lambda i: repr(i[0]))],
        "graph": [[name, digest] for name, digest in sorted(plan.graph.items())],
    }


def _template_data(template: Hole | Template) -> Any:
    if isinstance(template, Hole):
        return {"hole": [list(template.entry), list(template.rest)]}
    return {"parts": [p if isinstance(p, str) else {"hole": [list(p.entry), list(p.rest)]}
                      for p in template.parts]}


def _problem_data(problem: Problem) -> dict[str, Any]:
    data = problem.as_dict()
    if problem.via:
        data["via"] = [[m.file, m.line, m.column] for m in problem.via]
    return data


def _manifest(loader: Loader, envs: list[str | None], entries: list[dict[str, Any]],
              files: Mapping[str, bytes], source_date_epoch: str | None) -> dict[str, Any]:
    tree = loader.tree()
    groups: dict[str, dict[str, Any]] = {}
    for agent in tree.agents:
        for env in envs:
            found = loader.facet_groups(agent, env)
            groups.setdefault(agent, {})[env or "-"] = {
                name: {"options": list(g.options), "default": g.default,
                       "allowed": list(g.allowed), "weights": dict(g.weights)}
                for name, g in found.items()}
    schema = json.loads(files[SCHEMA])
    digest = hashlib.sha256(dumps([[e["file"], e["sha256"]] for e in entries]
                                  + [[SCHEMA, hashlib.sha256(files[SCHEMA]).hexdigest()]]))
    return {
        "format": FORMAT,
        "fingerprint": digest.hexdigest()[:32],
        "tool": f"realtime-profiles {__version__}",
        "schema_sha256": hashlib.sha256(files[SCHEMA]).hexdigest(),
        "sdk": schema.get("x-generated-from"),
        "git": _git(Path(loader.root)),
        "created": _created(source_date_epoch),
        "agents": list(tree.agents),
        "envs": [e or "-" for e in envs],
        "groups": groups,
        "combinations": entries,
    }


def _created(source_date_epoch: str | None) -> str | None:
    """A timestamp only when SOURCE_DATE_EPOCH says which: builds stay reproducible."""
    if not source_date_epoch:
        return None
    moment = datetime.datetime.fromtimestamp(int(source_date_epoch), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(root: Path) -> dict[str, Any] | None:
    """The commit the tree is at, and whether it has uncommitted changes (None: no git)."""
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
                ["git", "-C", str(root), *args], capture_output=True,  # noqa: S607
                text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if not commit:
        return None
    status = run("status", "--porcelain", "--", ".")
    return {"commit": commit, "dirty": bool(status)}


def _set(document: Any, path: PathKey, value: Any) -> None:
    node = document
    for part in path[:-1]:
        node = node[part]
    if get(node, path[-1:]) is not MISSING:
        node[path[-1]] = value


def build_bundle(loader: Loader, out: str | os.PathLike[str], *, strict: bool = False) -> str:
    """Compile `loader`'s tree into a bundle at `out` (what `realtime-profiles build` does);
    the bundle's fingerprint. `ProfileValidationError` with every problem, and nothing
    written, when the tree is not valid."""
    files = compile_bundle(loader, strict=strict,
                           source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"))
    write_bundle(files, Path(out))
    return str(json.loads(files[MANIFEST])["fingerprint"])


def write_bundle(files: Mapping[str, bytes], out: Path) -> None:
    """Write the bundle into `out` whole: the files go to a new folder beside it, which then
    takes `out`'s place; a failure before that leaves the previous bundle as it was."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            path = staging / name
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            path.chmod(0o644)
        staging.chmod(0o755)
        if out.is_symlink() or out.is_file():
            raise OSError(f"{out} is not a folder")
        previous = None
        if out.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            previous.rmdir()
            out.rename(previous)
        staging.rename(out)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
