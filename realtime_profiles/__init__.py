"""realtime-profiles: layered, validated YAML profiles for OpenAI Agents SDK realtime sessions.

    from realtime_profiles import load_profile
    profile = load_profile("support", env="prod")
    runner = RealtimeRunner(agent, config=profile.run_config)
    session = await runner.run(model_config=profile.model_config)

Names are imported on first use (PEP 562), so `realtime-profiles --help` does not pay for
YAML and JSON Schema imports it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import CheckResult, Explanation, Loader, Profile, load_profile
    from .errors import (
        LayerSyntaxError,
        Mark,
        Problem,
        ProfileError,
        ProfileValidationError,
        SecretUnavailableError,
        UsageError,
    )

_EXPORTS = {
    "CheckResult": "api",
    "Explanation": "api",
    "Loader": "api",
    "Profile": "api",
    "load_profile": "api",
    "LayerSyntaxError": "errors",
    "Mark": "errors",
    "Problem": "errors",
    "ProfileError": "errors",
    "ProfileValidationError": "errors",
    "SecretUnavailableError": "errors",
    "UsageError": "errors",
}

__all__ = [
    "CheckResult",
    "Explanation",
    "LayerSyntaxError",
    "Loader",
    "Mark",
    "Problem",
    "Profile",
    "ProfileError",
    "ProfileValidationError",
    "SecretUnavailableError",
    "UsageError",
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
