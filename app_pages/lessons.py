"""Lessons: open a view, predict, then see the answer computed from the model right now.

Widgets -> ``explorer.views.lessons`` -> placed here. The lesson and step live in the URL
(``lesson_id``, ``lesson_step``), so a teacher shares one link with a class.
"""

from __future__ import annotations

import json

import streamlit as st

from explorer.inputs.params import ParamSpec
from explorer.views.lessons import catalog, check_guess, clamp_step, reveal_view, step_view
from ui import cache
from ui.share import clean_link

st.title("Lessons")
st.caption(
    "Each step opens a view of the app and asks a question. Commit a guess first: the answer is then "
    "computed from the model as it is now (never typed into the lesson), with the reasoning."
)

cat = catalog()
for message in cat.errors:
    st.warning(message, icon=":material/error:")
if not cat.lessons:
    st.info("No lesson could be loaded; add a .toml file to the lessons/ folder.")
    st.stop()

ids = tuple(cat.lessons)
clean_link({"lesson_id": ParamSpec("choice", choices=ids), "lesson_step": ParamSpec("int", minimum=1, maximum=99)})


def _restart() -> None:
    st.query_params["lesson_step"] = "1"


# No format_func: a bound selectbox would put the formatted label, not the id, into the URL.
lesson_id = st.selectbox("Lesson", ids, key="lesson_id", bind="query-params", on_change=_restart)
lesson = cat.lessons[lesson_id]
st.header(lesson.title, divider="gray")
st.caption(lesson.summary)
raw_step = st.query_params.get("lesson_step", "1")
number = clamp_step(int(raw_step) if raw_step.isdigit() else 1, len(lesson.steps))
st.query_params["lesson_step"] = str(number)
view = step_view(lesson, number)
step = lesson.steps[number - 1]

st.progress(number / view.n_steps, text=f"Step {number} of {view.n_steps}")
if view.prompt:
    st.markdown(view.prompt)
st.link_button("Open this view", view.link, icon=":material/open_in_new:", help="Opens the view in a new tab; come back here to answer.")

committed_key = f"lesson_guess_{lesson_id}_{number}"
committed = st.session_state.get(committed_key)
st.subheader(view.question)
if view.kind == "choice":
    guess = st.radio("Your answer", view.choices, index=None, key=f"lesson_choice_{lesson_id}_{number}", disabled=committed is not None)
else:
    guess = st.number_input("Your guess", value=None, format="%g", key=f"lesson_number_{lesson_id}_{number}",
                            disabled=committed is not None, placeholder="type a number")

if committed is None:
    if st.button("Commit my guess", icon=":material/lock:", type="primary", key="lesson_commit"):
        problem = check_guess(step, guess)
        if problem:
            st.warning(problem)
        else:
            st.session_state[committed_key] = guess
            st.rerun()
else:
    try:
        reveal = cache.lesson_reveal(step.reveal, json.dumps(step.args, sort_keys=True))
    except ValueError as error:
        st.error(f"This step cannot be computed: {error}")
        st.stop()
    shown = reveal_view(step, reveal, committed)
    (st.success if shown.right else st.info)(shown.verdict, icon=":material/check_circle:" if shown.right else ":material/lightbulb:")
    st.markdown(shown.explain)
    if shown.table is not None:
        st.dataframe(shown.table, hide_index=True)
    left, right = st.columns(2)
    if left.button("Try this step again", icon=":material/replay:", key="lesson_retry"):
        del st.session_state[committed_key]
        st.rerun()
    if number < view.n_steps:
        if right.button("Next step", icon=":material/arrow_forward:", type="primary", key="lesson_next"):
            st.query_params["lesson_step"] = str(number + 1)
            st.rerun()
    else:
        right.success("End of the lesson.", icon=":material/flag:")
