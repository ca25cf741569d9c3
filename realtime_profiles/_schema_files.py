"""schema.json on disk: print the packaged copy, regenerate it, check it for drift.

The SDK is imported only by `write` and `check`; loading and validating profiles read the
packaged copy, so they work without the SDK installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ._files import atomic_write
from .errors import ProfileError, UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_NAME = "schema.json"
LAYER_SCHEMA_NAME = "layer-schema.json"


def dumps(schema: Any) -> str:
    """The one serialization used everywhere, so byte comparison means schema equality."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def packaged_text(layer: bool = False) -> str:
    """The schema shipped inside the package."""
    name = LAYER_SCHEMA_NAME if layer else SCHEMA_NAME
    return resources.files("realtime_profiles").joinpath(name).read_text("utf-8")


def _generate() -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        from . import _sdk_schema as sdk_schema
    except ImportError as exc:  # pragma: no cover - sdk_schema imports nothing optional
        raise UsageError(str(exc)) from None
    try:
        document = sdk_schema.build_document_schema()
    except ImportError as exc:
        raise UsageError(
            f"the openai-agents SDK is needed to generate the schema ({exc.name} is missing): "
            "install the sdk extra: pip install -e '.[sdk]' in your clone (it installs "
            "openai-agents>=0.24,<0.25)"
        ) from None
    return document, sdk_schema.build_layer_schema(document)


def _is_source_checkout() -> bool:
    """Running from a git checkout (editable install): keep the package copy in step."""
    return (PACKAGE_DIR.parent / "pyproject.toml").is_file()


def _targets(layer: bool, output: str | None, root: str) -> list[Path]:
    if output:
        targets = [Path(output)]
    elif layer:
        targets = [Path(root) / LAYER_SCHEMA_NAME]
    else:
        targets = [Path(SCHEMA_NAME)]
    for target in targets:  # before anything is resolved or written
        if "\x00" in str(target):
            raise UsageError(f"invalid path {str(target)!r}: a file name cannot hold a NUL "
                             "character")
    if _is_source_checkout():
        packaged = PACKAGE_DIR / (LAYER_SCHEMA_NAME if layer else SCHEMA_NAME)
        if packaged.resolve() not in {t.resolve() for t in targets}:
            targets.append(packaged)
    return targets


def write(layer: bool, output: str | None, root: str) -> list[str]:
    """Regenerate from the installed SDK and write every target atomically."""
    document, layer_schema = _generate()
    text = dumps(layer_schema if layer else document)
    lines = []
    for target in _targets(layer, output, root):
        try:
            atomic_write(target, text)
        except OSError as exc:  # disk full, read-only, a directory: the old file is intact
            raise ProfileError(f"cannot write {target}: {exc.strerror or exc} (the file is "
                               "unchanged)") from None
        lines.append(f"wrote {target}")
    return lines


@dataclass
class Report:
    """What `check` found: lines to print, and whether anything drifted."""

    lines: list[str] = field(default_factory=list)
    drift: bool = False

    def __iter__(self) -> Any:
        return iter(self.lines)


def check(layer: bool, output: str | None, root: str) -> Report:
    """Compare each target with what the installed SDK generates; name changed fields."""
    from . import _sdk_schema as sdk_schema

    document, layer_schema = _generate()
    expected = dumps(layer_schema if layer else document)
    report = Report()
    for target in _targets(layer, output, root):
        if not target.is_file():
            report.drift = True
            report.lines.append(f"{target}: missing (run: realtime-profiles schema --write"
                                f"{' --layer' if layer else ''})")
            continue
        try:
            actual = target.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.drift = True
            report.lines.append(f"{target}: cannot be read ({exc})")
            continue
        if actual == expected:
            report.lines.append(f"{target}: up to date with openai-agents "
                                f"{sdk_schema.sdk_version()}")
            continue
        report.drift = True
        report.lines.append(f"{target}: differs from the schema generated from openai-agents "
                            f"{sdk_schema.sdk_version()}")
        try:
            recorded = json.loads(actual)
        except ValueError:
            report.lines.append("  (not valid JSON)")
            continue
        if not layer:
            changes = sdk_schema.field_drift(sdk_schema.sdk_field_sets(),
                                             sdk_schema.schema_field_sets(recorded))
            report.lines.extend(f"  {line}" for line in changes)
            if not changes:
                report.lines.append("  same fields; types, docs or limits changed")
        report.lines.append("  regenerate with: realtime-profiles schema --write"
                            f"{' --layer' if layer else ''}")
    return report
