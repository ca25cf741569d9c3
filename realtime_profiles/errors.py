"""One exception hierarchy, and problems as data.

A `Problem` is what went wrong at one place: the dotted key, the file:line:col that set it,
what was expected and a suggestion. Errors carry *all* problems found in one pass, so a user
fixes a tree in one round trip instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ._paths import PathKey, render_path

if TYPE_CHECKING:
    from pathlib import Path

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """A 1-based position in a file, or a pseudo-source such as an environment variable."""

    file: str
    line: int = 0
    column: int = 0

    def render(self, cwd: Path | None = None) -> str:
        """`file:line:col`, with the file relative to `cwd` when it lies below it."""
        name = _display_path(self.file, cwd)
        if self.line <= 0:
            return name
        return f"{name}:{self.line}:{self.column}"

    def __str__(self) -> str:
        return self.render()


def _display_path(file: str, cwd: Path | None) -> str:
    from pathlib import Path  # only when a problem is shown: loading never pays for it

    if not Path(file).is_absolute():
        return file
    base = cwd if cwd is not None else Path.cwd()
    try:
        return str(Path(file).relative_to(base))
    except ValueError:
        return file


@dataclass(frozen=True, slots=True)
class Problem:
    """One located mistake (or warning) in a profile, as data.

    `key` is the path as a tuple and `code` a stable, machine-readable name of the rule that
    fired (`unknown-key`, `enum`, `secret-literal`, `lint/agent-owned`, ...): callers and our
    own code branch on those, never on `message`, which is for people.
    """

    key: PathKey
    code: str
    message: str
    mark: Mark | None = None
    suggestion: str | None = None
    severity: Severity = "error"
    via: tuple[Mark, ...] = field(default=())

    @property
    def path(self) -> str:
        """The dotted form of `key` (`run_config.model_settings.tools[0]`), for display."""
        return render_path(self.key)

    def render(self, cwd: Path | None = None) -> str:
        """The one-line form: `file:line:col: [warning: ]dotted.path: message (suggestion)`."""
        parts = [self.mark.render(cwd) if self.mark is not None else "<profile>"]
        if self.severity == "warning":
            parts.append("warning")
        if self.key:
            parts.append(self.path)
        parts.append(self.message)
        text = ": ".join(parts)
        if self.suggestion:
            text += f" ({self.suggestion})"
        if self.via:
            text += " [via " + ", ".join(m.render(cwd) for m in self.via) + "]"
        return text

    def __str__(self) -> str:
        return self.render()

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order by file, line and column, then key; unlocated problems last."""
        if self.mark is None:
            return ("\uffff", 0, 0, self.path, self.message)
        return (self.mark.file, self.mark.line, self.mark.column, self.path, self.message)

    def as_dict(self) -> dict[str, object]:
        """JSON form for CI tools."""
        return {
            "severity": self.severity,
            "code": self.code,
            "path": self.path,
            "key": list(self.key),
            "message": self.message,
            "suggestion": self.suggestion,
            "file": self.mark.file if self.mark else None,
            "line": self.mark.line if self.mark else None,
            "column": self.mark.column if self.mark else None,
        }


def sorted_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Problems in reading order, duplicates dropped."""
    unique = dict.fromkeys(problems)
    return tuple(sorted(unique, key=Problem.sort_key))


class ProfileError(Exception):
    """Base of every error this package raises on purpose; exit code 1 on the command line."""

    exit_code = 1

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = sorted_problems(problems)

    def render(self, cwd: Path | None = None) -> str:
        """The message, then one line per problem."""
        lines = [p.render(cwd) for p in self.problems]
        if not lines:
            return self.message
        return "\n".join([*lines, self.message])

    def __str__(self) -> str:
        return self.render()


class UsageError(ProfileError):
    """The caller asked for something that cannot be: unknown agent or env, bad override."""

    exit_code = 2


class ProfileValidationError(ProfileError):
    """The composed profile breaks the schema or a rule; `problems` lists every one."""


class LayerSyntaxError(ProfileValidationError):
    """A layer file is not YAML we accept (syntax, duplicate key, tag, bomb, size, encoding):
    raised instead of `ProfileValidationError` when such a problem is among the errors, since
    the profile could not even be read as written."""


class SecretUnavailableError(ProfileError):
    """A secret's source (an environment variable or file) is missing when loading for use."""


class LiveUpdateError(ProfileError):
    """A live update cannot move the running session to the new profile as asked (a model or
    tracing change, a voice change after the model spoke, a handoff since the plan):
    `problems` says which, and nothing was sent."""


def summarize(problems: Iterable[Problem]) -> str:
    """`2 errors, 1 warning` style counts."""
    problems = tuple(problems)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = sum(1 for p in problems if p.severity == "warning")
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, or None when nothing is close (`voic` -> `voice`)."""
    import difflib  # only on the error path

    pool = list(choices)
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    # `semantic-vad` vs `semantic_vad`: separators are the usual slip.
    folded = {c.replace("-", "_").lower(): c for c in pool}
    return folded.get(word.replace("-", "_").lower())


def mean(match: str | None) -> str | None:
    """`did you mean 'voice'?` for a match of `did_you_mean`, None for none."""
    return f"did you mean '{match}'?" if match is not None else None
