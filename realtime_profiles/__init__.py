"""realtime-profiles: layered, validated YAML profiles for OpenAI Agents SDK realtime sessions.

    from realtime_profiles import load_profile
    profile = load_profile("support", env="prod")
    runner = RealtimeRunner(agent, config=profile.run_config)
    session = await runner.run(model_config=profile.model_config)
"""

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
