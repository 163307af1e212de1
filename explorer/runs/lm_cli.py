"""``python -m explorer generate`` and ``python -m explorer heads``: SmolLM2 from the command line.

Kept out of ``explorer/cli.py`` so the argument definitions import nothing heavy; the handlers
load the model on demand. Refused input exits 2 with one line on stderr (via ``CliError``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from explorer.runs.lm import MAX_NEW_TOKENS, MAX_PROMPT_TOKENS, MAX_TOP_K, TEMPERATURE_MAX


def _error(message: str) -> Exception:
    from explorer.cli import CliError  # cli imports this module

    return CliError(message)


def _load(name: str) -> Any:  # a Pretrained
    from explorer.pretrained import ModelUnavailable, load_pretrained

    try:
        return load_pretrained(name)
    except ModelUnavailable as error:
        raise _error(str(error)) from error


def _generate(args: argparse.Namespace) -> int:
    from explorer.runs.lm import Sampling, check_prompt, clean_text, iter_generate

    if not clean_text(args.text)[0].strip():  # refuse before spending seconds on loading the model
        raise _error("the prompt is empty: type some text")
    if not 1 <= args.max_new_tokens <= MAX_NEW_TOKENS:
        raise _error(f"--max-new-tokens must be from 1 to {MAX_NEW_TOKENS}; got {args.max_new_tokens}")
    try:
        sampling = Sampling(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    except ValueError as error:
        raise _error(str(error)) from error
    lm = _load("smollm2-135m")
    check = check_prompt(args.text, lm.tokenizer, mode="chat" if args.chat else "complete", truncate=False)
    if not check.ok:
        raise _error(check.error or "the prompt was refused")
    for message in check.warnings:
        print(f"warning: {message}", file=sys.stderr)
    pieces: list[int] = []
    printed = ""
    for step in iter_generate(lm.model, lm.tokenizer, check.ids, args.max_new_tokens, sampling):
        if step.token_id == lm.tokenizer.eos_id:
            break
        pieces.append(step.token_id)
        text = lm.tokenizer.decode(pieces, skip_special=True)
        if not text.endswith("\ufffd"):  # wait for the rest of a character split across tokens
            sys.stdout.write(text[len(printed) :])
            sys.stdout.flush()
            printed = text
    sys.stdout.write(lm.tokenizer.decode(pieces, skip_special=True)[len(printed) :] + "\n")
    return 0


def _heads(args: argparse.Namespace) -> int:
    from explorer.analysis.head_roles import SCORES, head_roles

    lm = _load(args.model)
    rows = head_roles(lm.model, lm.tokenizer).table()
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=None)
        sys.stdout.write("\n")
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=["layer", "head", *SCORES], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return 0


def add_commands(commands: Any) -> None:  # argparse's private _SubParsersAction
    """Register ``generate`` and ``heads`` on the main parser's subcommands."""
    generate = commands.add_parser(
        "generate", help="continue a prompt with SmolLM2-135M-Instruct (our own implementation, greedy by default)"
    )
    generate.add_argument("text", help=f"the prompt (at most {MAX_PROMPT_TOKENS} tokens)")
    generate.add_argument("--max-new-tokens", type=int, default=16, help=f"1..{MAX_NEW_TOKENS} (default 16)")
    generate.add_argument("--temperature", type=float, default=0.0, help=f"0 = greedy (default), up to {TEMPERATURE_MAX:g}")
    generate.add_argument("--top-k", type=int, default=0, help=f"sample from the k most likely tokens (0 = off, up to {MAX_TOP_K})")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass in (0, 1] (1 = off)")
    generate.add_argument("--seed", type=int, default=0, help="random seed for sampling")
    generate.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template")
    generate.set_defaults(handler=_generate)

    heads = commands.add_parser("heads", help="what every attention head does: previous-token, induction, sink, self, entropy")
    heads.add_argument("model", choices=["smollm2-135m"])
    heads.add_argument("--format", choices=["json", "csv"], default="json")
    heads.set_defaults(handler=_heads)
