"""Benchmark of the positional-encoding page: server-side rerun time and Plotly chart bytes per section.

Run from the repository root: ``python bench/positional_encoding_page.py`` (prints JSON; the numbers are
kept in bench/results/positional_encoding_page.json). Uses AppTest, so times are the script's
server-side rerun (no network, no browser rendering); bytes are the Plotly JSON specs the page sends.
Each section is measured at the defaults and at the largest sizes the page allows.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from explorer.analysis import positions as pa  # noqa: E402

PAGE = str(ROOT / "app_pages" / "positional_encoding.py")
SECTIONS = ("Sinusoidal", "Learned", "RoPE", "ViT resolution", "Compare")
LARGEST = {"pe_d_model": str(pa.D_MODEL_CAP), "pe_max_len": str(pa.MAX_LEN_CAP), "pe_grid": str(pa.GRID_CAP)}


def chart_bytes(at: AppTest) -> int:
    return sum(len(c.proto.spec) for c in at.get("plotly_chart"))


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - start


def measure(section: str, params: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, object]:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.query_params.update({"pe_section": section, **params, **(extra or {})})
    first = timed_run(at)
    warm = [timed_run(at) for _ in range(3)]
    return {"first_s": round(first, 3), "rerun_median_s": round(statistics.median(warm), 3), "chart_bytes": chart_bytes(at)}


def main() -> dict[str, object]:
    AppTest.from_file(PAGE, default_timeout=300).run()  # imports and model loading, not counted
    out: dict[str, object] = {}
    for section in SECTIONS:
        out[f"{section} @ defaults"] = measure(section, {})
        out[f"{section} @ largest"] = measure(section, LARGEST)
    # The heaviest Compare pair: two full-size position x position matrices.
    out["Compare @ largest, sinusoidal vs RoPE, dot product"] = measure(
        "Compare", LARGEST, {"pe_cmp_a": "sinusoidal", "pe_cmp_b": "RoPE (random query and key)", "pe_cmp_metric": "dot product"}
    )
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
