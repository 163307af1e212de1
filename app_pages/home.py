"""Home: what each page teaches, with a link to it."""

import streamlit as st

st.title("Transformer Explorer")
st.markdown(
    "Type a sentence or upload an image; a small Transformer or Vision Transformer, written from scratch "
    "in PyTorch and trained by this project, shows what happens inside it."
)

PAGE_GUIDE = [
    ("app_pages/transformer.py", "Transformer", "Type a date in any format and watch the encoder-decoder Transformer turn it into ISO form: every attention head, and scaled dot-product attention step by step."),
    ("app_pages/positional_encoding.py", "Positional encoding", "How sinusoidal, learned and rotary positions tell attention about order, and why they work."),
    ("app_pages/language_model.py", "Language model", "Type any text and look inside a real pretrained LLM (SmolLM2-135M): the next token, what each of its 270 heads does, the logit lens, head ablation and the KV cache."),
    ("app_pages/vit.py", "Vision Transformer", "Cut an image into patches and see where each head and the whole model look (attention rollout)."),
    ("app_pages/profiler.py", "Profiler", "Per-layer time, memory and FLOPs from torch.profiler, with scaling, diff and trace export."),
]

for path, title, blurb in PAGE_GUIDE:
    with st.container(border=True):
        st.page_link(path, label=title)
        st.caption(blurb)
