"""A shipped lesson played once in Chromium (issue 21): open the lesson's link, answer, see the reveal
computed from the model, go to the next step.

The AppTest suite (tests/app/test_page_lessons.py) plays every lesson step by step; this test checks
what only a browser shows: the shared link lands on the right step, the guess widgets and buttons
work by click and keyboard, and the revealed number is the one the library computes from the same
model right now (computed here in the test process, never typed into the test).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from explorer.lessons.loader import load_lessons
from explorer.lessons.reveals import run_reveal
from explorer.views.lessons import reveal_view
from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LESSON = "01-attention-and-the-mask"
STEP = 2  # a number guess whose answer (the leak of the 0-instead-of-minus-infinity mask) is computed live
GUESS = 5.0
UI_SETTLE_MS = 20_000


def _expected_reveal() -> tuple[str, str, int]:
    """The verdict and explanation the page must show for ``GUESS``, from the library, and the lesson's length."""
    from explorer.zoo import load_model  # loads torch only when the test runs

    lessons, errors = load_lessons()
    assert not errors, errors
    lesson = lessons[LESSON]
    step = lesson.steps[STEP - 1]
    assert step.kind == "number", "the test plays a number step; pick another if the lesson changed"
    shown = reveal_view(step, run_reveal(step.reveal, load_model, step.args), GUESS)
    return shown.verdict, shown.explain, len(lesson.steps)


def test_a_shipped_lesson_plays_in_chromium(app: AppPage) -> None:
    verdict, explain, n_steps = _expected_reveal()
    app.goto("lessons", f"lesson_id={LESSON}&lesson_step={STEP}")
    app.assert_clean()
    main = app.main()
    progress = main.locator('[data-testid="stProgress"]')
    expect(progress).to_contain_text(f"Step {STEP} of {n_steps}", timeout=UI_SETTLE_MS)
    expect(main.locator('[data-testid="stAlert"]')).to_have_count(0)  # nothing revealed before a guess

    # The step's view opens from its button, as a student would follow it.
    view_href = main.get_by_role("link", name=re.compile("Open this view")).get_attribute("href")
    assert view_href and view_href.startswith("transformer?"), view_href

    guess = app.keyed(f"lesson_number_{LESSON}_{STEP}").locator("input")
    app.act(lambda: (guess.fill(f"{GUESS:g}"), guess.press("Enter")))
    app.act(lambda: app.keyed("lesson_commit").get_by_role("button").click())
    app.assert_clean()
    expect(main.locator('[data-testid="stAlert"]').first).to_contain_text(verdict, timeout=UI_SETTLE_MS)
    expect(main.get_by_text(explain[:60], exact=False)).to_be_visible(timeout=UI_SETTLE_MS)
    assert re.search(r"\d", verdict.split("answer", 1)[-1]), f"the reveal should quote a computed number: {verdict}"

    app.act(lambda: app.keyed("lesson_next").get_by_role("button").click())
    app.assert_clean()
    expect(progress).to_contain_text(f"Step {STEP + 1} of {n_steps}", timeout=UI_SETTLE_MS)
    assert f"lesson_step={STEP + 1}" in app.page.url, app.page.url
    expect(main.locator('[data-testid="stAlert"]')).to_have_count(0)  # the next answer is hidden again

    view = AppPage(app.page.context.new_page(), app.base_url)
    view.goto(view_href)
    view.assert_clean()
    assert view.wait_for_charts(minimum=1) >= 1, "the lesson's view shows its attention charts"
