"""First-visit speed in a real browser: how long a student waits for the first chart, and where it goes.

Two cases (issue 20, item 5), each in a fresh Chromium context (empty HTTP cache, like a new visitor):

- **new visitor, warm server**: the server has served the page before (models loaded, results cached),
  a student opens the page for the first time. Target: first chart <= 2.5 s.
- **shared link, just-started server**: ``streamlit run`` has just answered its health check (and, as
  the systemd unit does, ``tools/warm.py`` has opened the home page once), and a student opens a shared
  link to a model page. Target: first chart <= 8 s.

Where the time goes is read from the browser's own performance timeline (Navigation and Resource
Timing, plus a MutationObserver that stamps ``performance.now()`` when the first text and the first
Plotly SVG appear, and a wrapped WebSocket that stamps every message, whose type Playwright decodes):
HTML and the main bundle, the websocket, the server's script run (up to ``script_finished``), the
Plotly chunk (~4.7 MB, fetched only when the first chart element arrives) and what is left: parsing
and drawing.

A third case measures the floor on the same machine in the same run: **bare page, one heatmap**, the
bench's baseline page (``bench/baseline_page.py``) cut to one 16 x 16 heatmap and nothing else. No
page of ours can draw its first chart sooner than that; the gap between the two is our own cost.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright's Python API (never ``playwright install``).

Usage: python bench/bench_first_visit.py [--repeats 3] [--pages transformer,vit] [--out bench/results/first_visit.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.browser import CHROMIUM, CHROMIUM_ARGS
from tools.server import start_server
from tools.warm import warm

ROOT = Path(__file__).resolve().parent.parent
WARM_TARGET_S = 2.5
FLOOR_PATH = "?layers=1&heads=1"  # bench/baseline_page.py with one heatmap
COLD_TARGET_S = 8.0
# A link as a teacher would share it: a non-default view of each page.
SHARED_LINKS = {
    "transformer": "transformer?tf_text=14+July+1789&seed=3",
    "vit": "vit?vit_cls=triangle&vit_tab=Attention&seed=3",
    "positional-encoding": "positional-encoding?seed=3",
}

# Stamps, on the page's own clock (ms since navigation start), the first text and the first
# drawn chart in the main area, and every websocket message (Python decodes their types).
INIT_SCRIPT = """
(() => {
  const marks = {first_text: null, first_chart: null, ws_open: null, ws_messages: []};
  window.__fv = marks;
  const NativeWS = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new NativeWS(...args);
    if (String(args[0]).includes('_stcore/stream')) {
      ws.addEventListener('open', () => { if (marks.ws_open === null) marks.ws_open = performance.now(); });
      ws.addEventListener('message', () => marks.ws_messages.push(performance.now()));
    }
    return ws;
  };
  window.WebSocket.prototype = NativeWS.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  const look = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return;
    if (marks.first_text === null && main.querySelector('[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"]'))
      marks.first_text = performance.now();
    if (marks.first_chart === null && main.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg'))
      marks.first_chart = performance.now();
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true});
})();
"""

READ_TIMELINE = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map(r => ({
    name: r.name, start: r.startTime, end: r.responseEnd, transfer: r.transferSize,
    encoded: r.encodedBodySize, decoded: r.decodedBodySize}));
  return {marks: window.__fv, html_end: nav ? nav.responseEnd : null, dom_loaded: nav ? nav.domContentLoadedEventEnd : null, resources: res};
}
"""


@dataclass
class Visit:
    """One measured page load; times in seconds since navigation start."""

    case: str
    page: str
    first_chart_s: float | None
    first_text_s: float | None
    html_s: float | None
    main_bundle_s: float | None
    ws_open_s: float | None
    script_finished_s: float | None
    plotly_request_s: float | None
    plotly_loaded_s: float | None
    plotly_bytes_transferred: int | None
    plotly_bytes: int | None
    after_last_input_s: float | None  # first chart minus max(script_finished, plotly loaded): parse + draw
    renderer_cpu_s: float | None  # the page's renderer process CPU time until the chart (CDP ProcessTime): load-independent
    main_thread_cpu_s: float | None  # its main thread's CPU time (CDP ThreadTime)
    script_task_s: float | None  # wall time of JavaScript tasks (CDP ScriptDuration): inflated when the CPU is shared
    # Streamlit's code-highlighter chunk (1.6 MB, loaded by the first st.code box): when it arrived, None if never
    highlighter_loaded_s: float | None = None
    notes: list[str] = field(default_factory=list)


def _decode_types(frames: list[bytes]) -> list[str]:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kinds = []
    for payload in frames:
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
            kinds.append(msg.WhichOneof("type") or "?")
        except Exception:  # noqa: BLE001 - a frame we cannot read is just unknown
            kinds.append("?")
    return kinds


def visit(browser: Any, base_url: str, path: str, case: str, page: str, timeout_s: float = 120.0) -> Visit:
    """Open ``path`` in a fresh context (empty cache) and read the timeline once the first chart is drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    frames: list[bytes] = []
    try:
        tab = context.new_page()
        tab.add_init_script(INIT_SCRIPT)

        def on_ws(ws: Any) -> None:
            if "_stcore/stream" in ws.url:
                ws.on("framereceived", lambda p: frames.append(bytes(p)) if isinstance(p, (bytes, bytearray)) else None)

        tab.on("websocket", on_ws)
        cdp = context.new_cdp_session(tab)
        cdp.send("Performance.enable")
        tab.goto(f"{base_url}/{path}", wait_until="domcontentloaded")
        notes: list[str] = []
        try:
            tab.wait_for_function("() => window.__fv && window.__fv.first_chart !== null", timeout=timeout_s * 1000, polling=50)
        except Exception:  # noqa: BLE001 - reported as a missing figure, not a crash
            notes.append(f"no chart within {timeout_s:.0f} s")
            shot = ROOT / "test-results" / f"first_visit_{page}_no_chart.png"
            tab.screenshot(path=str(shot), full_page=True)
            notes.append(f"screenshot {shot.relative_to(ROOT)}")
        tab.wait_for_timeout(300)  # let the last websocket events reach Python
        timeline = tab.evaluate(READ_TIMELINE)
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        timeline["cpu"] = {k: metrics.get(k) for k in ("ProcessTime", "ThreadTime", "ScriptDuration")}
    finally:
        context.close()
    return _visit_from_timeline(case, page, timeline, _decode_types(frames), notes)


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000.0, 3)


def _visit_from_timeline(case: str, page: str, timeline: dict[str, Any], kinds: list[str], notes: list[str]) -> Visit:
    marks = timeline["marks"]
    stamps = marks["ws_messages"]
    finished = [t for t, k in zip(stamps, kinds) if k == "script_finished"]
    if len(stamps) != len(kinds):
        notes.append(f"{len(stamps)} stamped vs {len(kinds)} decoded websocket messages; script_finished may be off")
    chart = marks["first_chart"]
    # The run that drew the first chart: the first script_finished after... the chart needs the run's
    # deltas, which arrive before that run's script_finished; take the first one at or after the chart
    # if any, else the last one before it.
    run_end = next((t for t in finished if chart is not None and t >= chart), finished[-1] if finished else None)
    plotly = [r for r in timeline["resources"] if "PlotlyChart" in r["name"]]
    main = [r for r in timeline["resources"] if "/static/js/index." in r["name"]]
    p = plotly[0] if plotly else None
    highlighter = [r for r in timeline["resources"] if "SyntaxHighlighter" in r["name"]]
    after = None
    if chart is not None:
        inputs = [x for x in (p["end"] if p else None, min(finished) if finished else None) if x is not None]
        after = chart - max(inputs) if inputs else None
    return Visit(
        case=case,
        page=page,
        first_chart_s=_s(chart),
        first_text_s=_s(marks["first_text"]),
        html_s=_s(timeline["html_end"]),
        main_bundle_s=_s(main[0]["end"]) if main else None,
        ws_open_s=_s(marks["ws_open"]),
        script_finished_s=_s(min(finished)) if finished else _s(run_end),
        plotly_request_s=_s(p["start"]) if p else None,
        plotly_loaded_s=_s(p["end"]) if p else None,
        plotly_bytes_transferred=p["transfer"] if p else None,
        plotly_bytes=p["decoded"] if p else None,
        after_last_input_s=_s(after),
        renderer_cpu_s=_round(timeline["cpu"]["ProcessTime"]),
        main_thread_cpu_s=_round(timeline["cpu"]["ThreadTime"]),
        script_task_s=_round(timeline["cpu"]["ScriptDuration"]),
        highlighter_loaded_s=_s(highlighter[0]["end"]) if highlighter else None,
        notes=notes,
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def summarise(visits: list[Visit], case: str, page: str, target: float) -> dict[str, Any]:
    rows = [v for v in visits if v.case == case and v.page == page]
    fields = ("first_chart_s", "first_text_s", "html_s", "main_bundle_s", "ws_open_s", "script_finished_s",
              "plotly_request_s", "plotly_loaded_s", "after_last_input_s", "renderer_cpu_s", "main_thread_cpu_s", "script_task_s")
    medians = {name: _median([getattr(v, name) for v in rows]) for name in fields}
    charts = [v.first_chart_s for v in rows]
    worst = None if not charts or any(c is None for c in charts) else max(c for c in charts if c is not None)
    return {
        "case": case, "page": page, "visits": len(rows), "target_s": target, "median": medians,
        "worst_first_chart_s": worst, "met": worst is not None and worst <= target,
    }


def run(pages: list[str], repeats: int, cold_repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    visits: list[Visit] = []
    log_dir = ROOT / "test-results"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Shared link on a just-started server: a new server per try.
            for _attempt in range(cold_repeats):
                for page in pages:
                    server = start_server(log_dir=log_dir)
                    try:
                        warm(server.url)  # what deploy/explorer@.service's ExecStartPost does
                        v = visit(browser, server.url, SHARED_LINKS[page], "shared link, just-started server", page)
                        print(_line(v), flush=True)
                        visits.append(v)
                    finally:
                        server.stop()
            # The floor: a bare Streamlit page with one small heatmap, same browser, same visits.
            server = start_server(log_dir=log_dir, script=ROOT / "bench" / "baseline_page.py")
            try:
                visit(browser, server.url, FLOOR_PATH, "warm-up", "floor")
                for _ in range(repeats):
                    v = visit(browser, server.url, FLOOR_PATH, "bare page, one heatmap", "floor")
                    print(_line(v), flush=True)
                    visits.append(v)
            finally:
                server.stop()
            # New visitors on a warm server.
            server = start_server(log_dir=log_dir)
            try:
                warm(server.url)
                for page in pages:
                    visit(browser, server.url, page, "warm-up", page)  # the class's first student
                for _ in range(repeats):
                    for page in pages:
                        v = visit(browser, server.url, page, "new visitor, warm server", page)
                        print(_line(v), flush=True)
                        visits.append(v)
            finally:
                server.stop()
        finally:
            browser.close()
    summary = [summarise(visits, "bare page, one heatmap", "floor", WARM_TARGET_S)]
    summary += [summarise(visits, "new visitor, warm server", p, WARM_TARGET_S) for p in pages]
    if cold_repeats:
        summary += [summarise(visits, "shared link, just-started server", p, COLD_TARGET_S) for p in pages]
    return {
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (other work shares the machine)",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "chromium": str(CHROMIUM),
        "summary": summary,
        "visits": [asdict(v) for v in visits],
    }


def _line(v: Visit) -> str:
    def f(x: float | None) -> str:
        return "  -  " if x is None else f"{x:5.2f}"

    return (f"{v.case:<34} {v.page:<20} chart {f(v.first_chart_s)} text {f(v.first_text_s)} run-done {f(v.script_finished_s)} "
            f"plotly {f(v.plotly_request_s)}->{f(v.plotly_loaded_s)} parse+draw {f(v.after_last_input_s)} "
            f"renderer CPU {f(v.renderer_cpu_s)} highlighter {f(v.highlighter_loaded_s)} {' '.join(v.notes)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default="transformer,vit", help="comma-separated: transformer, vit, positional-encoding")
    parser.add_argument("--repeats", type=int, default=3, help="new visitors per page on the warm server")
    parser.add_argument("--cold-repeats", type=int, default=1, help="fresh servers per page for the shared-link case")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "first_visit.json")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [p for p in pages if p not in SHARED_LINKS]
    if unknown or args.repeats < 1 or args.cold_repeats < 0:
        print(f"bench_first_visit: bad arguments (pages must be among {', '.join(SHARED_LINKS)}; repeats >= 1)", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"bench_first_visit: {CHROMIUM} is missing (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    result = run(pages, args.repeats, args.cold_repeats)
    for row in result["summary"]:
        m = row["median"]
        print(f"{row['case']:<34} {row['page']:<20} median first chart {m['first_chart_s']} s, worst {row['worst_first_chart_s']} s, "
              + ("(the floor: no page draws sooner)" if row["page"] == "floor" else f"target <= {row['target_s']} s: {'met' if row['met'] else 'MISSED'}"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
