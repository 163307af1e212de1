"""The Lessons page's view: one step of a lesson, before and after the student's guess.

Ask first, then show (Naps et al. 2003: responding engages more than viewing). Before the
guess the page shows :class:`StepView` (prompt, question, a link that opens the real view);
after it, :class:`RevealView`: the answer computed live by the step's reveal function
(:mod:`explorer.lessons.reveals`), whether the guess was right, and the explanation with the
computed numbers filled in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

from explorer.lessons.loader import LESSON_DIR, VIEWS, Lesson, Step, load_lessons
from explorer.lessons.reveals import Reveal, format_values


@dataclass(frozen=True)
class Catalog:
    """Every playable lesson by id (file order) and one line per lesson file that could not be read."""

    lessons: dict[str, Lesson]
    errors: tuple[str, ...]


def catalog(directory: Path = LESSON_DIR) -> Catalog:
    lessons, errors = load_lessons(directory)
    return Catalog(lessons, tuple(errors))


@dataclass(frozen=True)
class StepView:
    """What a step shows before the guess: no answer in here."""

    lesson_id: str
    title: str
    number: int  # 1-based
    n_steps: int
    prompt: str
    question: str
    kind: str
    choices: tuple[str, ...]
    page_file: str  # app_pages/<file>, for st.page_link
    url_path: str
    query: dict[str, str]

    @property
    def link(self) -> str:
        """The view as a relative link (what a teacher can paste)."""
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return self.url_path + (f"?{query}" if query else "")


def clamp_step(number: object, n_steps: int) -> int:
    """A 1-based step number within the lesson (anything else becomes 1)."""
    if isinstance(number, bool) or not isinstance(number, int):
        return 1
    return min(max(1, number), n_steps)


def step_view(lesson: Lesson, number: int) -> StepView:
    number = clamp_step(number, len(lesson.steps))
    step = lesson.steps[number - 1]
    parts = urlsplit(step.view)
    path = parts.path.strip("/")
    return StepView(
        lesson.id, lesson.title, number, len(lesson.steps), step.prompt, step.question, step.kind, step.choices,
        f"app_pages/{VIEWS[path][0]}", path, dict(parse_qsl(parts.query)),
    )


def check_guess(step: Step, guess: object) -> str | None:
    """None if ``guess`` can be committed, else a one-line message."""
    if step.kind == "choice":
        return None if guess in step.choices else "pick one of the answers first"
    if isinstance(guess, bool) or not isinstance(guess, (int, float)) or not math.isfinite(float(guess)):
        return "type a number first"
    return None


def _is_right(step: Step, answer: str | float, guess: object) -> bool:
    if step.kind == "choice":
        return guess == answer
    value, truth = float(guess), float(answer)  # type: ignore[arg-type]
    return abs(value - truth) <= step.tolerance * max(abs(truth), 1e-12)


@dataclass(frozen=True)
class RevealView:
    """What the step shows after the guess: verdict, computed answer, explanation, optional table."""

    right: bool
    verdict: str
    answer: str
    explain: str
    table: pd.DataFrame | None


def reveal_view(step: Step, reveal: Reveal, guess: object) -> RevealView:
    values = format_values(reveal.values)
    answer = reveal.answer if isinstance(reveal.answer, str) else format(format_values({"a": float(reveal.answer)})["a"], "")
    right = _is_right(step, reveal.answer, guess)
    if step.kind == "number":
        verdict = (f"Your guess {guess:g} is within {step.tolerance:.0%} of the model's answer {answer}." if right
                   else f"Your guess {guess:g}; the model's answer is {answer}.")
    else:
        verdict = f"Right: {answer}." if right else f"You chose \u201c{guess}\u201d; the answer is \u201c{answer}\u201d."
    explain = step.explain.format_map({**values, "answer": answer})
    table = pd.DataFrame(reveal.table) if reveal.table else None
    return RevealView(right, verdict, answer, explain, table)
