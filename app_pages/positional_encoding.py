"""Positional encoding: how sinusoidal, learned and rotary positions inject order, and why they work.

Widgets -> ``explorer.views.positional_encoding`` (one view per tab, built only for the open tab) ->
placed figures. Every control is bound to the URL so a view can be shared.
"""

from __future__ import annotations

import re

# Plotly looks pandas up with sys.modules.get(); while another session's thread is still importing it, that
# is a half-initialised module ("no attribute 'Series'"). A real import waits until pandas is complete.
import pandas  # noqa: F401
import plotly.graph_objects as go
import streamlit as st

from explorer.analysis import positions as pa
from explorer.views import positional_encoding as views
from explorer.views.positional_encoding import SECTIONS, URL_SCHEMA, WHICH_VIT, Messages
from ui import cache
from ui.share import clean_link

PLOT_CONFIG = {"displaylogo": False}

def show_messages(messages: Messages) -> None:
    for message in messages.errors:
        st.error(message)
    for message in messages.warnings:
        st.warning(message)


def chart(fig: go.Figure, caption: str) -> None:
    """Every chart gets a short 'what am I looking at' caption."""
    st.plotly_chart(fig, config=PLOT_CONFIG)
    st.caption(caption)


def downloads(matrices: dict, key: str) -> None:
    """CSV of one chosen matrix and an NPZ of all of them; files are built only when clicked."""
    with st.expander("Download these matrices (CSV / NPZ)"):
        name = st.selectbox("Matrix for CSV", list(matrices), key=f"pe_{key}_csv_choice")
        chosen = matrices[name]
        col_a, col_b = st.columns(2)
        col_a.download_button(
            "CSV of this matrix", data=lambda: pa.matrix_to_csv(chosen),
            file_name=re.sub(r"[^A-Za-z0-9_.-]+", "_", f"positions_{name}").strip("_") + ".csv",
            mime="text/csv", on_click="ignore", key=f"pe_{key}_csv",
        )
        col_b.download_button(
            "NPZ of all matrices", data=lambda: pa.matrices_to_npz(matrices), file_name=f"positions_{key}.npz",
            mime="application/octet-stream", on_click="ignore", key=f"pe_{key}_npz",
        )


def sinusoidal_section(settings: pa.SinusoidSettings) -> None:
    d, length, base = settings.d_model, settings.max_len, settings.base
    st.markdown(
        "Vaswani et al. (2017, §3.5) add a fixed vector to each token: "
        "$PE_{(pos,2i)}=\\sin(pos/b^{2i/d})$, $PE_{(pos,2i+1)}=\\cos(pos/b^{2i/d})$."
    )
    encoding_area = st.container()
    dims_text = st.text_input(
        "Dimensions to plot (comma separated, blank = automatic)", value="", key="pe_dims", bind="query-params",
        placeholder="e.g. 0, 1, 16, 32",
    )
    waves_area = st.container()
    metric = st.radio("Similarity", pa.SIMILARITY_METRICS, key="pe_metric", bind="query-params", horizontal=True)
    col_plot, col_info = st.columns([3, 1])
    st.subheader("PE(pos + k) is a rotation of PE(pos)")
    shift = st.number_input("Shift k", value=5, step=1, key="pe_shift", bind="query-params")
    view = views.sinusoidal_view(settings, dims_text, metric, shift)
    with encoding_area:
        chart(
            view.encoding,
            f"Each row is the {d}-number vector added at one position (0 to {length - 1}). Left columns oscillate fast, "
            "right columns slowly: every position gets a unique pattern, like the digits of a clock with many hands.",
        )
    with waves_area:
        show_messages(view.dims)
        chart(
            view.waves,
            "Single columns of the heatmap against position. Each sine/cosine pair shares a wavelength "
            f"2π·{base:g}^(2i/d); wavelengths grow geometrically from 2π up to 2π·{base:g}.",
        )
    with col_plot:
        chart(
            view.similarity,
            "Row m, column n: how alike PE(m) and PE(n) are. Every diagonal stripe is constant: the similarity "
            "depends only on the distance m − n, and it falls off (with ripples) as the distance grows.",
        )
    with col_info:
        st.metric("Largest spread along a diagonal", f"{view.spread:.1e}")
        st.caption("0 up to rounding: the matrix depends on m − n only (PE(m)·PE(n) = Σᵢ cos((m−n)wᵢ)).")
    show_messages(view.shift)
    st.latex(
        r"M_k=\mathrm{diag}\left(\begin{bmatrix}\cos k w_i & \sin k w_i\\ -\sin k w_i & \cos k w_i\end{bmatrix}\right)_{i},"
        r"\quad PE(pos+k)=M_k\,PE(pos)"
    )
    col_m, col_n = st.columns([3, 2])
    with col_m:
        chart(
            view.shift_matrix,
            "The corner of M_k: 2×2 rotation blocks on the diagonal, zeros elsewhere. It contains k and the "
            "frequencies only, never pos, so one matrix moves every position k steps along.",
        )
    with col_n:
        if view.check.n_positions:
            st.metric(f"max |M_k PE(pos) − PE(pos+k)| over {view.check.n_positions} positions", f"{view.check.max_abs_error_f64:.1e}")
            st.metric("same check on the model's float32 table", f"{view.check.max_abs_error_f32:.1e}")
        else:
            st.info("No position pair fits in this maximum length; increase it to check the identity.")
        st.metric("|M_k M_kᵀ − I| (a rotation)", f"{view.check.is_orthogonal_error:.1e}")
        st.caption("Errors at machine precision: a linear map, the same for every position, shifts the encoding by k.")
    downloads(view.matrices, "sinusoidal")


def learned_section(settings: pa.SinusoidSettings) -> None:
    st.markdown("Learned tables are ordinary parameters trained with the rest of the model.")
    st.subheader("Dates model (text)")
    dates = cache.zoo_model("dates")
    if not dates.trained:
        st.info(f"{dates.warning or 'This model is untrained.'} Its position table is random, so expect no structure.")
    text = views.text_table_view(settings, dates.model)
    if text.scheme == "learned":
        chart(
            text.figure,
            f"Cosine similarity between learned position vectors (first {text.length} of {text.max_len}). A trained "
            "table shows a bright band around the diagonal: neighbours were learned to look alike.",
        )
    elif text.scheme == "sinusoidal":
        st.info(
            "The dates model uses fixed sinusoidal positions (Vaswani et al. §3.5), so it learned no position table. "
            f"Below: the similarity of the sinusoidal table it adds (d_model {text.d_model}, first {text.length} positions)."
        )
        chart(text.figure, "Cosine similarity between the fixed vectors this model adds at positions m and n; it depends only on m − n.")
    else:
        st.info(f"The dates model uses {text.scheme} positions, so it has no position table to show (see the RoPE tab).")

    st.subheader("Shapes ViT: Figure 7 of the ViT paper")
    which = st.radio("ViT weights", WHICH_VIT, key="pe_vit", bind="query-params", horizontal=True)
    vit = cache.zoo_model("shapes" if which == "trained" else "shapes-untrained")
    if which == "trained" and not vit.trained:
        st.info(f"{vit.warning or 'No trained checkpoint.'} Random embeddings show no 2-D layout.")
    patches = views.patch_table_view(vit.model, "trained" if vit.trained else "untrained")
    if patches.figure is None:
        st.info("This ViT uses no position embeddings, so there is nothing to draw.")
    else:
        chart(
            patches.figure,
            "Each small square stands for one patch position (row, column). Inside it, colour shows the cosine "
            "similarity of that patch's position embedding to every patch's. A bright spot near the square's own "
            "place, and bright rows/columns, mean a 2-D layout was learned from 1-D embeddings.",
        )
        col_a, col_b = st.columns(2)
        col_a.metric("mean cosine to the 4 neighbours", f"{patches.near:.3f}")
        col_b.metric("mean cosine to all other patches", f"{patches.far:.3f}")
    matrices = {**text.matrices, **patches.matrices}
    if matrices:
        downloads(matrices, "learned")


def rope_section(settings: pa.SinusoidSettings) -> None:
    st.markdown(
        "RoPE (Su et al. 2021) adds nothing: it **rotates** each pair of query/key coordinates by "
        "an angle proportional to the position, $\\theta = pos\\cdot w_i$. Here the head size is d_model."
    )
    col_a, col_b = st.columns(2)
    pair = col_a.number_input("Coordinate pair i", value=0, step=1, key="pe_pair", bind="query-params")
    offset = col_b.number_input("Offset m − n", value=3, step=1, key="pe_offset", bind="query-params")
    # The random query and key follow the app-wide seed in the sidebar (0 when the page runs alone).
    view = views.rope_view(settings, pair, offset, st.session_state.get("seed", 0))
    show_messages(view.messages)
    chart(
        view.rotation,
        f"Left: coordinates ({2 * view.pair}, {2 * view.pair + 1}) of one query vector placed at positions 0, 1, 2, …; only "
        "the angle changes (arrows drawn at unit length). Right: the query at m and the key at n = m − offset for "
        "three consecutive m; both arrows of a colour turn together, so the angle between them, and their dot "
        "product, stays the same.",
    )
    st.markdown("**Same offset, different absolute positions** (random q, k from the sidebar seed; all coordinate pairs):")
    st.dataframe(view.relative.rows(), hide_index=True)
    col_r, col_s = st.columns(2)
    col_r.metric("RoPE: spread of the scores", f"{view.relative.rope_spread:.1e}")
    col_s.metric("additive sinusoidal: spread", f"{view.relative.additive_spread:.2f}")
    st.caption(
        "With RoPE, q_m·k_n = Re Σ q_i conj(k_i) e^{i(m−n)w_i} (RoFormer Eq. 16): only m − n enters, so each row "
        "gives the same score. Adding PE to q and k instead leaves terms that depend on m and n themselves."
    )
    chart(
        view.profile,
        "Slide a query/key pair with a fixed gap along the sequence: the RoPE score is a flat line, the additive "
        "score wobbles with the absolute position.",
    )
    chart(
        view.scores,
        "Row m (query position), column n (key position): the rotated score for one random q and k. Every "
        "diagonal stripe is constant because the score depends on m − n only.",
    )
    downloads(view.matrices, "rope")


def resolution_section() -> None:
    st.markdown(
        "To fine-tune at a higher resolution the ViT keeps the patch size, so the patch grid grows; the paper "
        "(§3.2) **interpolates the learned position embeddings in 2-D** to fill the larger grid."
    )
    vit = cache.zoo_model("shapes")
    if not vit.trained:
        st.info(f"{vit.warning or 'This ViT is untrained.'} Its position embeddings are random, so expect no structure.")
    default_side = views.resolution_default_side(vit.model)
    if default_side is None:
        st.info("This ViT uses no position embeddings, so there is nothing to resample.")
        return
    col_a, col_b, col_c = st.columns(3)
    side = col_a.slider("New grid side", 2, pa.GRID_CAP, default_side, key="pe_grid", bind="query-params")
    mode = col_b.radio("Interpolation", pa.INTERPOLATION_MODES, key="pe_mode", bind="query-params", horizontal=True)
    channel = col_c.number_input("Channel to show", value=0, step=1, key="pe_channel", bind="query-params")
    view = views.resolution_view(vit.model, side, mode, channel)
    show_messages(view.messages)
    if view.scheme == "sinusoidal":
        st.info("This ViT uses fixed 2-D sinusoidal positions: the new grid is recomputed, not interpolated.")
    chart(
        view.grids,
        "Figure-7 grids before and after resampling, same colour scale. Each square is one patch position; its "
        "picture is that patch's cosine similarity to all others. Interpolation keeps the learned layout, smoothed.",
    )
    chart(
        view.channel_images,
        "One of the embedding's channels laid out on the patch grid: the resampling treats the table as a "
        f"{view.n_channels}-channel image and resizes it, exactly like resizing a photo.",
    )
    downloads(view.matrices, "resolution")


def compare_section(settings: pa.SinusoidSettings) -> None:
    col_a, col_b, col_c = st.columns(3)
    first = col_a.selectbox("Left", pa.SCHEMES, index=0, key="pe_cmp_a", bind="query-params")
    second = col_b.selectbox("Right", pa.SCHEMES, index=1, key="pe_cmp_b", bind="query-params")
    metric = col_c.radio("Similarity", pa.SIMILARITY_METRICS, key="pe_cmp_metric", bind="query-params", horizontal=True)
    dates = vit = None
    if any(name.startswith("learned: dates") for name in (first, second)):
        dates = cache.zoo_model("dates")
        if not dates.trained:
            st.info("The dates model is untrained here (no checkpoint yet): its learned table is random.")
    if any(name.startswith("learned: ViT") for name in (first, second)):
        vit = cache.zoo_model("shapes")
        if not vit.trained:
            st.info("The ViT is untrained here (no checkpoint yet): its learned table is random.")
    view = views.compare_view(settings, (first, second), metric, dates.model if dates else None, vit.model if vit else None)
    for note in view.notes:
        st.info(note)
    if view.figure is None:
        return
    chart(
        view.figure,
        f"Position × position {metric} for each scheme on the same {view.length} positions and one colour scale"
        + (f" ({view.drawn_notes})" if view.drawn_notes else "")
        + ". "
        "Stripes parallel to the diagonal mean 'depends on distance only'; a plain bright diagonal with noise "
        "elsewhere is an untrained (random) table; a uniform block means no position information at all.",
    )
    downloads(view.matrices, "compare")


st.title("Positional encoding")
st.markdown(
    "Self-attention treats its input as a **set**: shuffle the tokens and the outputs shuffle with them. "
    "Order has to be injected. This page shows the three ways in this project's models."
)
clean_link(URL_SCHEMA)

col_d, col_l, col_b = st.columns(3)
raw_d = col_d.number_input("d_model", value=pa.DEFAULT_D_MODEL, step=2, key="pe_d_model", bind="query-params")
raw_l = col_l.number_input("Maximum length", value=pa.DEFAULT_MAX_LEN, step=10, key="pe_max_len", bind="query-params")
raw_b = col_b.number_input("Base", value=pa.DEFAULT_BASE, step=1000.0, format="%g", key="pe_base", bind="query-params")
settings, setting_errors, setting_warnings = pa.check_settings(raw_d, raw_l, raw_b)
show_messages(Messages(setting_errors, setting_warnings))

tabs = st.tabs(list(SECTIONS), key="pe_section", bind="query-params")
sections = {
    "Sinusoidal": lambda: sinusoidal_section(settings),
    "Learned": lambda: learned_section(settings),
    "RoPE": lambda: rope_section(settings),
    "ViT resolution": resolution_section,
    "Compare": lambda: compare_section(settings),
}
for label, tab in zip(SECTIONS, tabs):
    with tab:
        if tab.open is not False:  # only the selected tab does any work
            sections[label]()
