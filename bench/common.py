"""Shared benchmark plumbing: interleaved timing, result records, table printing.

Ratios are taken side by side in the same run: the candidates are timed in alternation
(A B C A B C ...) so that a slow moment of the shared machine hits all of them alike,
and the median of the repeats is reported.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    """One benchmark figure: what, the value, what it is compared with, and whether the target is met."""

    benchmark: str
    case: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    detail: str = ""


def interleaved_medians(candidates: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median wall time (seconds) of each candidate, timed in alternation."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine_description() -> str:
    import os

    import torch

    return (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )


def print_table(rows: Sequence[Measurement]) -> None:
    """A fixed-width table on stdout."""
    header = f"{'benchmark':<14} {'case':<42} {'value':>12} {'unit':<8} {'target':<14} {'met':<6} detail"
    print(header)
    print("-" * len(header))
    for r in rows:
        met = "" if r.met is None else ("met" if r.met else "MISSED")
        print(f"{r.benchmark:<14} {r.case:<42} {r.value:>12.4g} {r.unit:<8} {r.target:<14} {met:<6} {r.detail}")


def write_json(name: str, rows: Sequence[Measurement]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"machine": machine_description(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "results": [asdict(r) for r in rows]}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


# The start of a script run in a fresh interpreter (``python -c``) to measure resident memory: a fresh
# process, so what a benchmark loaded before cannot count. ``{root}`` is filled by ``str.format``.
RSS_SCRIPT_PRELUDE = r"""
import json, sys
sys.path.insert(0, {root!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
import torch
torch.set_num_threads(2)
"""
