"""Watching a profile: a new `Profile` (or the error of an invalid edit) each time something
it was composed from changes.

Stat polling, no new dependency and no thread of our own: each `poll` asks the source whether
anything it depends on changed (for a `Loader`, the files, folders and variables a composition
read, including kubelet's `..data` link; for a `Bundle`, its manifest), and only then loads
again. A load that gives the same configuration (a file saved unchanged) yields nothing; an
invalid edit yields its `ProfileError` once, and the last good profile stays `current`, so a
live session following the watch never sees it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import ProfileError, UsageError

if TYPE_CHECKING:
    from .profile import Profile

SETTLE = 0.05
"""Seconds what a load read must stay unchanged before the load counts."""

Changed = Callable[[], bool]
"""Whether anything the last load depended on changed since it was made."""
Load = Callable[[], tuple["Profile", Changed]]
"""Load the profile now, with the test that tells when that load goes stale."""


class Watch(Iterator["Profile | ProfileError"], AsyncIterator["Profile | ProfileError"]):
    """Iterate (`for` or `async for`) to get each change; `poll()` looks once, without
    waiting. `current` is the last valid profile (None while the profile has never been
    valid), `error` the error of the last load when it failed. `close()` ends the iteration.

    Made by `Loader.watch` and `Bundle.watch`; one watch per consumer (it remembers what it
    has handed out)."""

    def __init__(self, load: Load, interval: float = 1.0, settle: float = SETTLE) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be a number of seconds >= 0, not {interval!r}")
        if not settle >= 0:
            raise ValueError(f"settle must be a number of seconds >= 0, not {settle!r}")
        self._load = load
        self.interval = interval
        self.settle = settle
        self.current: Profile | None = None
        self.error: ProfileError | None = None
        self._changed: Changed | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._look: asyncio.Future[Profile | ProfileError | None] | None = None
        found = self._reload()  # the starting point: changes are counted from here
        if isinstance(found, UsageError):
            raise found  # a name that is not in the tree: the caller's mistake, said now

    def poll(self) -> Profile | ProfileError | None:
        """One look: the new profile, the error of an invalid edit (each distinct error once),
        or None when nothing that matters changed."""
        with self._lock:
            before, failed = self.current, self.error
            try:
                if self._changed is not None and not self._changed():
                    return None
            except ProfileError as exc:  # the source itself is damaged (a half-swapped bundle)
                return self._failed(failed, exc)
            found = self._reload()
            if self._unsettled(found):
                # still being written: keep what was handed out; the next poll loads again
                # (the new load's test says "changed", or it failed and is retried)
                self.current, self.error = before, failed
                return None
            if isinstance(found, ProfileError):
                return self._failed(failed, found)
            if before is not None and failed is None and _same(before, found):
                return None
            return found

    def _failed(self, before: ProfileError | None, error: ProfileError) -> ProfileError | None:
        """The error to hand out, or None when it is the one handed out last (kept)."""
        if before is not None and before.render() == error.render():
            self.error = before
            return None
        self.error = error
        return error

    def _unsettled(self, found: Profile | ProfileError) -> bool:
        """Whether the files moved again within `settle` seconds of the load (an editor, or a
        `write_text` that truncates first): a half-written file must never reach a session.
        A failed load has no dependencies to ask, so it is loaded again and compared."""
        if not self.settle:
            return False
        time.sleep(self.settle)
        if isinstance(found, ProfileError):
            try:
                again: Profile | ProfileError = self._load()[0]
            except ProfileError as exc:
                again = exc
            if isinstance(again, ProfileError):
                return again.render() != found.render()
            return True
        try:
            return self._changed is not None and self._changed()
        except ProfileError:
            return True

    def _reload(self) -> Profile | ProfileError:
        try:
            profile, changed = self._load()
        except ProfileError as exc:
            self.error, self._changed = exc, None  # failed loads are retried each poll
            return exc
        self.current, self.error, self._changed = profile, None, changed
        return profile

    def close(self) -> None:
        """End the iteration (from any thread); a waiting `next` returns within `interval`."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> Profile | ProfileError:
        while not self._closed.is_set():
            found = self.poll()
            if found is not None:
                return found
            self._closed.wait(self.interval)
        raise StopIteration

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> Profile | ProfileError:
        while not self._closed.is_set():
            # stat calls and loads off the loop; a look that a cancelled `__anext__` left
            # running is awaited again, not lost (its result is the next one handed out)
            if self._look is not None and self._look.get_loop() is not \
                    asyncio.get_running_loop():
                self._look = None  # left by another event loop: look again in this one
            if self._look is None:
                self._look = asyncio.ensure_future(asyncio.to_thread(self.poll))
            found = await asyncio.shield(self._look)
            self._look = None
            if found is not None:
                return found
            await asyncio.sleep(self.interval)
        raise StopAsyncIteration

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        now = self.current.fingerprint if self.current is not None else None
        return f"Watch({state}, interval={self.interval}, current={now!r})"


def _same(before: Profile, after: Profile) -> bool:
    """The same emitted configuration (secret values included: a rotated key is news for the
    next connection) and the same agent graph."""
    return before.fingerprint == after.fingerprint and _graph(before) == _graph(after) \
        and before.document() == after.document()


def _graph(profile: Profile) -> dict[str, Any]:
    return {name: node.config for name, node in profile.graph.items()}

