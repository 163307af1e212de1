"""Ten students generating on the language-model page at the same moment, on one real server.

Each session opens its own link (its own prompt, generation on) over Streamlit's websocket protocol
(``tools/stclient.py``), all at once: every run must finish with the generated text and no error,
and each session must see the continuation of its own prompt (the model is shared, the runs are not).
Figures for 30 sessions come from ``python -m tools.load --pages language-model`` (bench/results/load_lm.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from explorer.pretrained import pretrained_status
from explorer.views import language_model as views
from tools.server import StreamlitServer, start_server
from tools.stclient import RunResult, StreamlitSession
from tools.warm import warm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(pretrained_status(views.MODEL) is not None, reason="SmolLM2 wheel not installed"),
]
SESSIONS = 10
NEW_TOKENS = 6


@pytest.fixture(scope="module")
def server() -> Iterator[StreamlitServer]:
    srv = start_server()
    try:
        warm(srv.url)
        yield srv
    finally:
        srv.stop()


def generated(result: RunResult) -> list[str]:
    """The plain-text blocks the page printed (``st.text``): on this page, the generated text's box."""
    return [e.proto.body for e in result.elements if e.kind == "text"]


def test_ten_sessions_generating_at_once_all_finish(server: StreamlitServer) -> None:
    prompts = [f"Story number {i}: once upon a time, a" for i in range(SESSIONS)]

    def student(text: str) -> RunResult:
        with StreamlitSession(server.url, timeout=600) as session:
            return session.open("language-model", {"lm_text": text, "lm_generate": "true", "lm_new": str(NEW_TOKENS),
                                                   "lm_tab": "Generate and KV cache"})

    with ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(student, prompts))
    problems = [(i, r.status, r.exceptions, r.error_alerts) for i, r in enumerate(results) if not r.ok or r.error_alerts]
    assert not problems, f"{problems}\n--- server log ---\n{server.log_tail()}"
    texts = [generated(r) for r in results]
    assert all(t and t[0].strip() for t in texts), texts
    # Each session saw its own prompt's continuation: what a later session gets for that prompt alone
    # (a run showing another session's text would differ here).
    with StreamlitSession(server.url, timeout=600) as alone:
        again = alone.open("language-model", {"lm_text": prompts[3], "lm_generate": "true", "lm_new": str(NEW_TOKENS),
                                              "lm_tab": "Generate and KV cache"})
    assert generated(again)[0] == texts[3][0]
