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
from explorer.inputs import images
from explorer.inputs.params import ParamSpec
from explorer.tasks import fashion, shapes
from explorer.views import vit as views
from explorer.views import vit_sources as sources
from ui import cache
from ui.share import clean_link, show_link_notices

MODELS = views.MODELS
SOURCES = ("Sample", "Upload", "Camera", "Photo")
TABS = ("Patches", "Attention", "Rollout", "Head analytics", "Resolution", "Export")
LARGER_SIZES = views.LARGER_SIZES
FASHION_SIZES = (56, 84, 112)  # multiples of the fashion model's 7-pixel patches
FUSIONS = views.FUSIONS
MAX_SEED = 1_000_000


def _link_schema() -> dict[str, ParamSpec]:
    """What a shared link may set on this page (bounds: the larger of the two models; the widgets clamp)."""
    entry = cache.zoo_model("shapes-untrained")
    cfg = entry.config
    n_patches = (cfg.image_size // cfg.patch_size) ** 2
    return {
        "vit_model": ParamSpec("choice", MODELS), "vit_source": ParamSpec("choice", SOURCES),
        "vit_cls": ParamSpec("choice", tuple(shapes.CLASSES) + tuple(fashion.CLASSES)),
        "vit_photo": ParamSpec("choice", tuple(sources.PHOTO_NAMES)),
        "vit_sample_seed": ParamSpec("int", minimum=0, maximum=MAX_SEED), "vit_fit": ParamSpec("choice", images.FIT_MODES),
        "vit_topk": ParamSpec("int", minimum=1, maximum=max(cfg.n_classes, len(fashion.CLASSES))), "vit_layer": ParamSpec("int", minimum=0, maximum=cfg.n_layers - 1),
        "vit_head": ParamSpec("int", minimum=0, maximum=cfg.n_heads - 1), "vit_patch": ParamSpec("int", minimum=0, maximum=n_patches - 1),
        "vit_fusion": ParamSpec("choice", FUSIONS), "vit_discard": ParamSpec("float", minimum=0.0, maximum=0.95),
        "vit_residual": ParamSpec("bool"), "vit_size": ParamSpec("choice", tuple(str(s) for s in LARGER_SIZES + FASHION_SIZES)),
        "vit_tab": ParamSpec("choice", TABS),
    }


clean_link(_link_schema(), show=False)  # before any bound widget: bad values are dropped, noted for later

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
        seed = c2.number_input("Sample seed", 0, MAX_SEED, 0, 1, key="vit_sample_seed", bind="query-params")
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
        if source == "Upload":
            upload = st.file_uploader(
                "Upload an image", type=list(images.ACCEPTED_EXTENSIONS), key="vit_upload",
                help="PNG, JPEG, WebP, GIF (first frame) or BMP. Shared links keep the view settings, not the image.",
            )
            limit_mb = int(st.get_option("server.maxUploadSize"))
            st.caption(f"Files up to {limit_mb} MB. A larger file is refused by the uploader (its red message) and is "
                       "never analysed; this page then shows no image at all rather than an earlier one.")
        else:
            upload = st.camera_input("Take a photo", key="vit_camera")
        fit = "pad" if is_fashion else st.radio(
            "Make it square by", images.FIT_MODES, key="vit_fit", bind="query-params", horizontal=True,
            captions=("letterbox with grey, keep everything", "keep the central square"),
            help="The model only takes squares. Padding keeps the whole picture (vital for a 4000 x 10 strip); "
                 "cropping keeps the centre at full size, as ImageNet evaluation does.",
        )
        if upload is None:
            st.info("Upload an image or take a photo to begin (or switch to a sample).")
            st.stop()
        try:
            loaded = cache.decoded_upload(upload.getvalue(), upload.name)
        except images.ImageInputError as error:
            st.error(str(error))
            st.stop()
        source_image = loaded.image
        st.image(sources.thumbnail(source_image), caption="Your image, upright (letterboxed here for display)", width=200)
        facts = f"{loaded.format}, {loaded.original_size[0]} x {loaded.original_size[1]}, mode {loaded.original_mode}"
        st.caption(f"Read as {facts}." + (" " + "; ".join(loaded.notes).capitalize() + "." if loaded.notes else ""))

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
check = sources.verdict(entry.model, entry.meta, entry.trained, views.model_tensor(entry.meta, raw_pixels, int(config.image_size)))
if source == "Photo":
    notice_area.info(f"Neither model knows cats, cups, rockets or astronauts: the {sources.base_name(model_name)} model only "
                     f"knows {', '.join(classes)}, so the predicted class means nothing here. Look at what the attention does anyway.")
if check.in_distribution is False:
    notice_area.warning(
        f"This image is unlike anything the model was trained on (distance {check.ratio:.1f}x the in-distribution "
        "threshold), so its prediction is not to be trusted. Mahalanobis distance of the image's features to the "
        "training classes (Lee et al. 2018).", icon=":material/warning:")
if not entry.trained:
    notice_area.info("Untrained weights: the attention you see is what random projections give, a baseline for the trained model.")

run = cache.vit_run(model_name, entry.trained, raw_pixels, int(config.image_size))
n_layers, n_heads = run.attention.shape[:2]
gh, gw = run.grid
n_patches = gh * gw

with right:
    if int(st.session_state.get("vit_topk") or 1) > len(classes):
        st.session_state["vit_topk"] = len(classes)
    top_k = st.slider("Top-k classes", 1, len(classes), min(3, len(classes)), key="vit_topk", bind="query-params")
    st.plotly_chart(views.prediction(run, classes, top_k).figure, key="vit_topk_chart")
    st.caption(
        "What am I looking at: the model's probability for its most likely classes. It only knows these "
        f"{len(classes)} classes: " + ", ".join(classes) + ". Anything else (a cat, a face) is forced into one of them."
    )

# ----------------------------------------------------------------------------- shared view controls
# Every URL-bound control lives outside the (lazy) tabs: a widget inside a hidden tab is not
# rendered, and Streamlit then drops its value and its URL parameter.
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    layer = c1.slider("Layer", 0, n_layers - 1, n_layers - 1, key="vit_layer", bind="query-params",
                      help="Which encoder layer's attention to show; rollout is accumulated up to this layer.")
    head = c2.slider("Head", 0, n_heads - 1, 0, key="vit_head", bind="query-params")
    # The centre patch is set through session state, not value=: a click on the attention chart also
    # sets this key (_pick_patch), and Streamlit warns when a widget has both a value= default and a
    # session-state value. With value=None every patch, 0 included, stays in the link.
    centre = n_patches // 2 + gw // 2
    if (st.session_state.get("vit_patch") or 0) > n_patches - 1:  # from the other model's larger grid
        st.session_state["vit_patch"] = centre
    if st.session_state.get("vit_patch") is None and "vit_patch" not in st.query_params:
        st.session_state["vit_patch"] = centre
    patch = c3.number_input(
        "Patch to inspect", 0, n_patches - 1, None, 1, key="vit_patch", bind="query-params",
        help="A patch index from the numbered grid (Patches tab): the Attention tab shows where it looks.",
    )
    patch = centre if patch is None else patch
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1.2, 1.3])
    fusion = c1.radio("Rollout head fusion", FUSIONS, key="vit_fusion", bind="query-params", horizontal=True)
    discard = c2.slider("Rollout discard ratio", 0.0, 0.95, 0.0, 0.05, key="vit_discard", bind="query-params",
                        help="Drop this share of the weakest links in each row before multiplying ([CLS] is never dropped).")
    residual = c3.checkbox("Residual (A + I)", True, key="vit_residual", bind="query-params",
                           help="Rollout: add the identity for the skip connection, then renormalise each row (vit-explain's step). "
                                "With mean fusion and no discard this is Abnar & Zuidema's 0.5·A + 0.5·I.")
    sizes = FASHION_SIZES if is_fashion else LARGER_SIZES
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
        view = views.patches_tab(run, entry.meta)
        c1, c2 = st.columns(2)
        c1.plotly_chart(view.grid, key="vit_grid_chart")
        c1.caption(
            f"What am I looking at: the image resized to {run.image_size} x {run.image_size}, cut into "
            f"{gh} x {gw} = {n_patches} patches of {run.patch_size} x {run.patch_size} pixels, numbered in reading order."
        )
        c2.image(view.strip, caption="The sequence the encoder sees", width="stretch")
        c2.caption(
            f"What am I looking at: token 0 is [CLS] (a learned vector, no pixels), then patches 0..{n_patches - 1} "
            f"as tokens 1..{n_patches}; a learned position embedding is added to each so order is not lost."
        )
        st.plotly_chart(view.tokens, key="vit_tokens_chart")
        st.caption(
            f"What am I looking at: each row is one patch flattened to {view.vector_length} numbers "
            "(channel, row, column) after normalisation: the x_p that Eq. 1 multiplies by the embedding matrix E."
        )
        st.markdown("**Normalisation** (per channel, after scaling pixels to [0, 1]): x' = (x - mean) / std")
        st.dataframe(view.normalisation, hide_index=True)

with tabs[1]:
    if tabs[1].open:
        attention = views.attention_tab(run, choice)
        st.plotly_chart(attention.overlays, key="vit_attention_chart", on_select=_pick_patch, selection_mode="points")
        st.caption(
            "Click a patch in either panel to inspect it (or type its index above). "
            f"What am I looking at: left, the row of [CLS] in the attention matrix of layer {layer}, head {head} "
            f"(how much [CLS] draws from each patch; [CLS] keeps {attention.cls_self:.1%} for itself). "
            f"Right, the same for patch {patch} (red box); it puts {attention.patch_to_cls:.1%} on [CLS]."
        )
        st.plotly_chart(attention.overview, key="vit_overview_chart")
        st.caption(
            "What am I looking at: [CLS]-to-patch attention for every layer (rows, first on top) and head (columns), "
            "all on one colour scale, so bright means the same weight everywhere."
        )

with tabs[2]:
    if tabs[2].open:
        st.plotly_chart(views.rollout_tab(run, choice), key="vit_rollout_chart")
        st.caption(
            "What am I looking at: raw attention says where [CLS] looked within one layer, whose inputs are already "
            "mixtures of patches. Rollout (Abnar & Zuidema 2020) multiplies the layers' attention (with the residual "
            f"path as an identity) to trace [CLS] back to input patches, here through layer {layer} (move the Layer slider)."
        )

with tabs[3]:
    if tabs[3].open:
        heads = views.heads_tab(run)
        st.plotly_chart(heads.figure, key="vit_stats_chart")
        st.caption(
            "What am I looking at: each marker is one head. Left, the attention-weighted distance between a patch and "
            "the patches it attends to, averaged over patches (the ViT paper's Fig. 7 right): low = local like a "
            f"convolution, high = global; attention spread evenly over all patches gives {heads.uniform_distance:.1f} px. Right, how "
            f"spread each head's attention is: 0 = one token, {heads.max_entropy:.2f} = uniform."
        )

with tabs[4]:
    if tabs[4].open:
        big_pixels = cache.sample_image(class_name, int(seed), int(size)) if source == "Sample" and not is_fashion else raw_pixels
        resolution = views.resolution_tab(run, cache.vit_summary(model_name, entry.trained, big_pixels, int(size)), choice, classes)
        st.plotly_chart(resolution.overlays, key="vit_resolution_chart")
        st.caption(
            f"What am I looking at: [CLS] attention of layer {layer}, head {head} at the training size and at {size} px. "
            "The model was trained only at the small size; at the larger size the learned position embeddings are "
            "resampled to the bigger grid by 2-D interpolation (the ViT paper, Section 3.2, says only \"2D interpolation\"; "
            "this app uses bicubic, as timm's resample_abs_pos_embed does; the paper's own code zooms linearly). Correlation of the two maps "
            f"(larger one averaged down): {resolution.correlation:.2f}. "
            f"Prediction at {size} px: {resolution.best_class} ({resolution.best_probability:.0%})."
        )
        st.plotly_chart(resolution.statistics, key="vit_resolution_stats_chart")
        st.caption(
            f"What am I looking at: the head statistics at both sizes. Distances are in input pixels; a patch is {resolution.patch_size} px "
            f"at both sizes, so pixels = {resolution.patch_size} × patches either way. The dashed lines are heads that spread attention "
            f"evenly over all patches: {resolution.uniform_small:.1f} px on the small grid, {resolution.uniform_big:.1f} px on the large "
            "one, because the grid's side grew. Heads near their line are close to uniform, and their distance grows with the grid "
            "(in patches too); a local head's distance would stay put. Entropy is divided by ln T (T = number of tokens), so 1 means "
            "uniform at either size."
        )

with tabs[5]:
    if tabs[5].open:
        files = views.downloads(run, model_name, raw_pixels, choice, classes)
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
