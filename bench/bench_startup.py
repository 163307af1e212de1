"""Start-up: from ``streamlit run app.py`` to the home page drawn in headless Chromium.

Compared, in the same run, with the floor no Streamlit app with torch can beat: a fresh
Python process that only imports torch and streamlit. Target: <= 1.5x that floor.
The browser is launched before the clock starts (its own start-up is not the app's cost).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Measurement, print_table, write_json  # noqa: E402
from tools.server import free_port, streamlit_command, wait_http_ok  # noqa: E402

TARGET = 1.5
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def import_floor_seconds() -> float:
    """Wall time of a fresh interpreter importing torch and streamlit, nothing else."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, streamlit"], check=True, cwd=ROOT)
    return time.perf_counter() - start


def app_start_seconds(browser) -> float:  # playwright Browser
    """Seconds from spawning ``streamlit run`` to the home page's title and links being visible."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        streamlit_command(port, []), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/_stcore/health", timeout=120, proc=proc)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        page.get_by_role("heading", name="Transformer Explorer").wait_for(timeout=120_000)
        page.get_by_text("Positional encoding").first.wait_for(timeout=120_000)
        elapsed = time.perf_counter() - start
        page.close()
        return elapsed
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(repeats: int = 3) -> list[Measurement]:
    from playwright.sync_api import sync_playwright

    floors, starts = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):  # alternate, so a slow moment hits both
                floors.append(import_floor_seconds())
                starts.append(app_start_seconds(browser))
        finally:
            browser.close()
    floor, start = statistics.median(floors), statistics.median(starts)
    ratio = start / floor
    rows = [
        Measurement("startup", "import torch+streamlit (floor)", floor, "s", detail=f"median of {repeats}"),
        Measurement("startup", "streamlit run -> home page in Chromium", start, "s", detail=f"median of {repeats}"),
        Measurement("startup", "app start / import floor", ratio, "x", f"<= {TARGET}", ratio <= TARGET),
    ]
    print_table(rows)
    write_json("startup", rows)
    return rows


if __name__ == "__main__":
    main()
