"""Every rule about secrets, in one file a reviewer can read whole.

Which paths hold secrets (kept in step with the schema's `x-secret` by a test), what a tracked
layer may not contain, how a secret is masked wherever something is shown, and the stand-in
for a secret whose environment variable is unset. Other modules ask this one; none decides
on its own what is secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from ._layer import Layer
from ._paths import MISSING, PathKey, Pattern, get, matches, render_path, set_at, under
from .errors import Mark, Problem

MASK: Final = "***"

# The secret leaves of a document: the api key and every header value. Kept equal to the
# paths the schema marks `x-secret` (tests/test_secrets.py derives them from schema.json).
SECRET_PATTERNS: Final[tuple[Pattern, ...]] = (
    ("model_config", "api_key"),
    ("model_config", "headers", "*"),
)
# A mapping whose every value is a secret: shown masked as a whole in messages.
SECRET_MAPPINGS: Final[tuple[PathKey, ...]] = (("model_config", "headers"),)
# Mappings a secret lies in: a reference standing for one of them would bring secrets in
# wholesale, where no rule sees them.
SECRET_CONTAINERS: Final[tuple[PathKey, ...]] = (("model_config",), *SECRET_MAPPINGS)

# What to do about a secret whose variable is unset. Never "give a default": a default is
# written in the profile, and a secret written in a tracked file is what these rules refuse.
UNSET_HINT: Final = "set it before loading this profile for use"

# Shaped like an OpenAI key: refused anywhere in a tracked layer.
LITERAL_KEY: Final = re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")


def is_secret_path(path: PathKey) -> bool:
    """Whether `path` is a secret leaf (`model_config.api_key`, a header value)."""
    return any(matches(path, pattern) for pattern in SECRET_PATTERNS)


def holds_secret(path: PathKey) -> bool:
    """A secret, or a mapping a secret lies in (`model_config`, `model_config.headers`)."""
    return is_secret_path(path) or any(
        len(path) < len(pattern) and matches(path, pattern[: len(path)])
        for pattern in SECRET_PATTERNS)


def within_secret(path: PathKey, secrets: Sequence[PathKey] | set[PathKey]) -> bool:
    """Whether `path` is one of `secrets` or lies inside one (`api_key: [sk-...]`)."""
    return any(under(path, s) for s in secrets)


def secret_paths(document: Mapping[str, Any]) -> Iterator[tuple[PathKey, Any]]:
    """The secret leaves present in a document (raw or resolved), with their values."""
    api_key = get(document, ("model_config", "api_key"))
    if api_key is not MISSING:
        yield ("model_config", "api_key"), api_key
    headers = get(document, ("model_config", "headers"))
    if isinstance(headers, dict):
        for name, value in headers.items():
            yield ("model_config", "headers", name), value


def masked_paths(document: Mapping[str, Any]) -> set[PathKey]:
    """What a message about `document` must never show: each secret leaf, and each mapping
    of secrets as a whole (`headers: [sk-...]` is reported as `got list ***`)."""
    return {path for path, _ in secret_paths(document)} | set(SECRET_MAPPINGS)


# -- what a tracked layer may hold ---------------------------------------------------------

def tracked_layer_problems(data: Mapping[str, Any],
                           marks: Mapping[PathKey, Mark]) -> Iterator[Problem]:
    """A tracked (git) layer holds no secret: a secret leaf must be a `${...}` reference, and
    no string anywhere may look like an API key."""
    for path, value in _strings(data, ()):
        if is_secret_path(path):
            if "${" not in value:
                yield Problem(path, "secret-literal", "a literal secret in a tracked file",
                              marks.get(path),
                              "use ${oc.env:NAME} or ${file:path}, or put it in the untracked "
                              "local.yaml")
        elif LITERAL_KEY.search(value):
            yield Problem(path, "secret-literal",
                          "looks like a literal API key in a tracked file", marks.get(path),
                          "read it from the environment: ${oc.env:OPENAI_API_KEY}")


def _strings(node: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    """Each string value of a mapping in layer data (not list items, not keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield (*path, key), value
            elif isinstance(value, dict):
                yield from _strings(value, (*path, key))


def opaque_container_problems(raw: Mapping[str, Any],
                              layers: Sequence[Layer]) -> Iterator[Problem]:
    """`model_config: ${vars.x}` or `headers: ${vars.h}` would bring secrets in wholesale,
    where no secret rule sees them (secret paths are known before interpolation): refused."""
    for path in SECRET_CONTAINERS:
        value = get(raw, path)
        if isinstance(value, str) and "${" in value:
            # located where the reference is written (the last layer to write it)
            mark = next((m for layer in reversed(layers) if (m := layer.marks.get(path))),
                        None)
            yield Problem(
                path, "secret-container-reference",
                "holds secrets, so it cannot be a ${...} reference: its values could be "
                "neither checked for literals nor masked", mark,
                "write it as a mapping here; each value may be ${oc.env:NAME} or ${vars.x}")


# (mark, tracked) of the write that won at a path, or None.
WinningWrite = Callable[[PathKey], tuple[Mark | None, bool] | None]


def literal_read_problems(literal_reads: Mapping[PathKey, Sequence[PathKey]],
                          winner: WinningWrite) -> Iterator[Problem]:
    """A secret that draws on a literal written in a tracked file, through references at any
    depth (the secret's own text was checked when its layer was parsed), at the secret."""
    for path, literals in literal_reads.items():
        secret_write = winner(path)
        for literal in literals:
            write = winner(literal)
            if write is None or not write[1]:
                continue
            where = f" at {write[0].render()}" if write[0] is not None else ""
            yield Problem(path, "secret-literal",
                          "a secret must come from ${oc.env:...} or ${file:...}; it draws on "
                          f"{render_path(literal)}, a literal written{where} in a tracked file",
                          secret_write[0] if secret_write is not None else None,
                          "move the value to an environment variable")


# -- masking -------------------------------------------------------------------------------

class UnsetSecret(str):
    """Stand-in for a secret whose variable is unset, in validate/show (never for use)."""

    variables: tuple[str, ...]

    def __new__(cls, variables: tuple[str, ...]) -> UnsetSecret:
        obj = super().__new__(cls, unset_text(variables))
        obj.variables = variables
        return obj


def unset_placeholder(variable: str) -> str:
    """What an unset secret variable reads as inside a lenient resolution."""
    return unset_text((variable,))


def redact(document: dict[str, Any], secrets: Sequence[PathKey],
           unset: Mapping[PathKey, tuple[str, ...]]) -> dict[str, Any]:
    """`document` (a copy the caller owns) with each secret string shown as `***`, or as
    `*** (unset: VAR)` when its variable is unset. Decided by path, never by the value's
    text. `{callable: name}` is not a secret and stays as it is."""
    for path in secrets:
        if isinstance(get(document, path), str):
            variables = unset.get(path)
            set_at(document, path, unset_text(variables) if variables else MASK)
    return document


def unset_text(variables: Sequence[str]) -> str:
    """`*** (unset: A, B)`: how a secret whose variables are unset is shown."""
    return f"{MASK} (unset: {', '.join(variables)})"


def mask_below(value: Any, path: PathKey, secrets: Sequence[PathKey],
               copy: Callable[[Any], Any]) -> Any:
    """`value` (found at `path`) with every secret below it replaced by `***` (a copy when
    anything is masked)."""
    below = [s[len(path):] for s in secrets if len(s) > len(path) and under(s, path)]
    below = [rest for rest in below if get(value, rest) is not MISSING]
    if not below:
        return value
    value = copy(value)
    for rest in below:
        set_at(value, rest, MASK)
    return value


def masked_override(text: str) -> str:
    """An override as an error shows it: a value that may be a secret becomes `***`.

    Decided on the raw key (it may not parse): anything naming api_key or headers, or
    model_config itself.
    """
    if "=" not in text:
        return text
    key = text.split("=", 1)[0]
    bare = key.lower().lstrip("+~").rstrip("+")
    secret = "api_key" in bare or "headers" in bare or bare == "model_config"
    return f"{key}={MASK}" if secret else text


def override_label(text: str, path: PathKey) -> str:
    """An override's text for its mark: the value of anything holding a secret is `***`."""
    if "=" in text and holds_secret(path):
        return text.split("=", 1)[0] + "=" + MASK
    return text


def unquoted(message: str, text: Any, *, drop_tail: bool = False) -> str:
    """`message` with `text` (quoted or not) replaced by ***; with `drop_tail` (a grammar
    error, whose detail quotes pieces of the text) everything after it is dropped too."""
    if not isinstance(text, str) or not text:
        return message
    for quoted in (repr(text), text):
        if quoted in message:
            head, _, tail = message.partition(quoted)
            return head + MASK + ("" if drop_tail else tail)
    return message
