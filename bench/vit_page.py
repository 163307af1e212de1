"""Benchmark of the ViT page: server-side rerun time and Plotly chart bytes per view, and image-load time.

Run from the repository root: ``python bench/vit_page.py`` (prints JSON and writes bench/results/vit_page.json).
A real ``streamlit run app.py`` server is started and driven over its websocket by ``tools.stclient``
(no browser), so times are the server's rerun plus protobuf/websocket, without browser rendering.
"cold" = first visit of that view in a fresh session (the per-image model run may be cached by an earlier
view: the cache is process-wide); "warm" = median of 3 reruns of the same view (e.g. after moving a slider).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.inputs.images import load_image_with_info  # noqa: E402
from tools.server import start_server  # noqa: E402
from tools.stclient import StreamlitSession  # noqa: E402

VIEWS = {
    "defaults (Patches tab)": {},
    "Attention tab": {"vit_tab": "Attention"},
    "Rollout tab": {"vit_tab": "Rollout"},
    "Head analytics tab": {"vit_tab": "Head analytics"},
    "Export tab": {"vit_tab": "Export"},
    "Resolution tab, 64 px (default)": {"vit_tab": "Resolution"},
    "Resolution tab, 96 px": {"vit_tab": "Resolution", "vit_size": "96"},
    "Resolution tab, 128 px (largest)": {"vit_tab": "Resolution", "vit_size": "128"},
    "new sample (seed 123), Attention tab": {"vit_tab": "Attention", "vit_sample_seed": "123"},
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc: insensitive to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chart_bytes(result: object) -> int:
    return sum(len(c.proto.spec) for c in result.charts if c.kind == "plotly_chart")  # type: ignore[attr-defined]


def bench_page() -> dict[str, object]:
    server = start_server()
    out: dict[str, object] = {}
    try:
        with StreamlitSession(server.url) as warmup:
            warmup.open("vit")  # imports, model load
        for label, query in VIEWS.items():
            with StreamlitSession(server.url) as session:
                cpu0 = cpu_seconds(server.pid)
                first = session.open("vit", query)
                cpu1 = cpu_seconds(server.pid)
                assert first.ok, (label, first.exceptions, first.error_alerts)
                warm = [session.rerun().seconds for _ in range(3)]
                cpu_warm = (cpu_seconds(server.pid) - cpu1) / 3
                out[label] = {"cold_s": round(first.seconds, 3), "warm_median_s": round(statistics.median(warm), 3),
                              "cold_server_cpu_s": round(cpu1 - cpu0, 3), "warm_server_cpu_s": round(cpu_warm, 3),
                              "chart_bytes": chart_bytes(first), "charts": len([c for c in first.charts if c.kind == "plotly_chart"])}
        out["server_rss_mb"] = round(server.rss() / 1e6)
    finally:
        server.stop()
    return out


def bench_photo_load() -> dict[str, object]:
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 200, 4000)[None, :, None]
    pixels = (rng.random((3000, 4000, 3)) * 40 + gradient).astype(np.uint8)  # noisy, so it compresses like a photo
    result: dict[str, object] = {}
    for fmt in ("JPEG", "PNG"):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
        data = buffer.getvalue()
        times, cpu = [], []
        for _ in range(5):
            start, start_cpu = time.perf_counter(), time.process_time()
            load_image_with_info(data, f"photo.{fmt.lower()}")
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[f"4000x3000 {fmt}"] = {"megabytes": round(len(data) / 1e6, 1), "median_load_s": round(statistics.median(times), 3),
                                      "min_load_s": round(min(times), 3), "median_cpu_s": round(statistics.median(cpu), 3)}
    return result


if __name__ == "__main__":
    report = {"load_average_at_start": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(), "page": bench_page(), "image_load": bench_photo_load()}
    text = json.dumps(report, indent=2)
    print(text)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "vit_page.json").write_text(text + "\n")
