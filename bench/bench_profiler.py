"""Profiler overhead: explorer's per-module run vs a plain torch.profiler run of the same steps vs no profiler.

Three ways to run the same steps of the same model on the same inputs, timed in alternation
(rounds of A B C, so a slow moment of the shared machine hits all three alike):

* **none** - the steps with no profiler;
* **torch.profiler** - the steps under ``torch.profiler.profile`` with the explorer's settings
  (schedule, ``record_shapes``, ``profile_memory``) but no module scopes;
* **explorer** - the same, plus the per-module ``module::<path>`` scopes the explorer installs.

Reported per configuration: median active-step wall time of each, the explorer / torch.profiler
ratio (target <= 1.1: the per-module view should cost little beyond the profiler itself) and the
torch.profiler / none ratio (the profiler's own cost, shown on the page as "overhead"). End to
end, ``profile_model`` also runs an untimed FLOP pass and an unprofiled reference of the same
steps and parses the events; that whole-call time is reported against a plain
``profile`` + ``key_averages()`` of the same steps, for information.

Two more measurements (issue 16):

* **SmolLM2 prefill**: the same explorer / torch.profiler ratio for the prefill of a 64-token
  prompt through the real 135M-parameter model (module ranges on a skeleton copy that shares the
  weights), target <= 1.1;
* **default scaling sweep**: the page's default sweep (batch 1 up to T = 8 d_model) of a
  the page's default Transformer (d_model 128); the measured attention time exponent over the upper half beside the
  counted FLOP exponent (target: within 0.2 on a quiet machine), with its standard error.

Run: ``python -m bench.bench_profiler`` (add ``--quick`` for one small configuration).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Measurement, machine_description, print_table, write_json
from explorer.device import configure_threads
from explorer.profiling import build_request, profile_model
from explorer.profiling.request import build_model, make_inputs
from explorer.profiling.runner import _make_step, install_scopes, skeleton_copy

TARGET = 1.1

CONFIGS = {
    "transformer d128 2+2 T64 B8": dict(model="transformer", d_model=128, n_heads=4, n_layers=2, d_ff=512, seq_len=64, batch_size=8),
    "vit d64 4 layers 32px B8": dict(model="vit", d_model=64, n_heads=4, n_layers=4, d_ff=128, image_size=32, batch_size=8),
    "transformer d256 4+4 T128 B8": dict(model="transformer", d_model=256, n_heads=8, n_layers=4, d_ff=1024, seq_len=128, batch_size=8),
}


CLOCK = time.perf_counter  # set by --clock


def _profiled_steps(step, request, steps: int) -> list[float]:
    walls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(
            activities=[ProfilerActivity.CPU],
            schedule=schedule(wait=0, warmup=1, active=steps, repeat=1),
            record_shapes=request.record_shapes,
            profile_memory=request.profile_memory,
        ) as prof:
            for i in range(steps + 1):
                start = CLOCK()
                step()
                if i >= 1:
                    walls.append(CLOCK() - start)
                prof.step()
        prof.events()  # both sides pay for parsing the events they will be read from
    return walls


def _plain_steps(step, steps: int) -> list[float]:
    step()
    walls = []
    for _ in range(steps):
        start = CLOCK()
        step()
        walls.append(CLOCK() - start)
    return walls


def bench_config(name: str, spec: dict, rounds: int, steps: int) -> list[Measurement]:
    request = build_request(warmup=1, active=steps, **spec)
    plain_model = build_model(request)
    scoped_model = build_model(request)
    scoped_model.load_state_dict(plain_model.state_dict())
    install_scopes(scoped_model)
    inputs = make_inputs(request)
    plain_step = _make_step(plain_model, inputs, train=False, scoped=False)
    scoped_step = _make_step(scoped_model, inputs, train=False, scoped=True)
    samples: dict[str, list[float]] = {"none": [], "torch.profiler": [], "explorer": []}
    ratios_scopes: list[float] = []
    ratios_profiler: list[float] = []
    for _ in range(rounds):
        none = statistics.median(_plain_steps(plain_step, steps))
        prof = statistics.median(_profiled_steps(plain_step, request, steps))
        expl = statistics.median(_profiled_steps(scoped_step, request, steps))
        samples["none"].append(none)
        samples["torch.profiler"].append(prof)
        samples["explorer"].append(expl)
        ratios_scopes.append(expl / prof)
        ratios_profiler.append(prof / none)
    ratio = statistics.median(ratios_scopes)
    rows = [
        Measurement("profiler", f"{name}: step, no profiler", statistics.median(samples["none"]) * 1e3, "ms"),
        Measurement("profiler", f"{name}: step, torch.profiler", statistics.median(samples["torch.profiler"]) * 1e3, "ms"),
        Measurement("profiler", f"{name}: step, explorer scopes", statistics.median(samples["explorer"]) * 1e3, "ms"),
        Measurement(
            "profiler", f"{name}: explorer / torch.profiler", ratio, "x", target=f"<= {TARGET}", met=ratio <= TARGET,
            detail=f"{CLOCK.__name__}; median of {rounds} interleaved rounds x {steps} active steps; spread {min(ratios_scopes):.2f}-{max(ratios_scopes):.2f}",
        ),
        Measurement(
            "profiler", f"{name}: torch.profiler / none", statistics.median(ratios_profiler), "x",
            detail="the profiler's own cost (record_shapes + profile_memory)",
        ),
    ]
    # End to end: the explorer's whole call vs a plain profile + key_averages of the same steps.
    e2e_explorer, e2e_plain = [], []
    for _ in range(max(2, rounds // 2)):
        start = time.perf_counter()
        _profiled_steps(plain_step, request, steps)
        e2e_plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        profile_model(request, keep_trace=False, measure_overhead=False)
        e2e_explorer.append(time.perf_counter() - start)
    rows.append(
        Measurement(
            "profiler", f"{name}: profile_model() / plain run", statistics.median(e2e_explorer) / statistics.median(e2e_plain), "x",
            detail="whole call incl. model copy, untimed FLOP pass and table building (information)",
        )
    )
    return rows


def bench_smollm2_prefill(rounds: int, steps: int, prompt: int = 64) -> list[Measurement]:
    """explorer scopes / plain torch.profiler for SmolLM2's prefill (skipped when the model is not installed)."""
    from explorer.pretrained import load_pretrained, pretrained_status
    from explorer.profiling.phases import lm_generator, prompt_ids

    status = pretrained_status("smollm2-135m")
    if status is not None:
        return [Measurement("profiler", "SmolLM2 prefill: explorer / torch.profiler", float("nan"), "x", detail=f"skipped: {status}")]
    pre = load_pretrained("smollm2-135m")
    gen = lm_generator(pre.model)
    ids = prompt_ids(gen, pre.tokenizer, prompt)
    plain_model = skeleton_copy(pre.model)
    scoped_model = skeleton_copy(pre.model)
    install_scopes(scoped_model)
    request = build_request(warmup=1, active=steps, model="transformer", d_model=32, n_heads=2, n_layers=1, d_ff=32, seq_len=8)

    def step_of(model):
        def step() -> None:
            with torch.no_grad():
                gen.prefill(model, ids, None)
        return step

    plain_step, scoped_step = step_of(plain_model), step_of(scoped_model)
    ratios, prof_s, expl_s = [], [], []
    for _ in range(rounds):
        prof = statistics.median(_profiled_steps(plain_step, request, steps))
        expl = statistics.median(_profiled_steps(scoped_step, request, steps))
        prof_s.append(prof)
        expl_s.append(expl)
        ratios.append(expl / prof)
    ratio = statistics.median(ratios)
    name = f"SmolLM2-135M prefill {prompt} tokens"
    return [
        Measurement("profiler", f"{name}: step, torch.profiler", statistics.median(prof_s) * 1e3, "ms"),
        Measurement("profiler", f"{name}: step, explorer scopes", statistics.median(expl_s) * 1e3, "ms"),
        Measurement(
            "profiler", f"{name}: explorer / torch.profiler", ratio, "x", target=f"<= {TARGET}", met=ratio <= TARGET,
            detail=f"{CLOCK.__name__}; median of {rounds} interleaved rounds x {steps} steps; spread {min(ratios):.2f}-{max(ratios):.2f}",
        ),
    ]


def bench_default_sweep(d_model: int = 128) -> list[Measurement]:
    """The page's default configuration (d_model 128, 4 heads, 2+2 layers, d_ff 512) and its default sweep
    (batch 1 up to T = 8 d_model): measured vs counted attention exponent."""
    from explorer.profiling import scaling_sweep
    from explorer.profiling.captions import AGREE_WITHIN

    request = build_request("transformer", d_model=d_model, n_heads=4, n_layers=2, d_ff=4 * d_model, seq_len=64)  # the page's defaults
    start = time.perf_counter()
    sweep = scaling_sweep(request, max_seconds=600)
    seconds = time.perf_counter() - start
    time_k, flop_k = sweep.time_exponent["attention"], sweep.flops_exponent["attention"]
    se = sweep.time_exponent_se["attention"]
    gap = abs(time_k - flop_k)
    label = f"default sweep d_model {d_model} (T = {sweep.tokens[0]}..{sweep.tokens[-1]}, batch 1)"
    return [
        Measurement("profiler", f"{label}: attention time exponent", time_k, "",
                    detail=f"upper half T = {sweep.tokens[len(sweep.tokens) // 2 - 1]}..{sweep.tokens[-1]}; standard error {se:.2f}; sweep took {seconds:.1f} s"),
        Measurement("profiler", f"{label}: attention FLOP exponent", flop_k, ""),
        Measurement("profiler", f"{label}: attention time above the smallest size, exponent", sweep.net_time_exponent["attention"], "",
                    detail="fit of (median time - median time at the smallest T): the fixed per-call cost taken out"),
        Measurement("profiler", f"{label}: |time - FLOP exponent|", gap, "", target=f"<= {AGREE_WITHIN}", met=gap <= AGREE_WITHIN,
                    detail=f"{sweep.clock}, per-step medians, profiler off; feed-forward time exponent "
                    f"{sweep.time_exponent['feed_forward']:.2f} (FLOPs {sweep.flops_exponent['feed_forward']:.2f})"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only the first (small) configuration")
    parser.add_argument("--only", choices=("all", "configs", "smollm2", "sweep"), default="all", help="run one part only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a shared machine extra threads mostly measure contention)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu = this thread's CPU time (insensitive to other processes; exact with --threads 1), wall = perf_counter")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    configure_threads(args.threads)
    torch.manual_seed(0)
    configs = dict(list(CONFIGS.items())[:1]) if args.quick else CONFIGS
    rounds = args.rounds
    rows: list[Measurement] = []
    if args.only in ("all", "configs"):
        for name, spec in configs.items():
            rows.extend(bench_config(name, spec, rounds, args.steps))
        # The page's own honest number, for the same default configuration and the page's default schedule.
        result = profile_model(build_request(**CONFIGS["transformer d128 2+2 T64 B8"]), keep_trace=False)
        low, high = result.overhead_range
        rows.append(Measurement("profiler", "page overhead ratio (default config)", result.overhead_ratio, "x",
                                detail=f"median profiled step / median unprofiled step, as the page reports it; quartile band {low:.2f}-{high:.2f}"))
    if args.only in ("all", "smollm2"):
        rows.extend(bench_smollm2_prefill(rounds, args.steps))
    if args.only in ("all", "sweep"):
        rows.extend(bench_default_sweep())
    print(machine_description() + f"; step clock: {args.clock}")
    print_table(rows)
    path = write_json("profiler" if args.only == "all" else f"profiler_{args.only}", rows)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
