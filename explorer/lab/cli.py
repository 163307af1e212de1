"""Command-line options of ``lab-train`` and ``snapshots``, kept free of torch so ``--help`` stays instant."""

from __future__ import annotations

import argparse
from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
LAB_STEPS = 300  # must equal explorer.lab.table.Budget.steps (a test checks)


def add_arguments(parser: argparse.ArgumentParser, module_name: str) -> None:
    if module_name.endswith(".table"):
        parser.add_argument("--steps", type=int, default=LAB_STEPS, help=f"steps per variant (default {LAB_STEPS})")
        parser.add_argument("--seed", type=int, default=0, help="seed for every variant (default 0)")
        parser.add_argument("--only", default=None, help="comma-separated switches: train just this one mix")
        parser.add_argument("--out", type=Path, default=CHECKPOINTS / "lab_table.json", help="output (default: the shipped table)")
    else:
        parser.add_argument("--out-dir", type=Path, default=CHECKPOINTS, help="where to write <task>_snapshots.pt/.json")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
