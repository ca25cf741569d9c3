"""The profile fingerprint: one stable name for exactly one emitted configuration.

SHA-256 over a canonical JSON form (sorted keys, fixed separators, UTF-8, no NaN) of the
document — each secret replaced by the reference it was written as (`${oc.env:NAME}`), never
its value, so a fingerprint cannot be used to test guesses of a short key — plus the facet
choices and the sections of the agents it hands off to (their handoff tools are on its wire).
The same document, facets and graph give the same fingerprint in every process, on every
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


# One encoder for every canonical form (json.dumps with options builds a new one per call).
_ENCODE: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                  allow_nan=False).encode


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of `value` (what fingerprints and artifacts hash)."""
    return _ENCODE(value).encode("utf-8")


def fingerprint(document: Mapping[str, Any], facets: Mapping[str, str], *,
                references: Mapping[PathKey, Any] | None = None,
                record: dict[PathKey, str] | None = None,
                known: Mapping[PathKey, str] | None = None,
                changed: Sequence[PathKey] = (),
                pieces: dict[PathKey, dict[str, str]] | None = None,
                graph: Mapping[str, str] | None = None) -> str:
    """The fingerprint of `document` under `facets`: a Merkle hash over its canonical JSON.

    Each mapping or list hashes to SHA-256 of its canonical JSON in which every nested
    mapping or list stands as `{"#": <its hash>}`, so the result is a pure function of the
    document and the facets. Secrets count as their `references` (the
    text they were written as); stamps already in tracing metadata do not count. `record`
    collects each container's hash by path; with `known` (such a record) and `changed`, only
    the containers on the way to a changed path are hashed again (a call's profile), and
    `pieces` (a cache kept with `known`, filled on first use) holds the canonical text of
    each of their members that the call left alone, so only what changed is encoded.
    `graph` (`section_digest` of each agent it hands off to, by name) counts too: their
    sections shape this profile's handoff tools on the wire."""
    hasher = _Hasher(references or {}, record, known, changed, pieces)
    top: dict[str, Any] = {"document": {"#": hasher.digest(document, ())},
                           "facets": dict(facets)}
    if graph:  # absent, not empty: a profile without handoffs keeps its fingerprint
        top["graph"] = dict(graph)
    return hashlib.sha256(canonical(top)).hexdigest()[:LENGTH]


def section_digest(section: Any) -> str:
    """The hash of a handed-off agent's section in a fingerprint (masked values already
    replaced by the caller)."""
    return hashlib.sha256(canonical(section)).hexdigest()


class _Hasher:
    """Hashes containers bottom-up: each one is the SHA-256 of its canonical JSON in which
    every nested container stands as `{"#": <its hash>}` (an object no scalar can be, and a
    real nested object is always replaced by one, so the form is unambiguous)."""

    __slots__ = ("_affected", "_changed", "_known", "_pieces", "_record", "_references")

    def __init__(self, references: Mapping[PathKey, Any], record: dict[PathKey, str] | None,
                 known: Mapping[PathKey, str] | None, changed: Sequence[PathKey],
                 pieces: dict[PathKey, dict[str, str]] | None = None) -> None:
        self._references = references
        self._record = record
        self._known = known
        self._pieces = pieces if known is not None else None
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
        return self._hash(value, path, below or path in self._changed)

    def _hash(self, value: Any, path: PathKey, below: bool) -> str:
        # a call's profile reaches here for the few containers on the way to its changes:
        # each child container's hash is taken from `known` inline, without a call
        references = self._references
        known = None if below else self._known
        affected = self._affected
        shallow: Any
        if isinstance(value, dict):
            skip = STAMP_KEYS if len(path) == 4 and path[:3] in TRACING_PATHS \
                and path[3] == "metadata" else ()
            if self._pieces is not None and not below:
                return self._hash_from_pieces(value, path, skip)
            shallow = {}
            for key, written in value.items():
                if key in skip:
                    continue
                child = (*path, key)
                item = references[child] if references and child in references else written
                if isinstance(item, dict | list):
                    cached = known.get(child) if known is not None and child not in affected \
                        else None
                    shallow[key] = {"#": cached or self.digest(item, child, below)}
                else:
                    shallow[key] = item
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

    def _hash_from_pieces(self, value: dict[str, Any], path: PathKey,
                          skip: tuple[str, ...]) -> str:
        """`_hash` of a mapping on the way to a call's change, built from the cached text of
        each member the call left alone (`"key":value`, exactly as the canonical encoder
        writes it: keys sorted, no spaces) and the members it changed encoded now."""
        assert self._pieces is not None and self._known is not None
        cache = self._pieces.setdefault(path, {})
        affected, changed, known = self._affected, self._changed, self._known
        references = self._references
        parts: list[str] = []
        for key in sorted(value):
            if key in skip:
                continue
            child = (*path, key)
            fresh = child in affected or child in changed
            piece = None if fresh else cache.get(key)
            if piece is None:
                item = references[child] if references and child in references else value[key]
                if isinstance(item, dict | list):
                    digest = None if fresh else known.get(child)
                    encoded = '{"#":"' + (digest or self.digest(item, child)) + '"}'
                else:
                    encoded = _ENCODE(item)
                piece = _ENCODE(key) + ":" + encoded
                if not fresh:
                    cache[key] = piece  # the composed profile's own: true for every call
            parts.append(piece)
        text = "{" + ",".join(parts) + "}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
