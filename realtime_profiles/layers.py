"""Find a profile's layer files and parse each into plain data plus a table of marks.

Parsing goes through libyaml's `compose` (fast, and it keeps positions) and then our own walk,
which is where the rules live: safe tags only, `!delete`, `key+:` appends, no duplicate keys,
bounded alias expansion, depth and size. A layer's problems are data, so one run reports the
mistakes of every file instead of stopping at the first.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from .errors import Mark, Problem, UsageError, did_you_mean
from .fsutil import MISSING, mode_without_links

SECTIONS: Final = ("vars", "run_config", "model_config", "start_messages", "client_messages")
LIST_SECTIONS: Final = ("start_messages", "client_messages")
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

MAX_FILE_BYTES: Final = 1024 * 1024
MAX_NODES: Final = 100_000
MAX_DEPTH: Final = 64
SECRET_PATTERN: Final = re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")

PathKey = tuple[str | int, ...]
LayerKind = Literal["base", "env", "agent", "agent@env", "local", "environment", "override"]


class _Delete:
    """The `!delete` tombstone: removes the inherited key it is written on."""

    _instance: _Delete | None = None

    def __new__(cls) -> _Delete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "!delete"


DELETE: Final = _Delete()


@dataclass(frozen=True, slots=True)
class Append:
    """`key+: [...]`: items added to the end of the inherited list."""

    items: list[Any]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a layer comes from. `tracked` layers are in git: no literal secrets there."""

    kind: LayerKind
    label: str
    tracked: bool


@dataclass(frozen=True, slots=True)
class Layer:
    """One parsed layer: data with `DELETE`/`Append` markers, marks by path, and problems."""

    source: Source
    data: dict[str, Any]
    marks: dict[PathKey, Mark] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def render_path(path: PathKey) -> str:
    """`run_config.model_settings.tools[0]` from a path tuple."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def check_name(kind: str, name: str) -> None:
    """Refuse names that could leave the tree before any file is opened."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid {kind} name {name!r}: names match [A-Za-z0-9][A-Za-z0-9_.-]* "
            "(no path separators, no leading dot)"
        )


@dataclass(frozen=True, slots=True)
class Tree:
    """What a profile root holds: the agent and environment names."""

    root: Path
    agents: tuple[str, ...]
    envs: tuple[str, ...]
    # Membership in O(1): a tree of a thousand agents is checked once per load.
    _names: frozenset[tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {("agent", a) for a in self.agents} | {("env", e) for e in self.envs}
        object.__setattr__(self, "_names", frozenset(names))

    def has_agent(self, name: str) -> bool:
        return ("agent", name) in self._names

    def has_env(self, name: str) -> bool:
        return ("env", name) in self._names

    def agent_envs(self) -> tuple[tuple[str, str], ...]:
        """The agent@env files, (agent, env) sorted. Listed on demand (one directory read per
        agent folder): loading needs only the names."""
        pairs: list[tuple[str, str]] = []
        for agent in self.agents:
            folder = os.path.join(self.root, "agents", agent)  # noqa: PTH118
            pairs.extend((agent, env) for env in _yaml_names(folder, dirs=False))
        return tuple(sorted(pairs))


def _yaml_names(folder: str, *, dirs: bool) -> set[str]:
    """Valid names of `*.yaml` files in `folder` (and of sub-folders when `dirs`), read with
    one `scandir` (no stat per entry on file systems that report entry types)."""
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
            except OSError:
                continue
    return names


def scan(root: Path) -> Tree:
    """List agents (files or folders under agents/) and environments (files under env/)."""
    if not root.is_dir():
        raise UsageError(f"profile root {str(root)!r} is not a directory (the command line "
                         "takes --root or REALTIME_PROFILES_ROOT; code, Loader(root))")
    agents = _yaml_names(os.path.join(root, "agents"), dirs=True)  # noqa: PTH118
    envs = _yaml_names(os.path.join(root, "env"), dirs=False)  # noqa: PTH118
    return Tree(root, tuple(sorted(agents)), tuple(sorted(envs)))


def layer_files(
    tree: Tree, agent: str, env: str | None, *, local: bool = True
) -> list[tuple[Source, Path]]:
    """The existing layer files of `agent` in `env`, lowest precedence first."""
    check_name("agent", agent)
    if env is not None:
        check_name("environment", env)
    if not tree.has_agent(agent):
        hint = did_you_mean(agent, tree.agents)
        known = ", ".join(tree.agents) or "none"
        raise UsageError(f"unknown agent {agent!r} ({hint or 'known: ' + known})")
    if env is not None and not tree.has_env(env):
        hint = did_you_mean(env, tree.envs)
        known = ", ".join(tree.envs) or "none"
        raise UsageError(f"unknown environment {env!r} ({hint or 'known: ' + known})")
    root = tree.root
    found: list[tuple[Source, Path]] = []
    for kind, parts in layer_candidates(agent, env, local=local):
        path = _plain_file(root, parts)
        if path is False:  # a link (or an odd error) on the way: resolve and compare
            path = root.joinpath(*parts)
            try:
                if not path.is_file():
                    continue
                outside = not path.resolve().is_relative_to(root.resolve())
            except OSError:  # unreadable: read_layer reports it, located at the file
                outside = False
            if outside:
                raise UsageError(f"layer file {str(path)!r} is a link that leaves the profile "
                                 "root")
        elif path is None:
            continue
        found.append((Source(kind, str(path), tracked=kind != "local"), path))
    return found


def layer_candidates(agent: str, env: str | None, *,
                     local: bool = True) -> list[tuple[LayerKind, tuple[str, ...]]]:
    """Where each layer of `agent` in `env` would be, relative to the root, lowest first."""
    candidates: list[tuple[LayerKind, tuple[str, ...]]] = [("base", ("base.yaml",))]
    if env is not None:
        candidates.append(("env", ("env", f"{env}.yaml")))
    candidates.append(("agent", ("agents", f"{agent}.yaml")))
    if env is not None:
        candidates.append(("agent@env", ("agents", agent, f"{env}.yaml")))
    if local:
        candidates.append(("local", ("local.yaml",)))
    return candidates


def _plain_file(root: Path, parts: tuple[str, ...]) -> Path | Literal[False] | None:
    """root/parts when it is a regular file reached without a link below the root (so it is
    inside the root wherever the root itself points), None when nothing is there, False when
    only resolving can tell (a link on the way, or an unusual error). One lstat per component
    below the root instead of resolving both paths from `/` for every layer of every load.
    The names in `parts` are checked (`check_name`): never `.`, `..` or containing a `/`."""
    mode = mode_without_links(os.fspath(root), parts)
    if mode == MISSING:
        return None  # what is_file() says, with no link on the way
    if mode is None:
        return False
    return root.joinpath(*parts) if stat.S_ISREG(mode) else None


def read_layer(source: Source, path: Path) -> Layer:
    """Read and parse one layer file; every problem is returned, nothing raised."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            return _failed(source, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return _failed(source, f"file is {info.st_size} bytes, over the "
                                   f"{MAX_FILE_BYTES}-byte limit")
        with path.open("rb") as handle:  # bounded: the file may grow after the stat
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _failed(source, f"cannot read file: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return _failed(source, f"file is over the {MAX_FILE_BYTES}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - before.rfind(b"\n")
        return _failed(source, f"not UTF-8 text (byte {exc.start})", line, column)
    return parse_layer(source, text)


def _failed(source: Source, message: str, line: int = 0, column: int = 0) -> Layer:
    problem = Problem("", message, Mark(source.label, line, column))
    return Layer(source, {}, {}, (problem,))


def parse_layer(source: Source, text: str) -> Layer:
    """Parse layer text: the document must be a mapping of the known sections."""
    if "\x00" in text:
        return _failed(source, "binary content (NUL byte) is not YAML text")
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return _failed(source, f"invalid YAML: {message}", line, col)
    except yaml.YAMLError as exc:
        return _failed(source, f"invalid YAML: {reader_error(exc)}", *reader_position(exc, text))
    finally:
        loader.dispose()
    walker = _Walker(source, loader)
    if node is None:
        return Layer(source, {}, {}, ())
    try:
        data = walker.walk(node, (), 0)
    except _LimitError as exc:
        return Layer(source, {}, {}, (exc.problem,))
    if not isinstance(data, dict):
        return _failed(
            source,
            "a layer file must be a mapping with the keys " + ", ".join(SECTIONS),
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        )
    data = walker.check_sections(data)
    return Layer(source, data, walker.marks, tuple(walker.problems))


def reader_error(exc: yaml.YAMLError) -> str:
    """`unacceptable character #x0001: control characters are not allowed`, without the
    `in "<unicode string>", position 13` that libyaml appends (we give line and column)."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def reader_position(exc: yaml.YAMLError, text: str) -> tuple[int, int]:
    """1-based line and column of a reader error's character offset, or (0, 0)."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int) or not 0 <= position <= len(text):
        return 0, 0
    before = text[:position]
    return before.count("\n") + 1, position - before.rfind("\n")


class _LimitError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_SCALAR_TAGS: Final = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_STR: Final = "tag:yaml.org,2002:str"
_MAP: Final = "tag:yaml.org,2002:map"
_SEQ: Final = "tag:yaml.org,2002:seq"


class _Walker:
    """Turns a composed node graph into plain data, recording a mark for every key and item."""

    def __init__(self, source: Source, constructor: Any) -> None:
        self.source = source
        self.constructor = constructor
        self.marks: dict[PathKey, Mark] = {}
        self.problems: list[Problem] = []
        self.nodes = 0

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.source.label, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, path: PathKey, message: str, node: yaml.Node,
                hint: str | None = None) -> None:
        self.problems.append(Problem(render_path(path), message, self.mark(node), hint))

    def walk(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _LimitError(Problem(
                render_path(path),
                f"document expands to more than {MAX_NODES} values (an alias bomb?); "
                "refusing to expand further",
                self.mark(node),
            ))
        if depth > MAX_DEPTH:
            raise _LimitError(Problem(
                render_path(path), f"nested deeper than {MAX_DEPTH} levels", self.mark(node)
            ))
        if node.tag == "!delete":
            if not (isinstance(node, yaml.ScalarNode) and node.value == ""):
                self.problem(path, "!delete takes no value: write `key: !delete`", node)
            return DELETE
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.problem(path, f"tag {node.tag} is not allowed on a mapping", node)
            return self.walk_mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.problem(path, f"tag {node.tag} is not allowed on a list", node)
            items = []
            for index, child in enumerate(node.value):
                self.marks[(*path, index)] = self.mark(child)
                item = self.walk(child, (*path, index), depth + 1)
                if item is DELETE:
                    self.problem((*path, index), "!delete removes a key; a list item cannot "
                                 "be deleted", child, "replace the whole list")
                    item = None
                items.append(item)
            return items
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag == _TIMESTAMP:
            return str(node.value)  # dates stay text: JSON has no date type
        if node.tag not in _SCALAR_TAGS:
            self.problem(
                path,
                f"tag {node.tag} is not allowed (only plain YAML values and !delete)",
                node,
            )
            return str(node.value)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError,
                yaml.YAMLError):
            # `!!int abc`, `!!bool maybe`, an int of more digits than Python converts: the
            # value is not echoed (it may be a secret).
            name = node.tag.rsplit(":", 1)[-1]
            self.problem(path, f"this value cannot be read as !!{name}", node,
                         "fix it, drop the tag, or quote it to keep it a string")
            return str(node.value)
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, "NaN and infinity have no JSON form", node)
            return str(node.value)
        return value

    def walk_mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(path, "YAML merge keys (<<) are not supported", key_node,
                             "use a ${vars.name} preset and override fields in a higher layer")
                continue
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                self.problem(path, "mapping keys must be strings", key_node, "quote the key")
                continue
            key: str = key_node.value
            appending = key.endswith("+") and len(key) > 1
            base = key[:-1] if appending else key
            child_path = (*path, base)
            if base in seen:
                first = self.mark(seen[base])
                self.problem(child_path, f"duplicate key (first set at {first})", key_node,
                             "keep one; a later duplicate would silently win")
                continue
            seen[base] = key_node
            self.marks[child_path] = self.mark(key_node)
            value = self.walk(value_node, child_path, depth + 1)
            if appending:
                if not isinstance(value, list):
                    self.problem(child_path, f"`{key}:` appends a list; got "
                                 f"{_kind(value)}", key_node, f"write {key} [item, ...]")
                    continue
                value = Append(value)
            result[base] = value
            if isinstance(value, str) and self.source.tracked and not is_secret_path(child_path):
                self.check_secret_text(child_path, value, key_node)
        return result

    def check_secret_text(self, path: PathKey, value: str, node: yaml.Node) -> None:
        if SECRET_PATTERN.search(value):
            self.problem(path, "looks like a literal API key in a tracked file", node,
                         "read it from the environment: ${oc.env:OPENAI_API_KEY}")

    def check_sections(self, data: dict[str, Any]) -> dict[str, Any]:
        """Keep the known top-level sections; every other key is a located problem."""
        kept: dict[str, Any] = {}
        for key, value in data.items():
            mark = self.marks.get((key,))
            if key not in SECTIONS:
                hint = did_you_mean(key, SECTIONS)
                if key in _NESTED_HOME:
                    hint = f"it belongs under {_NESTED_HOME[key]}"
                self.problems.append(Problem(key, "unknown top-level key", mark,
                                             hint or "allowed: " + ", ".join(SECTIONS)))
                continue
            if isinstance(value, Append) and key not in LIST_SECTIONS:
                self.problems.append(Problem(key, "only list sections can be appended to", mark))
                continue
            kept[key] = value
        if self.source.tracked:
            self.problems.extend(_literal_secrets(kept, self.marks))
        return kept


# Keys people put at the top that live one level down.
_NESTED_HOME: Final = {
    "model_settings": "run_config.model_settings",
    "initial_model_settings": "model_config.initial_model_settings",
    "api_key": "model_config.api_key",
    "url": "model_config.url",
    "tracing_disabled": "run_config.tracing_disabled",
    "output_guardrails": "run_config.output_guardrails",
}


def _kind(value: Any) -> str:
    names: dict[type[Any], str] = {dict: "a mapping", list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)


SECRET_PATHS: Final = (("model_config", "api_key"),)
SECRET_MAPPINGS: Final = (("model_config", "headers"),)


def is_secret_path(path: PathKey) -> bool:
    """model_config.api_key and every model_config.headers value."""
    return path in SECRET_PATHS or path[:-1] in SECRET_MAPPINGS


def secret_paths(data: dict[str, Any]) -> Iterator[tuple[PathKey, Any]]:
    """The secret-holding leaves of a document: api_key and every header value."""
    for path in SECRET_PATHS:
        value = _get(data, path)
        if value is not _ABSENT:
            yield path, value
    for path in SECRET_MAPPINGS:
        headers = _get(data, path)
        if isinstance(headers, dict):
            for name, value in headers.items():
                yield (*path, name), value


def _literal_secrets(data: dict[str, Any], marks: dict[PathKey, Mark]) -> Iterator[Problem]:
    for path, value in secret_paths(data):
        if isinstance(value, str) and "${" not in value:
            yield Problem(render_path(path), "a literal secret in a tracked file",
                          marks.get(path),
                          "use ${oc.env:NAME} or ${file:path}, or put it in the untracked "
                          "local.yaml")


_ABSENT: Final = object()


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return _ABSENT
    return data


def stat_key(path: Path) -> tuple[int, int, int, int] | None:
    """What identifies a file's content for the cache: inode, size, mtime and ctime."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stray_files(tree: Tree) -> list[Problem]:
    """Files in the tree that no profile reads, though their author surely meant one to:
    `agents/support/prd.yaml` (no env `prd`), `env/staging.yml`, `agents/bad name.yaml`.
    Warnings for `validate` (errors under --strict): a silently ignored layer is a setting
    silently lost."""
    found: list[Problem] = []
    root = os.fspath(tree.root)

    def warn(path: str, message: str, suggestion: str) -> None:
        found.append(Problem("", message, Mark(path), suggestion, "warning"))

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
                hint = did_you_mean(name[:-5], tree.envs)
                known = ", ".join(tree.envs) or "none"
                warn(path, f"ignored: there is no environment {name[:-5]!r} in env/",
                     hint or f"environments: {known}")

    scan_folder(os.path.join(root, "env"), env_names=False)  # noqa: PTH118
    scan_folder(os.path.join(root, "agents"), env_names=False)  # noqa: PTH118
    for agent in tree.agents:
        scan_folder(os.path.join(root, "agents", agent), env_names=True)  # noqa: PTH118
    return found
