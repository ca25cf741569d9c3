"""Plugins: a user's resolvers and registry, for the command line.

Python callers hand resolvers to `Loader(resolvers=...)` and a registry to the SDK binding.
The command line has no Python to write them in, so it imports them from a module the user
declares: `--plugin module:attr` (repeatable), or the `plugins` list of the
`[tool.realtime-profiles]` table in the nearest pyproject.toml (found from the working
directory upwards). `attr` is a `Plugin`, a `Registry`, a mapping of resolvers, or a function
of no arguments returning one of those. Importing a plugin runs its code, like a conftest.py:
`--no-plugins` ignores the pyproject.toml table (e.g. in CI on untrusted changes).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ._resolvers import Resolver
from .errors import UsageError, did_you_mean, mean

TABLE: Final = "realtime-profiles"
TABLE_KEYS: Final = ("plugins",)


@dataclass(frozen=True)
class Plugin:
    """What a plugin module provides: resolvers by name (`${name:args}`) and a
    `realtime_profiles.sdk.Registry` whose names `validate` and `show` check the profiles
    against."""

    resolvers: Mapping[str, Resolver] = field(default_factory=dict)
    registry: Any = None


@dataclass(frozen=True)
class Loaded:
    """Every declared plugin, combined: one resolver table, at most one registry."""

    resolvers: dict[str, Resolver]
    registry: Any
    specs: tuple[str, ...]
    registry_spec: str | None = None
    """The plugin that gave the registry (`module:attr`)."""


def load_plugins(specs: list[str], *, use_pyproject: bool,
                 cwd: Path | None = None) -> Loaded:
    """Import the plugins named on the command line and, unless told not to, those of the
    nearest pyproject.toml; combine them. Every failure is a `UsageError` (exit 2) naming the
    plugin, never a traceback."""
    declared: list[tuple[str, Path | None]] = [(spec, None) for spec in specs]
    if use_pyproject:
        declared[:0] = _from_pyproject(cwd or Path.cwd())
    resolvers: dict[str, Resolver] = {}
    registry: Any = None
    owner = ""
    for spec, base in declared:
        plugin = _as_plugin(spec, _import(spec, base))
        for name, resolver in plugin.resolvers.items():
            if name in resolvers:
                raise UsageError(f"plugin {spec!r}: resolver {name!r} is also provided by "
                                 "another plugin")
            resolvers[name] = resolver
        if plugin.registry is not None:
            if registry is not None:
                raise UsageError(f"plugin {spec!r}: a registry is also provided by {owner!r} "
                                 "(give one plugin the registry)")
            registry, owner = plugin.registry, spec
    return Loaded(resolvers, registry, tuple(spec for spec, _ in declared),
                  owner if registry is not None else None)


def _from_pyproject(cwd: Path) -> Iterator[tuple[str, Path]]:
    """The `plugins` of `[tool.realtime-profiles]` in the nearest pyproject.toml."""
    import tomllib

    for folder in (cwd, *cwd.parents):
        path = folder / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: cannot read [tool.{TABLE}]: {exc}") from None
        table = data.get("tool", {}).get(TABLE, {})
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [tool.{TABLE}] must be a table")
        for key in table:
            if key not in TABLE_KEYS:
                hint = mean(did_you_mean(key, TABLE_KEYS)) or "known: " + ", ".join(TABLE_KEYS)
                raise UsageError(f"{path}: [tool.{TABLE}] has an unknown key {key!r} ({hint})")
        plugins = table.get("plugins", [])
        if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
            raise UsageError(f'{path}: [tool.{TABLE}] plugins must be a list of "module:attr" '
                             "strings")
        for spec in plugins:
            yield spec, folder
        return


def _import(spec: str, base: Path | None) -> Any:
    """`module:attr`, imported with the pyproject's folder (or the working directory) on the
    path for the duration of the import, as `python -m` would have it."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"plugin {spec!r}: write it as module:attr (e.g. myapp.voice:plugin)")
    folder = os.fspath(base or Path.cwd())
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"plugin {spec!r}: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed: say so, no traceback
        raise UsageError(f"plugin {spec!r}: importing {module_name!r} failed: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(folder)
    try:
        return getattr(module, attr)
    except AttributeError:
        public = [n for n in dir(module) if not n.startswith("_")]
        hint = mean(did_you_mean(attr, public)) or "it has: " + ", ".join(public[:12])
        raise UsageError(f"plugin {spec!r}: {module_name} has no {attr!r} ({hint})") from None


def _as_plugin(spec: str, obj: Any) -> Plugin:
    if callable(obj) and not isinstance(obj, Plugin) and not _is_registry(obj):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - the user's factory failed
            raise UsageError(f"plugin {spec!r}: calling it failed: {type(exc).__name__}: "
                             f"{exc}") from None
    if isinstance(obj, Plugin):
        plugin = obj
    elif _is_registry(obj):
        plugin = Plugin(registry=obj)
    elif isinstance(obj, Mapping):
        plugin = Plugin(resolvers=obj)
    else:
        raise UsageError(f"plugin {spec!r} is a {type(obj).__name__}: expected a "
                         "realtime_profiles.Plugin, a Registry or a mapping of resolvers")
    bad = [name for name, fn in plugin.resolvers.items()
           if not isinstance(name, str) or not callable(fn)]
    if bad:
        raise UsageError(f"plugin {spec!r}: resolvers are name -> function; not: "
                         + ", ".join(map(repr, bad)))
    return plugin


def _is_registry(obj: Any) -> bool:
    """A `realtime_profiles.sdk.Registry` (recognized without importing the SDK)."""
    return all(callable(getattr(obj, name, None)) for name in ("problems", "bind", "tool"))
