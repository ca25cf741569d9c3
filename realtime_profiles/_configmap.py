"""A bundle as Kubernetes ConfigMaps: what `realtime-profiles export --format configmap` prints.

A ConfigMap holds at most 1 MiB of data (the values' bytes), its data keys are file names
(`[-._a-zA-Z0-9]+`, which bundle file names are by construction), its name a DNS subdomain and
its label values at most 63 characters. A larger bundle is split, in a fixed order, into
several ConfigMaps that a pod mounts as one projected volume: kubelet then writes all of them
into one folder and swaps it in whole (`..data`), and `Bundle` checks every file against the
manifest, so a worker never runs on a mix of two bundles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from .errors import UsageError

MAX_DATA_BYTES: Final = 1024 * 1024
DEFAULT_PART_BYTES: Final = 900 * 1024
_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+\Z")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
PREFIX: Final = "realtime-profiles"


def configmaps(files: Sequence[tuple[str, bytes]], manifest: dict[str, Any], *, name: str,
               namespace: str | None = None, part_bytes: int = DEFAULT_PART_BYTES,
               immutable: bool = False) -> list[dict[str, Any]]:
    """The ConfigMap objects holding `files` (manifest.json and schema.json first, then the
    combinations in name order), each at most `part_bytes` of data."""
    fingerprint = str(manifest["fingerprint"])
    if immutable:
        name = f"{name}-{fingerprint[:10]}"
    _check_names(name, namespace, part_bytes)
    ordered = sorted(files, key=lambda f: (f[0] not in ("manifest.json", "schema.json"),
                                           f[0] != "manifest.json", f[0]))
    parts: list[list[tuple[str, str]]] = [[]]
    size = 0
    for key, data in ordered:
        if not _KEY.match(key) or len(key) > 253 or key.startswith(".."):
            raise UsageError(f"{key!r} cannot be a ConfigMap data key")
        if len(data) > part_bytes:
            raise UsageError(f"{key} is {len(data)} bytes: over the {part_bytes}-byte part "
                             "limit (a ConfigMap holds at most 1 MiB)")
        if size + len(data) > part_bytes and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append((key, data.decode("utf-8")))
        size += len(data)
    count = len(parts)
    objects = []
    for number, part in enumerate(parts, 1):
        metadata: dict[str, Any] = {
            "name": name if count == 1 else f"{name}-{number}",
            "labels": {
                "app.kubernetes.io/name": "realtime-profiles",
                "app.kubernetes.io/part-of": name[:63].rstrip("-."),
                f"{PREFIX}/bundle": fingerprint,
                f"{PREFIX}/part": str(number),
                f"{PREFIX}/parts": str(count),
            },
            "annotations": {
                f"{PREFIX}/fingerprint": fingerprint,
                f"{PREFIX}/tool": str(manifest.get("tool")),
                f"{PREFIX}/combinations": str(len(manifest["combinations"])),
            },
        }
        if namespace:
            metadata["namespace"] = namespace
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                                "data": dict(part)}
        if immutable:
            body["immutable"] = True
        objects.append(body)
    return objects


def _check_names(name: str, namespace: str | None, part_bytes: int) -> None:
    problems = []
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 240:
        problems.append(f"--name {name!r}: a ConfigMap name is a DNS subdomain (lower-case "
                        "letters, digits, '-' and '.'; at most 240 here, to leave room for "
                        "part numbers)")
    if namespace is not None and (not _DNS_LABEL.match(namespace) or len(namespace) > 63):
        problems.append(f"--namespace {namespace!r}: a namespace is a DNS label (lower-case "
                        "letters, digits and '-', at most 63)")
    if not 1024 <= part_bytes <= MAX_DATA_BYTES:
        problems.append(f"--max-bytes {part_bytes}: between 1024 and {MAX_DATA_BYTES}")
    if problems:
        raise UsageError("; ".join(problems))


def render(objects: list[dict[str, Any]], fmt: str) -> str:
    """YAML documents (for `kubectl apply -f -`) or one JSON `List`."""
    if fmt == "json":
        import json

        return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2,
                          ensure_ascii=False) + "\n"
    import yaml

    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, allow_unicode=True, width=100)
                   for o in objects)
