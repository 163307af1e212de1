"""Positional encoding: how sinusoidal, learned and rotary positions inject order, and why they work.

Thin page: read widgets -> validate (explorer.analysis.positions) -> arrays -> figures
(explorer.figures.positions). Every control is bound to the URL so a view can be shared.
"""

from __future__ import annotations

import logging
import re

import numpy as np
# Plotly looks pandas up with sys.modules.get(); while another session's thread is still importing it, that
# is a half-initialised module ("no attribute 'Series'"). A real import waits until pandas is complete.
import pandas  # noqa: F401
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.analysis import positions as pa
from explorer.figures import positions as pf
from explorer.inputs.params import ParamSpec
from ui.share import clean_link


SECTIONS = ("Sinusoidal", "Learned", "RoPE", "ViT resolution", "Compare")
WHICH_VIT = ("trained", "untrained")
PLOT_CONFIG = {"displaylogo": False}

# Every URL-bound widget and what its value may look like. ``clean_link`` checks the raw URL before
# the widgets exist (Streamlit silently drops, or for ?x=inf even fails on, values it cannot parse)
# and drops bad ones with a one-line notice.
# Integers carry no range here: out-of-range sizes get the same message as when typed in.
URL_INT_LIMIT = 10**9  # beyond this Streamlit's number box drops the value; we say so
URL_SCHEMA: dict[str, ParamSpec] = {
    "pe_d_model": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_max_len": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_base": ParamSpec("float", minimum=-1e300, maximum=1e300),
    "pe_section": ParamSpec("choice", SECTIONS),
    "pe_dims": ParamSpec("text", max_chars=200),
    "pe_metric": ParamSpec("choice", pa.SIMILARITY_METRICS),
    "pe_shift": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_vit": ParamSpec("choice", WHICH_VIT),
    "pe_pair": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_offset": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_grid": ParamSpec("int", minimum=2, maximum=pa.GRID_CAP),
    "pe_mode": ParamSpec("choice", pa.INTERPOLATION_MODES),
    "pe_channel": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_cmp_a": ParamSpec("choice", pa.SCHEMES),
    "pe_cmp_b": ParamSpec("choice", pa.SCHEMES),
    "pe_cmp_metric": ParamSpec("choice", pa.SIMILARITY_METRICS),
}


def show_messages(errors: list[str], warnings: list[str]) -> None:
    for message in errors:
        st.error(message)
    for message in warnings:
        st.warning(message)


def chart(fig: go.Figure, caption: str) -> None:
    """Every chart gets a short 'what am I looking at' caption."""
    st.plotly_chart(fig, config=PLOT_CONFIG)
    st.caption(caption)


def downloads(matrices: dict[str, np.ndarray], key: str) -> None:
    """CSV of one chosen matrix and an NPZ of all of them; files are built only when clicked."""
    with st.expander("Download these matrices (CSV / NPZ)"):
        name = st.selectbox("Matrix for CSV", list(matrices), key=f"pe_{key}_csv_choice")
        chosen = matrices[name]
        col_a, col_b = st.columns(2)
        col_a.download_button(
            "CSV of this matrix",
            data=lambda: pa.matrix_to_csv(chosen),
            file_name=re.sub(r"[^A-Za-z0-9_.-]+", "_", f"positions_{name}").strip("_") + ".csv",
            mime="text/csv",
            on_click="ignore",
            key=f"pe_{key}_csv",
        )
        col_b.download_button(
            "NPZ of all matrices",
            data=lambda: pa.matrices_to_npz(matrices),
            file_name=f"positions_{key}.npz",
            mime="application/octet-stream",
            on_click="ignore",
            key=f"pe_{key}_npz",
        )


@st.cache_resource(show_spinner=False)
def fallback_model(kind: str) -> torch.nn.Module:
    """Local untrained stand-ins, built once per process, for when the zoo has no checkpoint."""
    return pa.fallback_text_model() if kind == "dates" else pa.fallback_vit()


def load(name: str) -> tuple[torch.nn.Module, bool, str | None]:
    """(model, trained?, note) from the zoo; a missing zoo or checkpoint falls back to an untrained model."""
    try:
        from explorer.zoo import load_model

        entry = load_model(name)
        return entry.model, bool(entry.trained), entry.warning
    except Exception:  # noqa: BLE001 - any loading problem must leave the page usable
        logging.getLogger(__name__).warning("positional-encoding page: could not load %s", name, exc_info=True)
        kind = "dates" if name.startswith("dates") else "shapes"
        return fallback_model(kind), False, "No trained checkpoint is available yet; showing an untrained model."


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def sinusoidal_section(settings: pa.SinusoidSettings) -> None:
    d, length, base = settings.d_model, settings.max_len, settings.base
    st.markdown(
        "Vaswani et al. (2017, §3.5) add a fixed vector to each token: "
        "$PE_{(pos,2i)}=\\sin(pos/b^{2i/d})$, $PE_{(pos,2i+1)}=\\cos(pos/b^{2i/d})$."
    )
    table = pa.cached_sinusoidal_table(length, d, base)  # shared, read-only: cached process-wide
    chart(
        pf.encoding_heatmap(table),
        f"Each row is the {d}-number vector added at one position (0 to {length - 1}). Left columns oscillate fast, "
        "right columns slowly: every position gets a unique pattern, like the digits of a clock with many hands.",
    )

    dims_check = pa.parse_dimensions(
        st.text_input(
            "Dimensions to plot (comma separated, blank = automatic)",
            value="",
            key="pe_dims",
            bind="query-params",
            placeholder="e.g. 0, 1, 16, 32",
        ),
        d,
    )
    show_messages(dims_check.errors, dims_check.warnings)
    dims = dims_check.value  # type: ignore[assignment]
    chart(
        pf.wave_curves(table, dims, pa.wavelengths(dims, d, base)),
        "Single columns of the heatmap against position. Each sine/cosine pair shares a wavelength "
        f"2π·{base:g}^(2i/d); wavelengths grow geometrically from 2π up to 2π·{base:g}.",
    )

    metric = st.radio("Similarity", pa.SIMILARITY_METRICS, key="pe_metric", bind="query-params", horizontal=True)
    view = pa.sinusoidal_similarity(length, d, base, metric)  # cached process-wide, read-only matrix
    similarity = view.matrix
    col_plot, col_info = st.columns([3, 1])
    with col_plot:
        chart(
            pf.similarity_heatmap(similarity, f"{metric} between positions", *view.colour_range),
            "Row m, column n: how alike PE(m) and PE(n) are. Every diagonal stripe is constant: the similarity "
            "depends only on the distance m − n, and it falls off (with ripples) as the distance grows.",
        )
    with col_info:
        st.metric("Largest spread along a diagonal", f"{pa.sinusoidal_similarity_spread(length, d, base, metric):.1e}")
        st.caption("0 up to rounding: the matrix depends on m − n only (PE(m)·PE(n) = Σᵢ cos((m−n)wᵢ)).")

    st.subheader("PE(pos + k) is a rotation of PE(pos)")
    shift_check = pa.check_int_range(
        st.number_input("Shift k", value=5, step=1, key="pe_shift", bind="query-params"),
        "shift k",
        -(length - 1),
        max(length - 1, 0),
        min(5, length - 1),
    )
    show_messages(shift_check.errors, shift_check.warnings)
    k = int(shift_check.value)  # type: ignore[arg-type]
    st.latex(
        r"M_k=\mathrm{diag}\left(\begin{bmatrix}\cos k w_i & \sin k w_i\\ -\sin k w_i & \cos k w_i\end{bmatrix}\right)_{i},"
        r"\quad PE(pos+k)=M_k\,PE(pos)"
    )
    matrix = pa.shift_matrix(k, d, base)
    result = pa.check_shift_property(length, d, k, base)
    col_m, col_n = st.columns([3, 2])
    with col_m:
        chart(
            pf.shift_matrix_heatmap(matrix, k),
            "The corner of M_k: 2×2 rotation blocks on the diagonal, zeros elsewhere. It contains k and the "
            "frequencies only, never pos, so one matrix moves every position k steps along.",
        )
    with col_n:
        if result.n_positions:
            st.metric(f"max |M_k PE(pos) − PE(pos+k)| over {result.n_positions} positions", f"{result.max_abs_error_f64:.1e}")
            st.metric("same check on the model's float32 table", f"{result.max_abs_error_f32:.1e}")
        else:
            st.info("No position pair fits in this maximum length; increase it to check the identity.")
        st.metric("|M_k M_kᵀ − I| (a rotation)", f"{result.is_orthogonal_error:.1e}")
        st.caption("Errors at machine precision: a linear map, the same for every position, shifts the encoding by k.")
    downloads({"encoding": table, "similarity": similarity, f"M_{k}": matrix}, "sinusoidal")


def learned_section(settings: pa.SinusoidSettings) -> None:
    st.markdown("Learned tables are ordinary parameters trained with the rest of the model.")
    st.subheader("Dates model (text)")
    model, trained, note = load("dates")
    text = pa.text_positions(model)
    if not trained:
        st.info(f"{note or 'This model is untrained.'} Its position table is random, so expect no structure.")
    matrices: dict[str, np.ndarray] = {}
    if text.scheme == "learned" and text.source is not None and text.target is not None:
        length = min(settings.max_len, text.max_len)
        source = pa.position_similarity(text.source[:length])
        target = pa.position_similarity(text.target[:length])
        matrices.update({"dates_source": source, "dates_target": target})
        chart(
            pf.side_by_side_heatmaps(
                [source, target], ["encoder (source) positions", "decoder (target) positions"], -1.0, 1.0
            ),
            f"Cosine similarity between learned position vectors (first {length} of {text.max_len}). A trained "
            "table shows a bright band around the diagonal: neighbours were learned to look alike.",
        )
    elif text.scheme == "sinusoidal":
        length = min(settings.max_len, text.max_len)
        st.info(
            "The dates model uses fixed sinusoidal positions (Vaswani et al. §3.5), so it learned no position table. "
            f"Below: the similarity of the sinusoidal table it adds (d_model {text.d_model}, first {length} positions)."
        )
        similarity = pa.sinusoidal_similarity(length, text.d_model).matrix
        matrices["dates_sinusoidal"] = similarity
        chart(
            pf.similarity_heatmap(similarity, "dates model: sinusoidal positions (cosine)", -1.0, 1.0),
            "Cosine similarity between the fixed vectors this model adds at positions m and n; it depends only on m − n.",
        )
    else:
        st.info(f"The dates model uses {text.scheme} positions, so it has no position table to show (see the RoPE tab).")

    st.subheader("Shapes ViT: Figure 7 of the ViT paper")
    which = st.radio("ViT weights", WHICH_VIT, key="pe_vit", bind="query-params", horizontal=True)
    vit, vit_trained, vit_note = load("shapes" if which == "trained" else "shapes-untrained")
    patches = pa.vit_positions(vit)
    if which == "trained" and not vit_trained:
        st.info(f"{vit_note or 'No trained checkpoint.'} Random embeddings show no 2-D layout.")
    label = "trained" if vit_trained else "untrained"
    if patches.table is None:
        st.info("This ViT uses no position embeddings, so there is nothing to draw.")
    else:
        grid_similarity = pa.patch_similarity_grid(patches.table, patches.grid)
        near, far = pa.neighbour_contrast(grid_similarity)
        gh, gw = patches.grid
        chart(
            pf.patch_similarity_figure(grid_similarity, f"{label} ViT ({patches.scheme} positions): {gh}×{gw} patches"),
            "Each small square stands for one patch position (row, column). Inside it, colour shows the cosine "
            "similarity of that patch's position embedding to every patch's. A bright spot near the square's own "
            "place, and bright rows/columns, mean a 2-D layout was learned from 1-D embeddings.",
        )
        col_a, col_b = st.columns(2)
        col_a.metric("mean cosine to the 4 neighbours", f"{near:.3f}")
        col_b.metric("mean cosine to all other patches", f"{far:.3f}")
        matrices[f"vit_{label}_patches"] = grid_similarity.reshape(gh * gw, gh * gw)
    if matrices:
        downloads(matrices, "learned")


def rope_section(settings: pa.SinusoidSettings) -> None:
    d, length, base = settings.d_model, settings.max_len, settings.base
    st.markdown(
        "RoPE (Su et al. 2021) adds nothing: it **rotates** each pair of query/key coordinates by "
        "an angle proportional to the position, $\\theta = pos\\cdot w_i$. Here the head size is d_model."
    )
    col_a, col_b = st.columns(2)
    pair_check = pa.check_int_range(
        col_a.number_input("Coordinate pair i", value=0, step=1, key="pe_pair", bind="query-params"), "pair i", 0, d // 2 - 1, 0
    )
    offset_check = pa.check_int_range(
        col_b.number_input("Offset m − n", value=3, step=1, key="pe_offset", bind="query-params"),
        "offset m − n",
        -(length - 1),
        max(length - 1, 0),
        min(3, length - 1),
    )
    # The random query and key follow the app-wide seed in the sidebar (0 when the page runs alone).
    seed_check = pa.check_int_range(st.session_state.get("seed", 0), "seed", 0, 2**31 - 1, 0)
    for check in (pair_check, offset_check, seed_check):
        show_messages(check.errors, check.warnings)
    pair, offset, seed = int(pair_check.value), int(offset_check.value), int(seed_check.value)  # type: ignore[arg-type]

    q, k = pa.random_query_key(d, seed)
    steps = list(range(min(8, length)))
    path = pa.rope_pair_trajectory(q, pair, np.array(steps), base)
    relative = pa.relative_offset_table(q, k, offset, length, base)
    first_m = max(offset, 0)  # three consecutive query positions, each with its key `offset` behind
    shown_m = [m for m in range(first_m, first_m + 3) if m < length and 0 <= m - offset < length]
    shown_n = [m - offset for m in shown_m]
    q_pairs = pa.rope_pair_trajectory(q, pair, np.array(shown_m, dtype=np.int64), base) if shown_m else np.zeros((0, 2))
    k_pairs = pa.rope_pair_trajectory(k, pair, np.array(shown_n, dtype=np.int64), base) if shown_n else np.zeros((0, 2))
    chart(
        pf.rope_rotation_figure(path, steps, q_pairs, k_pairs, shown_m, shown_n, pair, float(pa.frequencies(d, base)[pair])),
        f"Left: coordinates ({2 * pair}, {2 * pair + 1}) of one query vector placed at positions 0, 1, 2, …; only "
        "the angle changes (arrows drawn at unit length). Right: the query at m and the key at n = m − offset for "
        "three consecutive m; both arrows of a colour turn together, so the angle between them, and their dot "
        "product, stays the same.",
    )

    st.markdown("**Same offset, different absolute positions** (random q, k from the sidebar seed; all coordinate pairs):")
    st.dataframe(relative.rows(), hide_index=True)
    col_r, col_s = st.columns(2)
    col_r.metric("RoPE: spread of the scores", f"{relative.rope_spread:.1e}")
    col_s.metric("additive sinusoidal: spread", f"{relative.additive_spread:.2f}")
    st.caption(
        "With RoPE, q_m·k_n = Re Σ q_i conj(k_i) e^{i(m−n)w_i} (RoFormer Eq. 16): only m − n enters, so each row "
        "gives the same score. Adding PE to q and k instead leaves terms that depend on m and n themselves."
    )

    positions = np.arange(length)
    rope = pa.rope_scores(q, k, positions, positions, base)
    additive = pa.additive_scores(q, k, pa.cached_sinusoidal_table(length, d, base))
    start = max(offset, 0)
    rope_diag, additive_diag = np.diagonal(rope, -offset), np.diagonal(additive, -offset)
    chart(
        pf.score_profile_figure(np.arange(rope_diag.shape[0]) + start, rope_diag, additive_diag, offset),
        "Slide a query/key pair with a fixed gap along the sequence: the RoPE score is a flat line, the additive "
        "score wobbles with the absolute position.",
    )
    chart(
        pf.similarity_heatmap(rope, "RoPE scores q_m·k_n", colorbar_title="score"),
        "Row m (query position), column n (key position): the rotated score for one random q and k. Every "
        "diagonal stripe is constant because the score depends on m − n only.",
    )
    downloads({"rope_scores": rope, "additive_scores": additive, "q": q[None, :], "k": k[None, :]}, "rope")


def resolution_section() -> None:
    st.markdown(
        "To fine-tune at a higher resolution the ViT keeps the patch size, so the patch grid grows; the paper "
        "(§3.2) **interpolates the learned position embeddings in 2-D** to fill the larger grid."
    )
    vit, trained, note = load("shapes")
    patches = pa.vit_positions(vit)
    if not trained:
        st.info(f"{note or 'This ViT is untrained.'} Its position embeddings are random, so expect no structure.")
    if patches.table is None:
        st.info("This ViT uses no position embeddings, so there is nothing to resample.")
        return
    gh, gw = patches.grid
    col_a, col_b, col_c = st.columns(3)
    default_side = min(max(gh, gw) * 3 // 2, pa.GRID_CAP)  # about 1.5x, like 224 -> 336 pixels
    side_check = pa.check_int_range(
        col_a.slider("New grid side", 2, pa.GRID_CAP, default_side, key="pe_grid", bind="query-params"),
        "new grid side",
        2,
        pa.GRID_CAP,
        default_side,
    )
    mode = col_b.radio("Interpolation", pa.INTERPOLATION_MODES, key="pe_mode", bind="query-params", horizontal=True)
    channel_check = pa.check_int_range(
        col_c.number_input("Channel to show", value=0, step=1, key="pe_channel", bind="query-params"),
        "channel",
        0,
        patches.table.shape[1] - 1,
        0,
    )
    for check in (side_check, channel_check):
        show_messages(check.errors, check.warnings)
    side, channel = int(side_check.value), int(channel_check.value)  # type: ignore[arg-type]
    new_table = pa.resample_patch_positions(patches, (side, side), mode, vit)
    before = pa.patch_similarity_grid(patches.table, patches.grid)
    after = pa.patch_similarity_grid(new_table, (side, side))
    if patches.scheme == "sinusoidal":
        st.info("This ViT uses fixed 2-D sinusoidal positions: the new grid is recomputed, not interpolated.")
    chart(
        pf.patch_grids_side_by_side([before, after], [f"training grid {gh}×{gw}", f"{mode} to {side}×{side}"]),
        "Figure-7 grids before and after resampling, same colour scale. Each square is one patch position; its "
        "picture is that patch's cosine similarity to all others. Interpolation keeps the learned layout, smoothed.",
    )
    chart(
        pf.channel_images_figure(
            patches.table[:, channel].reshape(gh, gw), new_table[:, channel].reshape(side, side), channel
        ),
        "One of the embedding's channels laid out on the patch grid: the resampling treats the table as a "
        f"{patches.table.shape[1]}-channel image and resizes it, exactly like resizing a photo.",
    )
    downloads(
        {"before_table": patches.table, "after_table": new_table, "before_similarity": before.reshape(gh * gw, -1),
         "after_similarity": after.reshape(side * side, -1)},
        "resolution",
    )


def compare_section(settings: pa.SinusoidSettings) -> None:
    col_a, col_b, col_c = st.columns(3)
    first = col_a.selectbox("Left", pa.SCHEMES, index=0, key="pe_cmp_a", bind="query-params")
    second = col_b.selectbox("Right", pa.SCHEMES, index=1, key="pe_cmp_b", bind="query-params")
    metric = col_c.radio("Similarity", pa.SIMILARITY_METRICS, key="pe_cmp_metric", bind="query-params", horizontal=True)
    text = patches = None
    if any(name.startswith("learned: dates") for name in (first, second)):
        model, trained, _ = load("dates")
        text = pa.text_positions(model)
        if not trained:
            st.info("The dates model is untrained here (no checkpoint yet): its learned table is random.")
    if any(name.startswith("learned: ViT") for name in (first, second)):
        vit, trained, _ = load("shapes")
        patches = pa.vit_positions(vit)
        if not trained:
            st.info("The ViT is untrained here (no checkpoint yet): its learned table is random.")
    results = [pa.scheme_similarity(name, settings, metric, text, patches) for name in (first, second)]
    for result in results:
        if result.matrix is None:
            st.info(f"{result.name}: {result.note}.")
    drawn = [r for r in results if r.matrix is not None]
    if not drawn:
        return
    length = min(r.matrix.shape[0] for r in drawn)  # type: ignore[union-attr]
    matrices = [r.matrix[:length, :length] for r in drawn]  # type: ignore[index]
    low, high = pa.shared_colour_range(matrices, metric)
    titles = [r.name for r in drawn]
    notes = "; ".join(f"{r.name}: {r.note}" for r in drawn if r.note)
    chart(
        pf.side_by_side_heatmaps(matrices, titles, low, high),
        f"Position × position {metric} for each scheme on the same {length} positions and one colour scale"
        + (f" ({notes})" if notes else "")
        + ". "
        "Stripes parallel to the diagonal mean 'depends on distance only'; a plain bright diagonal with noise "
        "elsewhere is an untrained (random) table; a uniform block means no position information at all.",
    )
    downloads({r.name: m for r, m in zip(drawn, matrices)}, "compare")


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------

st.title("Positional encoding")
st.markdown(
    "Self-attention treats its input as a **set**: shuffle the tokens and the outputs shuffle with them. "
    "Order has to be injected. This page shows the three ways in this project's models."
)
clean_link(URL_SCHEMA)

col_d, col_l, col_b = st.columns(3)
raw_d = col_d.number_input("d_model", value=pa.DEFAULT_D_MODEL, step=2, key="pe_d_model", bind="query-params")
raw_l = col_l.number_input("Maximum length", value=pa.DEFAULT_MAX_LEN, step=10, key="pe_max_len", bind="query-params")
raw_b = col_b.number_input(
    "Base", value=pa.DEFAULT_BASE, step=1000.0, format="%g", key="pe_base", bind="query-params"
)
settings, setting_errors, setting_warnings = pa.check_settings(raw_d, raw_l, raw_b)
show_messages(setting_errors, setting_warnings)

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
