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
    from explorer.decoding import generate  # keep `--help` fast
    from explorer.inputs.text import check_text
    from explorer.models import Transformer, TransformerConfig
    from explorer.zoo import load_model

    entry = load_model("dates")
    model, config = entry.model, entry.config
    if not isinstance(model, Transformer) or not isinstance(config, TransformerConfig):  # the zoo's "dates" is always one
        raise CliError(f"the dates model is a {type(model).__name__}, not a Transformer")
    check = check_text(args.text, entry.tokenizer, config.max_len)
    if not check.ok:
        raise CliError(check.error)
    for message in ([entry.warning] if entry.warning else []) + check.warnings:
        print(f"warning: {message}", file=sys.stderr)
    print(generate(model, entry.tokenizer, check.text).output)
    return 0


def _translate_marian(direction: str, text: str) -> int:
    """Greedy translation with our rebuild of Mozilla's tiny Marian (``--model en-pt|pt-en``)."""
    from explorer.inputs.translation import check_sentence
    from explorer.pretrained import ModelUnavailable, load_pretrained

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
    """One line per path: ``path<TAB>class<TAB>probability<TAB>in-distribution yes/no``.

    An unreadable file gets ``path<TAB>error: <reason>`` on its own line; the others are still
    classified, and the exit status is 2 if any file failed.
    """
    from explorer.classify import classify
    from explorer.inputs.images import load_image
    from explorer.zoo import load_model

    results: list[str | None] = []
    images = []
    for raw in args.paths:
        path = Path(raw)
        try:
            images.append(load_image(path.read_bytes(), path.name))
            results.append(None)
        except OSError as error:
            results.append(f"error: cannot read the file ({error.strerror or type(error).__name__})")
        except ValueError as error:  # ImageInputError: already one line
            results.append(f"error: {error}")
    entry = load_model(args.model)
    if entry.warning:
        print(f"warning: {entry.warning}", file=sys.stderr)
    predictions = iter(classify(entry, images))
    failed = 0
    for raw, problem in zip(args.paths, results):
        shown = "".join(ch if ch.isprintable() and ch != "\t" else "?" for ch in str(raw))
        if problem is not None:
            failed += 1
            print(f"{shown}\t{problem}")
            continue
        p = next(predictions)
        verdict = "unknown" if p.in_distribution is None else ("yes" if p.in_distribution else "no")
        print(f"{shown}\t{p.class_name}\t{p.probability:.3f}\t{verdict}")
    if failed:
        raise CliError(f"{failed} of {len(args.paths)} file(s) could not be classified")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from explorer import profiling

    return int(profiling.run_cli(args))


def _lab_cli(parser: argparse.ArgumentParser, module_name: str) -> None:
    """Options of a lab command (explorer.lab.cli, torch-free); its module is imported only when run."""
    from explorer.lab.cli import add_arguments

    add_arguments(parser, module_name)
    parser.set_defaults(handler=lambda args: int(importlib.import_module(module_name).main(args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Transformer Explorer from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a teaching model and write its checkpoint")
    train.add_argument("task", choices=["dates", "shapes", "fashion"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the task's own)")
    train.add_argument("--out-dir", default=None, help="where to write the checkpoint (default: explorer/checkpoints)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--epochs", type=int, default=None, help="fashion: training epochs (default: the task's own)")
    train.add_argument("--limit", type=int, default=None, help="fashion: train on the first N images only (smoke test)")
    train.add_argument("--evaluate-only", action="store_true", help="shapes/fashion: recompute calibration and OOD from saved weights")
    train.set_defaults(handler=_train)

    translate = commands.add_parser("translate", help="translate en<->pt with Mozilla's tiny Marian, or normalise a date")
    translate.add_argument("text")
    translate.add_argument(
        "--model", choices=["dates", "en-pt", "pt-en"], default="dates",
        help="dates (trained here, the default) or a pretrained Marian direction",
    )
    translate.set_defaults(handler=_translate)

    classify = commands.add_parser(
        "classify", help="classify images with a trained ViT: path, class, probability, in-distribution yes/no"
    )
    classify.add_argument("paths", nargs="+", metavar="PATH")
    classify.add_argument("--model", choices=["shapes", "fashion"], default="shapes", help="which ViT (default shapes)")
    classify.set_defaults(handler=_classify)

    lab = commands.add_parser("lab-train", help="train every architecture-lab variant on dates (same budget and seed)")
    _lab_cli(lab, "explorer.lab.table")
    snapshots = commands.add_parser("snapshots", help="retrain dates or shapes with the shipped seed, saving ~10 training snapshots")
    snapshots.add_argument("task", choices=["dates", "shapes"])
    _lab_cli(snapshots, "explorer.lab.snapshots")
    snapshots.set_defaults(handler=lambda args: int(importlib.import_module(
        "explorer.lab.vit_snapshots" if args.task == "shapes" else "explorer.lab.snapshots").main(args)))

    from explorer.runs import lm_cli  # argument definitions only; the model loads on use

    lm_cli.add_commands(commands)

    profile = commands.add_parser("profile", help="per-module torch.profiler table")
    try:
        from explorer import profiling

        profiling.add_cli_arguments(profile)
    except ImportError:  # pragma: no cover - profiler module not present yet
        pass
    profile.set_defaults(handler=_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from explorer.device import configure_threads

    configure_threads()
    try:
        return args.handler(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
