"""`Bundle`: load profiles from a compiled bundle (`realtime-profiles build`), with no YAML
parser, OmegaConf or jsonschema on the way.

A worker in a fleet loads the immutable artifact CI built and reviewed: the composed profile of
each agent x environment x facet combination is read as JSON, its secrets resolved from this
process's environment (or files), its facet options chosen as the Loader chooses them
(weighted variants bucketed the same way), and per-call overrides applied and validated by the
same code as `Loader.load` — so a bundle gives the Loader's profile, fingerprint included.

A bundle mounted from a Kubernetes ConfigMap (top-level files linking into `..data`, which
kubelet swaps atomically) is read through `..data`, so a load never mixes two versions; the
manifest's hash of every file is checked as the file is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .errors import (
    Mark,
    Problem,
    ProfileError,
    SecretUnavailableError,
    UsageError,
    did_you_mean,
    mean,
)
from .profile import GraphNode, Profile

if TYPE_CHECKING:
    from ._watch import Watch

FORMAT: Final = 1
MANIFEST: Final = "manifest.json"
DATA_LINK: Final = "..data"
MAX_FILE_BYTES: Final = 8 * 1024 * 1024
# What a bundle's secret references may hold: text, `${oc.env:NAME[,default]}`, `${file:x}`.
_REFERENCE: Final = re.compile(
    r"\$\{oc\.env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:,(?P<default>[^}]*))?\}"
    r"|\$\{file:(?P<file>[^}]+)\}")


class BundleError(ProfileError):
    """The bundle cannot be read (missing, damaged, half-updated, another format)."""


class Bundle:
    """Profiles from one compiled bundle. Thread-safe; keep one per bundle.

    `environ` is read for the secrets' `${oc.env:...}` (default: os.environ at load time);
    `files_root` is where a secret's `${file:...}` is read from (default: the bundle's own
    folder). `checks` are the lints run on per-call profiles (default: the SDK lints).
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 environ: Mapping[str, str] | None = None,
                 files_root: str | os.PathLike[str] | None = None,
                 checks: Any = None) -> None:
        self.path = Path(path)
        self._environ = environ
        self._files_root = Path(files_root) if files_root is not None else None
        self._checks = checks
        self._lock = threading.Lock()
        self._state = _State.open(self.path)

    # -- what it holds ---------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest (a copy)."""
        return json.loads(json.dumps(self._state.manifest))  # type: ignore[no-any-return]

    @property
    def fingerprint(self) -> str:
        return str(self._state.manifest["fingerprint"])

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(self._state.manifest["agents"])

    @property
    def envs(self) -> tuple[str, ...]:
        return tuple(e for e in self._state.manifest["envs"] if e != "-")

    def reload(self) -> bool:
        """Read the bundle again if it changed (a new `..data` or manifest); True if it did.
        A damaged or half-updated bundle raises and the one in use stays."""
        fresh = _State.open(self.path)
        with self._lock:
            if fresh.identity == self._state.identity:
                return False
            self._state = fresh
        return True

    def watch(self, agent: str, env: str | None = None, *,
              facets: Mapping[str, str] | None = None, bucket: str | None = None,
              interval: float = 1.0, settle: float = 0.05) -> Watch:
        """Follow one profile as new bundles arrive (a kubelet swap, `build --out` over this
        folder): iterate to get the new `Profile` each time the bundle changes and the
        profile with it, or the `ProfileError` of a bundle that cannot be read (the one in
        use stays). Stat polling every `interval` seconds, like `Loader.watch`."""
        from ._watch import Watch

        def load() -> tuple[Profile, Callable[[], bool]]:
            seen = self._state.identity  # this watch's own: another watch's reload, or the
            profile = self.load(agent, env, facets=facets, bucket=bucket)  # app's, is no
            # reason for this one to miss the new version

            def changed() -> bool:
                self.reload()  # a damaged bundle raises: the watch reports it
                return bool(self._state.identity != seen)

            return profile, changed

        return Watch(load, interval, settle)

    # -- loading ---------------------------------------------------------------------------
    def load(self, agent: str, env: str | None = None, *,
             facets: Mapping[str, str] | None = None, bucket: str | None = None,
             call_overrides: Mapping[str, Any] | None = None,
             strict: bool = False) -> Profile:
        """The profile `Loader.load` gives for the same arguments, from the bundle."""
        state = self._state
        chosen = state.choose(agent, env, facets, bucket)
        data = state.combination(agent, env, chosen)
        if not call_overrides:
            return self._profile(data, copy=True)
        # the per-call path copies the document itself: the base is read, never changed
        return self._call(state, data, self._profile(data, copy=False), call_overrides, strict)

    def _profile(self, data: Mapping[str, Any], *, copy: bool) -> Profile:
        """The combination's profile, secrets resolved now. `copy=False` (the per-call path,
        which copies the document itself and never changes its base) shares one base per
        set of secret values: resolved again each call, the document copied only when they
        change."""
        values, missing, texts = self._read_secrets(data)
        label = _label(data)
        if missing:
            names = ", ".join(sorted(missing))
            problems = [Problem(tuple(data["secrets"][d]["key"]), "secret-unavailable",
                                f"environment variable {name} is not set", Mark(label),
                                "set it before loading this profile for use")
                        for name, paths in missing.items() for d in paths]
            raise SecretUnavailableError(f"{label}: cannot load for use: secret environment "
                                         f"variable {names} is not set", problems)
        if not copy:
            shared = data.get("__base")
            if shared is not None and shared[0] == values:
                return shared[1]  # type: ignore[no-any-return]
        document = _copy(data["document"]) if copy or values else data["document"]
        secrets: list[tuple[Any, ...]] = []
        derived: list[tuple[Any, ...]] = []  # shown as *** like the secrets they read
        for (_, secret), value in zip(data["secrets"].items(), values, strict=True):
            path = tuple(secret["key"])
            _put(document, path, value)
            (derived if secret.get("derived") else secrets).append(path)
        profile = Profile(
            agent=data["agent"], env=data["env"],
            run_config=document.get("run_config") or {},
            model_config=document.get("model_config") or {},
            start_messages=document.get("start_messages") or [],
            client_messages=document.get("client_messages") or [],
            agent_config=document.get("agent") or {},
            graph=self._graph(data),
            warnings=data["__warnings"],
            facets=dict(data["facets"]), fingerprint=data["fingerprint"],
            _secrets=tuple(secrets),
            _derived=tuple(derived),
            _secret_texts=texts,
        )
        if not copy:
            data["__base"] = (values, profile)  # type: ignore[index]
        return profile

    def _graph(self, data: Mapping[str, Any]) -> Mapping[str, GraphNode]:
        """The handoff targets: shared by every load, unless a target's agent section holds
        values derived from a secret (shipped as references): those are resolved now."""
        graph: Mapping[str, GraphNode] = data["__graph"]
        shipped = data.get("graph") or {}
        if not any(node.get("secrets") for node in shipped.values()):
            return graph
        made: dict[str, GraphNode] = {}
        for name, node in shipped.items():
            if not node.get("secrets"):
                made[name] = graph[name]
                continue
            section = {"agent": _copy(node["agent"])}
            read: list[str] = []
            hidden: list[tuple[Any, ...]] = []
            for dotted, secret in node["secrets"].items():
                try:
                    value = self._resolve(secret["source"], read)
                except _Unset as exc:
                    raise SecretUnavailableError(
                        f"{_label(data)}: cannot load for use: {dotted} of agent {name!r} "
                        f"reads environment variable {exc.name}, which is not set",
                        []) from None
                _put(section, tuple(secret["key"]), value)
                hidden.append(tuple(secret["key"]))
            texts = sorted({t for t in read if t}, key=len, reverse=True)
            made[name] = GraphNode(name, node["env"], section["agent"], None, tuple(hidden),
                                   tuple(texts))
        return MappingProxyType(made)

    def _read_secrets(self, data: Mapping[str, Any]
                      ) -> tuple[tuple[str, ...], dict[str, list[str]], tuple[str, ...]]:
        """Each secret's value now, the variables that are not set (by secret), and the
        secret texts (`Profile._secret_texts`): each secret's value and what it read (a
        variable's value, a file's content), longest first."""
        values: list[str] = []
        missing: dict[str, list[str]] = {}
        texts: set[str] = set()
        for dotted, secret in data["secrets"].items():
            read: list[str] = []
            try:
                values.append(self._resolve(secret["source"], read))
            except _Unset as exc:
                missing.setdefault(exc.name, []).append(dotted)
                continue
            if not secret.get("derived"):  # a derived value is masked, not a secret text
                texts.update((values[-1], *read))
        texts.discard("")
        return tuple(values), missing, tuple(sorted(texts, key=len, reverse=True))

    def _resolve(self, source: str, read: list[str] | None = None) -> str:
        """A secret's reference resolved: `${oc.env:NAME[,default]}` from the environment,
        `${file:path}` from `files_root` (inside it, bounded, like the Loader's), text as is.
        What each reference gave is added to `read`."""
        environ = os.environ if self._environ is None else self._environ

        def one(match: re.Match[str]) -> str:
            if match.group("file") is not None:
                text = self._read_secret_file(match.group("file"))
            elif (name := match.group("name")) in environ:
                text = environ[name]
            elif match.group("default") is not None:
                text = match.group("default")
            else:
                raise _Unset(name)
            if read is not None:
                read.append(text)
            return text

        return _REFERENCE.sub(one, source)

    def _read_secret_file(self, relative: str) -> str:
        from ._resolvers import FileResolver, ResolverError

        root = self._files_root if self._files_root is not None else self._state.base
        try:
            return FileResolver(root)(relative)
        except ResolverError as exc:
            raise BundleError(f"cannot read a secret: {exc}") from None

    def _call(self, state: _State, data: Mapping[str, Any], profile: Profile,
              call_overrides: Mapping[str, Any], strict: bool) -> Profile:
        """Per-call values applied and validated exactly as `Loader.load` does."""
        from ._percall import call_profile

        plan = state.plan(data)
        checks = self._checks
        if checks is None:
            from ._lints import SDK_LINTS

            checks = SDK_LINTS
        called, _ = call_profile(profile, plan, dict(call_overrides),
                                 validator=state.validator(), checks=checks, strict=strict)
        assert called is not None
        return called


class _Unset(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _State:
    """One consistent version of a bundle: its folder (the `..data` target, for a mounted
    ConfigMap), manifest and index; combination files read once each, hashes checked."""

    def __init__(self, base: Path, manifest: dict[str, Any], identity: Any) -> None:
        self.base = base
        self.manifest = manifest
        self.identity = identity
        self._index = {(c["agent"], c["env"], tuple(sorted(c["facets"].items()))): c
                       for c in manifest["combinations"]}
        self._files: dict[str, dict[str, Any]] = {}
        self._group_cache: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._plans: dict[str, Any] = {}
        self._validator: Any = None

    @classmethod
    def open(cls, path: Path) -> _State:
        base = path
        link = path / DATA_LINK
        if link.is_symlink():  # a kubelet mount: every file of one version is in the target
            target = link.readlink()
            base = (path / target).resolve()
            if not base.is_relative_to(path.resolve()):
                raise BundleError(f"{link} points outside the bundle folder")
        data = _read(base / MANIFEST)
        try:
            manifest = json.loads(data)
        except ValueError as exc:
            raise BundleError(f"{base / MANIFEST} is not JSON: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{base / MANIFEST}: not a bundle of format {FORMAT} (build it "
                              "again with this version of realtime-profiles)")
        return cls(base, manifest, (str(base), hashlib.sha256(data).hexdigest()))

    def choose(self, agent: str, env: str | None, facets: Mapping[str, str] | None,
               bucket: str | None) -> dict[str, str]:
        from ._facets import choose

        return choose(self._groups(agent, env), dict(facets or {}), bucket)

    def _groups(self, agent: str, env: str | None) -> dict[str, Any]:
        found = self._group_cache.get((agent, env))
        if found is not None:
            return found
        from ._facets import Group

        by_env = self.manifest["groups"].get(agent)
        if by_env is None:
            raise UsageError(_unknown("agent", agent, self.manifest["agents"]))
        groups = by_env.get(env or "-")
        if groups is None:
            envs = [e for e in self.manifest["envs"] if e != "-"]
            raise UsageError(_unknown("environment", str(env), envs))
        found = {name: Group(name, tuple(g["options"]), g["default"], tuple(g["allowed"]),
                             tuple(g["weights"].items())) for name, g in groups.items()}
        self._group_cache[(agent, env)] = found
        return found

    def combination(self, agent: str, env: str | None,
                    chosen: Mapping[str, str]) -> dict[str, Any]:
        entry = self._index.get((agent, env, tuple(sorted(chosen.items()))))
        if entry is None:
            raise UsageError(f"{agent}@{env or '-'} with {chosen} is not in this bundle")
        name = entry["file"]
        cached = self._files.get(name)
        if cached is None:
            data = _read(self.base / name)
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise BundleError(f"{self.base / name} does not match the manifest: the "
                                  "bundle is being updated, or was changed after it was built")
            cached = json.loads(data)
            cached["__warnings"] = tuple(_problem(w) for w in cached["warnings"])
            cached["__graph"] = MappingProxyType({  # read-only: every load shares it
                name: GraphNode(name, node["env"], node["agent"])
                for name, node in cached.get("graph", {}).items()})
            self._files[name] = cached
        return cached

    def plan(self, data: Mapping[str, Any]) -> Any:
        key = str(data["fingerprint"]) + str(data.get("facets"))
        plan = self._plans.get(key)
        if plan is None and data.get("plan") is not None:
            plan = self._plans[key] = _plan(data["plan"])
        return plan

    def validator(self) -> Any:
        """The validator of the bundle's own schema, compiled once per bundle."""
        if self._validator is None:
            from ._validate import DocumentValidator

            schema = json.loads(_read(self.base / "schema.json"))
            self._validator = DocumentValidator(schema)
        return self._validator


def _plan(data: Mapping[str, Any]) -> Any:
    from ._calls import Entry, Plan
    from ._interpolate import Hole, Template

    def template(value: Any) -> Hole | Template:
        if "hole" in value:
            return Hole(tuple(value["hole"][0]), tuple(value["hole"][1]))
        return Template(tuple(p if isinstance(p, str) else
                              Hole(tuple(p["hole"][0]), tuple(p["hole"][1]))
                              for p in value["parts"]))

    entries = tuple(Entry(tuple(e["path"]), tuple(e["enum"]) if e["enum"] else None,
                          e["minimum"], e["maximum"], e["pattern"]) for e in data["entries"])
    return Plan(entries, tuple(tuple(h) for h in data["holes"]),
                {tuple(h): v for h, v in data["base"]},
                tuple((tuple(p), template(t)) for p, t in data["dependents"]),
                {tuple(p): ref for p, ref in data["references"]}, data["stamp"],
                {tuple(p): digest for p, digest in data["hashes"]}, {}, {},
                dict(data.get("graph") or []))


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{path} is over {MAX_FILE_BYTES} bytes")
    return data


def _unknown(kind: str, name: str, known: list[str]) -> str:
    hint = mean(did_you_mean(name, known)) or "known: " + (", ".join(known) or "none")
    return f"unknown {kind} {name!r} in the bundle ({hint})"


def _label(data: Mapping[str, Any]) -> str:
    where = f"{data['agent']}@{data['env'] or '-'}"
    facets = data.get("facets") or {}
    if facets:
        where += "[" + ",".join(f"{g}={o}" for g, o in sorted(facets.items())) + "]"
    return where


def _problem(data: Mapping[str, Any]) -> Problem:
    mark = Mark(data["file"], data["line"] or 0, data["column"] or 0) if data["file"] else None
    via = tuple(Mark(*m) for m in data.get("via", ()))
    return Problem(tuple(data["key"]), data["code"], data["message"], mark,
                   data["suggestion"], data["severity"], via)


def _put(document: Any, path: tuple[Any, ...], value: Any) -> None:
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def iter_bundle_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file the manifest names, and the manifest (for export)."""
    state = _State.open(path)
    for name in [*(c["file"] for c in state.manifest["combinations"]), "schema.json",
                 MANIFEST]:
        yield name, _read(state.base / name)
