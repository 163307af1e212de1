"""``python -m explorer profile``: the per-module table for scripts and lesson preparation.

The lead's ``explorer/cli.py`` builds the sub-parser with :func:`add_cli_arguments` and calls
:func:`run_cli`; ``python -m explorer.profiling`` runs the same thing stand-alone.
Bad input prints one line to stderr and returns a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from explorer.profiling.estimate import DEFAULT_MAX_SECONDS, format_bytes
from explorer.profiling.request import MODELS, MODES, ProfilingError, build_request
from explorer.profiling.runner import ProfileResult, profile_model
from explorer.profiling.tables import module_table, operator_table, result_summary, to_csv, to_json

FORMATS = ("table", "csv", "json")


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``profile`` options to ``parser`` (model, sizes, steps, mode, output format)."""
    parser.add_argument("--model", choices=MODELS, default="transformer", help="which model to profile")
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
    parser.add_argument("--batch", type=int, default=8, help="batch size")
    parser.add_argument("--seq-len", type=int, default=64, help="Transformer source and target length")
    parser.add_argument("--image-size", type=int, default=32, help="ViT image side in pixels")
    parser.add_argument("--mode", choices=MODES, default="forward", help="forward only, or train = forward + backward")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--wait", type=int, default=0, help="schedule: steps skipped before recording")
    parser.add_argument("--warmup", type=int, default=1, help="schedule: recorded-and-discarded steps")
    parser.add_argument("--active", type=int, default=3, help="schedule: measured steps")
    parser.add_argument("--depth", type=int, default=None, help="show modules down to this depth (0 = the model)")
    parser.add_argument("--operators", type=int, default=0, metavar="N", help="also print the top N operators (table format)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS * 5, help="refuse runs estimated to take longer")


def request_from_args(args: argparse.Namespace):  # noqa: ANN201 - ProfileRequest
    norm_first = None if args.norm_first is None else args.norm_first == "true"
    return build_request(
        args.model, trained=args.trained, d_model=args.d_model, n_heads=args.heads, n_kv_heads=args.kv_heads,
        n_layers=args.layers, d_ff=args.d_ff, activation=args.activation, norm_first=norm_first,
        positions=args.positions, patch_size=args.patch, batch_size=args.batch, seq_len=args.seq_len,
        image_size=args.image_size, mode=args.mode, device=args.device, wait=args.wait, warmup=args.warmup,
        active=args.active,
    )


def format_table(result: ProfileResult, max_depth: int | None, operators: int = 0) -> str:
    """A fixed-width text table: indented module paths, times in ms, memory, FLOPs, params."""
    frame = module_table(result, max_depth, include_device=False)
    summary = result_summary(result)
    lines = [
        f"# {summary['request']}",
        f"# {summary['device']}; step {result.step_mean_us / 1e3:.2f} ms (mean of {result.active_steps} active steps); "
        f"profiler overhead x{result.overhead_ratio:.2f}; FLOPs: {summary['flop_convention']}",
        f"{'module':<46} {'calls':>5} {'total ms':>10} {'± ms':>8} {'self ms':>9} {'share':>6} {'net mem':>10} {'peak mem':>10} {'MFLOP':>10} {'params':>9}  shapes",
    ]
    for row in frame.itertuples(index=False):
        name = "  " * int(row.depth) + str(row.path).rsplit(".", 1)[-1] if row.depth > 0 else str(row.path)
        lines.append(
            f"{name[:46]:<46} {row.calls:>5.0f} {row.total_us / 1e3:>10.3f} {row.total_std_us / 1e3:>8.3f} "
            f"{row.self_us / 1e3:>9.3f} {row.share * 100:>5.1f}% {format_bytes(row.cpu_mem_net):>10} "
            f"{format_bytes(row.cpu_mem_peak):>10} {row.flops / 1e6:>10.2f} {row.params:>9}  {row.input_shapes} -> {row.output_shapes}"
        )
    if operators:
        ops = operator_table(result, limit=operators)
        lines.append("")
        lines.append(f"{'operator':<40} {'calls':>6} {'self ms':>10} {'total ms':>10}   (summed over active steps)")
        for op in ops.itertuples(index=False):
            lines.append(f"{op.name[:40]:<40} {op.calls:>6} {op.self_cpu_us / 1e3:>10.3f} {op.cpu_total_us / 1e3:>10.3f}")
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    """Run one profile from parsed arguments, print it in ``args.format``; 0 on success, 2 on bad input."""
    try:
        if args.depth is not None and args.depth < 0:
            raise ProfilingError(f"depth must be 0 or more, got {args.depth}")
        request = request_from_args(args)
        result = profile_model(request, keep_trace=False, max_seconds=args.max_seconds)
    except ProfilingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.format == "csv":
        sys.stdout.write(to_csv(module_table(result, args.depth)))
    elif args.format == "json":
        sys.stdout.write(to_json(result, args.depth) + "\n")
    else:
        print(format_table(result, args.depth, args.operators))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.profiling", description="Per-module profile of a Transformer or ViT.")
    add_cli_arguments(parser)
    return run_cli(parser.parse_args(argv))
