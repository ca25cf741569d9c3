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
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._paths import PathKey, get
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


def fingerprint(document: Mapping[str, Any], facets: Mapping[str, str], *,
                references: Mapping[PathKey, Any] | None = None,
                record: dict[PathKey, str] | None = None,
                known: Mapping[PathKey, str] | None = None,
                changed: Sequence[PathKey] = ()) -> str:
    """The fingerprint of `document` under `facets`: a Merkle hash over its canonical JSON.

    Each mapping or list hashes to SHA-256 of its canonical JSON in which every nested
    mapping or list stands as `{"#": <its hash>}`, so the result is a pure function of the
    document and the facets. Secrets count as their `references` (the
    text they were written as); stamps already in tracing metadata do not count. `record`
    collects each container's hash by path; with `known` (such a record) and `changed`, only
    the containers on the way to a changed path are hashed again (a call's profile)."""
    hasher = _Hasher(references or {}, record, known, changed)
    top = canonical({"document": {"#": hasher.digest(document, ())}, "facets": dict(facets)})
    return hashlib.sha256(top).hexdigest()[:LENGTH]


class _Hasher:
    """Hashes containers bottom-up: each one is the SHA-256 of its canonical JSON in which
    every nested container stands as `{"#": <its hash>}` (an object no scalar can be, and a
    real nested object is always replaced by one, so the form is unambiguous)."""

    __slots__ = ("_affected", "_changed", "_known", "_record", "_references")

    def __init__(self, references: Mapping[PathKey, Any], record: dict[PathKey, str] | None,
                 known: Mapping[PathKey, str] | None, changed: Sequence[PathKey]) -> None:
        self._references = references
        self._record = record
        self._known = known
        # the paths on the way to a changed one, and what lies below one, are hashed again
        self._changed = frozenset(changed)
        self._affected = {p[:cut] for p in changed for cut in range(len(p) + 1)}

    def digest(self, value: Any, path: PathKey, below: bool = False) -> str:
        """The hash of the container `value` at `path`; `below`: it lies inside a changed
        value, so no hash recorded for the composed profile applies to it."""
        known = self._known
        if known is not None and not below and path not in self._affected:
            cached = known.get(path)
            if cached is not None:
                return cached
        below = below or path in self._changed
        references = self._references
        shallow: Any
        if isinstance(value, dict):
            skip = STAMP_KEYS if len(path) == 4 and path[:3] in TRACING_PATHS \
                and path[3] == "metadata" else ()
            shallow = {}
            for key, written in value.items():
                if key in skip:
                    continue
                child = (*path, key)
                item = references[child] if references and child in references else written
                shallow[key] = {"#": self.digest(item, child, below)} \
                    if isinstance(item, dict | list) else item
        else:
            shallow = []
            for index, written in enumerate(value):
                child = (*path, index)
                item = references[child] if references and child in references else written
                shallow.append({"#": self.digest(item, child, below)}
                               if isinstance(item, dict | list) else item)
        digest = hashlib.sha256(canonical(shallow)).hexdigest()
        if self._record is not None:
            self._record[path] = digest
        return digest


def unstamp(document: dict[str, Any]) -> None:
    """Remove the stamps a previous load left in tracing metadata (in place)."""
    for path in TRACING_PATHS:
        metadata = get(document, (*path, "metadata"))
        if isinstance(metadata, dict):
            for key in STAMP_KEYS:
                metadata.pop(key, None)


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
