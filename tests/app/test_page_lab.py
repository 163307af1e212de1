"""AppTest runs of the Architecture lab page: every tab, any mix of switches, links and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.lab.costs import count_params
from explorer.lab.switches import apply_switches, lab_base_config

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "lab.py")


def _page(**params: str | list[str]) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _number(cell: str) -> int:
    """A cell of the comparison table, shown with thousands separators, as the integer it is."""
    return int(cell.replace(",", ""))


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_compare_a_mix_from_the_link() -> None:
    at = _page(lab_switches=["multi-query", "parallel layers"])
    assert not at.exception
    numbers = at.dataframe[0].value
    assert list(numbers.columns) == ["original", "parallel+mqa"]
    params = count_params(apply_switches(lab_base_config(), ["mqa", "parallel"]))
    assert numbers.loc["parameters", "parallel+mqa"] == f"{params:,}" and params >= 1000  # thousands separated
    kv = numbers.loc["KV cache per generated token (bytes)"]
    assert _number(kv["original"]) == 4 * _number(kv["parallel+mqa"])  # multi-query: 1/n_heads (4 heads)
    captions = " ".join(m.value for m in at.markdown)
    assert "multi-query" in captions and "parallel layers" in captions and "Here:" in captions


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_choosing_switches_updates_the_comparison() -> None:
    at = _page()
    assert list(at.dataframe[0].value.columns) == ["original"]
    at.get("button_group")[0].set_value(["SwiGLU"]).run()
    numbers = at.dataframe[0].value
    assert list(numbers.columns) == ["original", "swiglu"]
    assert _number(numbers.loc["parameters", "swiglu"]) > _number(numbers.loc["parameters", "original"])


def test_trained_table_tab() -> None:
    at = _page(lab_tab="Trained table")
    assert not at.exception
    if (ROOT / "explorer" / "checkpoints" / "lab_table.json").exists():
        frame = at.dataframe[0].value
        assert frame["variant"].iloc[0] == "original" and "palm" in set(frame["variant"])
        assert len(at.get("plotly_chart")) == 1


def test_training_tab_replays_a_snapshot() -> None:
    at = _page(lab_tab="Training", lab_step="0", lab_text="26 Nov 2026")
    assert not at.exception
    if (ROOT / "explorer" / "checkpoints" / "dates_snapshots.json").exists():
        first = at.main.text[0].value
        at.select_slider[0].set_value(at.select_slider[0].options[-1]).run()
        assert at.main.text[0].value == "2026-11-26" != first and not at.code
        assert len(at.get("plotly_chart")) == 3


def test_value_weighted_tab() -> None:
    at = _page(lab_tab="Value-weighted", lab_kind="decoder", lab_head="2")
    assert not at.exception
    shares = at.dataframe[0].value
    assert list(shares["head"]) == ["head 0", "head 1", "head 2", "head 3"]
    assert ((shares["weight to first token"] >= 0) & (shares["weight to first token"] <= 1)).all()
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = [c["data"][0]["colorbar"]["title"]["text"] for c in charts[1:]]
    assert bars == ["weight", "‖αf‖ / max"], "the right-hand map says it holds scaled norms, not weights"


def test_bad_link_values_are_one_line_notices() -> None:
    at = _page(lab_tab="Nope", lab_head="99", lab_switches=["turbo"])
    assert not at.exception
    assert len(at.warning) == 1 and "lab_tab" in at.warning[0].value and "\n" not in at.warning[0].value
    assert list(at.dataframe[0].value.columns) == ["original"]
