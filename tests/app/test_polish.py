"""AppTest checks of issue 20's console and interaction fixes (the browser ones are in tests/e2e/test_e2e_polish.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest

from ui.share import link_in_box

VIT = str(Path(__file__).resolve().parents[2] / "app_pages" / "vit.py")


def test_picking_a_patch_through_session_state_logs_no_widget_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A chart click sets ``vit_patch`` through session state (the page's on_select callback).

    Streamlit logs 'created with a default value but also had its value set via the Session State
    API' when that widget also has a value= default; a teacher reads it as an error. The warning is
    shown once per process, so the flag is reset first.
    """
    policies._shown_default_value_warning = False
    at = AppTest.from_file(VIT, default_timeout=120).run()
    assert not at.exception
    assert at.slider(key="vit_patch").value == 36  # the centre patch of the 8 x 8 grid
    with caplog.at_level(logging.WARNING):
        at.session_state["vit_patch"] = 5  # what the chart click does
        at.session_state["vit_tab"] = "Attention"
        at.run()
    assert not at.exception
    assert at.slider(key="vit_patch").value == 5
    assert any("patch 5 (red box)" in c.value for c in at.caption)
    assert not [r for r in caplog.records if "Session State API" in r.getMessage()]


def test_a_link_to_patch_0_opens_patch_0() -> None:
    """Patch 0 is a patch like any other: a link holding it must not fall back to the centre."""
    at = AppTest.from_file(VIT, default_timeout=120)
    at.query_params["vit_patch"] = "0"
    at.query_params["vit_tab"] = "Attention"
    at.run()
    assert not at.exception
    assert at.slider(key="vit_patch").value == 0
    assert any("patch 0 (red box)" in c.value for c in at.caption)


APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_the_link_box_stays_on_a_waiting_screen() -> None:
    """A page that stops early (st.stop() on an empty text box) still shows the sidebar's link box."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["seed"] = "7"
    at.query_params["tf_model"] = "trained"  # the dates model's text box
    at.run()
    at.switch_page("app_pages/transformer.py").run()
    assert not at.exception
    at.text_input(key="tf_text").set_value("").run()
    assert not at.exception
    assert at.error, "the empty box should stop the page with its one-line message"
    links = [link for h in at.sidebar.get("html") if (link := link_in_box(h.value))]
    assert len(links) == 1 and "seed=7" in links[0], links


TRANSFORMER = str(Path(__file__).resolve().parents[2] / "app_pages" / "transformer.py")


def test_a_2000_character_paste_is_read_and_cut_with_a_message() -> None:
    """A paste over the box's cap used to be ignored outright (the box kept the old text, no message)."""
    at = AppTest.from_file(TRANSFORMER, default_timeout=180)
    at.query_params["tf_model"] = "trained"  # the dates model's text box
    at.run()
    assert not at.exception
    pasted = "26 November 2026 " * 118  # 2,006 characters
    at.text_input(key="tf_text").input(pasted).run()
    assert not at.exception
    assert at.text_input(key="tf_text").value == pasted
    assert any(f"{len(pasted):,} characters" in w.value for w in at.warning), [w.value for w in at.warning]


def test_decoding_settings_stay_open_when_temperature_returns_to_0() -> None:
    """The expander's `expanded` must not flip when a decoding value goes back to its default (leaves the URL)."""
    at = AppTest.from_file(TRANSFORMER, default_timeout=180)
    at.query_params["tf_temp"] = "0.5"
    at.query_params["tf_model"] = "trained"
    at.run()
    assert [e.proto.expanded for e in at.expander if e.label == "Decoding settings"] == [True]
    at.number_input(key="tf_temp").set_value(0.0)
    del at.query_params["tf_temp"]  # what the browser does: a default value leaves the URL
    at.run()
    assert not at.exception
    decoding = [e for e in at.expander if e.label == "Decoding settings"]
    assert decoding and decoding[0].proto.expanded
