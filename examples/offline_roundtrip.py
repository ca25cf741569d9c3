"""Show what the SDK would send for a profile, with no network and no API key.

    python examples/offline_roundtrip.py support --env prod
    python examples/offline_roundtrip.py phone --env dev model_settings.voice=verse --all
    python examples/offline_roundtrip.py concierge --env prod \
        --call transfer_to_support_agent --call transfer_to_concierge

The profile goes through the real openai-agents SDK (RealtimeRunner, RealtimeSession and
OpenAIRealtimeWebSocketModel); only the websocket is replaced by an in-memory one. The session
starts with the profile's agent graph (`profile.realtime_agent`); `--call NAME` plays the model
calling a tool or handoff, in order, and shows what the SDK sends after each. Tools, handoffs,
guardrails (and every other name) in the profile get stand-ins, since their code lives in
your app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from realtime_profiles import Loader, ProfileError

try:
    from realtime_profiles.offline import open_session, stand_ins
except ModuleNotFoundError as missing:  # the SDK is the sdk extra
    sys.exit(f"error: this example runs the openai-agents SDK ({missing.name} is not installed):"
             " pip install -e '.[sdk]'")


async def frames_of(profile: Any, calls: list[str]) -> list[dict[str, Any]]:
    async with open_session(profile, stand_ins(profile)) as offline:
        for name in calls:
            await offline.call_tool(name)
        return list(offline.frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent")
    parser.add_argument("--env", default=os.environ.get("REALTIME_PROFILES_ENV"))
    parser.add_argument("--root", default=os.environ.get("REALTIME_PROFILES_ROOT", "profiles"))
    parser.add_argument("--all", action="store_true",
                        help="every frame (start messages, response.create), not only "
                             "session.update")
    parser.add_argument("--call", action="append", default=[], metavar="TOOL",
                        help="the model calls this tool or handoff (repeatable, in order)")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    args = parser.parse_intermixed_args(argv)

    # check(), not load(): a missing OPENAI_API_KEY is fine here, nothing is sent anywhere.
    result = Loader(args.root).check(args.agent, args.env, args.overrides)
    for problem in result.problems:
        print(problem.render(), file=sys.stderr)
    if result.profile is None:
        return 1
    frames = asyncio.run(frames_of(result.profile, args.call))
    shown = frames if args.all else [f for f in frames if f.get("type") == "session.update"]
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ProfileError as exc:  # unknown agent, bad override, unregistered name: no traceback
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
