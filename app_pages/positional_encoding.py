"""Positional encoding: how sinusoidal, learned and rotary positions inject order, and why they work.

Widgets -> ``explorer.views.positional_encoding`` (one view per tab, built only for the open tab) ->
placed figures. Every control is bound to the URL so a view can be shared.
"""

from __future__ import annotations

import re

# Plotly looks pandas up with sys.modules.get(); while another session's thread is still importing it, that
# is a half-initialised module ("no attribute 'Series'"). A real import waits until pandas is complete.
import pandas  # noqa: F401
import streamlit as st

from explorer import exports
from explorer.views import positional_encoding as views
from explorer.views.positional_encoding import SECTIONS, URL_SCHEMA, Chart, Messages
from ui import cache
from ui.share import clean_link

PLOT_CONFIG = {"displaylogo": False}


def show_messages(messages: Messages, notes: list[str] | None = None) -> None:
    """Input problems (errors: fell back; warnings: adjusted), then the view's notes."""
    for show, lines in ((st.error, messages.errors), (st.warning, messages.warnings), (st.info, notes or [])):
        for line in lines:
            show(line)


def chart(item: Chart) -> None:
    """Every chart gets a short 'what am I looking at' caption."""
    st.plotly_chart(item.figure, config=PLOT_CONFIG)
    if item.caption:
        st.caption(item.caption)


def charts_side_by_side(items: list[Chart] | tuple[Chart, ...]) -> None:
    """Columns: side by side on a laptop or projector, stacked on a phone; a lone chart takes half the width."""
    for column, item in zip(st.columns(max(2, len(items))) if items else [], items):
        with column:
            chart(item)


def downloads(matrices: dict, key: str) -> None:
    """CSV of one chosen matrix and an NPZ of all of them; files are built only when clicked."""
    with st.expander("Download these matrices (CSV / NPZ)"):
        name = st.selectbox("Matrix for CSV", list(matrices), key=f"pe_{key}_csv_choice")
        chosen = matrices[name]
        col_a, col_b = st.columns(2)
        col_a.download_button(
            "CSV of this matrix", data=lambda: exports.matrix_csv(chosen),
            file_name=re.sub(r"[^A-Za-z0-9_.-]+", "_", f"positions_{name}").strip("_") + ".csv",
            mime="text/csv", on_click="ignore", key=f"pe_{key}_csv",
        )
        col_b.download_button(
            "NPZ of all matrices", data=lambda: exports.arrays_npz(matrices), file_name=f"positions_{key}.npz",
            mime="application/octet-stream", on_click="ignore", key=f"pe_{key}_npz",
        )


def sinusoidal_section(settings: views.Settings) -> None:
    st.markdown(
        "Vaswani et al. (2017, §3.5) add a fixed vector to each token: "
        "$PE_{(pos,2i)}=\\sin(pos/b^{2i/d})$, $PE_{(pos,2i+1)}=\\cos(pos/b^{2i/d})$."
    )
    col_encoding, col_waves = st.columns(2)
    with col_waves:
        dims_text = st.text_input(
            "Dimensions to plot (comma separated, blank = automatic)", value="", key="pe_dims", bind="query-params",
            placeholder="e.g. 0, 1, 16, 32",
        )
        waves_area = st.container()
    metric = st.radio("Similarity", views.SIMILARITY_METRICS, key="pe_metric", bind="query-params", horizontal=True)
    col_plot, col_info = st.columns(2)
    st.subheader("PE(pos + k) is a rotation of PE(pos)")
    shift = st.number_input("Shift k", value=5, step=1, key="pe_shift", bind="query-params")
    view = cache.sinusoidal_view(settings, dims_text, metric, shift)
    with col_encoding:
        chart(view.encoding)
    with waves_area:
        show_messages(view.dims)
        chart(view.waves)
    with col_plot:
        chart(view.similarity)
    with col_info:
        st.metric("Largest spread along a diagonal", f"{view.spread:.1e}")
        st.caption("0 up to rounding: the matrix depends on m − n only (PE(m)·PE(n) = Σᵢ cos((m−n)wᵢ)).")
    show_messages(view.shift)
    st.latex(
        r"M_k=\mathrm{diag}\left(\begin{bmatrix}\cos k w_i & \sin k w_i\\ -\sin k w_i & \cos k w_i\end{bmatrix}\right)_{i},"
        r"\quad PE(pos+k)=M_k\,PE(pos)"
    )
    col_m, col_n = st.columns(2)
    with col_m:
        chart(view.shift_matrix)
    with col_n:
        for label, value in view.check_metrics:
            st.metric(label, value)
        if not view.check.n_positions:
            st.info("No position pair fits in this maximum length; increase it to check the identity.")
        st.caption("Errors at machine precision: a linear map, the same for every position, shifts the encoding by k.")
    downloads(view.matrices, "sinusoidal")


def learned_section(settings: views.Settings) -> None:
    st.markdown("Learned tables are ordinary parameters trained with the rest of the model.")
    st.subheader("Dates model (text)")
    text_area = st.container()
    st.subheader("Shapes ViT: Figure 7 of the ViT paper")
    which = st.radio("ViT weights", views.WHICH_VIT, key="pe_vit", bind="query-params", horizontal=True)
    view = views.learned_view(
        settings, cache.zoo_model("dates"), cache.zoo_model("shapes" if which == "trained" else "shapes-untrained"), which
    )
    with text_area:
        show_messages(Messages(), view.text_notes)
        charts_side_by_side(view.text_charts)
    show_messages(Messages(), view.vit_notes)
    if view.patches is not None:
        col_grid, col_numbers = st.columns(2)
        with col_grid:
            chart(view.patches)
        col_numbers.metric("mean cosine to the 4 neighbours", f"{view.near:.3f}")
        col_numbers.metric("mean cosine to all other patches", f"{view.far:.3f}")
    if view.matrices:
        downloads(view.matrices, "learned")


def rope_section(settings: views.Settings) -> None:
    st.markdown(
        "RoPE (Su et al. 2021) adds nothing: it **rotates** each pair of query/key coordinates by "
        "an angle proportional to the position, $\\theta = pos\\cdot w_i$. Here the head size is d_model."
    )
    col_a, col_b = st.columns(2)
    pair = col_a.number_input("Coordinate pair i", value=0, step=1, key="pe_pair", bind="query-params")
    offset = col_b.number_input("Offset m − n", value=3, step=1, key="pe_offset", bind="query-params")
    # The random query and key follow the app-wide seed in the sidebar (0 when the page runs alone).
    view = cache.rope_view(settings, pair, offset, st.session_state.get("seed", 0))
    show_messages(view.messages)
    charts_side_by_side((view.path, view.pairs))
    st.markdown("**Same offset, different absolute positions** (random q, k from the sidebar seed; all coordinate pairs):")
    st.dataframe(view.relative.rows(), hide_index=True)
    col_r, col_s = st.columns(2)
    col_r.metric("RoPE: spread of the scores", f"{view.relative.rope_spread:.1e}")
    col_s.metric("additive sinusoidal: spread", f"{view.relative.additive_spread:.2f}")
    st.caption(
        "With RoPE, q_m·k_n = Re Σ q_i conj(k_i) e^{i(m−n)w_i} (RoFormer Eq. 16): only m − n enters, so each row "
        "gives the same score. Adding PE to q and k instead leaves terms that depend on m and n themselves."
    )
    charts_side_by_side((view.profile, view.scores))
    downloads(view.matrices, "rope")


def resolution_section(_settings: views.Settings) -> None:  # the ViT's own table: no shared setting applies
    st.markdown(
        "To fine-tune at a higher resolution the ViT keeps the patch size, so the patch grid grows; the paper "
        "(§3.2) **interpolates the learned position embeddings in 2-D** to fill the larger grid."
    )
    vit = cache.zoo_model("shapes")
    default_side = views.resolution_default_side(vit)
    if default_side is None:
        st.info("This ViT uses no position embeddings, so there is nothing to resample.")
        return
    col_a, col_b, col_c = st.columns(3)
    side = col_a.slider("New grid side", 2, views.GRID_CAP, default_side, key="pe_grid", bind="query-params")
    mode = col_b.radio("Interpolation", views.INTERPOLATION_MODES, key="pe_mode", bind="query-params", horizontal=True)
    channel = col_c.number_input("Channel to show", value=0, step=1, key="pe_channel", bind="query-params")
    view = views.resolution_view(vit, side, mode, channel)
    show_messages(view.messages, view.notes)
    charts_side_by_side(view.grids)
    charts_side_by_side(view.channel_images)
    downloads(view.matrices, "resolution")


def compare_section(settings: views.Settings) -> None:
    dates, vit = cache.zoo_model("dates"), cache.zoo_model("shapes")
    options = views.compare_options(dates, vit)
    # A link may name a scheme these models cannot draw (a learned table they do not have): drop it with a notice.
    clean_link(views.compare_schema(options))
    col_a, col_b, col_c = st.columns(3)
    first = col_a.selectbox("Left", options, index=0, key="pe_cmp_a", bind="query-params")
    second = col_b.selectbox("Right", options, index=1, key="pe_cmp_b", bind="query-params")
    metric = col_c.radio("Similarity", views.SIMILARITY_METRICS, key="pe_cmp_metric", bind="query-params", horizontal=True)
    view = views.compare_view(settings, (first, second), metric, dates, vit, st.session_state.get("seed", 0))
    show_messages(Messages(), view.notes)
    charts_side_by_side(view.panels)
    if view.distance is not None:
        st.caption(view.caption)
        chart(view.distance)
        downloads(view.matrices, "compare")


st.title("Positional encoding")
st.markdown(
    "Self-attention treats its input as a **set**: shuffle the tokens and the outputs shuffle with them. "
    "Order has to be injected. This page shows the three ways in this project's models."
)
clean_link(URL_SCHEMA)

controls = st.container()
tabs = st.tabs(list(SECTIONS), key="pe_section", bind="query-params")
open_section = next((label for label, tab in zip(SECTIONS, tabs) if tab.open), None)
with controls:
    # Controls a tab does not read are disabled there (their values stay for the tabs that use them).
    used = views.SECTION_SETTINGS.get(open_section or "", ("d_model", "max_len", "base"))
    col_d, col_l, col_b = st.columns(3)
    raw_d = col_d.number_input("d_model", value=views.DEFAULTS["d_model"], step=2, key="pe_d_model", bind="query-params", disabled="d_model" not in used)
    raw_l = col_l.number_input("Maximum length", value=views.DEFAULTS["max_len"], step=10, key="pe_max_len", bind="query-params", disabled="max_len" not in used)
    raw_b = col_b.number_input("Base", value=views.DEFAULTS["base"], step=1000.0, format="%g", key="pe_base", bind="query-params", disabled="base" not in used)
    if open_section in views.UNUSED_SETTINGS_NOTE:
        st.caption(views.UNUSED_SETTINGS_NOTE[open_section])
    settings, setting_messages = views.shared_settings(raw_d, raw_l, raw_b)
    show_messages(setting_messages)

sections = (sinusoidal_section, learned_section, rope_section, resolution_section, compare_section)
for section, tab in zip(sections, tabs):
    with tab:
        if tab.open is not False:  # only the selected tab does any work
            section(settings)
