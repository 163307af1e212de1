"""SmolLM2-135M: our from-scratch LM against Hugging Face ``transformers`` with the same float32 weights.

* prefill of a 128-token prompt with every attention map recorded: ours (``return_attention=True``)
  / ``LlamaForCausalLM(output_attentions=True)`` with eager attention (what BertViz runs); target <= 1.0;
* decode tokens per second with the KV cache, 32 greedy tokens after a short prompt: ours
  (``explorer.runs.lm.generate``, which also computes each step's top-5 for the page) /
  ``transformers`` ``generate`` with its cache; target >= 1.0;
* decode tokens per second against the memory-bandwidth limit: every weight is read once per token,
  so the limit is (measured large-matrix read bandwidth) / (bytes of weights); aim >= 0.5. The
  bandwidth is the best of several float32 matrix-vector products over a 512 MiB matrix (the same
  access pattern as decoding), at the same 2 threads;
* RSS of a fresh process after loading SmolLM2 (and after loading every pretrained model too).

Run: ``python -m bench.bench_lm`` (2 torch threads, float32). Candidates are timed in alternation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RSS_SCRIPT_PRELUDE, Measurement, interleaved_medians, print_table, write_json  # noqa: E402

THREADS = 2
PREFILL_TOKENS = 128
DECODE_TOKENS = 32

_RSS_SCRIPT = RSS_SCRIPT_PRELUDE + r"""
from explorer.pretrained import PRETRAINED_NAMES, load_pretrained, pretrained_status
before = rss()
load_pretrained("smollm2-135m")
smol = rss()
loaded = ["smollm2-135m"]
for name in PRETRAINED_NAMES[1:]:
    if pretrained_status(name) is None:
        try:
            load_pretrained(name)
            loaded.append(name)
        except Exception as error:
            print(name, error, file=sys.stderr)
from explorer.zoo import load_model
for name in ("dates", "shapes"):
    load_model(name)
print(json.dumps({{"before": before, "smollm2": smol, "all": rss(), "loaded": loaded}}))
"""


def measure_bandwidth(threads: int = THREADS) -> float:
    """Bytes per second of a float32 matrix-vector product over a 512 MiB matrix (best of 7)."""
    import torch

    torch.set_num_threads(threads)
    matrix = torch.randn(8192, 16384)  # 512 MiB
    vector = torch.randn(16384)
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        matrix @ vector
        best = min(best, time.perf_counter() - start)
    return matrix.numel() * matrix.element_size() / best


def memory() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT.format(root=str(ROOT))], capture_output=True, text=True, check=True, timeout=900
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import torch

    from explorer.models.reference_llama import to_transformers_llama
    from explorer.pretrained import load_pretrained
    from explorer.runs.lm import generate

    torch.set_num_threads(THREADS)
    lm = load_pretrained("smollm2-135m")
    ours, tokenizer = lm.model, lm.tokenizer
    theirs = to_transformers_llama(ours, tokenizer.bos_id, tokenizer.eos_id)
    rows: list[Measurement] = []

    text = "The old lighthouse stood at the edge of the cliff, and every evening the keeper climbed the stairs. " * 12
    prefill_ids = torch.tensor([tokenizer.encode(text)[:PREFILL_TOKENS]])
    assert prefill_ids.shape[1] == PREFILL_TOKENS
    theirs.set_attn_implementation("eager")

    def ours_prefill() -> None:
        with torch.inference_mode():
            ours(prefill_ids, return_attention=True)

    def theirs_prefill() -> None:
        with torch.inference_mode():
            theirs(prefill_ids, output_attentions=True, use_cache=False)

    times = interleaved_medians({"ours": ours_prefill, "transformers": theirs_prefill}, repeats=7, warmup=1)
    ratio = times["ours"] / times["transformers"]
    rows.append(
        Measurement(
            "lm", f"prefill {PREFILL_TOKENS} tokens + all attention, ours/transformers", ratio, "x", "<= 1.0", ratio <= 1.0,
            f"ours {times['ours'] * 1e3:.0f} ms, transformers {times['transformers'] * 1e3:.0f} ms (medians of 7)",
        )
    )

    theirs.set_attn_implementation("sdpa")
    prompt = tokenizer.encode("The capital of France is")

    def ours_decode() -> None:
        generate(ours, tokenizer, prompt, DECODE_TOKENS, stop_at_eos=False)

    def theirs_decode() -> None:
        with torch.inference_mode():
            theirs.generate(
                torch.tensor([prompt]), max_new_tokens=DECODE_TOKENS, min_new_tokens=DECODE_TOKENS, do_sample=False
            )

    times = interleaved_medians({"ours": ours_decode, "transformers": theirs_decode}, repeats=5, warmup=1)
    ours_tps, theirs_tps = DECODE_TOKENS / times["ours"], DECODE_TOKENS / times["transformers"]
    rows.append(
        Measurement(
            "lm", f"decode tok/s with KV cache ({DECODE_TOKENS} tokens), ours/transformers", ours_tps / theirs_tps, "x",
            ">= 1.0", ours_tps / theirs_tps >= 1.0, f"ours {ours_tps:.1f} tok/s, transformers {theirs_tps:.1f} tok/s",
        )
    )

    bandwidth = measure_bandwidth()
    weight_bytes = lm.memory_bytes
    limit = bandwidth / weight_bytes
    rows.append(
        Measurement(
            "lm", "decode tok/s / memory-bandwidth limit", ours_tps / limit, "fraction", ">= 0.5", ours_tps / limit >= 0.5,
            f"{ours_tps:.1f} tok/s vs limit {limit:.1f} tok/s = {bandwidth / 2**30:.1f} GiB/s / {weight_bytes / 2**20:.0f} MiB of weights",
        )
    )
    mem = memory()
    rows.append(
        Measurement(
            "lm", "RSS after loading SmolLM2 (fresh process)", mem["smollm2"] / 2**20, "MiB", "", None,
            f"before {mem['before'] / 2**20:.0f} MiB; weights {weight_bytes / 2**20:.0f} MiB float32",
        )
    )
    rows.append(
        Measurement(
            "lm", "RSS with every model loaded", mem["all"] / 2**20, "MiB", "<= 1228.8 (1.2 GB)", mem["all"] / 2**20 <= 1228.8,
            f"loaded {', '.join(mem['loaded'])} + zoo dates, shapes",
        )
    )
    print_table(rows)
    print(f"wrote {write_json('lm', rows)}")


if __name__ == "__main__":
    main()
