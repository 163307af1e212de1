"""The lab's charts: a log loss axis labelled readably, titles below the modebar, 11 px ticks, the step marker."""

from __future__ import annotations

import pytest

from explorer.figures.attention import TICK_FONT_PX
from explorer.figures.lab import _log_ticks, loss_curves, share_bars, snapshot_metrics
from explorer.figures.layout import MODEBAR_BAND_PX


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.15, 3.5, [0.2, 0.5, 1.0, 2.0]),  # one decade and a half: 1-2-5 labels, not a lone "1"
    (0.0004, 4.0, [0.001, 0.01, 0.1, 1.0]),  # four decades: 1-2-5 would be 11 labels, so one per decade
    (1.1, 1.9, None),  # no two nice values inside: Plotly's own ticks
])
def test_log_ticks_label_a_loss_range_without_crowding(low: float, high: float, expected: list[float] | None) -> None:
    ticks = _log_ticks([high, (low + high) / 2, low])
    assert ticks == (None if expected is None else pytest.approx(expected))


def test_loss_curves_label_only_the_chosen_ticks_and_mark_the_step() -> None:
    fig = loss_curves({"a": [[0, 3.5], [10, 0.4], [20, 0.15]], "b": [[0, 3.0], [20, 0.2]]}, "Training loss", marker_step=10)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["0.2", "0.5", "1", "2"]
    assert fig.layout.yaxis.tickfont.size == TICK_FONT_PX and fig.layout.xaxis.tickfont.size == TICK_FONT_PX
    assert [s.x0 for s in fig.layout.shapes] == [10] and fig.layout.shapes[0].line.dash == "dash"
    assert [t.name for t in fig.data] == ["a", "b"]


def test_lab_titles_sit_below_the_modebar() -> None:
    figures = (
        loss_curves({"a": [[0, 1.0], [1, 0.5]]}, "Training loss"),
        snapshot_metrics([0, 5], [0.1, 0.9], [0.2, 0.8], 5),
        share_bars(["head 0"], [0.5], [0.25], "Layer 0: what goes to the first token"),
    )
    for fig in figures:
        assert fig.layout.title.pad.t >= MODEBAR_BAND_PX and fig.layout.margin.t > fig.layout.title.pad.t
        assert "<br>" not in fig.layout.title.text, "short enough for a phone's column"
