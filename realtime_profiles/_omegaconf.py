"""The one door to OmegaConf's internals.

We reuse OmegaConf's interpolation grammar (its ANTLR parser) and its `GrammarVisitor`, so an
interpolation means exactly what it means in OmegaConf; both are internal to OmegaConf, which
is why pyproject pins the 2.4 line. Every private symbol we touch is imported here and nowhere
else, and tests/test_omegaconf_seam.py pins each one: an OmegaConf upgrade that moves one
fails in that test, in this one file, instead of somewhere deep in a load. Imports are lazy:
a profile whose interpolations are all simple never loads the ANTLR runtime.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

NodeCallback = Callable[[Any, Any], Any]
ResolverCallback = Callable[[str, tuple[Any, ...], tuple[str, ...]], Any]

# (module, attribute) of every OmegaConf internal used below; the seam test imports each.
PINNED: tuple[tuple[str, str], ...] = (
    ("omegaconf.grammar_parser", "parse"),
    ("omegaconf.grammar_visitor", "GrammarVisitor"),
    ("omegaconf._missing", "_EscapedMissing"),
    ("omegaconf._missing", "_has_missing_spelling"),
    ("omegaconf._utils", "_get_value"),
)


_EMPTY_LAST: Final = re.compile(r",[ \t]*\}")


def fill_empty_args(text: str) -> str:
    """`${oc.env:X,}` as `${oc.env:X,''}`: OmegaConf reads a missing last argument as '' and
    says so with a UserWarning on stderr, unlocated; writing the '' gives the same value
    quietly. Only where the `,}` closes a resolver call (not in plain text around it, a
    quoted argument or a `{...}` argument)."""
    if "${" not in text or _EMPTY_LAST.search(text) is None:
        return text
    out: list[str] = []
    open_: list[str] = []  # "$" for an interpolation, "{" / "[" for a bracketed argument
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):  # an escape: both characters are text
            out.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            quote = "" if char == quote else quote
        elif text.startswith("${", i):
            open_.append("$")
            out.append("${")
            i += 2
            continue
        elif open_ and char in "'\"":
            quote = char
        elif open_ and char in "{[":
            open_.append(char)
        elif open_ and char in "}]":
            open_.pop()
        elif open_ and open_[-1] == "$" and char == "," \
                and text[i + 1:].lstrip(" \t").startswith("}"):
            out.append(",''")
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse(text: str) -> Any:
    """OmegaConf's grammar parse of a string that holds `${`: a parse tree, or an exception
    (the grammar's errors have no common base class)."""
    from omegaconf.grammar_parser import parse as grammar_parse

    return grammar_parse(text)


def evaluate(tree: Any, node: NodeCallback, resolver: ResolverCallback) -> Any:
    """Evaluate a parse tree with OmegaConf's visitor, our callbacks doing node lookups and
    resolver calls (so no DictConfig is built and no global resolver table is read)."""
    from omegaconf.grammar_visitor import GrammarVisitor

    return GrammarVisitor(node, resolver, memo=None).visit(tree)


def plain_value(value: Any) -> tuple[Any, bool]:
    """What the visitor does to a value that is not plain data before `str()`: OmegaConf's
    `_get_value`, and whether the result is an escaped `???`."""
    from omegaconf._missing import _EscapedMissing
    from omegaconf._utils import _get_value

    value = _get_value(value)
    return value, isinstance(value, _EscapedMissing)


def escaped_missing(result: str) -> Any:
    """The visitor's wrapping of a joined string that spells `???` after an escape."""
    from omegaconf._missing import _EscapedMissing, _has_missing_spelling

    return _EscapedMissing(result) if _has_missing_spelling(result) else result
