"""Model speed: the from-scratch models against PyTorch's and Hugging Face's, same weights, same inputs.

Transformer: fast path (fused SDPA) and inspect path (attention returned) against
``torch.nn.Transformer`` at three sizes. ViT: against ``transformers``' ``ViTForImageClassification``
with copied weights (a benchmark-only dependency, see bench/requirements.txt); skipped with a
note if it is not installed. Every pair is checked to agree numerically before it is timed.

Run: ``python -m bench.bench_models`` (or ``python bench/run.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Measurement, interleaved_medians, print_table, write_json
from explorer.device import configure_threads
from explorer.models import Transformer, TransformerConfig, ViT, ViTConfig
from explorer.models.reference import to_torch_transformer, torch_transformer_logits

FAST_TARGET, INSPECT_TARGET, VIT_TARGET = 1.05, 1.3, 1.0

TRANSFORMER_SIZES = {
    # name: (config overrides, batch, sequence length)
    "tiny (d64, 2+2, 4h, T16)": (dict(d_model=64, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=256), 8, 16),
    "default (d128, 3+3, 4h, T32)": (dict(d_model=128, n_heads=4, n_encoder_layers=3, n_decoder_layers=3, d_ff=512), 8, 32),
    "paper base (d512, 6+6, 8h, T128)": (dict(d_model=512, n_heads=8, n_encoder_layers=6, n_decoder_layers=6, d_ff=2048), 2, 128),
}


def bench_transformer(repeats: int) -> list[Measurement]:
    rows: list[Measurement] = []
    for name, (overrides, batch, length) in TRANSFORMER_SIZES.items():
        torch.manual_seed(0)
        config = TransformerConfig(src_vocab_size=64, tgt_vocab_size=64, dropout=0.0, max_len=256, **overrides)
        model = Transformer(config).eval()
        ref = to_torch_transformer(model).eval()
        src = torch.randint(4, 64, (batch, length))
        tgt = torch.randint(4, 64, (batch, length))
        with torch.inference_mode():
            diff = (model(src, tgt).logits - torch_transformer_logits(model, ref, src, tgt)).abs().max().item()
            times = interleaved_medians(
                {
                    "torch": lambda: torch_transformer_logits(model, ref, src, tgt),
                    "fast": lambda: model(src, tgt),
                    "inspect": lambda: model(src, tgt, return_attention=True),
                },
                repeats=repeats,
            )
        base = times["torch"]
        rows.append(Measurement("transformer", f"{name} nn.Transformer", base * 1e3, "ms", detail=f"B={batch}"))
        for path, target in (("fast", FAST_TARGET), ("inspect", INSPECT_TARGET)):
            ratio = times[path] / base
            rows.append(
                Measurement(
                    "transformer", f"{name} {path}/torch", ratio, "x", f"<= {target}", ratio <= target,
                    f"{times[path] * 1e3:.2f} ms; max |diff| {diff:.1e}",
                )
            )
    return rows


def _hf_vit_from(model: ViT):  # optional dependency's type
    """``transformers``' ViT with our weights, or None when the package is not installed."""
    try:
        from transformers import ViTConfig as HFConfig
        from transformers import ViTForImageClassification
    except ImportError:
        return None
    c = model.config
    hf = ViTForImageClassification(
        HFConfig(
            hidden_size=c.d_model, num_hidden_layers=c.n_layers, num_attention_heads=c.n_heads, intermediate_size=c.d_ff,
            hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=c.layer_norm_eps,
            image_size=c.image_size, patch_size=c.patch_size, num_channels=c.in_channels, qkv_bias=True, num_labels=c.n_classes,
        )
    ).eval()
    p = c.patch_size
    with torch.no_grad():
        emb = hf.vit.embeddings
        emb.cls_token.copy_(model.cls_token)
        emb.position_embeddings.copy_(model.pos_embed)
        emb.patch_embeddings.projection.weight.copy_(model.patch_embed.proj.weight.reshape(c.d_model, c.in_channels, p, p))
        emb.patch_embeddings.projection.bias.copy_(model.patch_embed.proj.bias)
        for ours, theirs in zip(model.layers, hf.vit.layers):  # transformers >= 5 layout
            for src, dst in (
                (ours.self_attn.q_proj, theirs.attention.q_proj),
                (ours.self_attn.k_proj, theirs.attention.k_proj),
                (ours.self_attn.v_proj, theirs.attention.v_proj),
                (ours.self_attn.out_proj, theirs.attention.o_proj),
                (ours.feed_forward.linear1, theirs.mlp.fc1),
                (ours.feed_forward.linear2, theirs.mlp.fc2),
                (ours.norm1, theirs.layernorm_before),
                (ours.norm2, theirs.layernorm_after),
            ):
                dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
        hf.vit.layernorm.weight.copy_(model.norm.weight)
        hf.vit.layernorm.bias.copy_(model.norm.bias)
        hf.classifier.weight.copy_(model.head.weight)
        hf.classifier.bias.copy_(model.head.bias)
    return hf


VIT_SIZES = {
    "shapes (32px, p4, d64, 4L)": (ViTConfig(n_classes=8), 32),
    "ViT-B/16 (224px, d768, 12L)": (
        ViTConfig(image_size=224, patch_size=16, d_model=768, n_heads=12, n_layers=12, d_ff=3072, n_classes=1000), 2,
    ),
}


def bench_vit(repeats: int) -> list[Measurement]:
    rows: list[Measurement] = []
    for name, (config, batch) in VIT_SIZES.items():
        torch.manual_seed(0)
        model = ViT(config).eval()
        hf = _hf_vit_from(model)
        if hf is None:
            rows.append(Measurement("vit", name, float("nan"), "x", f"<= {VIT_TARGET}", None, "transformers not installed"))
            continue
        images = torch.randn(batch, 3, config.image_size, config.image_size)
        with torch.inference_mode():
            diff = (model(images).logits - hf(pixel_values=images).logits).abs().max().item()
            times = interleaved_medians(
                {"hf": lambda: hf(pixel_values=images), "ours": lambda: model(images)}, repeats=repeats
            )
        ratio = times["ours"] / times["hf"]
        rows.append(
            Measurement(
                "vit", f"{name} ours/transformers", ratio, "x", f"<= {VIT_TARGET}", ratio <= VIT_TARGET,
                f"{times['ours'] * 1e3:.2f} vs {times['hf'] * 1e3:.2f} ms, B={batch}; max |diff| {diff:.1e}",
            )
        )
    return rows


def main(repeats: int = 9) -> list[Measurement]:
    configure_threads()
    rows = bench_transformer(repeats) + bench_vit(repeats)
    print_table(rows)
    write_json("models", rows)
    return rows


if __name__ == "__main__":
    main()
