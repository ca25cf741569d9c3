"""Parse layer text into a `Layer`: plain data plus a table of marks.

Parsing goes through libyaml's `compose` (fast, and it keeps positions) and then our own walk,
which is where the rules live: safe tags only, `!delete`, `key+:` appends, no duplicate keys,
bounded alias expansion, depth and size. A layer's problems are data, so one run reports the
mistakes of every file instead of stopping at the first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

import yaml

from . import _secrets
from ._files import NotRegularError, StatKey, TooLargeError, read_bounded
from ._layer import (
    DELETE,
    LAYER_KEYS,
    Append,
    Layer,
    Source,
)
from ._limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from ._paths import PathKey, kind_of
from .errors import Mark, Problem, did_you_mean, mean

LIST_SECTIONS: Final = ("start_messages", "client_messages")


def read_layer(source: Source, path: Path) -> tuple[Layer, StatKey | None]:
    """Read and parse one layer file, and the identity of the bytes read (None when nothing
    could be read); every problem is returned, nothing raised."""
    try:
        read = read_bounded(path, MAX_FILE_BYTES)
    except NotRegularError:  # a FIFO or device would block or never end
        return _failed(source, "file-read", "not a regular file"), None
    except TooLargeError as exc:
        size = f"is {exc.size} bytes, over" if exc.size is not None else "is over"
        return _failed(source, "file-read", f"file {size} the {MAX_FILE_BYTES}-byte limit"), None
    except OSError as exc:
        return _failed(source, "file-read", f"cannot read file: {exc.strerror or exc}"), None
    raw = read.data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - before.rfind(b"\n")
        return _failed(source, "encoding", f"not UTF-8 text (byte {exc.start})", line,
                       column), read.key
    return parse_layer(source, text), read.key


def _failed(source: Source, code: str, message: str, line: int = 0, column: int = 0) -> Layer:
    return Layer(source, problems=(Problem((), code, message, Mark(source.label, line, column)),))


def parse_layer(source: Source, text: str) -> Layer:
    """Parse layer text: the document must be a mapping of the known sections."""
    if "\x00" in text:
        return _failed(source, "encoding", "binary content (NUL byte) is not YAML text")
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return _failed(source, "yaml-syntax", f"invalid YAML: {message}", line, col)
    except yaml.YAMLError as exc:
        return _failed(source, "yaml-syntax", f"invalid YAML: {reader_error(exc)}",
                       *reader_position(exc, text))
    finally:
        loader.dispose()
    walker = Walker(source, loader)
    if node is None:
        return Layer(source)
    try:
        data = walker.walk(node, (), 0)
    except LimitError as exc:
        return Layer(source, problems=(exc.problem,))
    if not isinstance(data, dict):
        return _failed(
            source, "layer-shape",
            "a layer file must be a mapping with the keys " + ", ".join(LAYER_KEYS),
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        )
    if source.tracked:
        walker.problems.extend(_secrets.tracked_layer_problems(data, walker.marks))
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


# -- YAML 1.2 core schema --------------------------------------------------------------------
#
# PyYAML implements YAML 1.1, where `yes`, `no`, `on` and `off` are booleans, `5:00` is the
# base-60 integer 300, `017` is octal, `1e0` is a string and `2024-01-01` a date: profiles
# would silently mean something else than they say (`language: no` becomes false). Profiles
# are read with YAML 1.2's core schema instead (spec 1.2.2, section 10.3.2): the same libyaml
# parser, with our own implicit resolvers (the C composer asks the Python-level `resolve`
# for every untagged plain scalar, so this costs nothing) and our own constructors for the
# three typed scalars. Quoted scalars and explicit tags (`!!str 5`) are untouched.

_NULL: Final = "tag:yaml.org,2002:null"
_BOOL: Final = "tag:yaml.org,2002:bool"
_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"

_CORE_INT: Final = re.compile(r"[-+]?[0-9]+\Z|0o[0-7]+\Z|0x[0-9a-fA-F]+\Z")
_CORE_FINITE: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_CORE_FLOAT: Final = re.compile(
    rf"{_CORE_FINITE.pattern}|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")
_CORE_BOOL: Final = {"true": True, "True": True, "TRUE": True,
                     "false": False, "False": False, "FALSE": False}
_CORE_NULL: Final = re.compile(r"(?:~|null|Null|NULL|)\Z")

# (tag, pattern, the first characters a plain scalar of that tag can start with)
_CORE_RESOLVERS: Final = (
    (_NULL, _CORE_NULL, ["~", "n", "N", ""]),
    (_BOOL, re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), list("tTfF")),
    (_INT, _CORE_INT, list("-+0123456789")),
    (_FLOAT, _CORE_FLOAT, list("-+.0123456789")),
)

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CoreLoader(_BaseLoader):  # type: ignore[misc]
    """libyaml's safe loader reading plain scalars by the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    """Decimal, `0o` octal and `0x` hex only: no `_`, no base 60, `017` is seventeen."""
    text = str(node.value)
    if not _CORE_INT.match(text):
        raise ValueError(text)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    text = str(node.value)
    if not (_CORE_FLOAT.match(text) or _CORE_INT.match(text)):
        raise ValueError(text)
    lowered = text.lower()
    if lowered.endswith((".inf", ".nan")):
        return float(lowered.replace(".", ""))
    if lowered.startswith(("0o", "0x")):
        return float(_construct_int(loader, node))
    return float(text)


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    try:
        return _CORE_BOOL[str(node.value)]
    except KeyError:  # `!!bool yes`: not a boolean in YAML 1.2
        raise ValueError(node.value) from None


for _tag, _pattern, _first in _CORE_RESOLVERS:
    CoreLoader.add_implicit_resolver(_tag, _pattern, _first)
_CONSTRUCTORS: Final[dict[str, Callable[[Any, yaml.ScalarNode], Any]]] = {
    _INT: _construct_int, _FLOAT: _construct_float, _BOOL: _construct_bool,
}
for _tag, _construct in _CONSTRUCTORS.items():
    CoreLoader.add_constructor(_tag, _construct)


def core_number(text: str) -> bool:
    """Whether `text`, written plainly, is a number in YAML 1.2 (for "write it without
    quotes" advice: only then does removing the quotes help)."""
    return bool(_CORE_INT.match(text) or _CORE_FINITE.match(text))


def core_boolean(text: str) -> bool:
    """Whether `text`, written plainly, is a boolean in YAML 1.2."""
    return text in _CORE_BOOL


class CoreDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting every string that a YAML 1.1 *or* a YAML 1.2 reader would
    take for something else (`'1e0'`, `'yes'`), so what `show` prints reads back as shown."""


for _tag, _pattern, _first in _CORE_RESOLVERS:
    CoreDumper.add_implicit_resolver(_tag, _pattern, _first)


def dump(document: Any, stream: IO[str] | None = None, **options: Any) -> Any:
    """YAML text of plain data (`yaml.dump` with `CoreDumper`), block style, keys in order."""
    options.setdefault("sort_keys", False)
    options.setdefault("allow_unicode", True)
    return yaml.dump(document, stream, Dumper=CoreDumper, **options)



class LimitError(Exception):
    """A size limit was hit: the walk stops, with the one problem that says which."""

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
_MERGE: Final = "tag:yaml.org,2002:merge"


class Walker:
    """Turns a composed node graph into plain data, recording a mark for every key and item.
    Layer files and override values (`_overrides`) go through the same walk."""

    def __init__(self, source: Source, constructor: Any) -> None:
        self.source = source
        self.constructor = constructor
        self.marks: dict[PathKey, Mark] = {}
        self.problems: list[Problem] = []
        self.nodes = 0

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.source.label, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, path: PathKey, code: str, message: str, node: yaml.Node,
                hint: str | None = None) -> None:
        self.problems.append(Problem(path, code, message, self.mark(node), hint))

    def walk(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise LimitError(Problem(
                path, "limit",
                f"document expands to more than {MAX_NODES} values (an alias bomb?); "
                "refusing to expand further",
                self.mark(node),
            ))
        if depth > MAX_DEPTH:
            raise LimitError(Problem(path, "limit", f"nested deeper than {MAX_DEPTH} levels",
                                     self.mark(node)))
        if node.tag == "!delete":
            if not (isinstance(node, yaml.ScalarNode) and node.value == ""):
                self.problem(path, "delete-value", "!delete takes no value: write `key: !delete`",
                             node)
            return DELETE
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.problem(path, "tag", f"tag {node.tag} is not allowed on a mapping", node)
            return self.walk_mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.problem(path, "tag", f"tag {node.tag} is not allowed on a list", node)
            return self.walk_list(node, path, depth)
        return self.scalar(node, path)

    def walk_list(self, node: yaml.SequenceNode, path: PathKey, depth: int) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            self.marks[(*path, index)] = self.mark(child)
            item = self.walk(child, (*path, index), depth + 1)
            if item is DELETE:
                self.problem((*path, index), "delete-item", "!delete removes a key; a list "
                             "item cannot be deleted", child, "replace the whole list")
                item = None
            items.append(item)
        return items

    def scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag == _TIMESTAMP:
            return str(node.value)  # dates stay text: JSON has no date type
        if node.tag not in _SCALAR_TAGS:
            self.problem(path, "tag",
                         f"tag {node.tag} is not allowed (only plain YAML values and !delete)",
                         node)
            return str(node.value)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError,
                yaml.YAMLError):
            # `!!int abc`, `!!bool maybe`, an int of more digits than Python converts: the
            # value is not echoed (it may be a secret).
            name = node.tag.rsplit(":", 1)[-1]
            self.problem(path, "tag", f"this value cannot be read as !!{name}", node,
                         "fix it, drop the tag, or quote it to keep it a string")
            return str(node.value)
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, "not-finite", "NaN and infinity have no JSON form", node)
            return str(node.value)
        return value

    def walk_mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE or (isinstance(key_node, yaml.ScalarNode)
                                          and key_node.value == "<<" and not key_node.style):
                self.problem(path, "merge-key", "YAML merge keys (<<) are not supported",
                             key_node,
                             "use a ${vars.name} preset and override fields in a higher layer")
                continue
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                self.problem(path, "key-type", "mapping keys must be strings", key_node,
                             "quote the key")
                continue
            key: str = key_node.value
            appending = key.endswith("+") and len(key) > 1
            base = key[:-1] if appending else key
            child_path = (*path, base)
            if base in seen:
                first = self.mark(seen[base])
                self.problem(child_path, "duplicate-key", f"duplicate key (first set at {first})",
                             key_node, "keep one; a later duplicate would silently win")
                continue
            seen[base] = key_node
            self.marks[child_path] = self.mark(key_node)
            value = self.walk(value_node, child_path, depth + 1)
            if appending:
                if not isinstance(value, list):
                    self.problem(child_path, "append", f"`{key}:` appends a list; got "
                                 f"{kind_of(value)}", key_node, f"write {key} [item, ...]")
                    continue
                value = Append(value)
            result[base] = value
        return result

    def check_sections(self, data: dict[str, Any]) -> dict[str, Any]:
        """Keep the known top-level sections; every other key is a located problem."""
        kept: dict[str, Any] = {}
        for key, value in data.items():
            mark = self.marks.get((key,))
            if key not in LAYER_KEYS:
                hint = mean(did_you_mean(key, LAYER_KEYS))
                if key in _NESTED_HOME:
                    hint = f"it belongs under {_NESTED_HOME[key]}"
                self.problems.append(Problem((key,), "unknown-key", "unknown top-level key", mark,
                                             hint or "allowed: " + ", ".join(LAYER_KEYS)))
                continue
            if isinstance(value, Append) and key not in LIST_SECTIONS:
                self.problems.append(Problem((key,), "append",
                                             "only list sections can be appended to", mark))
                continue
            kept[key] = value
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

# Codes of problems that mean a layer could not be read as written (`LayerSyntaxError`).
SYNTAX_CODES: Final = frozenset({
    "file-read", "encoding", "yaml-syntax", "layer-shape", "limit", "tag", "not-finite",
    "merge-key", "key-type", "duplicate-key", "delete-value", "delete-item",
})
