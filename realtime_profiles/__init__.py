"""realtime-profiles: layered, validated YAML profiles for OpenAI Agents SDK realtime sessions.

    from realtime_profiles import load_profile
    profile = load_profile("concierge", env="prod")
    runner = profile.runner(registry)      # its agent graph, names bound (realtime_profiles.sdk)
    session = await runner.run(model_config=profile.bind(registry).model_config)

Names are imported on first use (PEP 562), so `realtime-profiles --help` does not pay for
YAML and JSON Schema imports it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._build import build_bundle
    from ._layer import Source
    from ._plugins import Plugin
    from ._provenance import Write
    from ._resolvers import Resolver
    from ._watch import Watch
    from .bundle import Bundle, BundleError
    from .errors import (
        LayerSyntaxError,
        LiveUpdateError,
        Mark,
        Problem,
        ProfileError,
        ProfileValidationError,
        SecretUnavailableError,
        Severity,
        UsageError,
    )
    from .loader import Loader, load_profile
    from .profile import CheckResult, Explanation, Profile

_EXPORTS = {
    "build_bundle": "_build",
    "Bundle": "bundle",
    "BundleError": "bundle",
    "CheckResult": "profile",
    "Explanation": "profile",
    "Profile": "profile",
    "Loader": "loader",
    "load_profile": "loader",
    "LayerSyntaxError": "errors",
    "LiveUpdateError": "errors",
    "Mark": "errors",
    "Problem": "errors",
    "ProfileError": "errors",
    "ProfileValidationError": "errors",
    "SecretUnavailableError": "errors",
    "Severity": "errors",
    "UsageError": "errors",
    "Source": "_layer",
    "Plugin": "_plugins",
    "Write": "_provenance",
    "Watch": "_watch",
    "Resolver": "_resolvers",
}

__all__ = [
    "Bundle",
    "BundleError",
    "CheckResult",
    "Explanation",
    "LayerSyntaxError",
    "LiveUpdateError",
    "Loader",
    "Mark",
    "Plugin",
    "Problem",
    "Profile",
    "ProfileError",
    "ProfileValidationError",
    "Resolver",
    "SecretUnavailableError",
    "Severity",
    "Source",
    "UsageError",
    "Watch",
    "Write",
    "build_bundle",
    "load_profile",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_profiles' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
