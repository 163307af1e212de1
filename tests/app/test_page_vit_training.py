"""AppTest of the ViT page's training replay: a link to a step reproduces that snapshot's view; bad steps are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from explorer.lab.vit_snapshots import load_snapshots


@pytest.fixture(scope="module")
def snaps():  # ViTSnapshots
    return load_snapshots()


def texts(at: AppTest) -> str:
    return " ".join([c.value for c in at.caption] + [m.value for m in at.metric])


def test_a_link_to_the_first_step_reproduces_its_view(open_page: Callable[..., AppTest], snaps) -> None:
    step = snaps.steps[0]
    at = open_page("vit", vit_step=str(step), vit_tab="Rollout")
    assert not at.exception
    assert at.select_slider(key="vit_step").value == str(step)
    shown = texts(at)
    assert f"Snapshot after {step} optimiser steps" in shown
    assert f"{snaps.metrics[0]['heldout_accuracy']:.1%}" in shown  # the recorded held-out accuracy of that snapshot
    assert "through layer" in shown  # the Rollout tab ran on the snapshot
    # a second visit with the same link shows the same numbers
    again = open_page("vit", vit_step=str(step), vit_tab="Rollout")
    assert texts(again) == shown


@pytest.mark.slow  # the link check itself is covered value by value in tests/unit/test_share.py
def test_a_step_that_is_not_a_snapshot_is_dropped_with_a_notice(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit", vit_step="7")
    assert not at.exception
    assert any("'vit_step'" in w.value for w in at.warning if "from the link" in w.value)
    assert at.select_slider(key="vit_step").value == "shipped"
