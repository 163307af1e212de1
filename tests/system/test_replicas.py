"""Past one machine: two app replicas behind nginx (the shipped deploy/nginx.conf), on loopback.

Starts two ``streamlit run`` replicas sharing one cookie secret, renders ``deploy/nginx.conf``
onto free loopback ports and runs Debian's nginx in the foreground with a temporary prefix, then
opens several sessions through nginx the way a browser does (GET the page, keep the route cookie,
open the websocket with it) and checks that every session keeps working across reruns and page
changes, that each session stayed on one replica, and that the sessions were spread over both.
Every process is ended by its own id, whatever happens.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tools.load import link_seed, seed_of
from tools.server import ROOT, StreamlitServer, free_port, start_server, stop_process_group, wait_http_ok
from tools.stclient import StreamlitSession

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATE = ROOT / "deploy" / "nginx.conf"
SESSIONS = 8


def render_nginx_conf(prefix: Path, listen: str, upstream_ports: list[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in upstream_ports)
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the header comment names the placeholders; keep it
            for name, value in {"@PREFIX@": str(prefix), "@LISTEN@": listen, "@SERVERS@": servers}.items():
                line = line.replace(name, value)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    assert "@" not in re.sub(r"#.*", "", text), "a placeholder was left in the rendered nginx.conf"
    return text


@dataclass
class Cluster:
    url: str
    replicas: list[StreamlitServer]
    access_log: Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, missing_tool: Callable[[str], NoReturn]) -> Iterator[Cluster]:
    if not os.path.exists(NGINX):
        missing_tool("nginx is not installed (test.sh installs Debian's nginx-light; apt-get install nginx-light)")
    prefix = tmp_path_factory.mktemp("nginx")
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir()
    prefix.chmod(0o755)
    for sub in prefix.iterdir():
        sub.chmod(0o777)  # nginx workers run as 'nobody' when the master is root
    secret = secrets.token_hex(16)  # one cookie secret for every replica
    replicas: list[StreamlitServer] = []
    nginx: subprocess.Popen | None = None
    try:
        # Streamlit refuses the secret as a CLI flag; the environment (or config file) carries it.
        env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secret}
        for _ in range(2):
            replicas.append(start_server(env=env))
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(render_nginx_conf(prefix, f"127.0.0.1:{port}", [r.port for r in replicas]))
        check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/_stcore/health", timeout=30, proc=nginx)
        yield Cluster(url=url, replicas=replicas, access_log=prefix / "access.log")
    finally:
        if nginx is not None:
            stop_process_group(nginx)
        for replica in replicas:
            replica.stop()


def browser_like_session(url: str) -> tuple[StreamlitSession, str]:
    """GET the page (nginx sets the route cookie), then open the websocket carrying that cookie."""
    with urllib.request.urlopen(f"{url}/", timeout=30) as response:  # (loopback)
        cookie_header = response.headers.get("Set-Cookie", "")
    match = re.search(r"explorer_route=([0-9a-f]{32})", cookie_header)
    assert match, f"nginx did not set the route cookie: {cookie_header!r}"
    route = match.group(1)
    return StreamlitSession(url, timeout=300, cookie=f"explorer_route={route}"), route


def upstreams_by_route(access_log: Path) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for line in access_log.read_text().splitlines():
        match = re.search(r"upstream=(\S+) route=([0-9a-f]{32})", line)
        if match and match.group(1) != "-":
            routes.setdefault(match.group(2), set()).add(match.group(1))
    return routes


def websocket_lines(access_log: Path) -> list[str]:
    return [line for line in access_log.read_text().splitlines() if "/_stcore/stream" in line]


def test_sessions_work_through_nginx_and_spread_over_both_replicas(cluster: Cluster) -> None:
    sessions = [browser_like_session(cluster.url) for _ in range(SESSIONS)]
    try:
        for index, (session, _route) in enumerate(sessions):
            first = session.open("", {"seed": 500 + index})
            assert first.ok, first.exceptions
        # Second pass, after every session exists: each still works and still has its own seed.
        for index, (session, _route) in enumerate(sessions):
            again = session.open("positional-encoding")
            assert again.ok, again.exceptions
            assert seed_of(again, session) == 500 + index
            assert link_seed(again) == 500 + index, "the link lost this session's seed"
            home = session.open("")
            assert home.ok and seed_of(home, session) == 500 + index
    finally:
        for session, _route in sessions:
            session.close()

    # nginx logs a websocket request when its connection ends, a moment after the client closed it.
    deadline = time.monotonic() + 15
    while len(websocket_lines(cluster.access_log)) < SESSIONS and time.monotonic() < deadline:
        time.sleep(0.2)
    routes = upstreams_by_route(cluster.access_log)
    ours = {route: routes.get(route, set()) for _session, route in sessions}
    for route, upstreams in ours.items():
        assert len(upstreams) == 1, f"route {route} was served by several replicas: {upstreams}"
    used = set().union(*ours.values())
    spread = {addr: sum(1 for ups in ours.values() if addr in ups) for addr in sorted(used)}
    print(f"sessions per replica: {spread}")
    replica_addrs = {f"127.0.0.1:{r.port}" for r in cluster.replicas}
    assert used <= replica_addrs
    assert used == replica_addrs, f"{SESSIONS} sessions all went to {used}; expected both of {replica_addrs}"
    streams = websocket_lines(cluster.access_log)
    assert len(streams) >= SESSIONS, "websocket requests did not go through nginx"
    assert all(" 101 " in l for l in streams), streams[:3]


def test_replicas_share_the_cookie_secret_and_stay_healthy(cluster: Cluster) -> None:
    secrets_seen: set[bytes] = set()
    for replica in cluster.replicas:
        assert replica.proc.poll() is None, replica.log_tail()
        environ = Path(f"/proc/{replica.pid}/environ").read_bytes().split(b"\0")
        secrets_seen.add(next(v for v in environ if v.startswith(b"STREAMLIT_SERVER_COOKIE_SECRET=")))
        with urllib.request.urlopen(f"{replica.url}/_stcore/health", timeout=10) as response:
            assert response.read().strip() == b"ok"
    assert len(secrets_seen) == 1, "replicas must share one cookie secret"
