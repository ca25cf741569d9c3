"""One exception hierarchy, and problems as data.

A `Problem` is what went wrong at one place: the dotted key, the file:line:col that set it,
what was expected and a suggestion. Errors carry *all* problems found in one pass, so a user
fixes a tree in one round trip instead of one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from ._limits import MAX_SHOWN_PROBLEMS, SUGGESTION_BUDGET
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
        return printable(text)

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
        """One line per problem (at most `MAX_SHOWN_PROBLEMS`, then `... and N more`), then
        the message; `problems` keeps every one."""
        lines = [p.render(cwd) for p in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(self.problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"... and {len(self.problems) - MAX_SHOWN_PROBLEMS} more")
        return "\n".join([*lines, printable(self.message, keep_newlines=True)])

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
    """The choice closest to `word`, or None when nothing is close (`voic` -> `voice`).

    Unbounded: for a few choices (keys of one schema object, names on a command line). Work
    that grows with the input (one suggestion per failing reference) goes through a
    composition's `Suggestions`, whose budget bounds the total."""
    return Suggestions(None).closest(word, choices)


class Suggestions:
    """Did-you-mean with a budget: one composition's suggestions together compare at most
    `budget` characters, so N failing references against N keys cost O(N), not O(N^2).

    What `difflib.get_close_matches(word, choices, n=1, cutoff=0.6)` returns (the same
    ratios and ties), then the separator-insensitive match (`semantic-vad` for
    `semantic_vad`); choices are read lazily, and once the budget is spent a suggestion is
    simply omitted (None), never guessed.
    """

    __slots__ = ("left",)

    def __init__(self, budget: int | None = SUGGESTION_BUDGET) -> None:
        self.left = budget

    def closest(self, word: str, choices: Iterable[str]) -> str | None:
        if self.left is not None and self.left <= 0:
            return None
        import difflib  # only on the error path

        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)
        best: tuple[float, str] | None = None
        folded_word = _fold(word)
        folded: str | None = None
        for choice in choices:
            if self.left is not None:
                self.left -= len(choice) + 1
                if self.left < 0:
                    return None
            if _fold(choice) == folded_word:
                folded = choice  # the last one, as a dict keyed by the folded form keeps
            matcher.set_seq1(choice)
            if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
                continue
            if self.left is not None:
                self.left -= len(choice) * max(len(word), 1)
            score = matcher.ratio()
            if score >= 0.6 and (best is None or (score, choice) > best):
                best = (score, choice)
        return best[1] if best is not None else folded


def _fold(text: str) -> str:
    """`semantic-vad` and `Semantic_VAD` alike: separators and case are the usual slips."""
    return text.replace("-", "_").lower()


# C0 and C1 control characters, DEL, line and paragraph separators, the bidirectional
# controls that can make a terminal show something other than what a file says, and lone
# surrogates (undecodable bytes of a file name or argument), which cannot be written at all.
_UNPRINTABLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` safe for a terminal: raw control characters (ESC, CR, ...) become `\\x1b`-style
    escapes, so a key written as `"a\\eb"` in YAML cannot recolour, erase or fake a line."""
    if keep_newlines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def mean(match: str | None) -> str | None:
    """`did you mean 'voice'?` for a match of `did_you_mean`, None for none."""
    return f"did you mean '{match}'?" if match is not None else None
