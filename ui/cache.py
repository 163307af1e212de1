"""The app's one caching layer: every ``st.cache_*`` the pages use lives here.

Three kinds, as Streamlit intends them (docs: "Caching overview"):
- shared, read-only models: ``st.cache_resource`` (one object for every session; nobody mutates it);
- per-input results: ``st.cache_data`` with ``max_entries`` so memory stays bounded under a class;
- finished views (frozen dataclasses of figures and tables, which the pages only read and place):
  ``st.cache_resource`` with ``max_entries``, so a class on the same input and settings builds each
  view once instead of once per student (building and validating a page's figures is most of a
  rerun's server time), and no session pays to unpickle a copy.
The functions take only hashable settings (never a model), so a key is exactly what the page chose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    import numpy as np

    from explorer.analysis.distance import RunSummary, ViTRun
    from explorer.analysis.positions import SinusoidSettings
    from explorer.analysis.stepwise import TranslationRun
    from explorer.inputs.images import LoadedImage
    from explorer.lab.latency import Latency
    from explorer.lab.snapshots import Snapshots
    from explorer.lab.vit_snapshots import ViTSnapshots
    from explorer.lessons.reveals import Reveal
    from explorer.runs.translation import TranslationRecord
    from explorer.views.positional_encoding import RopeView, SinusoidalView
    from explorer.views.transformer import AttentionSettings, AttentionView, StepView
    from explorer.views.translation import TranslatorSettings, TranslatorView
    from explorer.views.vit import Selection, TrainingView
    from explorer.views.vit_sources import Verdict
    from explorer.zoo import ZooModel


@st.cache_resource(max_entries=8, show_spinner=False)
def zoo_model(name: str) -> ZooModel:
    """A shared zoo model (``explorer.zoo.load_model``): untrained weights with a ``warning`` if its checkpoint is unusable."""
    from explorer.zoo import load_model  # the home page never imports torch

    return load_model(name)


@st.cache_data(max_entries=64, show_spinner="Running the model…")
def translation(name: str, trained: bool, text: str, temperature: float, top_k: int, prefix: str, seed: int) -> TranslationRun:
    """Decode ``text`` with the zoo model ``name`` and record its attention (bounded per input).

    ``trained`` is part of the key so a run on fallback weights is never served once the checkpoint loads.
    """
    from explorer.analysis.stepwise import translate_and_record

    entry = zoo_model(name)
    return translate_and_record(entry.model, entry.tokenizer, text, temperature=temperature, top_k=top_k, prefix=prefix, seed=seed)


@st.cache_data(max_entries=64, show_spinner="Computing the answer from the model…")
def lesson_reveal(reveal: str, args_json: str) -> Reveal:
    """A lesson step's reveal (``explorer.lessons.reveals``), computed from the shared zoo models."""
    import json

    from explorer.lessons.reveals import run_reveal

    return run_reveal(reveal, zoo_model, json.loads(args_json))


@st.cache_data(max_entries=32, show_spinner=False)
def sample_image(class_name: str, seed: int, size: int) -> np.ndarray:
    """A sample image of the shapes task (the training generator: same class and seed, same picture)."""
    import numpy as np

    from explorer.tasks import shapes

    return np.asarray(shapes.sample_image(class_name, seed, size=size))


@st.cache_data(max_entries=16, show_spinner=False)
def decoded_upload(data: bytes, filename: str) -> LoadedImage:
    """An uploaded file decoded and checked once (``explorer.inputs.images``; raises ``ImageInputError``)."""
    from explorer.inputs import images

    return images.load_image_with_info(data, filename)


@st.cache_data(max_entries=32, show_spinner="Running the model...")
def vit_run(name: str, trained: bool, pixels: np.ndarray, size: int, step: int | None = None) -> ViTRun:
    """One ViT forward pass at ``size``; ``trained`` is part of the key so a fallback model's results never outlive it.

    ``step``: the shapes ViT's training snapshot after that many steps (``explorer.lab.vit_snapshots``) instead.
    """
    return _vit_forward(name, pixels, size, step)


@st.cache_data(max_entries=16, show_spinner="Running the model at the larger size...")
def vit_summary(name: str, trained: bool, pixels: np.ndarray, size: int, step: int | None = None) -> RunSummary:
    """Maps and statistics only: at 128 px the full attention would be 67 MB per entry."""
    from explorer.analysis.distance import RunSummary

    return RunSummary(_vit_forward(name, pixels, size, step))


def _vit_forward(name: str, pixels: np.ndarray, size: int, step: int | None) -> ViTRun:
    """The zoo model ``name``, or the shapes snapshot at ``step``, on ``pixels`` (uncached; the callers cache)."""
    from explorer.views.vit import run_image, run_snapshot_image

    if step is not None:
        return run_snapshot_image(vit_snapshots(), step, pixels, size)
    entry = zoo_model(name)
    return run_image(entry.model, entry.meta, pixels, size)


@st.cache_resource(show_spinner=False)
def vit_snapshots() -> ViTSnapshots:
    """The shapes ViT's training snapshots (``explorer.lab.vit_snapshots``); raises ValueError when unusable."""
    from explorer.lab.vit_snapshots import load_snapshots

    return load_snapshots()


@st.cache_data(max_entries=64, show_spinner="Timing the model…")
def lab_latency(switches: tuple[str, ...]) -> Latency:
    """Measured prefill and per-token latency of a lab variant (``explorer.lab.latency``), once per process."""
    from explorer.lab.latency import measure_latency
    from explorer.lab.switches import apply_switches, lab_base_config

    return measure_latency(apply_switches(lab_base_config(), switches))


@st.cache_resource(show_spinner=False)
def lab_snapshots() -> Snapshots:
    """The dates model's training snapshots (``explorer.lab.snapshots``); raises ValueError when unusable."""
    from explorer.lab.snapshots import load_snapshots

    return load_snapshots()


@st.cache_data(max_entries=64, show_spinner="Running the model at that training step…")
def snapshot_translation(step: int, text: str, temperature: float, top_k: int, prefix: str, seed: int) -> TranslationRun:
    """``translation`` for the dates model after ``step`` training steps (``explorer.lab.snapshots.record_snapshot``)."""
    from explorer.lab.snapshots import record_snapshot

    return record_snapshot(lab_snapshots(), step, text, temperature=temperature, top_k=top_k, prefix=prefix, seed=seed)


@st.cache_resource(max_entries=32, show_spinner=False)
def translator_view(text: str, settings: TranslatorSettings) -> TranslatorView:
    """The translator page's view of ``text`` (``explorer.views.translation``), shared read-only."""
    from explorer.views import translation as tv

    record = _translator_record(text, settings)
    return tv.translator_view(record, settings, translator_model(settings.model) if settings.value_weighted else None)


@st.cache_resource(max_entries=32, show_spinner=False)
def translator_step_view(text: str, settings: TranslatorSettings, query: int) -> StepView | None:
    """Eq. 1 for the view's head at ``query`` (``explorer.views.translation.translator_step_view``), shared read-only."""
    from explorer.views import translation as tv

    record = _translator_record(text, settings)
    return tv.translator_step_view(translator_model(settings.model), record, translator_view(text, settings), query)


def _translator_record(text: str, settings: TranslatorSettings) -> TranslationRecord:
    """The recorded translation behind a translator view: ``prepare`` is cached per input, so this is the
    record the page already checked; a text ``prepare`` refuses has no view."""
    from explorer.views import translation as tv

    record = tv.prepare(settings.model, text, settings.top_k).record
    if record is None:
        raise ValueError("a translator view needs a text that prepare() accepts")
    return record


def translator_model(model_key: str) -> object:  # a MarianModel
    """The shared Marian model behind ``model_key`` (loaded once per process by ``explorer.pretrained``)."""
    from explorer.pretrained import load_pretrained
    from explorer.views.translation import TRANSLATORS

    return load_pretrained(TRANSLATORS[model_key]).model


@st.cache_resource(max_entries=32, show_spinner=False)
def dates_view(
    name: str, trained: bool, temperature: float, prefix: str, seed: int, train_step: int | None, settings: AttentionSettings
) -> AttentionView:
    """The Transformer page's view of a dates-model run (``explorer.views.transformer.attention_view``), shared read-only.

    The run is ``translation`` (or ``snapshot_translation`` at ``train_step``) of ``settings.text``: the
    key holds every input of that run, so a view is never served for another model, step or seed."""
    from explorer.views import transformer as tfv

    run, model = _dates_run(name, trained, temperature, prefix, seed, train_step, settings)
    entry = zoo_model(name)
    return tfv.attention_view(run, entry.tokenizer.unk_id, tfv.layer_counts(entry.config), settings, model)


@st.cache_resource(max_entries=32, show_spinner=False)
def dates_step_view(
    name: str, trained: bool, temperature: float, prefix: str, seed: int, train_step: int | None, settings: AttentionSettings,
    query: int, mistake: bool,
) -> StepView:
    """Eq. 1 for ``dates_view``'s head at ``query`` (``explorer.views.transformer.step_view``), shared read-only."""
    from explorer.views import transformer as tfv

    run, model = _dates_run(name, trained, temperature, prefix, seed, train_step, settings)
    view = dates_view(name, trained, temperature, prefix, seed, train_step, settings)
    return tfv.step_view(model, run, view, query, mistake)


def _dates_run(
    name: str, trained: bool, temperature: float, prefix: str, seed: int, train_step: int | None, settings: AttentionSettings
) -> tuple[TranslationRun, object]:
    """The cached run behind a dates view, and the model that made it (the shipped one or a training snapshot)."""
    if train_step is None:
        return translation(name, trained, settings.text, temperature, settings.top_k, prefix, seed), zoo_model(name).model
    run = snapshot_translation(train_step, settings.text, temperature, settings.top_k, prefix, seed)
    return run, lab_snapshots().model(train_step)


@st.cache_resource(max_entries=32, show_spinner=False)
def sinusoidal_view(settings: SinusoidSettings, dims_text: str, metric: str, shift: object) -> SinusoidalView:
    """The positional-encoding page's sinusoidal section (``explorer.views.positional_encoding``), shared read-only."""
    from explorer.views.positional_encoding import sinusoidal_view as build

    return build(settings, dims_text, metric, shift)


@st.cache_resource(max_entries=32, show_spinner=False)
def rope_view(settings: SinusoidSettings, pair: object, offset: object, seed: object) -> RopeView:
    """The positional-encoding page's RoPE section (``explorer.views.positional_encoding``), shared read-only."""
    from explorer.views.positional_encoding import rope_view as build

    return build(settings, pair, offset, seed)


@st.cache_resource(max_entries=48, show_spinner=False)
def vit_tab_view(
    tab: str, name: str, trained: bool, pixels: np.ndarray, size: int, step: int | None, choice: Selection | None
) -> object:  # the tab's view dataclass (explorer.views.vit)
    """One ViT tab's view ("patches", "attention", "rollout" or "heads") of ``vit_run(name, trained, pixels, size, step)``,
    shared read-only. ``choice`` matters to the attention and rollout tabs only; the others are called with None
    so one view serves every selection."""
    from explorer.views import vit as views

    run = vit_run(name, trained, pixels, size, step)
    if tab == "patches":
        return views.patches_tab(run, zoo_model(name).meta)
    if tab == "heads":
        return views.heads_tab(run)
    if tab in ("attention", "rollout") and choice is not None:
        return views.attention_tab(run, choice) if tab == "attention" else views.rollout_tab(run, choice)
    raise ValueError(f"vit_tab_view: no view {tab!r}, or no selection for it")


@st.cache_resource(max_entries=16, show_spinner=False)
def vit_training_view(step: int | None) -> TrainingView:
    """The shapes ViT's training replay at ``step`` (``explorer.views.vit.training_view``), shared read-only."""
    from explorer.views import vit as views

    return views.training_view(vit_snapshots(), step, zoo_model("shapes").meta)


@st.cache_data(max_entries=32, show_spinner=False)
def vit_verdict(name: str, trained: bool, pixels: np.ndarray, size: int) -> Verdict:
    """The out-of-distribution check of an image for the zoo model ``name`` (``explorer.views.vit_sources.verdict``):
    a forward pass, so once per image, not once per rerun."""
    from explorer.views import vit as views
    from explorer.views import vit_sources as sources

    entry = zoo_model(name)
    return sources.verdict(entry.model, entry.meta, entry.trained, views.model_tensor(entry.meta, pixels, size))
