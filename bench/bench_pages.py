"""Page cost: server-side rerun time and chart bytes of every page, against a baseline page.

Each page runs under ``AppTest`` (the script as the server runs it, without network or browser)
at its defaults and at its largest allowed input. "first" is the first run of a new session
(models loaded, per-input results not cached yet); "rerun" is the median of further reruns of the
same view (what a student waits for after moving a slider). Chart bytes are the Plotly JSON specs
the page sends. The baseline (``bench/baseline_page.py``) draws only one plain layers x heads
heatmap grid of the same size as the page's model, nothing else; it is timed in alternation with
the page. Targets: each page's rerun at defaults no slower than its baseline, and < 500 KB of charts.

The language-model page's first run is a new visitor on a warmed server: the process first does what
the server does at start (``ui.preload.warm_language_model``: SmolLM2 loaded, the default view
computed), as ``streamlit run`` plus ``tools/warm.py`` do. ``--fresh-server`` measures the same on a
real just-started server over the websocket (``tools/stclient.py``): start, warm, wait for the
server's CPU to go idle (the background warm-up done), then a new session opens the page and the
time to ``script_finished`` with the next-token chart is its first result (target <= 3 s).

A running server compiles each page script once per process (its ``ScriptCache``); ``AppTest`` makes a
new cache, and compiles the page again, on every run (20-40 ms for a 250-line page, nothing for the
30-line baseline). The bench hands every run one shared cache, as the server has.

Run: ``python -m bench.bench_pages`` (every page), ``python -m bench.bench_pages --only language_model
--fresh-server`` (one page, plus the just-started-server first result). ``--only`` writes
``bench/results/pages_<page>.json`` so a one-page run never overwrites the all-pages table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
import streamlit.testing.v1.app_test as app_test_module  # noqa: E402
import streamlit.testing.v1.local_script_runner as local_runner_module  # noqa: E402
from streamlit.runtime.scriptrunner.script_cache import ScriptCache  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.common import Measurement, print_table, write_json  # noqa: E402
from explorer.analysis import positions as pa  # noqa: E402
from explorer.inputs.text import MAX_PREFIX_CHARS  # noqa: E402
from tools.server import wait_until_idle  # noqa: E402
from ui.preload import warm_language_model  # noqa: E402

CHART_LIMIT = 500_000
LONG_TEXT = ("Thursday, the 26th of November, 2026 " * 8)[:256]
LONG_PREFIX = ("2026-11-26 " * 4)[:MAX_PREFIX_CHARS]
LM_20_TOKENS = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Spain is Madrid"  # 20 tokens
FIRST_RESULT_LIMIT = 3.0  # seconds: a new visitor's first result on the language-model page

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
    "language_model.py": ((30, 9, 20), {
        "defaults": {},
        "20-token prompt": {"lm_text": LM_20_TOKENS},
        "value-weighted, generate 8": {"lm_vw": "true", "lm_generate": "true", "lm_tab": "Generate and KV cache"},
    }),
}
# One compiled-script cache for every run, as a server process has (see the module notes).
SERVER_SCRIPT_CACHE = ScriptCache()
app_test_module.ScriptCache = local_runner_module.ScriptCache = lambda: SERVER_SCRIPT_CACHE  # type: ignore[assignment,misc]

# What the server does at start for a page (ui/preload.py), done before its first run is timed.
WARM = {"language_model.py": warm_language_model}


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
    if page in WARM:
        WARM[page]()
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
        if page == "language_model.py" and is_default:
            rows.append(Measurement("pages", f"{page} {case}: first result, warmed server", first, "s", f"<= {FIRST_RESULT_LIMIT:g}",
                                    first <= FIRST_RESULT_LIMIT, "a new session's first run after the start-up warm-up (AppTest)"))
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


def fresh_server_first_result(page: str = "language-model", repeats: int = 3) -> list[Measurement]:
    """A new visitor's first result on a just-started, warmed server, over the real websocket protocol."""
    from tools.server import running_server
    from tools.stclient import StreamlitSession
    from tools.warm import warm

    with running_server() as server:
        started = time.perf_counter()
        warm(server.url)
        wait_until_idle(server.pid)
        total_warm = time.perf_counter() - started  # an upper bound: idle is seen one window after it begins
        times, charts_ok = [], []
        for _ in range(repeats):  # each a new session (a new student), defaults, no query
            with StreamlitSession(server.url, timeout=300) as session:
                result = session.open(page)
            titles = [json.loads(c.proto.spec).get("layout", {}).get("title", {}).get("text", "") for c in result.charts]
            charts_ok.append(result.ok and any(t.startswith("Next token") for t in titles))
            times.append(result.seconds)
        rss = server.rss()
    first = times[0]
    return [Measurement(
        "pages", f"{page}: first result, just-started server", first, "s", f"<= {FIRST_RESULT_LIMIT:g}",
        first <= FIRST_RESULT_LIMIT and all(charts_ok),
        f"new sessions {', '.join(f'{t:.2f}' for t in times)} s (next-token chart in each: {all(charts_ok)}); "
        f"start-up warm-up done within {total_warm:.0f} s of the health check; server RSS {rss / 2**20:.0f} MiB",
    )]


def main(reruns: int = 5, only: list[str] | None = None, fresh_server: bool = False) -> list[Measurement]:
    pages = {name: spec for name, spec in PAGES.items() if not only or name.removesuffix(".py") in only}
    if not pages:
        raise SystemExit(f"--only: no such page; pages are {', '.join(p.removesuffix('.py') for p in PAGES)}")
    rows: list[Measurement] = []
    for page, (grid, cases) in pages.items():
        rows += measure_page(page, grid, cases, reruns)
    if fresh_server:
        rows += fresh_server_first_result()
    print_table(rows)
    write_json("pages" if not only else "pages_" + "_".join(sorted(only)), rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", nargs="+", help="page names (file names without .py), e.g. language_model")
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--fresh-server", action="store_true", help="also time the language-model page's first result on a just-started server")
    args = parser.parse_args()
    main(args.reruns, args.only, args.fresh_server)
