"""Many students at once: N real sessions rerunning every page concurrently, with latency and memory.

Each session is a websocket to Streamlit's ``/_stcore/stream`` speaking the app's own protocol
(``tools/stclient.py``), so 30 sessions cost 30 sockets, not 30 browsers. Every session opens the
app with its own seed in the link (``?seed=<1000+i>``), then cycles through every page; on each page it
opens the page (one rerun) and changes one widget the way a student would (a second rerun).

Reported: p50/p95/max rerun latency (send -> ``script_finished``), overall and per page; errors
(exceptions shown, ``st.error`` messages, timeouts, closed sockets, and *isolation* errors: a run
whose seed widget, or whose server-drawn "link to this view", shows a seed other than the session's
own, i.e. one session's state leaking into another or lost on the way);
and the server's resident memory (VmRSS from /proc, with its child processes) at start, after a
one-session warm-up, at peak during the load, and after every session has closed.

Usage::

    python tools/load.py --sessions 30 --rounds 2                  # starts its own server (free port)
    python tools/load.py --url http://127.0.0.1:8501 --pid 1234    # against a running server
    python tools/load.py --sessions 10 --json artifacts/load-10.json

Only loopback targets are intended: the tool refuses a URL whose host is not on this machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: make "tools" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.server import StreamlitServer, rss_bytes, start_server, wait_until_idle
from tools.stclient import Element, ProtocolError, RunResult, StreamlitSession
from ui.share import link_in_box

PAGES = ("transformer", "positional-encoding", "vit", "profiler", "home")

# Sample inputs that each page's "student action" cycles through; sessions pick by their index, so
# concurrent sessions ask for different things and a leak between them would show.
DATES = ("26 Nov 2026", "March 3, 1999", "Tuesday 7 July 2015", "2001/09/11", "1st January 2000", "12.10.1492")

# Preferred widget keys per page, tried in order; the first one present on the page is changed.
# When none is present (a page changed its keys), any numeric slider/number input is used instead.
PAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    "transformer": ("tf_text",),
    "positional-encoding": ("pe_max_len", "pe_shift", "pe_d_model"),
    "vit": ("vit_sample_seed", "vit_layer", "vit_head"),
    "profiler": ("prof_seq_len", "prof_batch"),
    "home": (),
    "language-model": ("lm_text",),  # a new prompt: a forward pass with every head's attention recorded
}
SKIP_KEYS = frozenset({"seed"})  # the seed is the isolation probe; never change it


def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.0f} MiB"


def seed_of(result: RunResult, session: StreamlitSession | None = None) -> int | None:
    """The seed the shared sidebar's widget shows after this run (None if it is absent).

    The server sends a widget's value only when it sets it itself (from the URL, say); otherwise the
    widget shows what the frontend holds for it, which ``session`` knows (the last run's states).
    """
    widget = result.widgets.get("seed")
    if widget is None or widget.kind != "number_input":
        return None
    proto = widget.proto
    if proto.set_value:
        return int(proto.value)
    held = session.widget_states.get(widget.widget_id or "") if session is not None else None
    if held is not None and held.WhichOneof("value") == "int_value":
        return int(held.int_value)
    return int(proto.default)


LINK_SEED = re.compile(r"[?&]seed=(\d+)(?:&|$)")


def link_seed(result: RunResult) -> int | None:
    """The seed in the sidebar's "link to this view", which the server builds from its own
    ``st.query_params``: 0 when the link carries none (the default is left out), None with no link."""
    for element in result.elements:
        text = link_in_box(element.proto.body) if element.kind == "html" else None
        if text is not None:
            match = LINK_SEED.search(text)
            return int(match.group(1)) if match else 0
    return None


def pick_action(page: str, result: RunResult, index: int) -> dict[str, Any] | None:
    """The widget change a student would make on this page, varied by ``index``."""
    widgets = result.widgets
    for key in PAGE_ACTIONS.get(page, ()):
        if key in widgets:
            value = value_for(widgets[key], index)
            if value is not None:
                return {key: value}
    for key, element in widgets.items():
        if key in SKIP_KEYS:
            continue
        value = value_for(element, index)
        if value is not None and element.kind in ("slider", "number_input"):
            return {key: value}
    return None


def value_for(element: Element, index: int) -> Any:
    """A valid new value for a widget: a sample date for text, a nearby number, another option."""
    proto = element.proto
    if element.kind in ("text_input", "text_area"):
        return DATES[index % len(DATES)] if element.key in ("tf_text", "lm_text") else None
    if element.kind in ("number_input", "slider") and not (element.kind == "slider" and proto.type == proto.SELECT_SLIDER):
        lo = proto.min
        hi = proto.max
        default = proto.default[0] if element.kind == "slider" else proto.default
        step = proto.step or 1
        value = default + step * (1 + index % 3)
        if value > hi:
            value = max(lo, default - step * (1 + index % 3))
        if element.kind == "number_input" and proto.data_type == proto.INT:
            return int(value)
        if element.kind == "slider" and float(step).is_integer() and float(default).is_integer():
            return int(value)
        return float(value)
    if element.kind in ("radio", "selectbox") and len(proto.options) > 1:
        return proto.options[index % len(proto.options)]
    return None


@dataclass
class RunRecord:
    session: int
    page: str
    action: str  # "open" | "interact"
    seconds: float
    status: str
    errors: list[str] = field(default_factory=list)


@dataclass
class MemorySampler:
    """Samples the server's RSS in the background and keeps the peak."""

    pid: int | None
    interval: float = 0.2
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> int | None:
        if self.pid is None:
            return None
        value = rss_bytes(self.pid)
        self.peak = max(self.peak, value)
        return value

    def __enter__(self) -> MemorySampler:
        if self.pid is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()


def check_run(result: RunResult, expected_seed: int | None, session: StreamlitSession | None = None) -> list[str]:
    """Everything wrong with one run, as short messages (empty list = a clean run).

    The isolation probe: the seed the sidebar shows, and the seed in the link the server drew from
    this session's URL state, must both be this session's own.
    """
    errors: list[str] = []
    if result.status != "ok":
        errors.append(f"status {result.status} after {result.seconds:.1f} s")
    errors += [f"exception shown: {text[:160]}" for text in result.exceptions]
    errors += [f"st.error shown: {text[:160]}" for text in result.error_alerts]
    if expected_seed is not None and result.status == "ok":
        for what, seen in (("seed widget", seed_of(result, session)), ("link", link_seed(result))):
            if seen is not None and seen != expected_seed:
                errors.append(f"isolation: {what} shows seed {seen}, this session's seed is {expected_seed}")
    return errors


class Student:
    """One simulated student: their seed, their session and their records; an expected failure (a broken
    connection, a timeout) is recorded as a failed run instead of raised, so the other students go on."""

    EXPECTED = (ProtocolError, OSError, TimeoutError, threading.BrokenBarrierError, KeyError, ValueError)

    def __init__(self, base_url: str, index: int, records: list[RunRecord], lock: threading.Lock, timeout: float) -> None:
        self.base_url, self.index, self.records, self.lock, self.timeout = base_url, index, records, lock, timeout
        self.seed = 1000 + index
        self.session: StreamlitSession | None = None

    def connect(self) -> StreamlitSession:
        self.session = StreamlitSession(self.base_url, timeout=self.timeout)
        return self.session

    def record(self, page: str, action: str, result: RunResult) -> None:
        rec = RunRecord(self.index, page, action, result.seconds, result.status, check_run(result, self.seed, self.session))
        with self.lock:
            self.records.append(rec)

    def __enter__(self) -> Student:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if self.session is not None:
            self.session.close()
        if exc is not None and isinstance(exc, self.EXPECTED):
            with self.lock:
                self.records.append(RunRecord(self.index, "?", "session", 0.0, "failed", [f"{type(exc).__name__}: {exc}"]))
            return True
        return False


def session_worker(
    base_url: str,
    index: int,
    rounds: int,
    pages: Sequence[str],
    barrier: threading.Barrier | None,
    records: list[RunRecord],
    lock: threading.Lock,
    timeout: float,
    interact: bool = True,
) -> None:
    """One student: open the app with their seed, then visit every page ``rounds`` times."""
    with Student(base_url, index, records, lock, timeout) as student:
        session = student.connect()
        if barrier is not None:
            barrier.wait(timeout=timeout)
        first = True
        for round_no in range(rounds):
            for offset in range(len(pages)):
                page = pages[(index + offset) % len(pages)]  # sessions start on different pages
                result = session.open(page, {"seed": student.seed} if first else None)
                first = False
                student.record(page, "open", result)
                if not interact or result.status != "ok":
                    continue
                action = pick_action(page, result, index + round_no)
                if action:
                    student.record(page, "interact", session.set(action))


def class_worker(
    base_url: str,
    index: int,
    pages: Sequence[str],
    until: float,
    think: tuple[float, float],
    records: list[RunRecord],
    lock: threading.Lock,
    timeout: float,
) -> None:
    """One student in a lesson: arrives within the first think interval, then every ``think`` seconds
    (uniform at random) either changes a control on the open page or opens another page, until ``until``.

    A burst measures the worst moment; this is the steady pattern of a class working through the pages.
    """
    rng = random.Random(1000 + index)
    with Student(base_url, index, records, lock, timeout) as student:
        time.sleep(rng.uniform(0, think[1]))
        session = student.connect()
        page = pages[index % len(pages)]
        result = session.open(page, {"seed": student.seed})
        student.record(page, "open", result)
        step = 0
        while time.monotonic() + think[0] < until:
            time.sleep(rng.uniform(*think))
            step += 1
            action = pick_action(page, result, index + step) if result.status == "ok" and rng.random() < 0.7 else None
            if action:
                student.record(page, "interact", session.set(action))
            else:
                page = rng.choice([p for p in pages if p != page] or list(pages))
                result = session.open(page)
                student.record(page, "open", result)


def settle_after_warm_up(pid: int | None, log: Callable[[str], None]) -> None:
    """Wait for the server's own start-up warm-up (models read on a background thread, which yields to
    page runs) to finish, so "warm" memory holds every model and the load starts from a warmed server."""
    if pid is None:
        time.sleep(1.0)
        return
    log(f"waited {wait_until_idle(pid, timeout=180.0):.0f} s for the server's start-up warm-up to finish")


def run_class(
    base_url: str,
    sessions: int,
    duration: float,
    think: tuple[float, float],
    pid: int | None = None,
    pages: Sequence[str] = PAGES,
    timeout: float = 600.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``sessions`` students acting every ``think`` seconds for ``duration`` seconds (after one warm-up visit)."""
    check_loopback(base_url)
    sampler = MemorySampler(pid)
    memory: dict[str, int | None] = {"start": sampler.sample()}
    log("warm-up: one session visits every page (loads models and caches)")
    session_worker(base_url, 0, 1, pages, None, [], threading.Lock(), timeout, True)
    settle_after_warm_up(pid, log)
    memory["warm"] = sampler.sample()
    sampler.peak = 0
    records: list[RunRecord] = []
    lock = threading.Lock()
    log(f"class: {sessions} session(s), an action every {think[0]:g}-{think[1]:g} s, for {duration:.0f} s")
    started = time.perf_counter()
    until = time.monotonic() + duration
    with sampler:
        threads = [
            threading.Thread(target=class_worker, args=(base_url, i, pages, until, think, records, lock, timeout),
                             name=f"student-{i}", daemon=True)
            for i in range(sessions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration + timeout + 60)
    memory["peak"] = sampler.peak or None
    report = summarise(records)
    report.update({
        "url": base_url, "pattern": "class", "sessions": sessions, "duration_s": duration, "think_s": list(think),
        "pages": list(pages), "wall_s": round(time.perf_counter() - started, 1), "memory_bytes": memory,
        "memory_mib": {k: (None if v is None else round(v / 2**20)) for k, v in memory.items()},
    })
    return report


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def summarise(records: Sequence[RunRecord]) -> dict[str, Any]:
    times = [r.seconds for r in records if r.status == "ok"]
    per_page: dict[str, dict[str, Any]] = {}
    for page in sorted({r.page for r in records if r.page != "?"}):
        page_times = [r.seconds for r in records if r.page == page and r.status == "ok"]
        per_page[page] = {
            "runs": sum(1 for r in records if r.page == page),
            "errors": sum(1 for r in records if r.page == page and r.errors),
            "p50_s": round(statistics.median(page_times), 3) if page_times else None,
            "p95_s": round(percentile(page_times, 95), 3) if page_times else None,
        }
    error_list = [f"session {r.session} {r.page} {r.action}: {e}" for r in records for e in r.errors]
    return {
        "runs": len(records),
        "errors": sum(1 for r in records if r.errors),
        "p50_s": round(statistics.median(times), 3) if times else None,
        "p95_s": round(percentile(times, 95), 3) if times else None,
        "max_s": round(max(times), 3) if times else None,
        "per_page": per_page,
        "error_messages": error_list[:50],
    }


def run_load(
    base_url: str,
    sessions: int,
    rounds: int,
    pid: int | None = None,
    pages: Sequence[str] = PAGES,
    timeout: float = 600.0,
    settle: float = 10.0,
    warmup: bool = True,
    interact: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Drive ``sessions`` concurrent sessions for ``rounds`` passes over ``pages``; return the report."""
    check_loopback(base_url)
    sampler = MemorySampler(pid)
    memory: dict[str, int | None] = {"start": sampler.sample()}
    if warmup:
        log("warm-up: one session visits every page (loads models and caches)")
        warm_records: list[RunRecord] = []
        session_worker(base_url, 0, 1, pages, None, warm_records, threading.Lock(), timeout, interact)
        warm_errors = [e for r in warm_records for e in r.errors]
        if warm_errors:
            log(f"warm-up saw {len(warm_errors)} problem(s): {warm_errors[:3]}")
        settle_after_warm_up(pid, log)
    memory["warm"] = sampler.sample()
    sampler.peak = 0
    records: list[RunRecord] = []
    lock = threading.Lock()
    barrier = threading.Barrier(sessions)
    log(f"load: {sessions} session(s) x {rounds} round(s) over {len(pages)} pages")
    started = time.perf_counter()
    with sampler:
        threads = [
            threading.Thread(
                target=session_worker,
                args=(base_url, i, rounds, pages, barrier, records, lock, timeout, interact),
                name=f"session-{i}",
                daemon=True,
            )
            for i in range(sessions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout * (rounds * len(pages) * 2 + 2))
    wall = time.perf_counter() - started
    memory["peak"] = sampler.peak or None
    log(f"all sessions closed; waiting {settle:.0f} s before the 'after' memory sample")
    time.sleep(settle)
    memory["after"] = sampler.sample()
    report = summarise(records)
    report.update(
        {
            "url": base_url,
            "sessions": sessions,
            "rounds": rounds,
            "pages": list(pages),
            "wall_s": round(wall, 1),
            "memory_bytes": memory,
            "memory_mib": {k: (None if v is None else round(v / 2**20)) for k, v in memory.items()},
        }
    )
    return report


def check_loopback(base_url: str) -> None:
    """Refuse any target that is not this machine (the tool is for local load tests only)."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"refusing to load {host!r}: only loopback addresses (127.0.0.0/8, ::1, localhost)")


def format_table(reports: Sequence[dict[str, Any]]) -> str:
    header = f"{'sessions':>8} {'runs':>5} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'mem start':>10} {'warm':>9} {'peak':>9} {'after':>9}"
    lines = [header, "-" * len(header)]
    for rep in reports:
        mem = rep["memory_bytes"]
        lines.append(
            f"{rep['sessions']:>8} {rep['runs']:>5} {rep['errors']:>6} {fmt(rep['p50_s']):>7} {fmt(rep['p95_s']):>7} "
            f"{fmt(rep['max_s']):>7} {mib(mem.get('start')):>10} {mib(mem.get('warm')):>9} {mib(mem.get('peak')):>9} {mib(mem.get('after')):>9}"
        )
    for rep in reports:
        lines.append(f"\nper page, {rep['sessions']} session(s):")
        for page, row in rep["per_page"].items():
            lines.append(f"  {page:<20} runs {row['runs']:>4}  errors {row['errors']:>3}  p50 {fmt(row['p50_s']):>7}  p95 {fmt(row['p95_s']):>7}")
        for message in rep["error_messages"][:10]:
            lines.append(f"  ! {message}")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start one on a free loopback port)")
    parser.add_argument("--pid", type=int, help="the running app's process id, for memory figures")
    parser.add_argument("--sessions", type=int, nargs="+", default=[3], help="session counts to run, e.g. 1 10 30")
    parser.add_argument("--rounds", type=int, default=2, help="passes over every page per session")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="URL paths to visit")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait after closing before the last memory sample")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one rerun may take before it counts as an error")
    parser.add_argument("--no-interact", action="store_true", help="only open pages, never change a widget")
    parser.add_argument("--server-arg", action="append", default=[], help="extra 'streamlit run' option for a started server")
    parser.add_argument("--json", type=Path, help="write the reports as JSON here")
    parser.add_argument("--class-duration", type=float, default=0.0,
                        help="seconds of the class pattern (each session acts every --think seconds) instead of a burst")
    parser.add_argument("--think", type=float, nargs=2, default=[5.0, 15.0], metavar=("MIN", "MAX"),
                        help="seconds between one student's actions in the class pattern")
    args = parser.parse_args(argv)
    if args.class_duration < 0 or not 0 <= args.think[0] <= args.think[1]:
        print("load.py: --class-duration must be >= 0 and --think MIN MAX with 0 <= MIN <= MAX", file=sys.stderr)
        return 2

    reports = []
    for count in args.sessions:
        server: StreamlitServer | None = None
        url, pid = args.url, args.pid
        try:
            if url is None:
                server = start_server(extra_args=args.server_arg)
                url, pid = server.url, server.pid
                print(f"started {url} (pid {pid})", flush=True)
            if args.class_duration > 0:
                report = run_class(url, count, args.class_duration, (args.think[0], args.think[1]), pid=pid,
                                   pages=args.pages, timeout=args.timeout, log=lambda m: print(m, flush=True))
            else:
                report = run_load(
                    url, count, args.rounds, pid=pid, pages=args.pages, timeout=args.timeout,
                    settle=args.settle, interact=not args.no_interact,
                    log=lambda m: print(m, flush=True),
                )
            reports.append(report)
        finally:
            if server is not None:
                server.stop()
    print(format_table(reports))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))
        print(f"wrote {args.json}")
    else:
        print(json.dumps([{k: v for k, v in r.items() if k != "error_messages"} for r in reports], indent=2))
    return 0 if all(r["errors"] == 0 for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
