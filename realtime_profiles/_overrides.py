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

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import yaml

from . import _secrets
from ._layer import DELETE, ENV_PREFIX, SECTIONS, Append, Edit, EditKind, Source
from ._limits import MAX_DEPTH
from ._paths import KeyError_, PathKey, split_key
from ._yaml import CoreLoader, LimitError, Walker, reader_error, reader_position
from .errors import Mark, UsageError, printable

COMMAND_LINE: Final = "command line"


def parse_key(key: str, text: str) -> PathKey:
    """`model_settings.voice` -> ('run_config', 'model_settings', 'voice').

    List items are `tools.0` or `tools[0]` (the form problems are printed in)."""
    try:
        return split_key(key, SECTIONS, MAX_DEPTH)
    except KeyError_ as exc:
        base = text.index(key) if key and key in text else 0
        reason = exc.reason
        if exc.segment is not None:  # `a.b=v` as a key: the value is not quoted
            shown = _secrets.masked_override(exc.segment, None)
            reason = reason.replace(repr(exc.segment), repr(shown))
        raise _syntax(text, base + exc.offset if exc.offset else 0, reason) from None


def parse_value(raw: str, text: str, offset: int, path: PathKey | None = None) -> Any:
    """YAML-typed value: `true` is a bool, `'true'` a string, `` (nothing) an empty string.

    Read by the same walk and the same YAML 1.2 core schema as layer files, so the same rules
    hold: `yes` is a string, safe tags only, string keys, no duplicate keys, bounded alias
    expansion and depth, dates kept as text. `path` is where the value goes: when a secret
    may be written there (`_secrets.may_hold_secret`), an error shows neither the value nor
    anything quoted from it.
    """
    secret = not _secrets.may_echo(path, raw) if path is not None else False
    if raw == "":
        return ""
    try:  # a shell passes undecodable bytes as surrogates (`voice=$'\xff'`)
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _syntax(text, offset + exc.start, "not UTF-8 text", path) from None
    loader = CoreLoader(raw)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        column = exc.problem_mark.column if exc.problem_mark else 0
        # libyaml's detail may quote the text (`found undefined alias 'x'`)
        detail = "the value is not valid YAML" if secret else f"invalid value: {exc.problem}"
        raise _syntax(text, offset + column, detail, path) from None
    except yaml.YAMLError as exc:  # the reader's: control characters, bad encoding
        line, column = reader_position(exc, raw)
        raise _syntax(text, offset + max(column - 1, 0) * (line == 1),
                      f"invalid value: {reader_error(exc)}", path) from None
    finally:
        loader.dispose()
    if node is None:
        return None
    walker = Walker(_VALUE_SOURCE, loader)
    try:
        value = walker.walk(node, (), 0)
    except LimitError as exc:
        walker.problems.insert(0, exc.problem)
    problem = walker.problems[0] if walker.problems else None
    if problem is None and _has_marker(value):
        raise _syntax(text, offset, "!delete and `key+:` belong in layer files (here: ~key, "
                                    "key+=[...])", path)
    if problem is not None:
        mark = problem.mark
        column = mark.column - 1 if mark is not None and mark.line == 1 else 0
        # a key inside a secret's value may be the secret itself: its path is not shown
        message = f"{problem.path}: {problem.message}" if problem.path and not secret \
            else problem.message
        raise _syntax(text, offset + column, message, path)
    return value


_VALUE_SOURCE: Final = Source("override", "value", tracked=False)


def _has_marker(value: Any) -> bool:
    if value is DELETE or isinstance(value, Append):
        return True
    if isinstance(value, dict):
        return any(_has_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_marker(v) for v in value)
    return False


def _syntax(text: str, column: int, message: str, path: PathKey | None = None) -> UsageError:
    """packaging-style error: the override, then a caret under the offending column. The
    value is shown only when the key parsed (`path`) and cannot hold a secret."""
    shown = _secrets.masked_override(text, path)
    if shown != text:
        column = min(column, len(shown) - 3)
    caret = " " * (len("  ") + max(column, 0)) + "^"
    return UsageError(f"invalid override {shown!r}: {message}\n  {printable(shown)}\n{caret}")


def _display(text: str) -> str:
    """The key of an override as typed, without the operator."""
    key = text.lstrip("+~").split("=", 1)[0]
    return key[:-1] if key.endswith("+") else key


def parse_override(text: str) -> Edit:
    """One override from its text (as typed on the command line or passed by a caller)."""
    if text.startswith("~"):
        if "=" in text:
            raise _syntax(text, text.index("="), "`~key` deletes a key and takes no value")
        path = parse_key(text[1:], text)
        return Edit("delete", path, None, _display(text), _mark(text, path))
    kind: EditKind
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
    value = parse_value(raw, text, offset + len(key) + (2 if kind == "append" else 1), path)
    return Edit(kind, path, value, _display(text), _mark(text, path))


def _mark(text: str, path: PathKey) -> Mark:
    """Where an override came from; the value of a secret is never part of it."""
    return Mark(f"{COMMAND_LINE}: {_secrets.masked_override(text, path)}")


def parse_overrides(texts: Iterable[str]) -> list[Edit]:
    """All overrides, or one UsageError naming every bad one."""
    parsed: list[Edit] = []
    errors: list[str] = []
    for text in texts:
        try:
            parsed.append(parse_override(text))
        except UsageError as exc:
            errors.append(exc.message)
    if errors:
        raise UsageError("\n".join(errors))
    return parsed


def env_overrides(environ: Mapping[str, str]) -> list[tuple[str, Edit]]:
    """`REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE=verse` -> ++run_config...=verse,
    with the variable's name.

    Double underscores separate keys; names become lower case; values are YAML-typed.
    Sorted by name so the result never depends on the environment's order.
    """
    found: list[tuple[str, Edit]] = []
    errors: list[str] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        segments = [s.lower() for s in name[len(ENV_PREFIX):].split("__")]
        key = ".".join(segments)
        text = f"{name}={environ[name]}"
        try:
            path = parse_key(key, name)  # the name alone: the value is not shown
            value = parse_value(environ[name], text, len(name) + 1, path)
        except UsageError as exc:
            errors.append(f"environment variable {name}: {exc.message}")
            continue
        found.append((name, Edit("force", path, value, key,
                                 Mark(f"environment variable {name}"))))
    if errors:  # every bad variable at once, like overrides and files
        raise UsageError("\n".join(errors))
    return found


def format_override(path: PathKey, value: Any, kind: EditKind = "force") -> str:
    """The override text that sets `path` to `value`; `parse_override` reads it back as
    exactly `path` and `value` (a property test holds the two inverse)."""
    key = ".".join(str(p) for p in path)
    prefix = {"set": "", "add": "+", "force": "++", "append": "", "delete": "~"}[kind]
    if kind == "delete":
        return f"~{key}"
    op = "+=" if kind == "append" else "="
    return f"{prefix}{key}{op}{_flow(value)}"


def _flow(value: Any) -> str:
    """YAML flow text for JSON data: `json.dumps`, except where JSON is not YAML (a float is
    given a dot, `1.0e+16`, which YAML 1.1 readers need as well; see `_NOT_PRINTABLE` for
    strings; a key written longer than YAML's 1024-character limit for implicit keys is made
    explicit with `? `)."""
    import json

    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(_flow(str(k)))}: {_flow(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        if "." not in text:
            text = text.replace("e", ".0e") if "e" in text else text + ".0"
        return text
    if isinstance(value, str):
        return _NOT_PRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))
    return json.dumps(value)


def _key(text: str) -> str:
    return f"? {text} " if len(text) > _IMPLICIT_KEY_LIMIT else text


_IMPLICIT_KEY_LIMIT: Final = 1000  # YAML: an implicit key is at most 1024 characters


# YAML refuses raw control characters and reads raw NEL, LS and PS as line breaks, and JSON's
# surrogate pairs are not YAML escapes: everything but printable ASCII becomes \\u or \\U.
_NOT_PRINTABLE: Final = re.compile(r"[^\x20-\x7e]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
