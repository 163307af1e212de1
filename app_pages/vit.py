"""Vision Transformer page: cut an image into patches and see where each head, and the whole model, looks.

Thin by design: widgets -> explorer (inputs.images, analysis.distance/rollout, figures.vit) -> placed figures.
"""

from __future__ import annotations

import hashlib

import numpy as np
# Plotly looks pandas up with sys.modules.get(); while another session's thread is still importing it, that
# is a half-initialised module ("no attribute 'Series'"). A real import waits until pandas is complete.
import pandas  # noqa: F401
import streamlit as st
import torch
from PIL import Image

from explorer.analysis import distance, rollout
from explorer.figures import vit as figs
from explorer.inputs import images
from explorer.inputs.params import ParamSpec
from explorer.tasks import shapes
from explorer.zoo import load_model
from ui.share import clean_link, show_link_notices


MODELS = ("shapes", "shapes-untrained")
SOURCES = ("Sample", "Upload", "Camera")
TABS = ("Patches", "Attention", "Rollout", "Head analytics", "Resolution", "Export")
LARGER_SIZES = (48, 64, 96, 128)
FUSIONS = rollout.HEAD_FUSIONS
MAX_SEED = 1_000_000


def _link_schema() -> dict[str, ParamSpec]:
    """What a shared link may set on this page (both models have the same shape)."""
    cfg = load_model("shapes-untrained").config
    n_patches = (cfg.image_size // cfg.patch_size) ** 2
    return {
        "vit_model": ParamSpec("choice", MODELS), "vit_source": ParamSpec("choice", SOURCES),
        "vit_cls": ParamSpec("choice", tuple(load_model("shapes-untrained").classes or shapes.CLASSES)),
        "vit_sample_seed": ParamSpec("int", minimum=0, maximum=MAX_SEED), "vit_fit": ParamSpec("choice", images.FIT_MODES),
        "vit_topk": ParamSpec("int", minimum=1, maximum=cfg.n_classes), "vit_layer": ParamSpec("int", minimum=1, maximum=cfg.n_layers),
        "vit_head": ParamSpec("int", minimum=1, maximum=cfg.n_heads), "vit_patch": ParamSpec("int", minimum=0, maximum=n_patches - 1),
        "vit_fusion": ParamSpec("choice", FUSIONS), "vit_discard": ParamSpec("float", minimum=0.0, maximum=0.95),
        "vit_residual": ParamSpec("bool"), "vit_size": ParamSpec("choice", tuple(str(s) for s in LARGER_SIZES)),
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


# ----------------------------------------------------------------------------- cached work (bounded)
@st.cache_data(max_entries=32, show_spinner=False)
def _sample(class_name: str, seed: int, size: int) -> np.ndarray:
    return np.asarray(shapes.sample_image(class_name, seed, size=size))


@st.cache_data(max_entries=16, show_spinner=False)
def _decode(data: bytes, filename: str) -> images.LoadedImage:
    return images.load_image_with_info(data, filename)


def _forward(model_name: str, pixels: np.ndarray, size: int) -> distance.ViTRun:
    entry = load_model(model_name)
    settings = entry.meta.get("preprocess", {})
    mean, std = tuple(settings.get("mean", (0.5,) * 3)), tuple(settings.get("std", (0.5,) * 3))
    tensor = shapes.preprocess(Image.fromarray(pixels), image_size=size, mean=mean, std=std)
    return distance.run_vit(entry.model, tensor, mean, std)


@st.cache_data(max_entries=32, show_spinner="Running the model...")
def _run(model_name: str, trained: bool, pixels: np.ndarray, size: int) -> distance.ViTRun:
    """``trained`` is part of the key so results of a fallback (untrained) model never outlive it."""
    return _forward(model_name, pixels, size)


@st.cache_data(max_entries=16, show_spinner="Running the model at the larger size...")
def _summary(model_name: str, trained: bool, pixels: np.ndarray, size: int) -> distance.RunSummary:
    """Only maps and statistics are kept: at 128 px the full attention would be 67 MB per entry."""
    return distance.RunSummary(_forward(model_name, pixels, size))


def _rollout_maps(run: distance.ViTRun, fusion: str, discard: float, residual: bool) -> np.ndarray:
    """(L, gh, gw) [CLS] rollout after each layer, normalised to sum to 1 over patches."""
    layers = [torch.from_numpy(a[None]) for a in run.attention]
    rolled = rollout.rollout_by_layer(layers, fusion, discard, residual)[:, 0, 0, 1:].numpy()
    rolled = rolled / np.clip(rolled.sum(-1, keepdims=True), 1e-12, None)
    return rolled.reshape(len(layers), *run.grid)


# ----------------------------------------------------------------------------- input
left, right = st.columns([1, 1], gap="large")
with left:
    model_name = st.radio(
        "Model", MODELS, key="vit_model", bind="query-params", horizontal=True,
        captions=("trained on the shapes task", "same architecture, random weights"),
    )
    entry = load_model(model_name)
    config = entry.config
    classes = list(entry.classes) or list(shapes.CLASSES)
    source = st.segmented_control("Image source", SOURCES, key="vit_source", bind="query-params", default="Sample", required=True)
    source = source or "Sample"
    fit = "pad"
    raw_pixels: np.ndarray | None = None
    if source == "Sample":
        c1, c2 = st.columns(2)
        class_name = c1.selectbox("Sample class", classes, key="vit_cls", bind="query-params")
        seed = c2.number_input("Sample seed", 0, MAX_SEED, 0, 1, key="vit_sample_seed", bind="query-params")
        raw_pixels = _sample(class_name, int(seed), int(config.image_size))
        st.caption("Sample images are drawn fresh from the training generator: same class and seed, same picture.")
    else:
        if source == "Upload":
            upload = st.file_uploader(
                "Upload an image", type=list(images.ACCEPTED_EXTENSIONS), key="vit_upload",
                help="PNG, JPEG, WebP, GIF (first frame) or BMP. Shared links keep the view settings, not the image.",
            )
        else:
            upload = st.camera_input("Take a photo", key="vit_camera")
        fit = st.radio(
            "Make it square by", images.FIT_MODES, key="vit_fit", bind="query-params", horizontal=True,
            captions=("letterbox with grey, keep everything", "keep the central square"),
            help="The model only takes squares. Padding keeps the whole picture (vital for a 4000 x 10 strip); "
                 "cropping keeps the centre at full size, as ImageNet evaluation does.",
        )
        if upload is None:
            st.info("Upload an image or take a photo to begin (or switch to a sample).")
            st.stop()
        try:
            loaded = _decode(upload.getvalue(), upload.name)
        except images.ImageInputError as error:
            st.error(str(error))
            st.stop()
        raw_pixels = np.asarray(images.to_square(loaded.image, fit))
        st.image(raw_pixels, caption="Your image, upright and made square", width=200)
        facts = f"{loaded.format}, {loaded.original_size[0]} x {loaded.original_size[1]}, mode {loaded.original_mode}"
        st.caption(f"Read as {facts}." + (" " + "; ".join(loaded.notes).capitalize() + "." if loaded.notes else ""))

if entry.warning:
    notice_area.warning(entry.warning)
if not entry.trained:
    notice_area.info("Untrained weights: the attention you see is what random projections give, a baseline for the trained model.")

run = _run(model_name, entry.trained, raw_pixels, int(config.image_size))
n_layers, n_heads = run.attention.shape[:2]
gh, gw = run.grid
n_patches = gh * gw

with right:
    top_k = st.slider("Top-k classes", 1, len(classes), min(3, len(classes)), key="vit_topk", bind="query-params")
    order = np.argsort(run.probabilities)[::-1][:top_k]
    st.plotly_chart(figs.topk_figure([classes[i] for i in order], run.probabilities[order]), key="vit_topk_chart")
    st.caption(
        "What am I looking at: the model's probability for its most likely classes. It only knows these "
        f"{len(classes)} classes: " + ", ".join(classes) + ". Anything else (a cat, a face) is forced into one of them."
    )

# ----------------------------------------------------------------------------- shared view controls
# Every URL-bound control lives outside the (lazy) tabs: a widget inside a hidden tab is not
# rendered, and Streamlit then drops its value and its URL parameter.
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    layer = c1.slider("Layer", 1, n_layers, n_layers, key="vit_layer", bind="query-params",
                      help="Which encoder layer's attention to show; rollout is accumulated up to this layer.")
    head = c2.slider("Head", 1, n_heads, 1, key="vit_head", bind="query-params")
    patch = c3.number_input(
        "Patch to inspect", 0, n_patches - 1, n_patches // 2 + gw // 2, 1, key="vit_patch", bind="query-params",
        help="A patch index from the numbered grid (Patches tab): the Attention tab shows where it looks.",
    )
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1.2, 1.3])
    fusion = c1.radio("Rollout head fusion", FUSIONS, key="vit_fusion", bind="query-params", horizontal=True)
    discard = c2.slider("Rollout discard ratio", 0.0, 0.95, 0.0, 0.05, key="vit_discard", bind="query-params",
                        help="Drop this share of the weakest links in each row before multiplying ([CLS] is never dropped).")
    residual = c3.checkbox("Residual 0.5A + 0.5I", True, key="vit_residual", bind="query-params",
                           help="Rollout: model the skip connection as 0.5 * attention + 0.5 * identity (Abnar & Zuidema).")
    size = c4.select_slider("Larger input size (px)", LARGER_SIZES, 64, key="vit_size", bind="query-params",
                            help="Used by the Resolution tab.")
L, H = layer - 1, head - 1


def _pick_patch() -> None:
    """on_select callback: runs before the rerun, so it may still set the bound ``vit_patch`` widget."""
    event = st.session_state.get("vit_attention_chart")
    points = list(event.selection.points) if event is not None else []
    picked = figs.picked_patch(points, run.grid, run.patch_size)
    if picked is not None:
        st.session_state["vit_patch"] = picked


cls_maps = distance.cls_maps(run.attention, run.grid)  # (L, H, gh, gw)
tabs = st.tabs(TABS, key="vit_tab", bind="query-params")

# ----------------------------------------------------------------------------- tab: patches
with tabs[0]:
    if tabs[0].open:
        settings = entry.meta.get("preprocess", {})
        c1, c2 = st.columns(2)
        c1.plotly_chart(figs.patch_grid_figure(run.model_view, run.patch_size), key="vit_grid_chart")
        c1.caption(
            f"What am I looking at: the image resized to {run.image_size} x {run.image_size}, cut into "
            f"{gh} x {gw} = {n_patches} patches of {run.patch_size} x {run.patch_size} pixels, numbered in reading order."
        )
        c2.image(figs.sequence_strip(run.model_view, run.patch_size), caption="The sequence the encoder sees", width="stretch")
        c2.caption(
            f"What am I looking at: token 0 is [CLS] (a learned vector, no pixels), then patches 0..{n_patches - 1} "
            f"as tokens 1..{n_patches}; a learned position embedding is added to each so order is not lost."
        )
        st.plotly_chart(figs.token_matrix_figure(run.patch_vectors), key="vit_tokens_chart")
        st.caption(
            f"What am I looking at: each row is one patch flattened to {run.patch_vectors.shape[1]} numbers "
            "(channel, row, column) after normalisation: the x_p that Eq. 1 multiplies by the embedding matrix E."
        )
        st.markdown("**Normalisation** (per channel, after scaling pixels to [0, 1]): x' = (x - mean) / std")
        st.dataframe(
            {"channel": ["R", "G", "B"], "mean": list(settings.get("mean", (0.5,) * 3)), "std": list(settings.get("std", (0.5,) * 3))},
            hide_index=True,
        )

# ----------------------------------------------------------------------------- tab: attention
with tabs[1]:
    if tabs[1].open:
        patch_map, to_cls = distance.patch_query_map(run.attention[L, H], int(patch), run.grid)
        st.plotly_chart(figs.overlays_figure([
            figs.Panel(run.model_view, cls_maps[L, H], run.patch_size, f"[CLS] attention, layer {layer} head {head}"),
            figs.Panel(run.model_view, patch_map, run.patch_size, f"patch {patch} attends to", highlight=int(patch)),
        ], pickable=True), key="vit_attention_chart", on_select=_pick_patch, selection_mode="points")
        st.caption(
            "Click a patch in either panel to inspect it (or type its index above). "
            f"What am I looking at: left, the row of [CLS] in the attention matrix of layer {layer}, head {head} "
            f"(how much [CLS] draws from each patch; [CLS] keeps {run.attention[L, H, 0, 0]:.1%} for itself). "
            f"Right, the same for patch {patch} (red box); it puts {to_cls:.1%} on [CLS]."
        )
        st.plotly_chart(figs.overview_figure(cls_maps), key="vit_overview_chart")
        st.caption(
            "What am I looking at: [CLS]-to-patch attention for every layer (rows, first on top) and head (columns), "
            "all on one colour scale, so bright means the same weight everywhere."
        )

# ----------------------------------------------------------------------------- tab: rollout
with tabs[2]:
    if tabs[2].open:
        rolled = _rollout_maps(run, fusion, discard, residual)
        st.plotly_chart(figs.overlays_figure([
            figs.Panel(run.model_view, cls_maps[L, H], run.patch_size, f"raw: layer {layer}, head {head}"),
            figs.Panel(run.model_view, cls_maps[L].mean(0), run.patch_size, f"raw: layer {layer}, mean of heads"),
            figs.Panel(run.model_view, rolled[L], run.patch_size, f"rollout through layer {layer}"),
        ]), key="vit_rollout_chart")
        st.caption(
            "What am I looking at: raw attention says where [CLS] looked within one layer, whose inputs are already "
            "mixtures of patches. Rollout (Abnar & Zuidema 2020) multiplies the layers' attention (with the residual "
            f"path as an identity) to trace [CLS] back to input patches, here through layer {layer} (move the Layer slider)."
        )

# ----------------------------------------------------------------------------- tab: head analytics
with tabs[3]:
    if tabs[3].open:
        dist = distance.mean_attention_distance(run.attention, run.grid, run.patch_size)
        ent = distance.attention_entropy(run.attention)
        st.plotly_chart(figs.head_statistics_figure({f"{run.image_size} px input": (dist, ent)}), key="vit_stats_chart")
        st.caption(
            "What am I looking at: each marker is one head. Left, the attention-weighted distance between a patch and "
            "the patches it attends to, averaged over patches (the ViT paper's Fig. 7 right): low = local like a "
            f"convolution, high = global; attention spread evenly over all patches gives "
            f"{distance.uniform_attention_distance(run.grid, run.patch_size):.1f} px. Right, how "
            f"spread each head's attention is: 0 = one token, {np.log(run.attention.shape[-1]):.2f} = uniform."
        )

# ----------------------------------------------------------------------------- tab: resolution
with tabs[4]:
    if tabs[4].open:
        if source == "Sample":
            big_pixels = _sample(class_name, int(seed), int(size))
        else:
            big_pixels = raw_pixels
        big = _summary(model_name, entry.trained, big_pixels, int(size))
        big_maps = big.cls_maps
        st.plotly_chart(figs.overlays_figure([
            figs.Panel(run.model_view, cls_maps[L, H], run.patch_size, f"{run.image_size} px: {gh} x {gw} patches"),
            figs.Panel(big.model_view, big_maps[L, H], big.patch_size, f"{big.image_size} px: {big.grid[0]} x {big.grid[1]} patches"),
        ]), key="vit_resolution_chart")
        r = distance.map_correlation(cls_maps[L, H], big_maps[L, H])
        best = int(np.argmax(big.probabilities))
        st.caption(
            f"What am I looking at: [CLS] attention of layer {layer}, head {head} at the training size and at {size} px. "
            "The model was trained only at the small size; at the larger size the learned position embeddings are "
            "interpolated (bicubic, ViT paper Section 3.2) to the bigger grid. Correlation of the two maps "
            f"(larger one averaged down): {r:.2f}. Prediction at {size} px: {classes[best]} ({big.probabilities[best]:.0%})."
        )
        stats = {
            f"{run.image_size} px": (distance.mean_attention_distance(run.attention, run.grid, run.patch_size), distance.attention_entropy(run.attention)),
            f"{big.image_size} px": (big.distance, big.entropy),
        }
        st.plotly_chart(figs.head_statistics_figure(stats), key="vit_resolution_stats_chart")
        st.caption(
            "What am I looking at: the head statistics at both sizes. Distances are in input pixels, so a head that "
            "keeps its distance in patches roughly doubles it in pixels when the image doubles."
        )

# ----------------------------------------------------------------------------- tab: export
with tabs[5]:
    if tabs[5].open:
        digest = hashlib.sha256(raw_pixels.tobytes()).hexdigest()[:8]
        stem = f"vit-{model_name}-{digest}"
        st.caption("What am I looking at: downloads of the numbers behind the charts; files are built when you click.")
        c1, c2, c3, c4 = st.columns(4)
        c1.download_button(
            "Attention (NPZ)", lambda: figs.attention_npz(run.attention, cls_maps=cls_maps, grid=np.array(run.grid),
                                                          probabilities=run.probabilities, classes=np.array(classes)),
            f"{stem}-attention.npz", "application/octet-stream", on_click="ignore", key="vit_dl_npz",
        )
        c2.download_button("[CLS] attention (CSV)", lambda: figs.cls_attention_csv(cls_maps), f"{stem}-cls.csv",
                           "text/csv", on_click="ignore", key="vit_dl_csv")
        c3.download_button(f"Overlay L{layer} H{head} (PNG)", lambda: figs.overlay_png(run.model_view, cls_maps[L, H]),
                           f"{stem}-L{layer}H{head}.png", "image/png", on_click="ignore", key="vit_dl_png")
        c4.download_button(
            "Rollout overlay (PNG)",
            lambda: figs.overlay_png(run.model_view, _rollout_maps(run, "mean", 0.0, True)[-1]),
            f"{stem}-rollout.png", "image/png", on_click="ignore", key="vit_dl_rollout_png",
        )
        st.caption(
            "The NPZ holds `attention` (layers, heads, 1+N, 1+N; token 0 is [CLS]), `cls_maps`, `grid`, `probabilities` "
            "and `classes`; the CSV has one row per layer, head and patch. The rollout PNG uses mean fusion with the residual."
        )
