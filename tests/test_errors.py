"""The error kernel: did-you-mean (exactly difflib's answer, within a budget), text made safe
for a terminal, and an error's text bounded however many problems it carries."""

from __future__ import annotations

import difflib

from hypothesis import given
from hypothesis import strategies as st

from realtime_profiles.errors import (
    Mark,
    Problem,
    ProfileError,
    Suggestions,
    did_you_mean,
    printable,
)

WORDS = st.text(alphabet="ab_-cdE", max_size=8)


@given(word=WORDS, choices=st.lists(WORDS, max_size=8))
def test_did_you_mean_answers_as_difflib_does(word: str, choices: list[str]) -> None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    folded = {c.replace("-", "_").lower(): c for c in choices}
    expected = close[0] if close else folded.get(word.replace("-", "_").lower())
    assert did_you_mean(word, choices) == expected


def test_a_budget_bounds_the_work_of_every_suggestion_together() -> None:
    keys = [f"kex{i:06d}" for i in range(2000)]
    read: list[str] = []

    def lazily() -> object:
        for key in keys:
            read.append(key)
            yield key

    suggest = Suggestions(50_000)
    answers = [suggest.closest(f"kez{i:06d}", lazily()) for i in range(2000)]
    assert answers[0] == "kex000000"  # within the budget: difflib's answer
    assert answers[-1] is None  # past it: omitted, never guessed
    assert len(read) < 60_000  # choices are read lazily and no further than the budget


def test_printable_escapes_what_would_drive_a_terminal() -> None:
    assert printable("voi\x1b[2Jce\rx\u202e") == "voi\\x1b[2Jce\\x0dx\\u202e"
    assert printable("a\nb\x07", keep_newlines=True) == "a\nb\\x07"
    problem = Problem(("run_config", "a\x1bb"), "unknown-key", "unknown key",
                      Mark("f\x1b.yaml", 1, 2))
    assert problem.render() == "f\\x1b.yaml:1:2: run_config.a\\x1bb: unknown key"


def test_an_error_shows_a_bounded_number_of_problems_and_keeps_them_all() -> None:
    problems = [Problem(("vars", f"k{i:03d}"), "x", "bad", Mark("f.yaml", i + 1, 1))
                for i in range(120)]
    error = ProfileError("a@-: 120 errors, 0 warnings", problems)
    lines = error.render().splitlines()
    assert len(error.problems) == 120
    assert lines[-2:] == ["... and 70 more", "a@-: 120 errors, 0 warnings"]
    assert len(lines) == 52
