"""Show what the SDK would send for a profile, with no network and no API key.

    python examples/offline_roundtrip.py support --env prod
    python examples/offline_roundtrip.py phone --env dev model_settings.voice=verse --all

The profile goes through the real openai-agents SDK (RealtimeRunner, RealtimeSession and
OpenAIRealtimeWebSocketModel); only the websocket is replaced by an in-memory one. Tools,
handoffs and guardrails named in the profile get stand-ins, since their code lives in your app.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from realtime_profiles import Loader, ProfileError
from realtime_profiles.offline import capture, stand_ins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent")
    parser.add_argument("--env", default=os.environ.get("REALTIME_PROFILES_ENV"))
    parser.add_argument("--root", default=os.environ.get("REALTIME_PROFILES_ROOT", "profiles"))
    parser.add_argument("--all", action="store_true",
                        help="every frame (start messages, response.create), not only "
                             "session.update")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    args = parser.parse_intermixed_args(argv)

    # check(), not load(): a missing OPENAI_API_KEY is fine here, nothing is sent anywhere.
    result = Loader(args.root).check(args.agent, args.env, args.overrides)
    for problem in result.problems:
        print(problem.render(), file=sys.stderr)
    if result.profile is None:
        return 1
    profile = result.profile
    frames = capture(profile, registry=stand_ins(profile)).frames
    shown = frames if args.all else [f for f in frames if f.get("type") == "session.update"]
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ProfileError as exc:  # unknown agent, bad override, unregistered name: no traceback
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
