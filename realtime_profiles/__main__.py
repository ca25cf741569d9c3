"""`python -m realtime_profiles`: the same program as the `realtime-profiles` script."""

from .cli import main_entry

main_entry()
