"""Command line: ``python -m explorer train|translate|classify|profile``.

Each subcommand delegates to the library; bad input exits non-zero with one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _train(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"explorer.training.{args.task}")
    result = module.main(args)
    return int(result) if isinstance(result, int) else 0


def _translate(args: argparse.Namespace) -> int:
    if args.model != "dates":
        return _translate_marian(args.model, args.text)
    from explorer.decoding import generate  # noqa: PLC0415 - keep `--help` fast
    from explorer.inputs.text import check_text  # noqa: PLC0415
    from explorer.zoo import load_model  # noqa: PLC0415

    entry = load_model("dates")
    check = check_text(args.text, entry.tokenizer, entry.config.max_len)
    if not check.ok:
        raise CliError(check.error)
    for message in ([entry.warning] if entry.warning else []) + check.warnings:
        print(f"warning: {message}", file=sys.stderr)
    print(generate(entry.model, entry.tokenizer, check.text).output)
    return 0


def _translate_marian(direction: str, text: str) -> int:
    """Greedy translation with our rebuild of Mozilla's tiny Marian (``--model en-pt|pt-en``)."""
    from explorer.inputs.translation import check_sentence  # noqa: PLC0415
    from explorer.pretrained import ModelUnavailable, load_pretrained  # noqa: PLC0415

    try:
        entry = load_pretrained(f"marian-{direction}")
    except ModelUnavailable as error:
        raise CliError(str(error)) from error
    check = check_sentence(text, entry.tokenizer, truncate=False)
    if not check.ok:
        raise CliError(check.error)
    for message in check.warnings:
        print(f"warning: {message}", file=sys.stderr)
    print(entry.tokenizer.decode(entry.model.greedy(check.ids).ids))
    return 0


def _classify(args: argparse.Namespace) -> int:
    import torch  # noqa: PLC0415

    from explorer.inputs.images import load_image, to_square  # noqa: PLC0415
    from explorer.zoo import load_model  # noqa: PLC0415

    path = Path(args.path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        image = to_square(load_image(data, path.name), "pad")  # as the ViT page does by default
    except ValueError as error:
        raise CliError(str(error)) from error
    entry = load_model("shapes")
    if entry.warning:
        print(f"warning: {entry.warning}", file=sys.stderr)
    assert entry.preprocess is not None
    device = next(entry.model.parameters()).device
    with torch.inference_mode():
        logits = entry.model(entry.preprocess(image)[None].to(device)).logits[0]
    probs = torch.softmax(logits, dim=-1)
    best = int(probs.argmax())
    print(f"{entry.classes[best]}\t{float(probs[best]):.3f}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from explorer import profiling  # noqa: PLC0415

    return int(profiling.run_cli(args))


def _lab_cli(parser: argparse.ArgumentParser, module_name: str) -> None:
    """Options of a lab command (explorer.lab.cli, torch-free); its module is imported only when run."""
    from explorer.lab.cli import add_arguments  # noqa: PLC0415

    add_arguments(parser, module_name)
    parser.set_defaults(handler=lambda args: int(importlib.import_module(module_name).main(args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Transformer Explorer from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a teaching model and write its checkpoint")
    train.add_argument("task", choices=["dates", "shapes"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the task's own)")
    train.add_argument("--out-dir", default=None, help="where to write the checkpoint (default: explorer/checkpoints)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    translate = commands.add_parser("translate", help="translate en<->pt with Mozilla's tiny Marian, or normalise a date")
    translate.add_argument("text")
    translate.add_argument(
        "--model", choices=["dates", "en-pt", "pt-en"], default="dates",
        help="dates (trained here, the default) or a pretrained Marian direction",
    )
    translate.set_defaults(handler=_translate)

    classify = commands.add_parser("classify", help="classify an image with the trained shapes ViT")
    classify.add_argument("path")
    classify.set_defaults(handler=_classify)

    lab = commands.add_parser("lab-train", help="train every architecture-lab variant on dates (same budget and seed)")
    _lab_cli(lab, "explorer.lab.table")
    snapshots = commands.add_parser("snapshots", help="retrain dates with the shipped seed, saving ~10 training snapshots")
    snapshots.add_argument("task", choices=["dates"])
    _lab_cli(snapshots, "explorer.lab.snapshots")

    from explorer.runs import lm_cli  # noqa: PLC0415 - argument definitions only; the model loads on use

    lm_cli.add_commands(commands)

    profile = commands.add_parser("profile", help="per-module torch.profiler table")
    try:
        from explorer import profiling  # noqa: PLC0415

        profiling.add_cli_arguments(profile)
    except ImportError:  # pragma: no cover - profiler module not present yet
        pass
    profile.set_defaults(handler=_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from explorer.device import configure_threads  # noqa: PLC0415

    configure_threads()
    try:
        return args.handler(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
