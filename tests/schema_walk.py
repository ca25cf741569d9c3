"""Read schema.json the way tests need: every path where a keyword marks a field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def marked_paths(node: Any, keyword: str, defs: Mapping[str, Any],
                 path: tuple[str, ...] = (),
                 seen: frozenset[str] = frozenset()) -> set[tuple[tuple[str, ...], Any]]:
    """Every (path, value) where the schema carries `keyword` (`x-registry`, `x-secret`);
    `"*"` stands for any list item or any key of a free-form mapping."""
    found: set[tuple[tuple[str, ...], Any]] = set()
    if not isinstance(node, dict):
        return found
    if keyword in node:
        found.add((path, node[keyword]))
    ref = node.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        found |= marked_paths(defs[ref.rsplit("/", 1)[1]], keyword, defs, path, seen | {ref})
    for key, child in node.get("properties", {}).items():
        found |= marked_paths(child, keyword, defs, (*path, key), seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found |= marked_paths(node[key], keyword, defs, (*path, "*"), seen)
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        found |= marked_paths(branch, keyword, defs, path, seen)
    return found
