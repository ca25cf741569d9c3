"""Shared helpers: real profile trees written to a temporary directory."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

Tree = Callable[[Mapping[str, str]], Path]

# Property tests: "default" keeps the suite fast and the same on every run; "fuzz" is the
# long run that docs/security.md describes (HYPOTHESIS_PROFILE=fuzz python -m pytest ...).
settings.register_profile("default", max_examples=60, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
                          deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class Hang(BaseException):
    """A call ran past its deadline (not an Exception: nothing in the package may catch it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail, instead of hanging the suite, when the body runs longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no result after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write `{relative path: YAML text}` under root/profiles and return that folder."""
    profiles = root / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = profiles / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return profiles


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    """`tree({...})` writes a profile tree and makes tmp_path the working directory, so
    rendered marks read `profiles/base.yaml:3:5` as users see them."""
    monkeypatch.chdir(tmp_path)

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(tmp_path, files)

    return make


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Start the README's shell blocks in the background as soon as they are selected: they
    spend most of their time importing the SDK in subprocesses, which then overlaps with the
    rest of the suite (tests/test_readme.py)."""
    for item in items:
        if item.name.startswith("test_shell_block_runs"):
            item.module.start_shell_runs()  # type: ignore[attr-defined]
            return
