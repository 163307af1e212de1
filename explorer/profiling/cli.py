"""``python -m explorer profile``: the per-module table for scripts and lesson preparation.

The lead's ``explorer/cli.py`` builds the sub-parser with :func:`add_cli_arguments` and calls
:func:`run_cli`; ``python -m explorer.profiling`` runs the same thing stand-alone.
Bad input prints one line to stderr and returns a non-zero exit code, never a traceback.

Two kinds of run:

* ``--model transformer|vit``: one training or inference step of a configurable model;
* ``--model smollm2-135m|marian-en-pt|marian-pt-en|tiny-lm``: generation in two phases,
  ``--phase prefill|decode|both``, a ``--seq-len`` token prompt and ``--new-tokens`` decode steps.

``--trace out.json`` writes the Chrome trace (open in https://ui.perfetto.dev) with one
``module::<path>`` range per module call, nested as the calls nest.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

from explorer.exports import table_csv
from explorer.profiling.captions import memory_statement, overhead_statement
from explorer.profiling.estimate import DEFAULT_MAX_SECONDS, format_bytes, format_flops
from explorer.profiling.phases import GENERATORS, PHASES, PhaseProfile, generator_for, profile_phases, prompt_ids
from explorer.profiling.request import DEFAULT_ACTIVE, DEFAULT_WARMUP, MODELS, MODES, ProfilingError, build_request
from explorer.profiling.runner import ProfileResult, profile_model
from explorer.profiling.tables import module_table, operator_table, result_summary, to_json

FORMATS = ("table", "csv", "json")


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``profile`` options to ``parser`` (model, sizes, steps, mode, output format)."""
    parser.add_argument("--model", choices=MODELS + GENERATORS, default="transformer",
                        help="which model to profile (the last four: generation in two phases)")
    parser.add_argument("--trained", action="store_true", help="profile the trained zoo model (dates / shapes) instead of a config")
    parser.add_argument("--d-model", type=int, default=None, help="model width (default 128 Transformer, 64 ViT)")
    parser.add_argument("--heads", type=int, default=None, help="attention heads")
    parser.add_argument("--kv-heads", type=int, default=None, help="key/value heads (1 = multi-query; divisor of heads = grouped-query)")
    parser.add_argument("--layers", type=int, default=None, help="layers (Transformer: encoder and decoder each)")
    parser.add_argument("--d-ff", type=int, default=None, help="feed-forward width")
    parser.add_argument("--activation", choices=("relu", "gelu", "swiglu"), default=None)
    parser.add_argument("--norm-first", choices=("true", "false"), default=None, help="pre-LN (true) or post-LN (false)")
    parser.add_argument("--positions", default=None, help="position scheme (sinusoidal, learned, rope, none)")
    parser.add_argument("--patch", type=int, default=None, help="ViT patch size")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 8; 1 for generation models)")
    parser.add_argument("--seq-len", type=int, default=64, help="Transformer source and target length")
    parser.add_argument("--image-size", type=int, default=32, help="ViT image side in pixels")
    parser.add_argument("--mode", choices=MODES, default="forward", help="forward only, or train = forward + backward")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--wait", type=int, default=0, help="schedule: steps skipped before recording")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="schedule: recorded-and-discarded steps")
    parser.add_argument("--active", type=int, default=DEFAULT_ACTIVE, help="schedule: measured steps")
    parser.add_argument("--depth", type=int, default=None, help="show modules down to this depth (0 = the model)")
    parser.add_argument("--operators", type=int, default=0, metavar="N", help="also print the top N operators (table format)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--trace", type=Path, default=None, metavar="OUT.json",
                        help="also write the Chrome trace (module ranges included) to this file")
    parser.add_argument("--attention", choices=("fused", "eager"), default="fused",
                        help="fused SDPA, or the explicit softmax path that returns the attention maps")
    parser.add_argument("--phase", choices=(*PHASES, "both"), default="both", help="generation models: which phase to print")
    parser.add_argument("--new-tokens", type=int, default=8, help="generation models: decode steps after the prompt")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS * 5, help="refuse runs estimated to take longer")


def request_from_args(args: argparse.Namespace):  # ProfileRequest
    norm_first = None if args.norm_first is None else args.norm_first == "true"
    return build_request(
        args.model, trained=args.trained, d_model=args.d_model, n_heads=args.heads, n_kv_heads=args.kv_heads,
        n_layers=args.layers, d_ff=args.d_ff, activation=args.activation, norm_first=norm_first,
        positions=args.positions, patch_size=args.patch, batch_size=8 if args.batch is None else args.batch, seq_len=args.seq_len,
        image_size=args.image_size, mode=args.mode, device=args.device, wait=args.wait, warmup=args.warmup,
        active=args.active, attention_path=args.attention,
    )


def format_table(result: ProfileResult, max_depth: int | None, operators: int = 0) -> str:
    """A fixed-width text table: indented module paths, times in ms, memory, FLOPs, params."""
    frame = module_table(result, max_depth, include_device=False)
    summary = result_summary(result)
    names = [("  " * int(d) + str(p)) if d > 0 else str(p) for p, d in zip(frame["path"], frame["depth"])]
    width = max([len("module")] + [len(n) for n in names])  # full dotted paths, never cut
    device = "CUDA" if result.request.device == "cuda" else "CPU"
    lines = [
        f"# {summary['request']}",
        f"# {summary['device']}; step {result.step_mean_us / 1e3:.2f} ms (mean of {result.active_steps} active steps); "
        f"FLOPs: {summary['flop_convention']}",
        f"# {overhead_statement(result)}",
        f"# {memory_statement(result)}",
        f"{'module':<{width}} {'calls':>5} {'total ms':>10} {'± ms':>8} {'self ms':>9} {'share':>6} {'CPU net mem':>12} "
        f"{device + ' peak mem':>13} {'MFLOP':>10} {'params':>9}  shapes",
    ]
    for name, row in zip(names, frame.itertuples(index=False)):
        lines.append(
            f"{name:<{width}} {row.calls:>5.0f} {row.total_us / 1e3:>10.3f} {row.total_std_us / 1e3:>8.3f} "
            f"{row.self_us / 1e3:>9.3f} {row.share * 100:>5.1f}% {format_bytes(row.cpu_mem_net):>12} "
            f"{format_bytes(row.cpu_mem_peak):>13} {row.flops / 1e6:>10.2f} {row.params:>9}  {row.input_shapes} -> {row.output_shapes}"
        )
    if operators:
        ops = operator_table(result, limit=operators)
        lines.append("")
        op_width = max([len("operator")] + [len(str(n)) for n in ops["name"]])
        lines.append(f"{'operator':<{op_width}} {'calls':>6} {'self ms':>10} {'total ms':>10}   (summed over active steps)")
        for op in ops.itertuples(index=False):
            lines.append(f"{op.name:<{op_width}} {op.calls:>6} {op.self_cpu_us / 1e3:>10.3f} {op.cpu_total_us / 1e3:>10.3f}")
    return "\n".join(lines)


def phase_records(result: PhaseProfile, phase: str, max_depth: int | None = None) -> list[dict[str, object]]:
    """One phase's module rows as plain dicts (times in ms per profiled step)."""
    table = result.table(phase)
    out = []
    for r in table.rows:
        if max_depth is not None and r.depth > max_depth:
            continue
        out.append({"phase": phase, "path": r.path, "depth": r.depth, "kind": r.kind, "category": r.category, "calls": r.calls,
                    "total_ms": r.total_us / 1e3, "self_ms": r.self_us / 1e3, "share": r.share, "mflop": r.flops / 1e6})
    return out


def phase_summary(result: PhaseProfile, phase: str) -> dict[str, object]:
    table = result.table(phase)
    return {
        "model": result.name, "phase": phase, "batch": result.batch, "prompt_tokens": result.prompt_len,
        "new_tokens": result.new_tokens, "attention_path": result.attention_path, "active_steps": result.active_steps,
        "phase_ms_profiled": table.profiled_us / 1e3, "phase_ms_plain": table.plain_median_s * 1e3,
        "tokens_per_s": table.tokens_per_s, "gflop": table.flops / 1e9, "kv_cache_bytes": table.cache_bytes,
        "weight_bytes": result.weight_bytes, "category_shares": table.category_shares(), "part_shares": table.part_shares(),
    }


def table_flops(result: PhaseProfile, phase: str) -> int:
    return result.table(phase).flops


def format_phase_table(result: PhaseProfile, phase: str, max_depth: int | None) -> str:
    s = phase_summary(result, phase)
    records = phase_records(result, phase, max_depth)
    names = ["  " * int(str(r["depth"])) + str(r["path"]) for r in records]
    width = max([len("module")] + [len(n) for n in names])
    category_shares: dict[str, float] = result.table(phase).category_shares()
    shares = ", ".join(f"{k} {v * 100:.1f}%" for k, v in sorted(category_shares.items(), key=lambda kv: -kv[1]))
    lines = [
        f"# {result.name}: {phase} of {result.prompt_len} prompt tokens" + (f" + {result.new_tokens} decode steps" if phase == "decode" else "")
        + f", batch {result.batch}, {result.attention_path} attention; module times are the mean of {result.active_steps} profiled steps",
        f"# {s['phase_ms_plain']:.1f} ms without the profiler (median step: {s['tokens_per_s']:.1f} tokens/s), {s['phase_ms_profiled']:.1f} ms profiled; "
        f"{format_flops(table_flops(result, phase))}; KV cache {format_bytes(float(result.table(phase).cache_bytes))} (weights {format_bytes(float(result.weight_bytes))})",
        f"# time share by kind (outermost module of each kind): {shares}",
        f"{'module':<{width}} {'calls':>6} {'total ms':>10} {'self ms':>10} {'share':>7} {'MFLOP':>10}",
    ]
    for name, r in zip(names, records):
        share = float(r["share"])  # type: ignore[arg-type]
        lines.append(f"{name:<{width}} {r['calls']:>6.0f} {r['total_ms']:>10.3f} {r['self_ms']:>10.3f} {100 * share:>6.1f}% {r['mflop']:>10.2f}")
    return "\n".join(lines)


def _write_trace(path: Path, trace_gz: bytes | None) -> None:
    if trace_gz is None:
        raise ProfilingError("no trace was recorded")
    try:
        path.write_bytes(gzip.decompress(trace_gz))
    except OSError as exc:
        raise ProfilingError(f"cannot write the trace to {path}: {exc.strerror or exc}") from None


def run_generation_cli(args: argparse.Namespace) -> int:
    """Two-phase profile of a generation model; prints the chosen phase(s) in ``args.format``."""
    import json

    if args.new_tokens < 1:
        raise ProfilingError(f"new tokens must be at least 1, got {args.new_tokens}")
    gen, tokenizer = generator_for(args.model)
    ids = prompt_ids(gen, tokenizer, args.seq_len, batch=1 if args.batch is None else args.batch)
    result = profile_phases(gen, ids, args.new_tokens, warmup=args.warmup, active=args.active, attention_path=args.attention,
                            keep_trace=args.trace is not None)
    if args.trace is not None:
        _write_trace(args.trace, result.chrome_trace_gz)
    phases = PHASES if args.phase == "both" else (args.phase,)
    if args.format == "json":
        payload = {p: {"summary": phase_summary(result, p), "modules": phase_records(result, p, args.depth)} for p in phases}
        sys.stdout.write(json.dumps(payload, indent=2, default=float) + "\n")
    elif args.format == "csv":
        import pandas as pd

        rows = [r for p in phases for r in phase_records(result, p, args.depth)]
        sys.stdout.write(table_csv(pd.DataFrame.from_records(rows)).decode())
    else:
        print("\n\n".join(format_phase_table(result, p, args.depth) for p in phases))
    return 0


def run_cli(args: argparse.Namespace) -> int:
    """Run one profile from parsed arguments, print it in ``args.format``; 0 on success, 2 on bad input."""
    try:
        if args.depth is not None and args.depth < 0:
            raise ProfilingError(f"depth must be 0 or more, got {args.depth}")
        if args.model in GENERATORS:
            return run_generation_cli(args)
        request = request_from_args(args)
        result = profile_model(request, keep_trace=args.trace is not None, max_seconds=args.max_seconds)
        if args.trace is not None:
            _write_trace(args.trace, result.chrome_trace_gz)
    except ProfilingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.format == "csv":
        sys.stdout.write(table_csv(module_table(result, args.depth)).decode())
    elif args.format == "json":
        sys.stdout.write(to_json(result, args.depth) + "\n")
    else:
        print(format_table(result, args.depth, args.operators))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.profiling", description="Per-module profile of a Transformer or ViT.")
    add_cli_arguments(parser)
    return run_cli(parser.parse_args(argv))
