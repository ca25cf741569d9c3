"""Snapshots of the wire: what the installed SDK sends for every combination of the tree,
kept in git under `snapshots/`, so that a change to a profile or to the SDK shows in review
and fails CI until someone accepts it (`snapshot --write`).

A snapshot is taken in a sealed environment: no untracked local.yaml, no variable of the
machine's environment unless given (`--environ NAME=VALUE`), so `${oc.env:GIT_SHA,unknown}`
takes its default and a secret is a placeholder everywhere. The same tree and the same SDK
give the same bytes on every machine. Each file holds the combination, the versions of the
packages that build the wire, the registry that bound the names, the resolved document
(secrets as `***`) and the frames; comparing the document tells a profile change from an SDK
change. Needs the `sdk` extra (`wire` imports the SDK).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from ._files import atomic_write
from ._fingerprint import is_stamp
from ._matrix import Combination
from ._paths import MISSING, PathKey, leaf_diff, render_path
from .errors import Mark, Problem, ProfileError, UsageError

if TYPE_CHECKING:
    from .loader import Loader
    from .profile import Profile
    from .sdk import Registry

FORMAT: Final = 1
STAND_INS: Final = "stand-ins"
"""The registry label of a snapshot whose names were bound to `offline.stand_ins`."""
_EXCERPT: Final = 60  # characters of a long changed string shown around the change

Status = Literal["match", "changed", "missing", "stale", "invalid", "unreadable"]


def relative_name(combination: Combination) -> str:
    """`support/prod.json`, or `support/prod/locale=fr,transport=sip.json` with facets
    (names hold only letters, digits, `_ . -`, so `=` and `,` cannot collide)."""
    env = combination.env or "-"
    if not combination.facets:
        return f"{combination.agent}/{env}.json"
    options = ",".join(f"{g}={o}" for g, o in sorted(combination.facets))
    return f"{combination.agent}/{env}/{options}.json"


@dataclass(frozen=True)
class Taken:
    """One combination's snapshot as the tree and the SDK give it now (`data` is None when
    the profile does not validate, or the SDK refuses it: see `problems`)."""

    combination: Combination
    data: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    profile: Profile | None = None

    @property
    def name(self) -> str:
        return relative_name(self.combination)


def take(loader: Loader, matrix: Sequence[Combination], registry: Registry | None,
         registry_label: str = STAND_INS) -> list[Taken]:
    """The snapshot of each combination, through the installed SDK (one event loop)."""
    from .wire import run_sync

    return run_sync(_take_all(loader, matrix, registry, registry_label))


async def _take_all(loader: Loader, matrix: Sequence[Combination],
                    registry: Registry | None, registry_label: str) -> list[Taken]:
    from ._build import tree_secret_texts
    from .wire import capture_wire, scrub, sdk_versions

    versions = sdk_versions()
    results = loader.check_many((c.agent, c.env, dict(c.facets)) for c in matrix)
    # snapshots are kept together: what any secret of the run reads is a secret's text in
    # every one of them (a token one agent's header reads, quoted by another agent)
    texts = tree_secret_texts(results)
    taken: list[Taken] = []
    for combination, result in zip(matrix, results, strict=True):
        profile = result.profile
        if profile is None:
            taken.append(Taken(combination, None,
                               tuple(p for p in result.problems if p.severity == "error")))
            continue
        try:
            if registry is not None:
                missing = registry.problems(profile)
                if missing:
                    taken.append(Taken(combination, None, tuple(missing)))
                    continue
            wire = await capture_wire(profile, registry)
        except ProfileError as exc:
            taken.append(Taken(combination, None, tuple(exc.problems)))
            continue
        except Exception as exc:  # noqa: BLE001 - the SDK refusing a profile is a finding
            taken.append(Taken(combination, None, (Problem(
                (), "wire/sdk-refused", f"the SDK refused to start a session with this "
                f"profile: {type(exc).__name__}: {exc}", Mark(combination.label()),
                "run `realtime-profiles wire` on it to see the SDK's error"),)))
            continue
        data = {
            "format": FORMAT,
            "profile": {"agent": combination.agent, "env": combination.env,
                        "facets": dict(sorted(combination.facets)),
                        "fingerprint": profile.fingerprint},
            "versions": versions,
            "registry": registry_label,
            "document": scrub(_document(profile), texts),
            # the agents it hands off to shape its tools (handoff names, descriptions)
            "graph": scrub(_graph(profile), texts),
            "wire": scrub(wire.to_data(), texts),
        }
        taken.append(Taken(combination, data, (), profile))
    return taken


def _document(profile: Profile) -> dict[str, Any]:
    """The resolved document with every secret, and every value derived from what a secret
    reads, as `***`, set or not: a snapshot must not depend on which secrets the machine that
    took it had, and never holds one."""
    from ._secrets import redact

    return redact(profile.document(), profile._secrets, {}, profile._derived)


def _graph(profile: Profile) -> dict[str, Any]:
    """The agents it hands off to, each section with what that profile masks as `***` and
    every secret's text (this profile's and that one's) as `***`: never a secret, never
    the machine's."""
    from ._secrets import mask_texts, redact

    found: dict[str, Any] = {}
    for name, node in sorted(profile.graph.items()):
        section = redact({"agent": node.config}, (), {}, node._hidden)["agent"]
        texts = sorted({*profile._secret_texts, *node._secret_texts}, key=len, reverse=True)
        found[name] = mask_texts(section, texts)
    return found


def dumps(data: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, a final newline (git-friendly)."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# -- comparing with what is stored -------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One leaf that differs: its path, the stored value, the new one (`MISSING` on the side
    that lacks it) and, for a profile path, the file:line that sets it now."""

    path: str
    old: Any
    new: Any
    origin: str = ""

    def render(self) -> str:
        old, new = _excerpts(self.old, self.new)
        where = f"  [{self.origin}]" if self.origin else ""
        return f"{self.path}: {old} -> {new}{where}"

    def to_data(self) -> dict[str, Any]:
        data = {"path": self.path, "old": None if self.old is MISSING else self.old,
                "new": None if self.new is MISSING else self.new,
                "old_absent": self.old is MISSING, "new_absent": self.new is MISSING}
        if self.origin:
            data["origin"] = self.origin
        return data


@dataclass(frozen=True)
class Finding:
    """The verdict on one snapshot file."""

    name: str
    label: str
    status: Status
    cause: str = ""
    profile_changes: tuple[Change, ...] = ()
    wire_changes: tuple[Change, ...] = ()
    problems: tuple[Problem, ...] = ()
    sdk_changes: tuple[Change, ...] = ()
    """With both causes: the wire changes the SDK made (the stored document sent again);
    `wire_changes` then holds the profile's."""

    @property
    def ok(self) -> bool:
        return self.status == "match"

    def to_data(self) -> dict[str, Any]:
        return {"file": self.name, "profile": self.label, "status": self.status,
                "cause": self.cause,
                "profile_changes": [c.to_data() for c in self.profile_changes],
                "wire_changes": [c.to_data() for c in self.wire_changes],
                "sdk_wire_changes": [c.to_data() for c in self.sdk_changes],
                "problems": [{"key": p.path, "code": p.code, "message": p.render()}
                             for p in self.problems]}


@dataclass
class Report:
    """Every finding of one `snapshot --check` (or what `--write` did)."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status == status)

    def summary(self) -> str:
        total = sum(1 for f in self.findings if f.status != "stale")
        parts = [f"{self.count(s)} {s}" for s in ("changed", "missing", "stale", "invalid",
                                                  "unreadable") if self.count(s)]
        tail = f": {self.count('match')} match" + (", " + ", ".join(parts) if parts else "")
        return f"{total} snapshot{'s' * (total != 1)} checked{tail}"


Replay = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""The wire the installed SDK gives for a stored snapshot's own document and graph (None
when it cannot be built again, e.g. the registry no longer has a name)."""


def check(directory: Path, taken: Sequence[Taken],
          in_scope: Callable[[Combination], bool], replay: Replay | None = None) -> Report:
    """Compare each combination with its stored file; report stale files in scope. With
    `replay`, a changed wire is split into what the SDK changed (the stored document sent
    through the installed SDK) and what the profile changed (the rest)."""
    report = Report()
    expected = {t.name for t in taken}
    for one in taken:
        report.findings.append(_verdict(directory, one, replay))
    report.findings.extend(_stale(directory, expected, in_scope))
    return report


def _verdict(directory: Path, one: Taken, replay: Replay | None) -> Finding:
    label = one.combination.label()
    if one.data is None:
        return Finding(one.name, label, "invalid", "the profile does not validate",
                       problems=one.problems)
    path = directory / one.name
    if not path.exists():
        return Finding(one.name, label, "missing", "no snapshot stored: run `realtime-profiles "
                       "snapshot --write` and commit it")
    stored, why = _read_snapshot(path)
    if stored is None:
        return Finding(one.name, label, "unreadable", why)
    if stored == one.data:
        return Finding(one.name, label, "match")
    replayed = replay(stored) if replay is not None else None
    cause, profile_changes, sdk_part = _cause(stored, one, replayed)
    before = replayed if replayed is not None and sdk_part else stored.get("wire")
    wire = _wire_changes(before, one.data["wire"])
    sdk = _wire_changes(stored.get("wire"), replayed) if sdk_part and replayed else ()
    return Finding(one.name, label, "changed", cause, profile_changes, wire, sdk_changes=sdk)


def replayer(registry: Registry | None) -> Replay:
    """`Replay` through the installed SDK, names bound by `registry` (or stand-ins)."""
    def replay(stored: Mapping[str, Any]) -> dict[str, Any] | None:
        from .wire import session_wire

        try:
            return session_wire(stored_profile(stored), registry).to_data()
        except Exception:  # noqa: BLE001 - no replay: the cause is told without it
            return None

    return replay


def stored_profile(stored: Mapping[str, Any]) -> Profile:
    """The profile a stored snapshot was taken of, as far as the wire needs it."""
    from .profile import GraphNode, Profile

    document = stored.get("document") or {}
    meta = stored.get("profile") or {}
    env = meta.get("env")
    return Profile(
        agent=str(meta.get("agent")), env=env,
        run_config=document.get("run_config") or {},
        model_config=document.get("model_config") or {},
        start_messages=document.get("start_messages") or [],
        client_messages=document.get("client_messages") or [],
        agent_config=document.get("agent") or {},
        graph={name: GraphNode(name, env, config)
               for name, config in (stored.get("graph") or {}).items()},
        facets=dict(meta.get("facets") or {}), fingerprint=str(meta.get("fingerprint")))


def _wire_changes(old: Any, new: Any) -> tuple[Change, ...]:
    changes = tuple(Change(render_path(p), a, b) for p, a, b in leaf_diff(old, new, lists=True))
    return _frame_labels(changes, new, old)


def _inputs(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a snapshot's wire is made of, besides the SDK: the document and the graph."""
    return {"document": data.get("document"), "graph": data.get("graph", {})}


def _cause(stored: Mapping[str, Any], one: Taken,
           replayed: dict[str, Any] | None) -> tuple[str, tuple[Change, ...], bool]:
    """Why a stored wire differs: the profile, the SDK, or both (and whether the SDK part
    was told apart by replaying the stored document); or the registry."""
    assert one.data is not None
    now = one.data
    versions = _version_changes(stored.get("versions"), now["versions"])
    profile_moved = _inputs(stored) != _inputs(now)
    sdk_moved = replayed is not None and replayed != stored.get("wire")
    changes: tuple[Change, ...] = ()
    if profile_moved:
        diff = leaf_diff(_inputs(stored), _inputs(now))
        shown = [d for d in diff if not is_stamp(d[0][1:])] or diff
        changes = tuple(Change(_input_path(p), old, new, _origin(one.profile, p[1:], new)
                               if p[0] == "document" else "")
                        for p, old, new in shown)
    sdk = _sdk_cause(versions, now["versions"])
    if profile_moved and (sdk_moved or (replayed is None and versions)):
        return f"profile changed, and {sdk}", changes, sdk_moved
    if profile_moved:
        return "profile changed", changes, False
    if stored.get("registry") != now["registry"]:
        return (f"registry changed ({stored.get('registry')} -> {now['registry']}): the "
                "names are bound to other code", (), False)
    return sdk, (), False


def _sdk_cause(versions: str, now: Mapping[str, str]) -> str:
    if versions:
        return f"SDK changed: same profile document, {versions}"
    same = ", ".join(f"{k} {v}" for k, v in sorted(now.items()))
    return (f"SDK changed: same profile document and the same versions ({same}); the "
            "installed SDK behaves differently (a patched install, or code the registry "
            "binds)")


def _input_path(path: PathKey) -> str:
    """`run_config.model_settings.voice` for the document, `graph.support.instructions`."""
    return render_path(path[1:]) if path[0] == "document" else render_path(path)


def _version_changes(old: Any, new: Mapping[str, str]) -> str:
    old = old if isinstance(old, dict) else {}
    moved = [f"{name} {old.get(name, '?')} -> {version}"
             for name, version in sorted(new.items()) if old.get(name) != version]
    return ", ".join(moved)


def _origin(profile: Profile | None, path: PathKey, value: Any) -> str:
    """The file:line that sets `path` now (empty when it is gone, or cannot be told)."""
    if profile is None or value is MISSING:
        return ""
    try:
        writes = profile.explain(render_path(path)).writes
    except (ProfileError, UsageError):
        return ""
    return writes[-1].describe() if writes else ""


def _frame_labels(changes: tuple[Change, ...], new: Any, old: Any) -> tuple[Change, ...]:
    """`frames[0].session.x` shown as `frames[0] session.update: session.x`."""
    labelled = []
    for change in changes:
        head, dot, rest = change.path.partition("].")
        if change.path.startswith("frames[") and dot:
            index = int(head[len("frames["):])
            kind = _frame_type(new, index) or _frame_type(old, index) or "frame"
            labelled.append(Change(f"{head}] {kind}: {rest}", change.old, change.new,
                                   change.origin))
        else:
            labelled.append(change)
    return tuple(labelled)


def _frame_type(wire: Any, index: int) -> str | None:
    frames = wire.get("frames") if isinstance(wire, dict) else None
    if isinstance(frames, list) and index < len(frames) and isinstance(frames[index], dict):
        kind = frames[index].get("type")
        return kind if isinstance(kind, str) else None
    return None


def _stale(directory: Path, expected: set[str],
           in_scope: Callable[[Combination], bool]) -> list[Finding]:
    """Stored files no combination in scope produces any more (removed agents, options)."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.rglob("*.json")):
        name = path.relative_to(directory).as_posix()
        if name in expected:
            continue
        stored = _read(path)
        combination = _combination(stored)
        if combination is None:
            if in_scope(_named(name)):  # a narrowed run leaves other agents' files alone
                found.append(Finding(name, name, "unreadable", "not a snapshot file: remove "
                                     "it, or keep other files out of the snapshot folder"))
        elif in_scope(combination):
            found.append(Finding(name, combination.label(), "stale", "no profile of the "
                                 "tree makes this combination any more: `snapshot --write` "
                                 "removes it"))
    return found


def _named(name: str) -> Combination:
    """The combination a file's place names (`agent/env.json`, `agent/env/g=o,....json`),
    as far as it names one: what decides whether a file that cannot be read is in scope."""
    parts = name.removesuffix(".json").split("/")
    if len(parts) < 2:
        return Combination("", None)  # beside the agents' folders: every run's business
    env = None if parts[1] == "-" else parts[1]
    facets = tuple(sorted(tuple(p.split("=", 1)) for p in parts[2].split(",") if "=" in p)) \
        if len(parts) > 2 else ()
    return Combination(parts[0], env, facets)  # type: ignore[arg-type]


def _combination(stored: Any) -> Combination | None:
    if not isinstance(stored, dict) or not isinstance(stored.get("profile"), dict):
        return None
    profile = stored["profile"]
    agent, env, facets = profile.get("agent"), profile.get("env"), profile.get("facets")
    if not isinstance(agent, str) or not isinstance(env, str | None) \
            or not isinstance(facets, dict):
        return None
    return Combination(agent, env, tuple(sorted((str(g), str(o)) for g, o in facets.items())))


def _read_snapshot(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A stored snapshot, or None and why it cannot be used."""
    from ._files import NotRegularError, TooLargeError, read_bounded
    from ._limits import MAX_SNAPSHOT_BYTES

    if not path.is_file():
        return None, "not a regular file: remove it, then `snapshot --write`"
    try:
        data = json.loads(read_bounded(path, MAX_SNAPSHOT_BYTES).data.decode("utf-8"))
    except TooLargeError:
        return None, (f"larger than the {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB a snapshot "
                      "may be: remove it, or rewrite it with `snapshot --write`")
    except NotRegularError:
        return None, "not a regular file: remove it, then `snapshot --write`"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except (ValueError, UnicodeDecodeError):
        return None, "not JSON: rewrite it with `snapshot --write`"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None, ("not a snapshot of this version of realtime-profiles: rewrite it with "
                      "`snapshot --write`")
    return data, ""


def _read(path: Path) -> dict[str, Any] | None:
    from ._files import read_bounded
    from ._limits import MAX_SNAPSHOT_BYTES

    try:
        data = json.loads(read_bounded(path, MAX_SNAPSHOT_BYTES).data.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# -- writing -----------------------------------------------------------------------------------

def write(directory: Path, taken: Sequence[Taken],
          in_scope: Callable[[Combination], bool]) -> Report:
    """Store every combination's snapshot and remove stale ones in scope. Nothing is written
    when a profile is invalid (the report says which)."""
    report = Report()
    invalid = [Finding(t.name, t.combination.label(), "invalid",
                       "the profile does not validate", problems=t.problems)
               for t in taken if t.data is None]
    if invalid:
        report.findings.extend(invalid)
        return report
    blocked = [Finding(t.name, t.combination.label(), "unreadable",
                       f"{directory / t.name} is not a file: remove it, then write again")
               for t in taken if (directory / t.name).exists()
               and not (directory / t.name).is_file()]
    if blocked:  # nothing is written while something is in the way
        report.findings.extend(blocked)
        return report
    for one in taken:
        assert one.data is not None
        path = directory / one.name
        text = dumps(one.data)
        current = _read(path) if path.is_file() else None
        if current == one.data:
            report.findings.append(Finding(one.name, one.combination.label(), "match"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
        status: Status = "changed" if current is not None else "missing"
        report.findings.append(Finding(one.name, one.combination.label(), status, "written"))
    for stale in _stale(directory, {t.name for t in taken}, in_scope):
        if stale.status == "stale":
            (directory / stale.name).unlink()
            _prune(directory, (directory / stale.name).parent)
            report.findings.append(Finding(stale.name, stale.label, "stale", "removed"))
    return report


def _prune(directory: Path, folder: Path) -> None:
    """Remove folders a removed snapshot left empty, up to the snapshot folder."""
    while folder != directory and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


# -- rendering ---------------------------------------------------------------------------------

def render(report: Report, *, verbose_matches: bool = False) -> Iterable[str]:
    """The text `snapshot --check` prints: one block per finding that is not a match."""
    for finding in report.findings:
        if finding.ok and not verbose_matches:
            continue
        yield f"{finding.name}: {finding.label}: {finding.status}" + (
            f": {finding.cause}" if finding.cause else "")
        for change in finding.profile_changes:
            yield f"  profile {change.render()}"
        for change in finding.sdk_changes:
            yield f"  wire (SDK) {change.render()}"
        for change in finding.wire_changes:
            yield f"  wire {change.render()}"
        for problem in finding.problems:
            yield f"  {problem.render()}"


def _excerpts(old: Any, new: Any) -> tuple[str, str]:
    """Both values as JSON; two long strings cut to the part around where they differ."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 2 * _EXCERPT:
        start = 0
        while start < min(len(old), len(new)) and old[start] == new[start]:
            start += 1
        end = 0
        while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
            end += 1
        return _cut(old, start, end), _cut(new, start, end)
    return _show(old), _show(new)


def _cut(text: str, start: int, end: int) -> str:
    left = max(start - _EXCERPT // 2, 0)
    right = min(len(text) - end + _EXCERPT // 2, len(text))
    piece = json.dumps(text[left:right], ensure_ascii=False)[1:-1]
    return f'"{"..." if left else ""}{piece}{"..." if right < len(text) else ""}"'


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 4 * _EXCERPT else text[: 4 * _EXCERPT] + "..."


def in_scope_of(agents: Iterable[str] | None, envs: Iterable[str | None] | None,
                facets: Mapping[str, set[str]]) -> Callable[[Combination], bool]:
    """The combinations a run covers: all (None) or the agents and environments named, and
    the facet options given (`snapshot AGENT --env E --facet G=O`). A stored file outside
    it is left alone; inside it, one no combination makes is stale."""
    agent_set = None if agents is None else set(agents)
    env_set = None if envs is None else set(envs)

    def covered(combination: Combination) -> bool:
        chosen = dict(combination.facets)
        return ((agent_set is None or combination.agent in agent_set)
                and (env_set is None or combination.env in env_set)
                and all(chosen.get(g) in options for g, options in facets.items()))

    return covered
