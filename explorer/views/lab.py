"""The Architecture lab page's views: compare a mix of PaLM's switches with the original, browse the
shipped training table, scrub through the dates model's training, and weigh attention by value norms.

Closed forms come from :mod:`explorer.lab.costs`, latencies from :mod:`explorer.lab.latency` (passed
in, so the page can cache them), trained results from the shipped ``lab_table.json``
(:mod:`explorer.lab.table`), snapshots from :mod:`explorer.lab.snapshots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.figures import lab as lab_figs
from explorer.figures.attention import attention_heatmap
from explorer.lab.costs import count_params, forward_flops, kv_cache_bytes
from explorer.lab.latency import DEFAULT_TEXT, Latency
from explorer.lab.switches import SWITCHES, apply_switches, get_switch, lab_base_config, variant_name

if TYPE_CHECKING:
    from explorer.analysis.stepwise import AttentionRun
    from explorer.lab.snapshots import Snapshots
    from explorer.models import Transformer

SRC_LEN = len(DEFAULT_TEXT)  # "Thursday, 26 November 2026": a typical dates input
TGT_LEN = 11  # <s> + YYYY-MM-DD
TABS = ("Compare", "Trained table", "Training", "Value-weighted")
VALUE_KINDS = {"encoder": "encoder_self", "decoder": "decoder_self", "cross": "decoder_cross"}


def _rows_by_name(table: Mapping | None) -> dict[str, dict]:
    return {row["name"]: row for row in (table or {}).get("variants", [])}


def _shown(value: object) -> str:
    """A cell of the numbers table as text, numbers with thousands separators (242,157 parameters, not 242157)."""
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _pct(new: float, old: float) -> str:
    return "±0" if new == old else f"{(new - old) / old:+.1%}"


@dataclass(frozen=True)
class CompareView:
    """Side-by-side numbers (DataFrame), one caption per chosen switch, and the loss curves with their caption."""

    name: str
    numbers: pd.DataFrame
    captions: tuple[tuple[str, str, str], ...]  # (switch label, paper claim + source, what we measured)
    curves: go.Figure | None
    trained_note: str
    curves_caption: str = ""


def measured_config(switches: tuple[str, ...]):  # TransformerConfig
    return apply_switches(lab_base_config(), switches)


def _column(switches: tuple[str, ...], latency: Latency, row: dict | None) -> dict[str, object]:
    config = measured_config(switches)
    flops = forward_flops(config, SRC_LEN, TGT_LEN)
    kv = kv_cache_bytes(config)
    return {
        "parameters": count_params(config),
        f"forward FLOPs ({SRC_LEN} source + {TGT_LEN} target tokens)": flops.total,
        "FLOPs per token": round(flops.per_token),
        "KV cache per generated token (bytes)": kv.self_per_token,
        "cross-attention K/V per source token (bytes)": kv.cross_per_source_token,
        "prefill latency (ms, best of runs)": round(latency.prefill_ms, 3),
        "latency per generated token (ms, no KV cache)": round(latency.per_token_ms, 3),
        "held-out exact match (trained table)": "not trained" if row is None else f"{row['heldout_accuracy']:.1%}",
        "held-out loss (trained table)": "not trained" if row is None else round(row["heldout_loss"], 4),
        "alignment (trained table)": "not trained" if row is None else f"{row['alignment']:.1%}",
    }


def measured_caption(name: str, latencies: Mapping[str, Latency], table: Mapping | None) -> str:
    """What our measurements say about switch ``name`` alone against the original (all numbers computed)."""
    base_cfg, cfg = measured_config(()), measured_config((name,))
    parts = []
    p0, p1 = count_params(base_cfg), count_params(cfg)
    parts.append(f"parameters {p0:,} → {p1:,} ({_pct(p1, p0)})")
    f0, f1 = forward_flops(base_cfg, SRC_LEN, TGT_LEN).total, forward_flops(cfg, SRC_LEN, TGT_LEN).total
    parts.append(f"forward FLOPs {_pct(f1, f0)}")
    k0, k1 = kv_cache_bytes(base_cfg).self_per_token, kv_cache_bytes(cfg).self_per_token
    if k0 != k1:
        parts.append(f"KV cache {k0} → {k1} bytes per token (1/{k0 // k1})")
    if "original" in latencies and name in latencies:
        a, b = latencies["original"], latencies[name]
        parts.append(f"latency per generated token {a.per_token_ms:.2f} → {b.per_token_ms:.2f} ms (best of {b.repeats}, this machine, now)")
    rows = _rows_by_name(table)
    if "original" in rows and name in rows:
        r0, r1 = rows["original"], rows[name]
        steps = table["budget"]["steps"]  # type: ignore[index]
        parts.append(f"after {steps} training steps held-out exact match {r0['heldout_accuracy']:.1%} → {r1['heldout_accuracy']:.1%}, "
                     f"held-out loss {r0['heldout_loss']:.3f} → {r1['heldout_loss']:.3f}")
    return "; ".join(parts) + "."


def compare_view(switches: tuple[str, ...], latencies: Mapping[str, Latency], table: Mapping | None) -> CompareView:
    """``latencies`` holds "original", the mix's name and every chosen switch's name."""
    name = variant_name(switches)
    rows = _rows_by_name(table)
    columns = {"original": _column((), latencies["original"], rows.get("original"))}
    if switches:
        columns[name] = _column(switches, latencies[name], rows.get(name))
    numbers = pd.DataFrame(columns)
    numbers.index.name = "measure"
    numbers = numbers.map(_shown)
    captions = tuple(
        (get_switch(s).label, f"{get_switch(s).claim} ({get_switch(s).source})", measured_caption(s, latencies, table))
        for s in switches
    )
    curves, curves_caption = None, ""
    if rows:
        wanted = ["original", *switches, name]
        chosen = {n: rows[n]["loss_curve"] for n in dict.fromkeys(wanted) if n in rows}
        curves = lab_figs.loss_curves(chosen, "Training loss, same budget and seed")
        curves_caption = (f"Cross-entropy on the training batches of the dates task (log scale), {table['budget']['steps']:,} "  # type: ignore[index]
                          "optimizer steps per variant with the same seed and learning-rate schedule.")
    if table is None:
        note = "The trained table is missing: run `python -m explorer lab-train` to make it."
    elif switches and name not in rows:
        note = (f"This mix is not in the shipped table (it trains the original, each switch alone, and all of them). "
                f"Train it with `python -m explorer lab-train --only {','.join(switches)} --out my_table.json`.")
    else:
        note = ""
    return CompareView(name, numbers, captions, curves, note, curves_caption)


# printf formats (Streamlit's NumberColumn) of the trained table's number columns: thousands separators
TABLE_FORMATS = {"parameters": "%,d", "train time (s)": "%,.1f"}


@dataclass(frozen=True)
class TableView:
    table: pd.DataFrame
    curves: go.Figure
    budget: str
    formats: Mapping[str, str]  # column -> printf format, for the page's column_config


def table_view(table: Mapping) -> TableView:
    """The whole shipped table, one row per trained variant."""
    labels = {s.name: s.label for s in SWITCHES}
    frame = pd.DataFrame([
        {
            "variant": row["name"],
            "switches": ", ".join(labels[s] for s in row["switches"]) or "(original)",
            "parameters": row["params"],
            "held-out exact match": round(row["heldout_accuracy"], 4),
            "worst format": round(row["min_format_accuracy"], 4),
            "held-out loss": row["heldout_loss"],
            "alignment": row["alignment"],
            "final train loss": row["final_train_loss"],
            "train time (s)": row["train_time_s"],
        }
        for row in table["variants"]
    ])
    b = table["budget"]
    budget = (f"Every variant: {b['steps']} Adam steps of {b['batch_size']} generated dates, peak learning rate {b['lr']}, "
              f"{b['warmup']} warm-up steps then cosine decay, seed {b['seed']}, one CPU thread; held-out sample of "
              f"{b['heldout_size']} dates never seen in training. Whole table: "
              f"{sum(r['cpu_time_s'] for r in table['variants']) / 60:.1f} CPU-minutes, {table['total_wall_time_s'] / 60:.0f} min "
              "wall time on the 2-core machine that made it (shared with other work).")
    curves = lab_figs.loss_curves({row["name"]: row["loss_curve"] for row in table["variants"]}, "Training loss of every variant")
    return TableView(frame, curves, budget, TABLE_FORMATS)


@dataclass(frozen=True)
class TrainingView:
    """The dates model after ``step`` optimizer steps on the student's input."""

    step: int
    output: str
    cross: go.Figure
    loss: go.Figure
    metrics: go.Figure
    accuracy: float
    alignment: float
    provenance: str


def provenance_note(meta: Mapping) -> str:
    """Where the snapshots come from, in one sentence computed from their sidecar."""
    t = meta["training"]
    run = (f"one training run ({t['steps']} steps, seed {t['seed']}, batch {t['batch_size']}, peak learning rate {t['lr']})")
    if meta.get("final_step_in_dates_pt"):
        return f"Snapshots of {run}: the last one is the shipped dates model."
    diff = meta.get("max_abs_difference_to_dates_pt")
    return (f"Snapshots of {run} retrained with the shipped model's seed and settings; its final weights are not the "
            f"shipped ones" + (f" (largest weight difference {diff:.3g})" if diff is not None else "") +
            ", so its final numbers can differ slightly from the Transformer page's.")


def training_view(snaps: Snapshots, step: int, text: str, layer: int) -> TrainingView:
    """The dates model at ``step`` on ``text`` (already validated), with the training curves marked there."""
    from explorer.lab.snapshots import run_snapshot

    index = snaps.index_of(step)
    n_layers = snaps.config.n_decoder_layers
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be between 0 and {n_layers - 1}")
    result = run_snapshot(snaps, step, text)
    cross = result.attention["decoder_cross"][layer][0].mean(0).numpy()  # heads averaged (Tq, Tk)
    figure = attention_heatmap(cross, result.decoder_input_tokens, result.source_tokens,
                               f"Cross-attention, layer {layer}, heads averaged", zmax=1.0,
                               query_title="decoder input", key_title="source character")
    metrics = snaps.metrics
    loss = lab_figs.loss_curves({"dates model": snaps.loss_curve}, "Training loss of the dates model", marker_step=step)
    per_step = lab_figs.snapshot_metrics(snaps.steps, [m["heldout_accuracy"] for m in metrics],
                                         [m["alignment"] for m in metrics], step)
    return TrainingView(step, result.text, figure, loss, per_step, metrics[index]["heldout_accuracy"], metrics[index]["alignment"],
                        provenance_note(snaps.meta))


@dataclass(frozen=True)
class ValueView:
    """Per head: attention weight vs value-weighted norm going to the first token, and one head's two maps."""

    shares: pd.DataFrame
    bars: go.Figure
    raw: go.Figure
    weighted: go.Figure
    first_token: str


def value_view(run: AttentionRun, model: Transformer, kind: str, layer: int, head: int) -> ValueView:
    """Weights against value-weighted norms for one layer of a dates-model run that recorded its inputs."""
    from explorer.analysis.stepwise import attention_module
    from explorer.analysis.value_weighted import first_token_share, value_norms, value_weighted

    maps = run.maps[kind]
    n_layers, n_heads = maps.shape[:2]
    if not 0 <= layer < n_layers or not 0 <= head < n_heads:
        raise ValueError(f"layer must be 0..{n_layers - 1} and head 0..{n_heads - 1}")
    x_q, x_kv = run.inputs[kind][layer]
    norms = value_norms(attention_module(model, kind, layer), x_q, x_kv)
    weights = maps[layer]
    weighted = value_weighted(weights, norms)
    # Causal decoder rows 0 can only see key 0: drop that trivially-100% row from the averages.
    rows = np.arange(1, weights.shape[1]) if kind == "decoder_self" and weights.shape[1] > 1 else None
    share = first_token_share(weights, weighted, rows)
    heads = [f"head {h}" for h in range(n_heads)]
    frame = pd.DataFrame({"head": heads, "weight to first token": np.round(share.weight_share, 4),
                          "weighted norm to first token": np.round(share.norm_share, 4),
                          "mean ||f(x)|| of first token": np.round(norms[:, 0], 3),
                          "mean ||f(x)|| of the others": np.round(norms[:, 1:].mean(-1) if norms.shape[1] > 1 else norms[:, 0], 3)})
    src, tgt = run.src_ids, run.tgt_ids
    return ValueView(frame, lab_figs.share_bars(heads, share.weight_share, share.norm_share,
                                                f"Layer {layer}: what goes to the first token"),
                     _map(weights[head], kind, src, tgt, f"Weights α, layer {layer}, head {head}", "weight"),
                     _map(weighted[head] / max(float(weighted[head].max()), 1e-12), kind, src, tgt,
                          f"‖α f(x)‖ / max, layer {layer}, head {head}", "‖αf‖ / max"),
                     "first source character" if kind != "decoder_self" else "<s>")


VALUE_MAP_COLUMN_PX = 450  # the two maps sit side by side: each fills half a wide column


def _map(arr: np.ndarray, kind: str, src: list[int], tgt: list[int], title: str, value_label: str) -> go.Figure:
    from explorer.tasks.tokenizer import CharTokenizer

    tok = CharTokenizer()
    src_tokens = [tok.token(i) for i in src]
    tgt_tokens = [tok.token(i) for i in tgt]
    queries = src_tokens if kind == "encoder_self" else tgt_tokens
    keys = tgt_tokens if kind == "decoder_self" else src_tokens
    keep = np.tril(np.ones(arr.shape, dtype=bool)) if kind == "decoder_self" else None
    return attention_heatmap(arr, queries, keys, title, zmax=1.0, keep=keep, column_px=VALUE_MAP_COLUMN_PX, value_label=value_label)
