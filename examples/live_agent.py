"""A front desk with specialists, whose agents and session are configured by profiles.

    export OPENAI_API_KEY=sk-...
    python examples/live_agent.py --env dev            # or --agent support

Loads `concierge` from ./profiles: its agent hands off to `support` and `billing`, which hand
back, all defined in the profiles' `agent:` sections. Binds the names the graph uses (tools, a
guardrail) to the code below, opens a live session, sends the profile's start and client
messages, and prints what the model says until it finishes its first answers. Audio is not
played: this shows the wiring; a real app feeds `session.send_audio` from a microphone or a
phone bridge (and passes a `RealtimePlaybackTracker` per call to `profile.bind`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import Any

from agents import GuardrailFunctionOutput, RunContextWrapper
from websockets.exceptions import WebSocketException

from realtime_profiles import ProfileError, load_profile
from realtime_profiles.sdk import Registry, send_initial_messages

registry = Registry()


@registry.tool
def lookup_order(order_id: str) -> str:
    """Look up an order by its id and return its status."""
    return f"Order {order_id} shipped yesterday and arrives tomorrow."


@registry.tool
def create_ticket(summary: str) -> str:
    """Open a support ticket for a human to follow up."""
    return f"Ticket opened: {summary}"


@registry.tool
def escalate_to_human(reason: str) -> str:
    """Hand the conversation to a human agent."""
    return "A human will join shortly."


@registry.tool
def lookup_invoice(invoice_id: str) -> str:
    """Look up an invoice by its id and return what it charges."""
    return f"Invoice {invoice_id}: 42.00 for the March subscription, paid by card."


@registry.output_guardrail
def no_refund_promises(ctx: RunContextWrapper[Any], agent: Any,
                       output: str) -> GuardrailFunctionOutput:
    """Stop the model from promising refunds it cannot grant."""
    promised = "refund" in output.lower() and "will" in output.lower()
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered=promised)


async def run(agent: str, env: str, root: str, seconds: float) -> None:
    profile = load_profile(agent, env=env, root=root)
    runner = profile.runner(registry)  # the agent graph, built from the profiles
    session = await runner.run(model_config=profile.bind(registry).model_config)
    async with session:
        await send_initial_messages(session, profile)

        async def listen() -> None:
            async for event in session:
                if event.type == "agent_end":
                    print("[turn done]")
                elif event.type == "history_added" and getattr(event.item, "role", "") == \
                        "assistant":
                    print("assistant:", event.item)
                elif event.type == "error":
                    print("error:", event.error, file=sys.stderr)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listen(), timeout=seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the concierge (or another agent) live.")
    parser.add_argument("--agent", default="concierge")
    parser.add_argument("--env", default=os.environ.get("REALTIME_PROFILES_ENV", "dev"))
    parser.add_argument("--root", default="profiles")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    try:
        asyncio.run(run(args.agent, args.env, args.root, args.seconds))
    except ProfileError as exc:  # e.g. OPENAI_API_KEY unset: named, no traceback
        print(exc, file=sys.stderr)
        return exc.exit_code
    except (OSError, WebSocketException) as exc:  # no network, refused, 401: not the profile
        print(f"error: cannot reach the realtime API: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
