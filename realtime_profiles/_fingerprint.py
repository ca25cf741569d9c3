"""The profile fingerprint: one stable name for exactly one emitted configuration.

SHA-256 over a canonical JSON form (sorted keys, fixed separators, UTF-8, no NaN) of the
document — each secret replaced by the reference it was written as (`${oc.env:NAME}`), never
its value, so a fingerprint cannot be used to test guesses of a short key — plus the facet
choices. The same document and facets give the same fingerprint in every process, on every
machine and Python version; any emitted value that changes changes it. It is computed before
it is stamped into the tracing metadata (`run_config.model_settings.tracing.metadata`), so a
trace in the OpenAI dashboard leads back to the configuration that produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from ._paths import MISSING, PathKey, get, set_at
from .errors import Problem

LENGTH: Final = 32
"""Hex characters kept (128 bits): short enough for a Kubernetes label value."""
STAMP_KEYS: Final = ("profile_fingerprint", "profile_facets", "profile_base_fingerprint",
                     "profile_call_keys")
TRACING_PATHS: Final[tuple[PathKey, ...]] = (
    ("run_config", "model_settings", "tracing"),
    ("model_config", "initial_model_settings", "tracing"),
)


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of `value` (what fingerprints and artifacts hash)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def fingerprint(document: Mapping[str, Any], facets: Mapping[str, str]) -> str:
    """The fingerprint of a document whose secrets are already replaced by their references
    (see `for_hashing`) under the given facet choices."""
    payload = canonical({"document": document, "facets": dict(facets)})
    return hashlib.sha256(payload).hexdigest()[:LENGTH]


def for_hashing(document: dict[str, Any], references: Mapping[PathKey, Any]) -> dict[str, Any]:
    """`document` (a copy the caller owns) with each secret set to the text it was written
    as, and without stamps a previous load left in tracing metadata."""
    for path, reference in references.items():
        if get(document, path) is not MISSING:
            set_at(document, path, reference)
    for path in TRACING_PATHS:
        metadata = get(document, (*path, "metadata"))
        if isinstance(metadata, dict):
            for key in STAMP_KEYS:
                metadata.pop(key, None)
    return document


def is_stamp(path: PathKey) -> bool:
    """Whether `path` is a key the loader stamps (`...tracing.metadata.profile_fingerprint`)."""
    return len(path) == 5 and path[:3] in TRACING_PATHS and path[3] == "metadata" \
        and path[4] in STAMP_KEYS


def stamp(document: dict[str, Any], stamps: Mapping[str, str]) -> None:
    """Write `stamps` into every tracing block the SDK may send (a mapping, with tracing not
    disabled); where the profile has no tracing block nothing is added, so the wire is not
    changed beyond the metadata."""
    if get(document, ("run_config", "tracing_disabled")) is True:
        return
    for path in TRACING_PATHS:
        tracing = get(document, path)
        if not isinstance(tracing, dict):
            continue
        metadata = tracing.get("metadata")
        if metadata is None:
            metadata = tracing["metadata"] = {}
        if isinstance(metadata, dict):
            metadata.update(stamps)


def stamping(section: Any) -> tuple[bool, list[Problem]]:
    """The `fingerprint:` control section: `{stamp: true|false}` (default true)."""
    if section is None:
        return True, []
    if not isinstance(section, dict) or set(section) - {"stamp"} \
            or not isinstance(section.get("stamp", True), bool):
        return True, [Problem(("fingerprint",), "fingerprint-settings",
                              "expected {stamp: true} or {stamp: false}", None,
                              "stamp: false keeps the fingerprint out of tracing metadata")]
    return bool(section.get("stamp", True)), []
