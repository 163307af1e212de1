"""Start and stop ``streamlit run app.py`` on a free loopback port, and read its memory.

Shared by the load tool, the load/replica tests and the browser tests, so every one of them
starts the app the same way a host would (headless, no usage statistics) and always cleans up:
the server runs in its own process group and is ended by that group's id, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200 (Streamlit's ``/_stcore/health`` says ``ok``).

    Raises ``RuntimeError`` with the reason if the process dies or the time runs out, so a
    broken app fails the fixture with a message instead of hanging the suite.
    """
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # (loopback only)
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s ({last_error})")


def rss_bytes(pid: int, include_children: bool = True) -> int:
    """Resident memory of ``pid`` (VmRSS from /proc/<pid>/status), plus all its descendants.

    Linux only. Returns 0 for a process that has gone. Children matter when a page starts
    worker processes; Streamlit itself serves every session from one process.
    """
    total = 0
    pids = [pid] + (descendants(pid) if include_children else [])
    for one in pids:
        try:
            with open(f"/proc/{one}/status", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, timeout: float = 600.0, window: float = 2.0, busy: float = 0.1) -> float:
    """Seconds until the server uses under ``busy`` CPU-seconds per ``window`` (its start-up warm-up done)."""
    start = time.perf_counter()
    before = cpu_seconds(pid)
    while time.perf_counter() - start < timeout:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - before < busy:
            return time.perf_counter() - start
        before = now
    raise TimeoutError(f"the server was still busy after {timeout:.0f} s")


def descendants(pid: int) -> list[int]:
    """Every descendant process id of ``pid`` (via /proc/<pid>/task/*/children)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        task_dir = Path(f"/proc/{current}/task")
        try:
            tasks = list(task_dir.iterdir())
        except (FileNotFoundError, PermissionError):
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except (FileNotFoundError, PermissionError, ProcessLookupError):
                continue
            for child in children:
                child_pid = int(child)
                if child_pid not in found:
                    found.append(child_pid)
                    stack.append(child_pid)
    return found


@dataclass
class StreamlitServer:
    """A running ``streamlit run`` process: its port, pid and log file."""

    port: int
    proc: subprocess.Popen
    log_path: Path
    host: str = "127.0.0.1"
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """End the server's process group (SIGTERM, then SIGKILL) and reap it."""
        stop_process_group(self.proc, timeout)


def stop_process_group(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate a process started with ``start_new_session=True`` and everything it started."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def streamlit_command(port: int, extra_args: Sequence[str] = (), host: str = "127.0.0.1", script: Path = ROOT / "app.py") -> list[str]:
    """The command line a host would use: headless, loopback, no usage statistics."""
    return [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *extra_args,
    ]


def start_server(
    port: int | None = None,
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
    timeout: float = 180.0,
    env: dict[str, str] | None = None,
    script: Path = ROOT / "app.py",
) -> StreamlitServer:
    """Start the app (or another ``script``, e.g. a bench baseline) and wait until ``/_stcore/health`` answers; the caller must ``stop()`` it."""
    port = port or free_port()
    log_dir = log_dir or ROOT / "test-results"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"streamlit-{port}.log"
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # (fixed argv)
            streamlit_command(port, extra_args, script=script),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=run_env,
        )
    server = StreamlitServer(port=port, proc=proc, log_path=log_path, extra_args=list(extra_args))
    try:
        wait_http_ok(f"{server.url}/_stcore/health", timeout=timeout, proc=proc)
    except RuntimeError as exc:
        server.stop()
        raise RuntimeError(f"{exc}\n--- {log_path} ---\n{server.log_tail(2000)}") from exc
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_server(**kwargs: object) -> Iterator[StreamlitServer]:
    """``with running_server() as server:`` starts the app and always stops it."""
    server = start_server(**kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
