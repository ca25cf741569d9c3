"""Parse dotted overrides (`k=v +k=v ++k=v ~k k+=[..]`) and the environment-variable layer.

Grammar (Hydra's, which our users already type):

    override := '~' key                 delete an existing key
              | '+' key '=' value       add a key that is not set
              | '++' key '=' value      add or replace
              | key '+=' value          append a list to a list
              | key '=' value           replace an existing key
    key      := segment ('.' segment)*  segment := [A-Za-z0-9_-]+ ; digits index lists
    value    := YAML flow text: `true`, `0.5`, `[audio]`, `{type: server_vad}`, `'0.5'`

Keys are relative to `run_config` unless they start with a section name.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml

from .errors import Mark, UsageError
from .layers import SECTIONS, PathKey, Source, is_secret_path

OverrideKind = Literal["set", "add", "force", "delete", "append"]

ENV_PREFIX: Final = "REALTIME_PROFILES__"
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+\Z")
_REFUSED_TAGS: Final = (":binary", ":set", ":omap", ":pairs", ":merge")
_COMMAND_LINE: Final = Source("override", "command line", tracked=False)


@dataclass(frozen=True, slots=True)
class Override:
    """One parsed override: what to do, where, with which value, and where it came from."""

    kind: OverrideKind
    path: PathKey
    value: Any
    text: str
    source: Source
    mark: Mark

    @property
    def display(self) -> str:
        """The key as the user typed it (without the operator)."""
        key = self.text.lstrip("+~").split("=", 1)[0]
        return key[:-1] if key.endswith("+") else key


def parse_key(key: str, text: str) -> PathKey:
    """`model_settings.voice` -> ('run_config', 'model_settings', 'voice').

    List items are `tools.0` or `tools[0]` (the form problems are printed in)."""
    if not key:
        raise _syntax(text, 0, "missing key")
    segments = re.sub(r"\[(\d+)\]", r".\1", key).split(".")
    parts: list[str | int] = []
    offset = text.index(key) if key in text else 0
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise _syntax(text, offset, f"invalid key segment {segment!r} (letters, digits, "
                          "_ and - separated by dots)")
        parts.append(int(segment) if segment.isdigit() else segment)
        offset += len(segment) + 1
    if parts[0] not in SECTIONS:
        parts.insert(0, "run_config")
    return tuple(parts)


def parse_value(raw: str, text: str, offset: int) -> Any:
    """YAML-typed value: `true` is a bool, `'true'` a string, `` (nothing) an empty string."""
    if raw == "":
        return ""
    try:
        loader = yaml.CSafeLoader(raw) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(raw)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_plain(node, text, offset)
            return _jsonable(loader.construct_document(node), text, offset)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        column = exc.problem_mark.column if exc.problem_mark else 0
        raise _syntax(text, offset + column, f"invalid value: {exc.problem}") from None


def _check_plain(node: yaml.Node, text: str, offset: int) -> None:
    allowed = "tag:yaml.org,2002:"
    if not node.tag.startswith(allowed) or node.tag.endswith(_REFUSED_TAGS):
        raise _syntax(text, offset, f"tag {node.tag} is not allowed in a value")
    children: Iterable[Any] = ()
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        _check_plain(child, text, offset)


def _jsonable(value: Any, text: str, offset: int) -> Any:
    """Dates stay text (JSON has none); NaN and infinity are refused."""
    if isinstance(value, dict):
        return {k: _jsonable(v, text, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, text, offset) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise _syntax(text, offset, "NaN and infinity have no JSON form")
    return value


def _syntax(text: str, column: int, message: str) -> UsageError:
    """packaging-style error: the override, then a caret under the offending column."""
    caret = " " * (len("  ") + max(column, 0)) + "^"
    return UsageError(f"invalid override {text!r}: {message}\n  {text}\n{caret}")


def _mark(source: Source, text: str, path: PathKey) -> Mark:
    """Where an override came from; the value of a secret is never part of it."""
    if source.kind != "override":
        return Mark(source.label)
    if is_secret_path(path) and "=" in text:
        text = text.split("=", 1)[0] + "=***"
    return Mark(f"{source.label}: {text}")


def parse_override(text: str, source: Source = _COMMAND_LINE) -> Override:
    """One override from its text."""
    if text.startswith("~"):
        if "=" in text:
            raise _syntax(text, text.index("="), "`~key` deletes a key and takes no value")
        path = parse_key(text[1:], text)
        return Override("delete", path, None, text, source, _mark(source, text, path))
    kind: OverrideKind
    if text.startswith("++"):
        kind, body, offset = "force", text[2:], 2
    elif text.startswith("+"):
        kind, body, offset = "add", text[1:], 1
    else:
        kind, body, offset = "set", text, 0
    if "=" not in body:
        raise _syntax(text, len(text), "expected key=value (or ~key to delete)")
    key, raw = body.split("=", 1)
    if key.endswith("+"):
        if kind != "set":
            raise _syntax(text, offset + len(key) - 1, "`+=` cannot be combined with + or ++")
        kind, key = "append", key[:-1]
    path = parse_key(key, text)
    if is_secret_path(path):  # a syntax error must not echo the secret either
        try:
            value = parse_value(raw, text, 0)
        except UsageError:
            raise UsageError(f"invalid override {key}=***: the value is not valid YAML") from None
    else:
        value = parse_value(raw, text, offset + len(key) + (2 if kind == "append" else 1))
    return Override(kind, path, value, text, source, _mark(source, text, path))


def parse_overrides(texts: Iterable[str]) -> list[Override]:
    """All overrides, or one UsageError naming every bad one."""
    parsed: list[Override] = []
    errors: list[str] = []
    for text in texts:
        try:
            parsed.append(parse_override(text))
        except UsageError as exc:
            errors.append(exc.message)
    if errors:
        raise UsageError("\n".join(errors))
    return parsed


def env_overrides(environ: Mapping[str, str]) -> list[Override]:
    """`REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE=verse` -> ++run_config...=verse.

    Double underscores separate keys; names become lower case; values are YAML-typed.
    Sorted by name so the result never depends on the environment's order.
    """
    found: list[Override] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        source = Source("environment", f"environment variable {name}", tracked=False)
        segments = [s.lower() for s in name[len(ENV_PREFIX):].split("__")]
        key = ".".join(segments)
        text = f"{name}={environ[name]}"
        try:
            path = parse_key(key, text)
            value = parse_value(environ[name], text, len(name) + 1)
        except UsageError as exc:
            raise UsageError(f"environment variable {name}: {exc.message}") from None
        found.append(Override("force", path, value, text, source, Mark(source.label)))
    return found


def format_override(path: PathKey, value: Any, kind: OverrideKind = "force") -> str:
    """The override text that sets `path` to `value` (JSON is valid YAML flow)."""
    import json

    key = ".".join(str(p) for p in path)
    prefix = {"set": "", "add": "+", "force": "++", "append": "", "delete": "~"}[kind]
    if kind == "delete":
        return f"~{key}"
    op = "+=" if kind == "append" else "="
    return f"{prefix}{key}{op}{json.dumps(value)}"
