"""Every example in README.md runs, so none can rot.

Each fenced block is classified by its language tag: ```python and ```sh blocks run; text,
YAML (CI and pre-commit snippets, layer excerpts), TOML (pyproject tables) and .gitignore
blocks are shown, not run. A
runnable block that cannot run inside the suite is marked on the line before it with
`<!-- no-run: why -->`; such markers are few and each says why.

- Python blocks run in-process as async code (top-level `await` works), in a fresh copy of the
  repository, with a placeholder OPENAI_API_KEY, through the real openai-agents SDK whose
  websocket is an in-memory server: it answers `session.created` and hangs up once the client
  has gone quiet, so `async for event in session` ends.
- Shell blocks run line by line with bash in their own fresh copy of the repository, with the
  installed console script, as a new user would (no OPENAI_API_KEY, no REALTIME_PROFILES_*).
  Each line must exit 0, or the status its comment announces (`# exits 1: ...`). `pip install`
  steps are what the test environment already did (`.ci/run` runs them for real). Several
  import the SDK in a subprocess, which is most of their cost: they start in the background as
  soon as the suite is collected (conftest.py) and use a core the suite leaves idle.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import deadline

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text("utf-8")
RUNNABLE = {"python", "sh"}
SHOWN = {"text", "yaml", "toml", "gitignore"}
MAX_NO_RUN = 3
_IGNORED = shutil.ignore_patterns(".git", ".venv", ".mypy_cache", ".ruff_cache", ".hypothesis",
                                  ".pytest_cache", "__pycache__", "*.egg-info", "results")


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    code: str
    no_run: str | None  # the reason given by a `<!-- no-run: ... -->` marker

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def _blocks() -> list[Block]:
    found = []
    for match in re.finditer(r"^( *)```(\S*)\n(.*?)^\1```", README, re.S | re.M):
        before = README[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = re.fullmatch(r"<!--\s*no-run:\s*(.*?)\s*-->", before)
        code = "\n".join(line[len(match.group(1)):] for line in match.group(3).splitlines())
        found.append(Block(README[: match.start()].count("\n") + 1, match.group(2), code,
                           marker.group(1) if marker else None))
    return found


BLOCKS = _blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.no_run is None]
SHELL = [b for b in BLOCKS if b.lang == "sh" and b.no_run is None]


def test_every_block_is_run_or_shown_and_the_exceptions_are_few_and_justified() -> None:
    assert len(BLOCKS) > 15
    assert {b.lang for b in BLOCKS} <= RUNNABLE | SHOWN, "tag each block: python, sh, text, ..."
    marked = [b for b in BLOCKS if b.no_run is not None]
    assert len(marked) <= MAX_NO_RUN, [b.id for b in marked]
    for block in marked:
        assert block.lang in RUNNABLE, f"{block.id}: only a runnable block needs a marker"
        assert len(block.no_run or "") >= 20, f"{block.id}: say why it cannot run here"
    assert len(PYTHON) >= 4 and len(SHELL) >= 5


def _fresh_copy(target: Path) -> Path:
    shutil.copytree(REPO, target, ignore=_IGNORED)
    return target


# -- Python blocks -------------------------------------------------------------------------

class _ShortCall:
    """The server side of a short call on an in-memory socket: `session.created` on connect,
    then a normal hang-up once the client has sent what it had to send."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._incoming = ['{"type": "session.created", "event_id": "event_1", "session": '
                          '{"type": "realtime", "id": "sess_1", "object": "realtime.session", '
                          '"model": "gpt-realtime"}}']

    async def send(self, payload: str) -> None:
        self.sent.append(payload)

    def __aiter__(self) -> _ShortCall:
        return self

    async def __anext__(self) -> str:
        for _ in range(50):  # let the client's pending sends and handlers run first
            if self._incoming:
                return self._incoming.pop(0)
            await asyncio.sleep(0)
        raise StopAsyncIteration

    async def close(self, *_args: Any, **_kwargs: Any) -> None:
        self._incoming.clear()


@pytest.fixture
def offline_sdk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[_ShortCall]:
    from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel

    calls: list[_ShortCall] = []

    async def connect(self: Any, url: str, headers: dict[str, str],
                      transport_config: Any = None) -> _ShortCall:
        assert headers.get("Authorization") == "Bearer offline-placeholder-key"
        calls.append(_ShortCall())
        return calls[-1]

    monkeypatch.setattr(OpenAIRealtimeWebSocketModel, "_create_websocket_connection", connect)
    monkeypatch.setenv("OPENAI_API_KEY", "offline-placeholder-key")
    for name in list(os.environ):
        if name.startswith("REALTIME_PROFILES"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(_fresh_copy(tmp_path / "repo"))
    return calls


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block: Block, offline_sdk: list[_ShortCall],
                           capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    with deadline(60):
        result = eval(code, namespace)  # the README's own code
        if inspect.iscoroutine(result):
            asyncio.run(result)
    if "session" in namespace:  # it opened a session: the SDK really sent its frames
        assert offline_sdk and any('"session.update"' in f for f in offline_sdk[-1].sent)
    assert "Traceback" not in capsys.readouterr().err


# -- shell blocks --------------------------------------------------------------------------

@dataclass(frozen=True)
class Ran:
    command: str
    expected: int
    code: int
    stdout: str
    stderr: str


def _commands(code: str) -> list[tuple[str, int]]:
    """(command, expected exit status) per line; continuation lines joined, comments and
    `pip install` steps dropped."""
    found = []
    for line in code.replace("\\\n", " ").splitlines():
        command, _, comment = line.partition("  #")
        command = command.strip()
        if not command or command.startswith("#"):
            continue
        announced = re.match(r"\s*exits (\d+)\b", comment)
        steps = [s.strip() for s in command.split("&&")]
        steps = [s for s in steps if not s.startswith("pip install")]
        if steps:
            found.append((" && ".join(steps), int(announced.group(1)) if announced else 0))
    return found


def _shell_environment() -> dict[str, str]:
    """A new user's environment: no key, no REALTIME_PROFILES_*, this venv's scripts first.
    Taken once, before any test changes os.environ (the blocks run beside other tests)."""
    environ = {k: v for k, v in os.environ.items()
               if k != "OPENAI_API_KEY" and not k.startswith("REALTIME_PROFILES")}
    environ.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}",
                   NO_COLOR="1")
    return environ


def _run_block(block: Block, root: Path, environ: dict[str, str], bash: str) -> list[Ran]:
    repo = _fresh_copy(root / f"line{block.line}")
    environ = {**environ, "PYTHONPATH": str(repo)}
    ran = []
    for command, expected in _commands(block.code):
        done = subprocess.run([bash, "-c", command], cwd=repo, env=environ,
                              capture_output=True, text=True, timeout=300, check=False)
        ran.append(Ran(command, expected, done.returncode, done.stdout, done.stderr))
    return ran


class _Background:
    """The shell blocks, started once and run in the background: conftest starts them as soon
    as collection is done, so their subprocesses (most of them import the SDK) use a core the
    single-threaded suite leaves idle, instead of adding their time to it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="readme-"))
        workers = max(1, (os.cpu_count() or 2) - 1)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="readme")
        environ, bash = _shell_environment(), shutil.which("bash") or "/bin/bash"
        self.runs = {b.line: self.pool.submit(_run_block, b, self.root, environ, bash)
                     for b in SHELL}

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)


_BACKGROUND: list[_Background] = []


def start_shell_runs() -> None:
    """Start the shell blocks (once per session)."""
    if not _BACKGROUND:
        _BACKGROUND.append(_Background())


@pytest.fixture(scope="module")
def shell_runs() -> Iterator[dict[int, list[Ran]]]:
    start_shell_runs()  # when conftest did not (a run of this module alone)
    background = _BACKGROUND[0]
    try:
        yield {line: future.result() for line, future in background.runs.items()}
    finally:
        background.close()
        _BACKGROUND.clear()


@pytest.mark.parametrize("block", SHELL, ids=[b.id for b in SHELL])
def test_shell_block_runs(block: Block, shell_runs: dict[int, list[Ran]]) -> None:
    ran = shell_runs[block.line]
    assert ran, f"{block.id}: nothing to run"
    for result in ran:
        assert result.code == result.expected, (
            f"{block.id}: `{result.command}` exited {result.code}, expected {result.expected}"
            f"\n{result.stderr[-2000:]}")
        assert "Traceback" not in result.stderr, f"{block.id}: `{result.command}`"


def _shown_outputs() -> list[tuple[Block, str]]:
    """Each shell block followed at once (or after a lone "prints") by a text block: what
    its last command prints, as the README shows it."""
    found = []
    for block, after in pairwise(BLOCKS):
        if block in SHELL and after.lang == "text":
            start = README.index(block.code.splitlines()[-1], _offset(block.line))
            between = README[start:_offset(after.line)].split("```", 1)[-1]
            if between.strip() in ("", "prints"):
                found.append((block, after.code))
    return found


def _offset(line: int) -> int:
    return sum(len(text) + 1 for text in README.split("\n")[:line - 1])


SHOWN_OUTPUTS = _shown_outputs()


@pytest.mark.parametrize(("block", "shown"), SHOWN_OUTPUTS,
                         ids=[b.id for b, _ in SHOWN_OUTPUTS])
def test_the_output_shown_is_what_the_command_prints(block: Block, shown: str,
                                                     shell_runs: dict[int, list[Ran]]) -> None:
    """An output the README shows right after a command is that command's output, line for
    line (stdout then stderr), so a changed message cannot leave the README behind."""
    last = shell_runs[block.line][-1]
    printed = (last.stdout + last.stderr).rstrip("\n").splitlines()
    assert printed == shown.rstrip("\n").splitlines(), f"{block.id}: `{last.command}`"


def test_the_commands_are_what_the_readme_says() -> None:
    assert _commands("pip install -e . && realtime-profiles validate && realtime-profiles show "
                     "support --env prod\n") == [
        ("realtime-profiles validate && realtime-profiles show support --env prod", 0)]
    assert _commands("realtime-profiles diff a --env x --env y   # exits 1: they differ\n"
                     "realtime-profiles schema --check     # exit 1 on drift\n"
                     "# a comment\n\n") == [
        ("realtime-profiles diff a --env x --env y", 1), ("realtime-profiles schema --check", 0)]
