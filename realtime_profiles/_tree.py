"""What a profile root holds, and where its files are: agent and environment names, the file
a layer would come from, and the files no profile reads.

Names are checked before any file is opened (no separators, no leading dot, so no `..`), and a
file reached through a symlink is read only when the link stays inside the root.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ._files import NOT_THERE, StatKey, mode_without_links
from ._secrets import masked_override
from .errors import Mark, Problem, UsageError, did_you_mean, mean

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def check_name(kind: str, name: str) -> None:
    """Refuse names that could leave the tree before any file is opened."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid {kind} name {_shown(name)!r}: names match [A-Za-z0-9][A-Za-z0-9_.-]* "
            "(no path separators, no leading dot)"
        )


def unknown_name(kind: str, name: str, known: Sequence[str]) -> str:
    """`unknown agent 'supprt' (did you mean 'support'?)`, or the known names."""
    hint = mean(did_you_mean(name, known)) or "known: " + (", ".join(known) or "none")
    return f"unknown {kind} {_shown(name)!r} ({hint})"


def _shown(name: Any) -> Any:
    """A name as an error quotes it: an override typed where a name goes
    (`validate ++model_config.api_key=...`) keeps its value to itself."""
    return masked_override(name, None) if isinstance(name, str) else name


@dataclass(frozen=True, slots=True)
class Tree:
    """What a profile root holds: the agent and environment names, and the facet groups
    (folders under facets/) with their options (the `*.yaml` files in each)."""

    root: Path
    agents: tuple[str, ...]
    envs: tuple[str, ...]
    facets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    plain: frozenset[tuple[str, ...]] = frozenset()
    """Folders (relative to the root) seen to be real directories, not symlinks, when the tree
    was scanned: a layer file in one needs one lstat to be known inside the root."""
    # Membership in O(1): a tree of a thousand agents is checked once per load.
    _names: frozenset[tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {("agent", a) for a in self.agents} | {("env", e) for e in self.envs}
        names |= {("facet", g) for g, _ in self.facets}
        object.__setattr__(self, "_names", frozenset(names))

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Facet group -> its options, groups sorted by name."""
        return dict(self.facets)

    def has_agent(self, name: str) -> bool:
        return ("agent", name) in self._names

    def has_env(self, name: str) -> bool:
        return ("env", name) in self._names

    def check(self, agent: str, env: str | None) -> None:
        """A `UsageError` unless `agent` (and `env`, when given) are valid, known names."""
        check_name("agent", agent)
        if env is not None:
            check_name("environment", env)
        if not self.has_agent(agent):
            raise UsageError(unknown_name("agent", agent, self.agents))
        if env is not None and not self.has_env(env):
            raise UsageError(unknown_name("environment", env, self.envs))

    def agent_envs(self) -> tuple[tuple[str, str], ...]:
        """The agent@env files, (agent, env) sorted. Listed on demand (one directory read per
        agent folder): loading needs only the names."""
        pairs: list[tuple[str, str]] = []
        for agent in self.agents:
            folder = os.path.join(self.root, "agents", agent)  # noqa: PTH118
            pairs.extend((agent, env) for env in _yaml_names(folder, dirs=False))
        return tuple(sorted(pairs))


def _yaml_names(folder: str, *, dirs: bool, plain: set[str] | None = None) -> set[str]:
    """Valid names of `*.yaml` files in `folder` (and of sub-folders when `dirs`; those that
    are not symlinks are added to `plain`), read with one `scandir` (no stat per entry on file
    systems that report entry types)."""
    names: set[str] = set()
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return names
    except OSError as exc:  # e.g. permission denied: a usage problem, named, not a crash
        raise UsageError(f"cannot read folder {folder!r}: {exc.strerror or exc}") from None
    with entries:
        for entry in entries:
            try:
                if entry.name.endswith(".yaml") and entry.is_file():
                    stem = entry.name[:-5]
                    if NAME_PATTERN.match(stem):
                        names.add(stem)
                elif dirs and entry.is_dir() and NAME_PATTERN.match(entry.name):
                    names.add(entry.name)
                    if plain is not None and not entry.is_symlink():
                        plain.add(entry.name)
            except OSError:
                continue
    return names


def scan(root: Path) -> Tree:
    """List agents (files or folders under agents/) and environments (files under env/)."""
    if not root.is_dir():
        raise UsageError(f"profile root {str(root)!r} is not a directory (the command line "
                         "takes --root or REALTIME_PROFILES_ROOT; code, Loader(root))")
    base = os.fspath(root)
    plain: set[tuple[str, ...]] = {(name,) for name in ("agents", "env", "facets")
                                   if mode_without_links(base, (name,)) not in (None, NOT_THERE)}
    agent_dirs: set[str] = set()
    agents = _yaml_names(os.path.join(base, "agents"), dirs=True, plain=agent_dirs)  # noqa: PTH118
    plain |= {("agents", name) for name in agent_dirs}
    envs = _yaml_names(os.path.join(base, "env"), dirs=False)  # noqa: PTH118
    facets_dir = os.path.join(base, "facets")  # noqa: PTH118
    group_dirs: set[str] = set()
    groups = [(group, tuple(sorted(_yaml_names(os.path.join(facets_dir, group), dirs=False))))  # noqa: PTH118
              for group in sorted(_dir_names(facets_dir, group_dirs))]
    plain |= {("facets", name) for name in group_dirs}
    return Tree(root, tuple(sorted(agents)), tuple(sorted(envs)), tuple(groups),
                frozenset(plain))


def _dir_names(folder: str, plain: set[str] | None = None) -> set[str]:
    """Valid names of the sub-folders of `folder` (those that are no symlink into `plain`)."""
    try:
        entries = os.scandir(folder)
    except OSError:
        return set()
    names: set[str] = set()
    with entries:
        for entry in entries:
            try:
                if NAME_PATTERN.match(entry.name) and entry.is_dir():
                    names.add(entry.name)
                    if plain is not None and not entry.is_symlink():
                        plain.add(entry.name)
            except OSError:
                continue
    return names


def watched_dirs(root: Path) -> tuple[Path, ...]:
    """The folders whose change means the tree's names may have changed (a stat each)."""
    facets = root / "facets"
    return (root, root / "agents", root / "env", facets,
            *(facets / g for g in sorted(_dir_names(os.fspath(facets)))))


def locate(root: Path, parts: tuple[str, ...],
           plain: frozenset[tuple[str, ...]] = frozenset()) -> tuple[Path, StatKey | None] | None:
    """root/parts when it is a regular file inside the root (with its identity when one
    lstat told it), None when there is none.

    In a folder the scan saw as a real directory (`plain`), one lstat of the file itself
    decides; otherwise one lstat per component below the root when no link is on the way
    (then it is inside the root wherever the root itself points); otherwise resolve and
    compare, and a link that leaves the root is a `UsageError`. The names in `parts` are
    checked: never `.`, `..` or containing a `/`.
    """
    if parts[:-1] in plain or len(parts) == 1:
        path = root.joinpath(*parts)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            info = None
        if info is not None and not stat.S_ISLNK(info.st_mode):
            if not stat.S_ISREG(info.st_mode):
                return None
            return path, (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    mode = mode_without_links(os.fspath(root), parts)
    if mode == NOT_THERE:
        return None
    if mode is not None:
        return (root.joinpath(*parts), None) if stat.S_ISREG(mode) else None
    path = root.joinpath(*parts)  # a link (or an odd error) on the way
    try:
        if not path.is_file():
            return None
        outside = not path.resolve().is_relative_to(root.resolve())
    except OSError:  # unreadable: reading it reports why, located at the file
        outside = False
    if outside:
        raise UsageError(f"layer file {str(path)!r} is a link that leaves the profile root")
    return path, None


def stray_files(tree: Tree) -> list[Problem]:
    """Files in the tree that no profile reads, though their author surely meant one to:
    `agents/support/prd.yaml` (no env `prd`), `env/staging.yml`, `agents/bad name.yaml`.
    Warnings for `validate` (errors under --strict): a silently ignored layer is a setting
    silently lost."""
    found: list[Problem] = []
    root = os.fspath(tree.root)

    def warn(path: str, message: str, suggestion: str) -> None:
        found.append(Problem((), "stray-file", message, Mark(path), suggestion, "warning"))

    def scan_folder(folder: str, *, env_names: bool) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not entry.is_file():
                continue
            path = os.path.join(folder, name)  # noqa: PTH118
            if name.endswith(".yml"):
                warn(path, "ignored: layer files end in .yaml",
                     f"rename it to {name[:-4]}.yaml")
            elif name.endswith(".yaml") and not NAME_PATTERN.match(name[:-5]):
                warn(path, "ignored: not a valid name",
                     "names match [A-Za-z0-9][A-Za-z0-9_.-]* (no spaces)")
            elif env_names and name.endswith(".yaml") and not tree.has_env(name[:-5]):
                hint = mean(did_you_mean(name[:-5], tree.envs))
                known = ", ".join(tree.envs) or "none"
                warn(path, f"ignored: there is no environment {name[:-5]!r} in env/",
                     hint or f"environments: {known}")

    scan_folder(os.path.join(root, "env"), env_names=False)  # noqa: PTH118
    scan_folder(os.path.join(root, "agents"), env_names=False)  # noqa: PTH118
    for agent in tree.agents:
        scan_folder(os.path.join(root, "agents", agent), env_names=True)  # noqa: PTH118
    return found
