"""The Transformer page's dates-model sections, placed by ``app_pages/transformer.py``: the training
replay panel, tokens and output, and the "mask with 0" mistake explained.

Everything shown comes from ``explorer.views.transformer`` / ``explorer.views.translation``; user
text is only shown as plain text (escaped Markdown, dataframes, ``st.text``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.inputs.text import escape_markdown
from explorer.views.transformer import token_styles
from explorer.views.translation import dates_notice
from ui.translator import output_box, plot


def place_training_panel(panel: Any) -> None:  # a TrainingPanel
    """The snapshot's summary, where the snapshots come from, and the loss and held-out curves at the chosen step."""
    with st.container(border=True):
        st.markdown(panel.summary)
        st.caption(panel.provenance)
        left, right = st.columns(2)
        with left:
            plot(panel.loss, "train_loss", "Training loss of the snapshot run; the dashed line is the chosen step.")
        with right:
            plot(panel.metrics, "train_metrics", "Measured on held-out dates when the snapshots were written; the dashed line is the chosen step.")


def place_output(view: Any, text: str, read_chars: int | None) -> None:  # an AttentionView
    """Source tokens, the output (checked against the reference date parser), what the model was trained on,
    and the decoding steps. ``read_chars``: the model's max_len when the input was cut to it, else None."""
    st.subheader("Tokens and output")
    st.markdown("**Source tokens** (what the encoder reads; ⚠ = unknown character read as `<unk>`, ✂ = truncation)")
    st.dataframe(view.tokens.style.apply(token_styles, axis=None) if view.tokens_highlight else view.tokens, width="stretch")
    st.markdown("**Output**" + ("" if view.finished else " (stopped at the step limit, no end token)"))
    output_box(view.output)
    notice = dates_notice(text)
    if notice.warning:
        st.warning(escape_markdown(notice.warning), icon=":material/warning:")
        st.markdown(":material/translate: [Translate a real sentence instead (English → Portuguese)](transformer?tf_model=en-pt)")
    if notice.info:
        st.info(notice.info)
    with st.expander(f"What the dates model was trained on: {len(notice.formats)} formats, years {notice.years}"):
        st.dataframe(notice.formats, hide_index=True)
    if view.expected is not None and view.output == view.expected:
        st.success(f"Correct: the reference parser also reads {view.expected}.", icon=":material/check_circle:")
    elif view.expected is not None:
        st.caption(f"✗ Not what the reference parser reads: {view.expected}.")
    if read_chars is not None:
        st.caption(f"✂ Only the first {read_chars} characters were read.")
    st.markdown("**Decoding, step by step** (probabilities at temperature 1: the model's own distribution)")
    st.dataframe(view.steps, hide_index=True, width="stretch")
    st.caption(
        "Each row is one decoder step: the target token the decoder reads (the previous output, starting from <s>), the token it "
        "emitted, that token's probability and the top-k candidates; </s> ends the output. "
        "'forced' rows came from the target prefix (teacher forcing): the model was told the token, and the row shows what it would have preferred."
    )


def place_mistake(step: Any) -> None:  # a StepView
    """What masking with 0 instead of −∞ does to this query: nothing without a mask, else the leaked weight."""
    if not step.has_mask:
        st.info("This attention has no mask (every query may see every key), so 0 and −∞ agree. Pick decoder masked self-attention to see the leak.")
    elif step.hidden:
        st.error(escape_markdown(
            f"With 0 instead of −∞, exp(0) = 1 gives the {len(step.hidden)} hidden future token(s) "
            f"{', '.join(step.hidden[:8])}{' …' if len(step.hidden) > 8 else ''} a total weight of {step.leaked:.1%}: "
            "their values leak into this query's output, so in training the model could copy the answer it should predict."
        ))
    else:
        st.info("This query is the last position: it may see every key, so nothing is hidden and nothing leaks. Pick an earlier query.")
