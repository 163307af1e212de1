"""The architecture lab and the training scrubber.

* :mod:`explorer.lab.switches` — the original Transformer against PaLM's changes
  (Chowdhery et al. 2022, Section 2) and pre-LN, each a switch of the from-scratch model.
* :mod:`explorer.lab.costs` — parameters, FLOPs and KV-cache bytes in closed form.
* :mod:`explorer.lab.latency` — measured prefill and per-generated-token latency.
* :mod:`explorer.lab.table` — ``python -m explorer lab-train``: every variant trained on the
  dates task with the same budget and seed, written to ``checkpoints/lab_table.json``.
* :mod:`explorer.lab.snapshots` — the dates model at ~10 points of its training run.
"""
