"""AppTest of app_pages/positional_encoding.py: defaults, every control, bad inputs, URL parameters."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

import explorer.zoo
from explorer.analysis import positions as pa
from explorer.models import Transformer, TransformerConfig

CHECKPOINTS = Path(__file__).resolve().parents[2] / "explorer" / "checkpoints"
CHARTS = {"Sinusoidal": 4, "Learned": 2, "RoPE": 4, "ViT resolution": 4, "Compare": 3}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def z_shape(chart: dict, trace: int = 0) -> tuple[int, ...]:
    return tuple(int(x) for x in chart["data"][trace]["z"]["shape"].split(","))


def texts(elements) -> str:  # AppTest element lists
    return " ".join(str(e.value) for e in elements)


def metric(at: AppTest, label_start: str) -> float:
    return float(next(m.value for m in at.metric if m.label.startswith(label_start)))


@pytest.fixture(scope="module")
def app(open_page: Callable[..., AppTest]) -> AppTest:
    return open_page("positional_encoding")


def test_defaults_show_the_sinusoidal_section(app: AppTest) -> None:
    assert_clean(app)
    assert not app.error and not app.warning
    specs = charts(app)
    assert len(specs) == CHARTS["Sinusoidal"]
    assert z_shape(specs[0]) == (pa.DEFAULT_MAX_LEN, pa.DEFAULT_D_MODEL)  # position x dimension
    assert z_shape(specs[2]) == (pa.DEFAULT_MAX_LEN, pa.DEFAULT_MAX_LEN)  # similarity
    assert len(app.caption) >= len(specs)  # every chart says what it shows
    assert metric(app, "max |M_k PE(pos)") < 1e-12  # the rotation identity, checked on the page
    assert metric(app, "Largest spread") < 1e-9
    assert len(app.get("download_button")) == 2


@pytest.mark.parametrize("section", list(CHARTS))
def test_every_section_renders(open_page: Callable[..., AppTest], section: str) -> None:
    at = open_page("positional_encoding", pe_section=section)
    assert_clean(at)
    assert not at.error
    assert len(charts(at)) == CHARTS[section]
    assert len(at.get("download_button")) == 2


def test_sinusoidal_controls(open_page: Callable[..., AppTest], app: AppTest) -> None:
    at = open_page("positional_encoding")
    at.number_input(key="pe_d_model").set_value(32)
    at.number_input(key="pe_max_len").set_value(40)
    at.number_input(key="pe_base").set_value(100.0)
    at.text_input(key="pe_dims").set_value("0, 3, 9")
    at.radio(key="pe_metric").set_value("dot product")
    at.number_input(key="pe_shift").set_value(-7)
    at.run()
    assert_clean(at)
    assert not at.error and not at.warning
    specs = charts(at)
    assert z_shape(specs[0]) == (40, 32)
    assert [t["name"].split(" (")[0] for t in specs[1]["data"]] == ["dim 0", "dim 3", "dim 9"]
    assert "wavelength 19.9" in specs[1]["data"][2]["name"]  # dim 9 is pair 4: 2*pi*100^(8/32)
    assert "dot product" in specs[2]["layout"]["title"]["text"]
    assert "M_-7" in specs[3]["layout"]["title"]["text"]
    assert metric(at, "max |M_k PE(pos)") < 1e-12


def test_rope_controls_and_equal_scores(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_section="RoPE")
    at.number_input(key="pe_pair").set_value(2)
    at.number_input(key="pe_offset").set_value(-5)
    at.run()
    assert_clean(at)
    assert not at.error and not at.warning
    table = at.dataframe[0].value
    assert set(table["m - n"]) == {-5}
    scores = table["RoPE q_m·k_n"]
    assert scores.max() - scores.min() < 1e-9  # same offset, same score, at any absolute position
    assert table["additive score"].max() - table["additive score"].min() > 1e-3
    specs = charts(at)
    assert "pair 2 turns" in specs[0]["layout"]["title"]["text"]


def test_learned_section_with_untrained_vit(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_section="Learned")
    at.radio(key="pe_vit").set_value("untrained")
    at.run()
    assert_clean(at)
    specs = charts(at)
    assert "untrained ViT" in specs[1]["layout"]["title"]["text"]
    assert z_shape(specs[1]) == (8 * 9 - 1, 8 * 9 - 1)  # 8 x 8 tiles of 8 x 8 with 1-cell gaps


def test_resolution_controls(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_section="ViT resolution")
    at.slider(key="pe_grid").set_value(10)
    at.radio(key="pe_mode").set_value("bilinear")
    at.number_input(key="pe_channel").set_value(3)
    at.run()
    assert_clean(at)
    assert not at.error and not at.warning
    before, after, channel_before, channel_after = charts(at)
    assert z_shape(before) == (8 * 9 - 1, 8 * 9 - 1) and z_shape(after) == (10 * 11 - 1, 10 * 11 - 1)
    assert "bilinear to 10×10" in after["layout"]["title"]["text"]
    assert "channel 3" in channel_before["layout"]["title"]["text"]
    assert channel_before["data"][0]["zmin"] == channel_after["data"][0]["zmin"] == -channel_after["data"][0]["zmax"]


@pytest.mark.parametrize("mode", ["bicubic", pytest.param("bilinear", marks=pytest.mark.slow), pytest.param("nearest", marks=pytest.mark.slow)])
def test_every_interpolation_mode_resamples(open_page: Callable[..., AppTest], mode: str) -> None:
    """'nearest' used to raise inside F.interpolate (align_corners is not defined for it)."""
    at = open_page("positional_encoding", pe_section="ViT resolution")
    at.slider(key="pe_grid").set_value(12)
    at.radio(key="pe_mode").set_value(mode)
    at.run()
    assert_clean(at)
    assert not at.error
    _before, after, *_channels = charts(at)
    assert f"{mode} to 12×12" in after["layout"]["title"]["text"]


@pytest.mark.parametrize(
    "second", ["learned: ViT patches (row-major)", pytest.param("none", marks=pytest.mark.slow)]
)
def test_compare_controls(open_page: Callable[..., AppTest], second: str) -> None:
    at = open_page("positional_encoding", pe_section="Compare")
    at.selectbox(key="pe_cmp_a").set_value("RoPE (one random vector)")
    at.selectbox(key="pe_cmp_b").set_value(second)
    at.radio(key="pe_cmp_metric").set_value("dot product")
    at.run()
    assert_clean(at)
    left, right, distance = charts(at)
    assert (left["data"][0]["zmin"], left["data"][0]["zmax"]) == (right["data"][0]["zmin"], right["data"][0]["zmax"])
    assert left["data"][0]["zmin"] == -left["data"][0]["zmax"]  # diverging, centred on 0
    assert z_shape(left) == z_shape(right)  # same positions
    assert [t["name"] for t in distance["data"]] == ["RoPE (one random vector)", second]


def test_compare_offers_only_tables_that_exist(open_page: Callable[..., AppTest]) -> None:
    """The shipped dates model has sinusoidal positions: no 'learned: dates' entry, and a link naming it is dropped."""
    dates_learned = explorer.zoo.load_model("dates").config.positions == "learned"
    at = open_page("positional_encoding", pe_section="Compare", pe_cmp_b="learned: dates model (source)")
    assert_clean(at)
    options = at.selectbox(key="pe_cmp_b").options
    assert ("learned: dates model (source)" in options) == dates_learned
    if not dates_learned:
        assert "pe_cmp_b" in texts(at.warning) and at.selectbox(key="pe_cmp_b").value != "learned: dates model (source)"
    assert len(charts(at)) == CHARTS["Compare"]


def test_shared_controls_are_disabled_where_they_do_nothing(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_section="ViT resolution", pe_d_model="64")
    assert_clean(at)
    assert all(at.number_input(key=k).disabled for k in ("pe_d_model", "pe_max_len", "pe_base"))
    assert any("do not apply here" in c.value for c in at.caption)
    assert at.number_input(key="pe_d_model").value == 64  # kept for the tabs that use it
    at = open_page("positional_encoding", pe_section="RoPE")
    assert not any(at.number_input(key=k).disabled for k in ("pe_d_model", "pe_max_len", "pe_base"))


@pytest.mark.parametrize(
    "key, value, message",
    [
        # fast lane: an adjusted and a capped value; the rest run in the full lane (check_* are unit-tested one by one)
        ("pe_d_model", 7, "must be even"),
        pytest.param("pe_d_model", 0, "at least 2", marks=pytest.mark.slow),
        pytest.param("pe_d_model", 100_000, f"capped at {pa.D_MODEL_CAP}", marks=pytest.mark.slow),
        pytest.param("pe_max_len", 0, "at least 1", marks=pytest.mark.slow),
        ("pe_max_len", 1_000_000, f"capped at {pa.MAX_LEN_CAP}"),
        pytest.param("pe_base", 1.0, "greater than 1", marks=pytest.mark.slow),
        pytest.param("pe_base", -5.0, "greater than 1", marks=pytest.mark.slow),
        pytest.param("pe_shift", 10_000, "between", marks=pytest.mark.slow),
    ],
)
def test_bad_inputs_give_one_line_messages(open_page: Callable[..., AppTest], key: str, value: float, message: str) -> None:
    at = open_page("positional_encoding")
    at.number_input(key=key).set_value(value)
    at.run()
    assert_clean(at)
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any(message in m for m in shown), shown
    assert all("\n" not in m for m in shown)
    assert len(charts(at)) == CHARTS["Sinusoidal"]  # the page still draws, with the fallback


def test_bad_dimensions_text_is_not_echoed(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding")
    at.text_input(key="pe_dims").set_value("![x](http://example.invalid/a.png), 5000, 1")
    at.run()
    assert_clean(at)
    assert "Ignored 2 entries" in texts(at.warning)
    assert "example.invalid" not in texts(at.warning) + texts(at.error)


def test_bad_rope_and_channel_values(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_section="RoPE")
    at.number_input(key="pe_pair").set_value(10_000)
    at.number_input(key="pe_offset").set_value(-10_000)
    at.run()
    assert_clean(at)
    assert "pair i must be between" in texts(at.warning) and "offset" in texts(at.warning)
    at = open_page("positional_encoding", pe_section="ViT resolution")
    at.number_input(key="pe_channel").set_value(-1)
    at.run()
    assert_clean(at)
    assert "channel must be between" in texts(at.warning)


def test_url_parameters_set_the_view(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_d_model="64", pe_max_len="30", pe_base="500", pe_metric="dot product", pe_shift="4", pe_dims="0,5")
    assert_clean(at)
    assert not at.warning and not at.error
    assert at.number_input(key="pe_d_model").value == 64
    specs = charts(at)
    assert z_shape(specs[0]) == (30, 64) and "dot product" in specs[2]["layout"]["title"]["text"]
    at = open_page("positional_encoding", pe_section="Compare", pe_cmp_a="none", pe_cmp_b="sinusoidal", pe_max_len="20")
    left, right, _distance = charts(at)
    assert [left["layout"]["title"]["text"], right["layout"]["title"]["text"]] == ["none", "sinusoidal"]
    assert z_shape(left) == (20, 20)


def test_url_with_nonsense_values_falls_back_with_a_notice(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_d_model="abc", pe_base="inf", pe_section="Nope", pe_grid="99", pe_metric="<b>x</b>", pe_max_len="0")
    assert_clean(at)
    notices = texts(at.warning)
    for name in ("pe_d_model", "pe_base", "pe_section", "pe_grid", "pe_metric"):
        assert name in notices
    assert "<b>" not in notices  # hostile values are not echoed
    assert "at least 1" in texts(at.error)  # a well-formed but impossible value gets the usual message
    assert at.number_input(key="pe_d_model").value == pa.DEFAULT_D_MODEL
    assert len(charts(at)) == CHARTS["Sinusoidal"]


def test_odd_d_model_from_url_is_adjusted_like_typed_input(open_page: Callable[..., AppTest]) -> None:
    at = open_page("positional_encoding", pe_d_model="7", pe_section="RoPE")
    assert_clean(at)
    assert "using 8" in texts(at.warning)
    assert len(charts(at)) == CHARTS["RoPE"]


def test_sinusoidal_dates_model_gets_a_clear_note(open_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, fresh_zoo_cache: None) -> None:
    """If the trained dates model uses fixed positions, say so and show its sinusoidal similarity."""
    config = TransformerConfig(d_model=32, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, max_len=24)
    model = Transformer(config).eval()
    real = explorer.zoo.load_model

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name == "dates":
            return SimpleNamespace(model=model, config=config, trained=True, warning=None)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(explorer.zoo, "load_model", fake)
    at = open_page("positional_encoding", pe_section="Learned")
    assert_clean(at)
    assert "uses fixed sinusoidal positions" in texts(at.info)
    specs = charts(at)
    assert "sinusoidal" in specs[0]["layout"]["title"]["text"] and z_shape(specs[0]) == (24, 24)


def test_damaged_checkpoint_falls_back_to_an_untrained_model(open_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_zoo_cache: None) -> None:
    """The zoo's one fallback: damaged weights give untrained models and a one-line note, no traceback."""
    for name in ("dates", "shapes"):
        (tmp_path / f"{name}.json").write_bytes((CHECKPOINTS / f"{name}.json").read_bytes())
        (tmp_path / f"{name}.pt").write_bytes(b"checkpoint exploded")
    monkeypatch.setattr(explorer.zoo, "CHECKPOINT_DIR", tmp_path)
    at = open_page("positional_encoding", pe_section="Learned")
    assert_clean(at)
    assert "could not be loaded" in texts(at.info) and "untrained" in texts(at.info)
    assert str(tmp_path) not in texts(at.info)
    assert len(charts(at)) == CHARTS["Learned"]


def test_page_does_not_change_shared_models(open_page: Callable[..., AppTest]) -> None:
    entry = explorer.zoo.load_model("shapes")
    before = entry.model.pos_embed.detach().clone()
    at = open_page("positional_encoding", pe_section="ViT resolution")
    at.slider(key="pe_grid").set_value(16)
    at.run()
    assert_clean(at)
    assert torch.equal(entry.model.pos_embed, before) and not entry.model.training


def test_a_rerun_reuses_the_cached_sinusoidal_work(open_page: Callable[..., AppTest]) -> None:
    """Moving an unrelated control must not redo the table, the similarity or the shift check."""
    at = open_page("positional_encoding", pe_d_model="64", pe_max_len="77")
    assert_clean(at)
    before = (
        pa.cached_sinusoidal_table.cache_info(), pa.sinusoidal_similarity.cache_info(), pa.check_shift_property.cache_info()
    )
    at.text_input(key="pe_dims").set_value("0, 5").run()
    assert_clean(at)
    after = (
        pa.cached_sinusoidal_table.cache_info(), pa.sinusoidal_similarity.cache_info(), pa.check_shift_property.cache_info()
    )
    for old, new in zip(before, after):
        assert new.misses == old.misses and new.hits > old.hits
    assert metric(at, "max |M_k PE(pos)") < 1e-12
