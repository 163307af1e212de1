"""Server memory and rerun latency with 1 and with 30 concurrent sessions (tools/load.py).

One server, started here on a loopback port; first one session, then 30, each cycling over
every page and changing one control per page. Target: peak RSS with 30 sessions <= 1.5x the
peak with one session (models and caches are shared, so sessions should cost little each).

Run: ``python -m bench.bench_memory`` (``--sessions 1 10 30`` to add more points).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Measurement, print_table, write_json
from tools.load import run_load
from tools.server import start_server

TARGET = 1.5
RETURN_TARGET = 1.15  # "memory returns close to its starting level": after close <= 1.15x the warm level
SERVER_LIMIT_MIB = 1536  # issue 8: server memory under 1.5 GB with 30 sessions


def _rows_for(report: dict) -> list[Measurement]:
    n = report["sessions"]
    p50, p95 = report["p50_s"], report["p95_s"]
    mem = report["memory_mib"]
    peak = mem["peak"] or float("nan")
    returned = (mem["after"] / mem["warm"]) if mem.get("after") and mem.get("warm") else float("nan")
    return [
        Measurement("memory", f"{n} session(s): peak server RSS", peak, "MiB", f"< {SERVER_LIMIT_MIB}", peak < SERVER_LIMIT_MIB,
                    detail=f"start {mem['start']}, warm {mem['warm']}, after close {mem['after']} MiB"),
        Measurement("memory", f"{n} session(s): RSS after close / warm", returned, "x", f"<= {RETURN_TARGET}", returned <= RETURN_TARGET,
                    detail="warm = the server after one session loaded every model and cache (they are meant to stay)"),
        Measurement("memory", f"{n} session(s): rerun latency p50 / p95", p50 if p50 is not None else float("nan"), "s",
                    detail=f"p95 {p95} s, max {report['max_s']} s; wall {report['wall_s']} s"),
        Measurement("memory", f"{n} session(s): errors", report["errors"], f"of {report['runs']} reruns", "0", report["errors"] == 0,
                    detail="; ".join(report["error_messages"][:3])),
    ]


def main(argv: list[str] | None = None) -> list[Measurement]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    rows: list[Measurement] = []
    peaks: dict[int, float] = {}
    server = start_server()
    try:
        for count in args.sessions:
            report = run_load(server.url, count, args.rounds, pid=server.pid, warmup=not peaks, log=lambda _m: None)
            peaks[count] = report["memory_bytes"]["peak"] or 0
            rows += _rows_for(report)
    finally:
        server.stop()
    low, high = min(args.sessions), max(args.sessions)
    if peaks.get(low):
        ratio = peaks[high] / peaks[low]
        rows.append(Measurement("memory", f"peak RSS {high} / {low} session(s)", ratio, "x", f"<= {TARGET}", ratio <= TARGET))
    print_table(rows)
    write_json("memory", rows)
    return rows


if __name__ == "__main__":
    main()
