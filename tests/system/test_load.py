"""Many sessions against one real ``streamlit run`` server, over Streamlit's own websocket protocol.

A small run of the load tool (3 sessions, every page, an open and an interaction each) must see
zero errors; sessions with different seeds and inputs must each see their own view; hostile links
must never produce a traceback. Figures for 1/10/30 sessions come from ``python tools/load.py``,
not from here (no timing assertions in tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tools.load import PAGES, link_seed, run_load, seed_of
from tools.server import StreamlitServer, start_server
from tools.stclient import RunResult, StreamlitSession
from tools.warm import warm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[StreamlitServer]:
    srv = start_server()
    try:
        warm(srv.url)  # as a host does (tools/warm.py): models load before the first measured session
        yield srv
    finally:
        srv.stop()


def outputs(result: RunResult) -> list[str]:
    """The ISO dates the Transformer page printed (its plain-text output box)."""
    texts = [e.text() for e in result.elements if e.kind == "text"]
    return [t for t in texts if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)]


def test_small_load_has_zero_errors(server: StreamlitServer) -> None:
    report = run_load(server.url, sessions=3, rounds=1, pid=server.pid, settle=0.5, warmup=False, log=lambda _m: None)
    assert report["runs"] >= 3 * len(PAGES), report
    assert report["errors"] == 0, "\n".join(report["error_messages"]) + "\n--- server log ---\n" + server.log_tail()
    assert set(report["per_page"]) == set(PAGES)
    assert report["memory_bytes"]["peak"] > 0


def test_sessions_see_their_own_state(server: StreamlitServer) -> None:
    """Two students, interleaved: each keeps their own seed and input, and sees their own output."""
    with StreamlitSession(server.url) as alice, StreamlitSession(server.url) as bob:
        a1 = alice.open("transformer", {"seed": 11, "tf_model": "trained"})
        b1 = bob.open("transformer", {"seed": 22, "tf_model": "trained"})
        assert a1.ok and b1.ok, (a1.exceptions, b1.exceptions)
        a2 = alice.set({"tf_text": "Tuesday 7 July 2015"})
        b2 = bob.set({"tf_text": "March 3, 1999"})
        a3 = alice.rerun()  # after Bob's change, Alice's view must not have moved
        assert seed_of(a3, alice) == 11 and seed_of(b2, bob) == 22
        assert link_seed(a3) == 11 and link_seed(b2) == 22
        assert alice.widget_states and bob.widget_states
        # The server echoes a widget's value only when it set it itself, so each session's input is
        # checked through what the model made of it (the trained model gets these dates right).
        assert outputs(a2) == ["2015-07-07"] and outputs(b2) == ["1999-03-03"], (outputs(a2), outputs(b2))
        assert outputs(a3) == outputs(a2), "Alice's output changed when only Bob acted"
        assert "seed=11" in alice.query_string and "seed=22" in bob.query_string


def test_seed_travels_with_sidebar_navigation(server: StreamlitServer) -> None:
    """A student opens a link with a seed, then walks to other pages and acts there: the seed stays in
    the widget and in the link (the client carries widget states across pages, as the browser does)."""
    with StreamlitSession(server.url) as student:
        assert student.open("vit", {"seed": 77}).ok
        for page in ("transformer", "positional-encoding", ""):
            result = student.open(page)
            assert result.ok, (page, result.exceptions)
            assert seed_of(result, student) == 77 and link_seed(result) == 77, (page, student.query_string)
        student.open("transformer", {"tf_model": "trained"})
        changed = student.set({"tf_text": "March 3, 1999"})
        assert outputs(changed) == ["1999-03-03"]
        assert seed_of(changed, student) == 77 and link_seed(changed) == 77


def test_link_seed_reads_the_servers_link() -> None:
    """The probe reads the sidebar link; a link without seed means the default 0 (it can disagree)."""
    from streamlit.proto.Html_pb2 import Html

    from tools.stclient import Element
    from ui.share import link_box_html

    def run_with(link: str) -> RunResult:
        return RunResult(page="x", status="ok", seconds=0.0, elements=[Element((1, 2), "html", Html(body=link_box_html(link)))])

    assert link_seed(run_with("http://127.0.0.1:1/vit?seed=12&vit_layer=2")) == 12
    assert link_seed(run_with("http://127.0.0.1:1/vit?vit_layer=2")) == 0
    assert link_seed(run_with("?")) == 0
    assert link_seed(RunResult(page="x", status="ok", seconds=0.0)) is None


HOSTILE = {
    "seed": "-1e309",
    "tf_text": "<img src=x onerror=alert(1)>",
    "tf_layer": "999",
    "tf_head": "-3",
    "tf_view": "../../etc/passwd",
    "tf_temp": "nan",
    "pe_d_model": "1e12",
    "pe_max_len": "abc",
    "pe_base": "0",
    "tf_model": "\u202etrained",
    "vit_model": "\u202eshapes",
    "vit_layer": "0",
    "vit_sample_seed": "%00",
    "prof_heads": "-1",
    "prof_seq_len": "99999999",
}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_link_never_shows_a_traceback(server: StreamlitServer, page: str) -> None:
    with StreamlitSession(server.url) as session:
        result = session.open(page, HOSTILE)
        assert result.status == "ok"
        assert not result.exceptions, result.exceptions
        # The app fell back to a valid seed instead of failing.
        assert seed_of(result) is not None


def test_deep_link_as_first_visit_runs_the_app_shell() -> None:
    """The first session of a fresh server opening a deep link gets app.py's sidebar and seed
    (a page folder named ``pages/`` would make Streamlit run the page alone in its legacy mode)."""
    srv = start_server()
    try:
        with StreamlitSession(srv.url) as first:
            result = first.open("transformer", {"seed": 5})
        assert result.ok, (result.exceptions, result.error_alerts)
        assert seed_of(result) == 5, "the shared sidebar (app.py) did not run for a first deep-link visit"
    finally:
        srv.stop()
