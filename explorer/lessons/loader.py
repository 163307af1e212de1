"""Read and check lesson files (TOML) so a teacher's typo is one clear line, not a broken page.

Why TOML: it is in the standard library (``tomllib``), so no dependency; it is plain text a
teacher can write without code; values are typed (numbers stay numbers, lists stay lists);
and ``tomllib`` reports syntax errors with their line. Markdown would need a home-made
parser and YAML a third-party one with surprising typing ("no" is false). The file format::

    title = "Attention and the mask"
    summary = "One sentence on what the student learns."

    [[steps]]
    view = "transformer?tf_view=decoder&tf_text=Thursday+26+November+2026"  # URL path + query
    prompt = "What the student should look at."
    question = "How much weight can a query put on a later position?"
    choices = ["exactly 0", "small but not 0", "as much as the past"]   # or: guess = "number"
    reveal = "masked_future_weight"            # a function of explorer.lessons.reveals
    args = { text = "Thursday 26 November 2026" }   # optional arguments of that function
    explain = "The largest weight on a later position is {max_future_weight}."
    tolerance = 0.2                            # number guesses: relative error counted as right

Every check that fails gives ``LessonError``: "<file>, line <n>: <what is wrong>".
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from explorer.lessons.reveals import REGISTRY

LESSON_DIR = Path(__file__).resolve().parent.parent.parent / "lessons"
PAGES_DIR = Path(__file__).resolve().parent.parent.parent / "app_pages"
# URL path -> (page file, widget-key prefix); the pages whose views a lesson may link to.
VIEWS: dict[str, tuple[str, str]] = {
    "transformer": ("transformer.py", "tf_"),
    "positional-encoding": ("positional_encoding.py", "pe_"),
    "vit": ("vit.py", "vit_"),
    "profiler": ("profiler.py", "prof_"),
    "lab": ("lab.py", "lab_"),
    "language-model": ("language_model.py", "lm_"),
}
MAX_STEPS = 30
MAX_TEXT = 2000
STEP_KEYS = {"view", "prompt", "question", "choices", "guess", "reveal", "args", "explain", "tolerance"}
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class LessonError(ValueError):
    """A lesson file that cannot be played; ``str(error)`` is one line naming the file and line."""


@dataclass(frozen=True)
class Step:
    """One step: a view to open, a question, and how to compute and explain its answer."""

    view: str
    prompt: str
    question: str
    kind: str  # "choice" | "number"
    choices: tuple[str, ...]
    reveal: str
    args: dict[str, Any]
    explain: str
    tolerance: float
    line: int


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    summary: str
    steps: tuple[Step, ...]
    path: Path = field(compare=False)


def _step_lines(text: str) -> list[int]:
    """1-based line of each ``[[steps]]`` header, in order."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("[[steps]]")]


def _key_line(text: str, start: int, key: str) -> int:
    """Line of ``key =`` inside the step whose header is on line ``start`` (the header if absent)."""
    lines = text.splitlines()
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("[["):
            break
        if re.match(rf"^{re.escape(key)}\s*=", stripped):
            return i + 1
    return start


def page_keys(url_path: str) -> set[str] | None:
    """Query parameters a page reads: the prefixed string literals of its page file (None if it has none yet)."""
    page, prefix = VIEWS[url_path]
    try:
        source = (PAGES_DIR / page).read_text(encoding="utf-8")
    except OSError:
        return None
    return set(re.findall(rf'"({re.escape(prefix)}[a-z0-9_]+)"', source)) | {"seed"}


def check_view(view: str) -> str | None:
    """None if ``view`` is a link to a known page with that page's parameters, else what is wrong."""
    if not isinstance(view, str) or not view or len(view) > MAX_TEXT:
        return "view must be a non-empty link such as \"transformer?tf_view=cross\""
    parts = urlsplit(view)
    if parts.scheme or parts.netloc:
        return f"view {view!r} must be a page of this app (a URL path such as \"vit?vit_layer=0\"), not an outside link"
    path = parts.path.strip("/")
    if path not in VIEWS:
        return f"unknown view {path!r}; choose one of {', '.join(VIEWS)}"
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        return f"view {view!r} has a broken query string"
    known = page_keys(path)
    prefix = VIEWS[path][1]
    for key, _ in params:
        if key != "seed" and not key.startswith(prefix):
            return f"view parameter {key!r} does not belong to the {path} page (its parameters start with {prefix!r})"
        if known is not None and key not in known:
            return f"the {path} page has no parameter {key!r}"
    return None


def _placeholders(template: str) -> list[str]:
    return [name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _parse_step(raw: Any, index: int, text: str, name: str) -> Step:
    header = _step_lines(text)
    start = header[index] if index < len(header) else 1

    def fail(key: str | None, message: str) -> LessonError:
        line = _key_line(text, start, key) if key else start
        return LessonError(f"{name}, line {line}: step {index + 1}: {message}")

    if not isinstance(raw, dict):
        raise fail(None, "a step must be a [[steps]] table")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}; a step has {', '.join(sorted(STEP_KEYS))}")
    for key in ("view", "question", "reveal", "explain"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(key if key in raw else None, f"missing {key!r} (a non-empty string)")
        if len(raw[key]) > MAX_TEXT:
            raise fail(key, f"{key!r} is longer than {MAX_TEXT} characters")
    problem = check_view(raw["view"])
    if problem:
        raise fail("view", problem)
    spec = REGISTRY.get(raw["reveal"])
    if spec is None:
        raise fail("reveal", f"unknown reveal function {raw['reveal']!r}; choose one of {', '.join(sorted(REGISTRY))}")
    args = raw.get("args", {})
    if not isinstance(args, dict):
        raise fail("args", "args must be a table such as { text = \"26 Nov 2026\" }")
    for key, value in args.items():
        if key not in spec.args:
            raise fail("args", f"{spec.name} takes no argument {key!r}; it takes {', '.join(spec.args) or 'none'}")
        if type(value) is not spec.args[key]:
            raise fail("args", f"argument {key!r} of {spec.name} must be a {spec.args[key].__name__}, got {value!r}")
    choices = raw.get("choices")
    guess = raw.get("guess")
    if spec.kind == "choice":
        if guess is not None:
            raise fail("guess", f"{spec.name} answers with a choice, not a number: give choices instead of guess")
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
            raise fail("choices" if "choices" in raw else None, "choices must be a list of at least two strings")
        missing = [o for o in spec.outcomes if o not in choices]
        if missing:
            raise fail("choices", f"choices must include every answer {spec.name} can give; missing {', '.join(map(repr, missing))}")
    else:
        if choices is not None:
            raise fail("choices", f"{spec.name} answers with a number: use guess = \"number\" instead of choices")
        if guess != "number":
            raise fail("guess" if "guess" in raw else None, "a number question needs guess = \"number\"")
    tolerance = raw.get("tolerance", 0.2)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance <= 10:
        raise fail("tolerance", f"tolerance must be a number in (0, 10], got {tolerance!r}")
    try:
        names = _placeholders(raw["explain"])
    except ValueError as error:
        raise fail("explain", f"explain has a broken {{placeholder}} ({error})") from None
    unknown_values = [n for n in names if n not in spec.values]
    if unknown_values:
        raise fail("explain", f"{{{unknown_values[0]}}} is not a value of {spec.name}; it gives {', '.join(spec.values)}")
    prompt = raw.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > MAX_TEXT:
        raise fail("prompt", "prompt must be a string")
    return Step(
        view=raw["view"].strip().lstrip("/"), prompt=prompt.strip(), question=raw["question"].strip(), kind=spec.kind,
        choices=tuple(choices or ()), reveal=spec.name, args=dict(args), explain=raw["explain"].strip(),
        tolerance=float(tolerance), line=start,
    )


def parse_lesson(text: str, name: str, lesson_id: str) -> Lesson:
    """Parse and check one lesson's TOML text; ``name`` is used in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        line = match.group(1) if match else "?"
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise LessonError(f"{name}, line {line}: not valid TOML: {message}") from None
    for key in ("title",):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LessonError(f"{name}, line 1: missing title = \"...\"")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise LessonError(f"{name}, line 1: no steps; add at least one [[steps]] table")
    if len(steps) > MAX_STEPS:
        raise LessonError(f"{name}, line {_step_lines(text)[MAX_STEPS]}: more than {MAX_STEPS} steps")
    summary = data.get("summary", "")
    return Lesson(lesson_id, data["title"].strip(), summary.strip() if isinstance(summary, str) else "",
                  tuple(_parse_step(raw, i, text, name) for i, raw in enumerate(steps)), Path(name))


def load_lesson(path: Path) -> Lesson:
    """One lesson file; its id is the file name without ``.toml``."""
    lesson_id = path.stem
    if not ID_PATTERN.match(lesson_id):
        raise LessonError(f"{path.name}, line 1: file name must be lower-case letters, digits and dashes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(f"{path.name}, line 1: cannot be read ({type(error).__name__})") from None
    lesson = parse_lesson(text, path.name, lesson_id)
    return Lesson(lesson.id, lesson.title, lesson.summary, lesson.steps, path)


def load_lessons(directory: Path = LESSON_DIR) -> tuple[dict[str, Lesson], list[str]]:
    """Every ``*.toml`` lesson in ``directory`` (sorted by file name) and one message per bad file."""
    lessons: dict[str, Lesson] = {}
    errors: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            lesson = load_lesson(path)
        except LessonError as error:
            errors.append(str(error))
            continue
        lessons[lesson.id] = lesson
    return lessons, errors
