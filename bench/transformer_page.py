"""Benchmark of the Transformer page: server-side rerun time and Plotly chart bytes.

Run from the repository root: ``python bench/transformer_page.py`` (prints JSON and writes
bench/results/transformer_page.json). Uses AppTest, so times are the script's server-side run
(no network, no browser rendering); bytes are the Plotly JSON specs the page sends.

Cases: the defaults, each attention view, and the maximum length (a source cut at the model's
max_len plus the longest teacher-forcing prefix, so the decoder maps are as large as they get).
"cold" = a rerun in an open session with a new input (the per-input model run is not cached: generation
plus the recording pass); "warm" = a rerun of the same input (cached model run, e.g. after moving the layer
or head control). Each is the median or single value of a server-side script run. "warm_server_ms" is the
median of what the page itself reports at the bottom ("Server time for this view"): the script body from
its title on, without AppTest's and Streamlit's per-run overhead, so it is the number to compare with the
page. ``--out PATH`` writes the JSON elsewhere (e.g. to compare two checkouts without touching the
committed results).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from explorer.inputs.text import MAX_PREFIX_CHARS  # noqa: E402

PAGE = str(ROOT / "app_pages" / "transformer.py")
LONG_TEXT = ("Thursday, the 26th of November, 2026 " * 8)[:256]
LONG_PREFIX = ("2026-11-26 " * 4)[:MAX_PREFIX_CHARS]
WARM_RUNS = 7  # the machine is shared: medians of several reruns


def chart_bytes(at: AppTest) -> int:
    return sum(len(c.proto.spec) for c in at.get("plotly_chart"))


def page_server_ms(at: AppTest) -> int | None:
    """The page's own "Server time for this view: N ms" caption (None if the page stopped early)."""
    for caption in at.caption:
        match = re.search(r"Server time for this view: (\d+) ms", caption.value)
        if match:
            return int(match.group(1))
    return None


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - start


def measure(params: dict[str, str]) -> dict[str, object]:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.query_params.update(params)
    timed_run(at)  # a new session's first run (script set-up), not counted
    st.cache_data.clear()  # the next run is a new input: the model runs again
    cold = timed_run(at)
    warm: list[float] = []
    server: list[int] = []
    for _ in range(WARM_RUNS):
        warm.append(timed_run(at))
        reported = page_server_ms(at)
        if reported is not None:
            server.append(reported)
    return {
        "cold_s": round(cold, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_server_ms": statistics.median(server) if server else None,
        "chart_bytes": chart_bytes(at),
        "charts": len(at.get("plotly_chart")),
    }


def main() -> dict[str, object]:
    AppTest.from_file(PAGE, default_timeout=300).run()  # imports and model loading, not counted
    out: dict[str, object] = {}
    for view in ("encoder", "decoder", "cross"):
        out[f"defaults, view={view}"] = measure({"tf_view": view})
    out["defaults, view=cross, heads=mean"] = measure({"tf_view": "cross", "tf_heads": "mean"})
    out["defaults, decoder, mask mistake on"] = measure({"tf_view": "decoder", "tf_mistake": "true"})
    for view in ("encoder", "decoder", "cross"):
        out[f"max length, view={view}"] = measure({"tf_text": LONG_TEXT, "tf_prefix": LONG_PREFIX, "tf_view": view})
    out["max length, untrained, cross"] = measure({"tf_text": LONG_TEXT, "tf_prefix": LONG_PREFIX, "tf_view": "cross", "tf_model": "untrained"})
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transformer_page.json")
    args = parser.parse_args()
    results = main()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
