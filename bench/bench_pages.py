"""Page cost: server-side rerun time and chart bytes of every page, against a baseline page.

Each page runs under ``AppTest`` (the script as the server runs it, without network or browser)
at its defaults and at its largest allowed input. "first" is the first run of a new session
(models loaded, per-input results not cached yet); "rerun" is the median of further reruns of the
same view (what a student waits for after moving a slider). Chart bytes are the Plotly JSON specs
the page sends. The baseline (``bench/baseline_page.py``) draws only one plain layers x heads
heatmap grid of the same size as the page's model, nothing else; it is timed in alternation with
the page. Targets: each page's rerun at defaults no slower than its baseline, and < 500 KB of charts.

Run: ``python -m bench.bench_pages``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.common import Measurement, print_table, write_json  # noqa: E402
from explorer.analysis import positions as pa  # noqa: E402
from explorer.inputs.text import MAX_PREFIX_CHARS  # noqa: E402

CHART_LIMIT = 500_000
LONG_TEXT = ("Thursday, the 26th of November, 2026 " * 8)[:256]
LONG_PREFIX = ("2026-11-26 " * 4)[:MAX_PREFIX_CHARS]

# page file -> (baseline grid (layers, heads, size), {case: query params})
PAGES: dict[str, tuple[tuple[int, int, int], dict[str, dict[str, str]]]] = {
    "transformer.py": ((2, 4, 26), {
        "defaults": {},
        "largest (64-char source, 32-char prefix, cross)": {"tf_text": LONG_TEXT, "tf_prefix": LONG_PREFIX, "tf_view": "cross"},
    }),
    "positional_encoding.py": ((1, 1, pa.DEFAULT_MAX_LEN), {
        "defaults": {},
        "largest (d_model, length 1024, grid 16)": {
            "pe_d_model": str(pa.D_MODEL_CAP), "pe_max_len": str(pa.MAX_LEN_CAP), "pe_grid": str(pa.GRID_CAP),
        },
    }),
    "vit.py": ((4, 4, 65), {
        "defaults": {},
        "largest (128 px resolution tab)": {"vit_tab": "Resolution", "vit_size": "128"},
    }),
    "profiler.py": ((2, 4, 64), {
        "defaults": {},
        "larger (sequence 512)": {"prof_seq_len": "512"},
    }),
}


def _chart_bytes(at: AppTest) -> int:
    return sum(len(chart.proto.spec) for chart in at.get("plotly_chart"))


def _timed(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(f"page raised: {[e.value for e in at.exception][:1]}")
    return time.perf_counter() - start


def _session(script: Path, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=600)
    at.query_params.update(params)
    return at


def measure_page(page: str, grid: tuple[int, int, int], cases: dict[str, dict[str, str]], reruns: int) -> list[Measurement]:
    rows: list[Measurement] = []
    layers, heads, size = grid
    baseline = _session(ROOT / "bench" / "baseline_page.py", {"layers": str(layers), "heads": str(heads), "size": str(size)})
    _timed(baseline)
    for case, params in cases.items():
        st.cache_data.clear()
        at = _session(ROOT / "app_pages" / page, params)
        first = _timed(at)
        page_times, base_times = [], []
        for _ in range(reruns):  # alternate page and baseline reruns
            page_times.append(_timed(at))
            base_times.append(_timed(baseline))
        rerun, base = statistics.median(page_times), statistics.median(base_times)
        charts = _chart_bytes(at)
        is_default = case == "defaults"
        rows.append(Measurement(
            "pages", f"{page} {case}: rerun / baseline", rerun / base, "x", "<= 1.0" if is_default else "", (rerun <= base) if is_default else None,
            f"rerun {rerun * 1e3:.0f} ms, baseline {base * 1e3:.0f} ms ({layers}x{heads} grid of {size}), first run {first:.2f} s",
        ))
        rows.append(Measurement(
            "pages", f"{page} {case}: chart data", charts / 1e3, "KB", f"< {CHART_LIMIT // 1000}", charts < CHART_LIMIT if is_default else None,
            f"{len(at.get('plotly_chart'))} charts",
        ))
    base_bytes = _chart_bytes(baseline)
    rows.append(Measurement("pages", f"baseline for {page}: chart data", base_bytes / 1e3, "KB"))
    return rows


def main(reruns: int = 5) -> list[Measurement]:
    rows: list[Measurement] = []
    for page, (grid, cases) in PAGES.items():
        rows += measure_page(page, grid, cases, reruns)
    print_table(rows)
    write_json("pages", rows)
    return rows


if __name__ == "__main__":
    main()
