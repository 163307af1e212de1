"""Run every benchmark, one after another, and write bench/RESULTS.md from their JSON results.

Usage: ``python bench/run.py`` (everything, about 20-30 minutes on 2 cores) or
``python bench/run.py models pages`` (a subset), ``python bench/run.py --report`` (only rewrite
RESULTS.md from the JSON already in bench/results/). Benchmarks are not tests: each figure is
printed with its target and "met"/"MISSED", and a miss does not fail the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCHES = {
    # name: (module, extra args, what it answers)
    "models": ("bench.bench_models", [], "1-2. Model speed against torch.nn.Transformer and transformers' ViT"),
    "profiler": ("bench.bench_profiler", [], "3. Profiler overhead"),
    "pages": ("bench.bench_pages", [], "4. Page cost against a baseline heatmap-grid page"),
    "startup": ("bench.bench_startup", [], "5. Start-up against importing torch and streamlit"),
    "memory": ("bench.bench_memory", [], "6. Server memory and rerun latency with 1, 10 and 30 sessions"),
    "training": ("bench.bench_training", [], "7. Training wall time"),
    "lm": ("bench.bench_lm", [], "8. SmolLM2-135M: prefill, decode and memory against transformers"),
    "marian": ("bench.bench_marian", [], "9. Marian en-pt against its native int8 engine"),
    "pages_language_model": ("bench.bench_pages", ["--only", "language_model", "--fresh-server"],
                             "10. The language-model page's first result on a just-started server"),
}
# Written by other commands than the ones above (their JSON has its own layout): reported, not run.
FIRST_VISIT = "first_visit.json"  # python -m bench.bench_first_visit
LOAD = {  # file: how it was made
    "load_class.json": "python -m tools.load --sessions 30 --class-duration 180",
    "load_burst.json": "python -m tools.load --sessions 30 --rounds 1",
    "load_lm.json": "python -m tools.load --sessions 30 --rounds 2 --pages language-model",
}


def run(names: list[str]) -> None:
    for name in names:
        module, extra, title = BENCHES[name]
        print(f"\n=== {title} ({module})", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", module, *extra], cwd=ROOT)
        print(f"=== {name}: exit {result.returncode} after {time.perf_counter() - start:.0f} s", flush=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4g}"
    return str(value)


def write_report() -> Path:
    lines = [
        "# Benchmark results",
        "",
        "Written by `python bench/run.py` from `bench/results/*.json`. Ratios are taken side by side in one run",
        "(candidates timed in alternation, medians reported). The machine is shared: see each file's date.",
        "",
    ]
    for name, (_module, _extra, title) in BENCHES.items():
        path = RESULTS / f"{name}.json"
        lines += [f"## {title}", ""]
        if not path.exists():
            lines += ["Not run yet.", ""]
            continue
        data = json.loads(path.read_text())
        lines += [f"Machine: {data.get('machine', '?')}; date: {data.get('date', '?')}", ""]
        lines += ["| case | value | unit | target | met | detail |", "| --- | --- | --- | --- | --- | --- |"]
        for row in data.get("results", []):
            met = "" if row.get("met") is None else ("met" if row["met"] else "**missed**")
            lines.append(
                f"| {row['case']} | {_fmt(row['value'])} | {row['unit']} | {row.get('target', '')} | {met} | {row.get('detail', '')} |"
            )
        lines.append("")
    lines += _first_visit_lines() + _load_lines()
    out = ROOT / "bench" / "RESULTS.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def _first_visit_lines() -> list[str]:
    path = RESULTS / FIRST_VISIT
    lines = ["## 11. A new visitor's first chart in Chromium (`python -m bench.bench_first_visit`)", ""]
    if not path.exists():
        return [*lines, "Not run yet.", ""]
    data = json.loads(path.read_text())
    lines += [f"Machine: {data.get('machine', '?')}; date: {data.get('date', '?')}", ""]
    lines += ["| case | page | first chart (median) | first text | Plotly loaded | renderer CPU | target | met |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in data.get("summary", []):
        median = row["median"]
        floor = row["page"] == "floor"  # the bare page: what no page can beat, not a page with a target
        target = "(the floor)" if floor else f"<= {row['target_s']} s"
        met = "" if floor else ("met" if row["met"] else "**missed**")
        seconds = {name: "-" if median[name] is None else f"{median[name]:.2f} s"  # the bare page has no text to time
                   for name in ("first_chart_s", "first_text_s", "plotly_loaded_s", "renderer_cpu_s")}
        lines.append(f"| {row['case']} | {row['page']} | {seconds['first_chart_s']} | {seconds['first_text_s']} | "
                     f"{seconds['plotly_loaded_s']} | {seconds['renderer_cpu_s']} | {target} | {met} |")
    return [*lines, ""]


def _load_lines() -> list[str]:
    lines = ["## 12. Load: a class on one server (`tools/load.py`)", "",
             "| pattern | command | sessions | runs | errors | p50 | p95 | max | peak RSS |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, command in LOAD.items():
        path = RESULTS / name
        if not path.exists():
            continue
        for report in json.loads(path.read_text()):
            peak = report.get("memory_mib", {}).get("peak")
            lines.append(f"| {name.removesuffix('.json')} | `{command}` | {report['sessions']} | {report['runs']} | {report['errors']} | "
                         f"{report['p50_s']:.2f} s | {report['p95_s']:.2f} s | {report['max_s']:.2f} s | {peak} MiB |")
    return [*lines, ""]


def main(argv: list[str]) -> int:
    if "--report" not in argv:
        names = [a for a in argv if not a.startswith("-")] or list(BENCHES)
        unknown = [n for n in names if n not in BENCHES]
        if unknown:
            print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHES)}", file=sys.stderr)
            return 2
        run(names)
    print(f"wrote {write_report()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
