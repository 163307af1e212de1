"""Vision Transformer page: cut an image into patches and see where each head, and the whole model, looks.

Widgets -> ``explorer.views.vit`` (one view per tab, built only for the open tab) -> placed figures.
"""

from __future__ import annotations

# Plotly looks pandas up with sys.modules.get(); while another session's thread is still importing it, that
# is a half-initialised module ("no attribute 'Series'"). A real import waits until pandas is complete.
import pandas  # noqa: F401
import streamlit as st
from PIL import Image

from explorer.figures.vit import picked_patch
from explorer.tasks import fashion, shapes
from explorer.views import vit as views
from explorer.views import vit_sources as sources
from ui import cache
from ui import vit_widgets as widgets
from ui.share import clean_link, show_link_notices

MODELS, SOURCES, TABS, FUSIONS = views.MODELS, views.SOURCES, views.TABS, views.FUSIONS


snaps, snaps_error = widgets.training_snapshots()
step_choices = views.step_options(snaps.steps if snaps is not None else ())
# before any bound widget: bad values are dropped, noted for later
clean_link(views.link_schema(cache.zoo_model("shapes-untrained").config, step_choices), show=False)

st.title("Vision Transformer: where does it look?")
st.caption(
    "A ViT (Dosovitskiy et al. 2021) cuts an image into P x P patches, turns each into a token, prepends a "
    "learned [CLS] token and runs a Transformer encoder; the class is read from [CLS]'s final state. "
    "This page shows each step for one image."
)
notice_area = st.container()
with notice_area:
    show_link_notices()


# ----------------------------------------------------------------------------- input
left, right = st.columns([1, 1], gap="large")
with left:
    model_name = st.radio(
        "Model", MODELS, key="vit_model", bind="query-params", horizontal=True,
        captions=("generated shapes, 32 x 32 colour", "Fashion-MNIST clothing, 28 x 28 gray",
                  "shapes architecture, random weights", "fashion architecture, random weights"),
    )
    entry = cache.zoo_model(model_name)
    config = entry.config
    is_fashion = sources.base_name(model_name) == "fashion"
    classes = list(entry.classes) or list(fashion.CLASSES if is_fashion else shapes.CLASSES)
    if st.session_state.get("vit_cls") not in classes:  # the other model's class: start from this model's first
        st.session_state["vit_cls"] = classes[0]
    source = st.segmented_control("Image source", SOURCES, key="vit_source", bind="query-params", default="Sample", required=True)
    source = source or "Sample"
    fit = "pad"
    if source == "Sample":
        c1, c2 = st.columns(2)
        class_name = c1.selectbox("Sample class", classes, key="vit_cls", bind="query-params")
        seed = c2.number_input("Sample seed", 0, views.MAX_SEED, 0, 1, key="vit_sample_seed", bind="query-params")
        if is_fashion:
            index = classes.index(class_name)
            source_image = Image.fromarray(sources.fashion_sample(index, int(seed)))
            st.caption(f"Held-out Fashion-MNIST test images, never used for training: {class_name} "
                       f"#{int(seed) % sources.fashion_sample_count(index)} of {sources.fashion_sample_count(index)} (the seed picks one).")
        else:
            source_image = Image.fromarray(cache.sample_image(class_name, int(seed), int(config.image_size)))
            st.caption("Sample images are drawn fresh from the training generator: same class and seed, same picture.")
    elif source == "Photo":
        photo_name = st.selectbox("Photo", sources.PHOTO_NAMES, key="vit_photo", bind="query-params",
                                  format_func=lambda n: sources.PHOTO_LABELS.get(n, n))
        source_image = Image.fromarray(sources.photo(photo_name))
        st.image(sources.thumbnail(source_image), caption=f"A real photo ({sources.PHOTO_LABELS.get(photo_name, photo_name)}), CC0 / public domain, from scikit-image", width=200)
    else:
        source_image, fit = widgets.uploaded_image(source, is_fashion)

    prepared = sources.prepare(model_name, source_image, fit)
    raw_pixels = prepared.pixels
    with st.expander("How the image was prepared for the model", expanded=source != "Sample"):
        columns = st.columns(len(prepared.steps))
        for column, (title, detail, pixels) in zip(columns, prepared.steps):
            column.image(pixels, width="stretch")
            column.caption(f"**{title}**: {detail}")
        st.caption("Fashion-MNIST images are light garments on black, centred and filling the frame (Xiao et al. 2017); "
                   "the shapes task has shapes lighter than their background. These steps bring any image to that look.")

if entry.warning:
    notice_area.warning(entry.warning)
step = widgets.training_replay(snaps, snaps_error, step_choices) if model_name == "shapes" and entry.trained else None
check = cache.vit_verdict(model_name, entry.trained, raw_pixels, int(config.image_size)) if step is None else sources.Verdict(None, None, None)
for kind, text in sources.notices(check, entry.meta, source, model_name, classes, entry.trained):
    if kind == "warning":
        notice_area.warning(text, icon=":material/warning:")
    else:
        notice_area.info(text)

run_key = (model_name, entry.trained, raw_pixels, int(config.image_size), step)
run = cache.vit_run(*run_key)
n_layers, n_heads = run.attention.shape[:2]
gh, gw = run.grid
n_patches = gh * gw

with right:
    if int(st.session_state.get("vit_topk") or 1) > len(classes):
        st.session_state["vit_topk"] = len(classes)
    top_k = st.slider("Top-k classes", 1, len(classes), min(3, len(classes)), key="vit_topk", bind="query-params")
    predicted = views.prediction(run, classes, top_k)
    st.plotly_chart(predicted.figure, key="vit_topk_chart")
    st.caption(predicted.caption)

# ----------------------------------------------------------------------------- shared view controls
# Every URL-bound control lives outside the (lazy) tabs: a widget inside a hidden tab is not
# rendered, and Streamlit then drops its value and its URL parameter.
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    layer = c1.slider("Layer", 0, n_layers - 1, n_layers - 1, key="vit_layer", bind="query-params",
                      help="Which encoder layer's attention to show; rollout is accumulated up to this layer.")
    head = c2.slider("Head", 0, n_heads - 1, 0, key="vit_head", bind="query-params")
    # A slider, not a number box: a box can hold a typed, not yet valid value that a click on the chart
    # does not replace, leaving box and chart disagreeing. The default goes through session state, not
    # value=: a click on the chart also sets this key (_pick_patch), and Streamlit warns when a widget
    # has both a value= default and a session-state value.
    current = st.session_state.get("vit_patch")
    if (current is None and "vit_patch" not in st.query_params) or (current or 0) > n_patches - 1:
        st.session_state["vit_patch"] = n_patches // 2 + gw // 2  # the centre (or the other model's larger grid)
    patch = c3.slider("Patch to inspect", 0, n_patches - 1, key="vit_patch", bind="query-params",
                      help="A patch index from the numbered grid (Patches tab), or click a patch on the Attention tab.")
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1.2, 1.3])
    fusion = c1.radio("Rollout head fusion", FUSIONS, key="vit_fusion", bind="query-params", horizontal=True)
    discard = c2.slider("Rollout discard ratio", 0.0, 0.95, 0.0, 0.05, key="vit_discard", bind="query-params",
                        help="Drop this share of the weakest links in each row before multiplying ([CLS] is never dropped).")
    residual = c3.checkbox("Residual (A + I)", True, key="vit_residual", bind="query-params",
                           help="Rollout: add the identity for the skip connection, then renormalise each row (vit-explain's step). "
                                "With mean fusion and no discard this is Abnar & Zuidema's 0.5·A + 0.5·I.")
    sizes = views.FASHION_SIZES if is_fashion else views.LARGER_SIZES
    if st.session_state.get("vit_size") not in (None, *sizes):  # the other model's size
        st.session_state["vit_size"] = sizes[1]
    size = c4.select_slider("Larger input size (px)", sizes, sizes[1], key="vit_size", bind="query-params",
                            help="Used by the Resolution tab.")
choice = views.Selection(int(layer), int(head), int(patch), fusion, float(discard), bool(residual))


def _pick_patch() -> None:
    """on_select callback: runs before the rerun, so it may still set the bound ``vit_patch`` widget."""
    event = st.session_state.get("vit_attention_chart")
    points = list(event.selection.points) if event is not None else []
    picked = picked_patch(points, run.grid, run.patch_size)
    if picked is not None:
        st.session_state["vit_patch"] = picked


tabs = st.tabs(TABS, key="vit_tab", bind="query-params")

with tabs[0]:
    if tabs[0].open:
        view = cache.vit_tab_view("patches", *run_key, None)
        c1, c2 = st.columns(2)
        c1.plotly_chart(view.grid, key="vit_grid_chart")
        c1.caption(view.grid_caption)
        c2.image(view.strip, caption="The sequence the encoder sees", width="stretch")
        c2.caption(view.strip_caption)
        st.plotly_chart(view.tokens, key="vit_tokens_chart")
        st.caption(view.tokens_caption)
        st.markdown("**Normalisation** (per channel, after scaling pixels to [0, 1]): x' = (x - mean) / std")
        st.dataframe(view.normalisation, hide_index=True)

with tabs[1]:
    if tabs[1].open:
        attention = cache.vit_tab_view("attention", *run_key, choice)
        st.plotly_chart(attention.overlays, key="vit_attention_chart", on_select=_pick_patch, selection_mode="points")
        st.caption(attention.caption)
        st.plotly_chart(attention.overview, key="vit_overview_chart")
        st.caption(attention.overview_caption)

with tabs[2]:
    if tabs[2].open:
        rolled = cache.vit_tab_view("rollout", *run_key, choice)
        st.plotly_chart(rolled.figure, key="vit_rollout_chart")
        st.caption(rolled.caption)

with tabs[3]:
    if tabs[3].open:
        heads = cache.vit_tab_view("heads", *run_key, None)
        st.plotly_chart(heads.figure, key="vit_stats_chart")
        st.caption(heads.caption)

with tabs[4]:
    if tabs[4].open:
        big_pixels = cache.sample_image(class_name, int(seed), int(size)) if source == "Sample" and not is_fashion else raw_pixels
        big = cache.vit_summary(model_name, entry.trained, big_pixels, int(size), step)
        resolution = views.resolution_tab(run, big, choice, classes)
        st.plotly_chart(resolution.overlays, key="vit_resolution_chart")
        st.caption(resolution.caption)
        st.plotly_chart(resolution.statistics, key="vit_resolution_stats_chart")
        st.caption(resolution.stats_caption)

with tabs[5]:
    if tabs[5].open:
        files = views.downloads(run, model_name if step is None else f"{model_name}-step{step}", raw_pixels, choice, classes)
        st.caption("What am I looking at: downloads of the numbers behind the charts; files are built when you click.")
        c1, c2, c3, c4 = st.columns(4)
        c1.download_button("Attention (NPZ)", files.npz, f"{files.stem}-attention.npz", "application/octet-stream", on_click="ignore", key="vit_dl_npz")
        c2.download_button("[CLS] attention (CSV)", files.csv, f"{files.stem}-cls.csv", "text/csv", on_click="ignore", key="vit_dl_csv")
        c3.download_button(f"Overlay L{layer} H{head} (PNG)", files.overlay_png, f"{files.stem}-L{layer}H{head}.png", "image/png",
                           on_click="ignore", key="vit_dl_png")
        c4.download_button("Rollout overlay (PNG)", files.rollout_png, f"{files.stem}-rollout.png", "image/png", on_click="ignore", key="vit_dl_rollout_png")
        st.caption(
            "The NPZ holds `attention` (layers, heads, 1+N, 1+N; token 0 is [CLS]), `cls_maps`, `grid`, `probabilities` "
            "and `classes`; the CSV has one row per layer, head and patch. The rollout PNG uses mean fusion with the residual."
        )
