"""A minimal Streamlit client that speaks the app's own websocket protocol (``/_stcore/stream``).

It does what the browser's frontend does, without a browser: it sends a ``BackMsg`` with a
``rerun_script`` ``ClientState`` (query string, page name or page script hash, every widget
value it knows), then reads ``ForwardMsg``s (new_session, navigation, deltas, page_info_changed)
until ``script_finished``. That makes one session cost a socket instead of a Chromium tab, so the
load tool can open 30 real sessions on a 2-core machine.

The protocol is Streamlit's internal one (``streamlit/proto/BackMsg.proto``, ``ClientState.proto``,
``ForwardMsg.proto``, ``WidgetStates.proto`` in the installed package); widget values go in the
``WidgetState`` field each widget declares as its ``value_type`` (text -> ``string_value``,
slider -> ``double_array_value``, radio/selectbox -> ``string_value`` of the formatted option,
checkbox/toggle -> ``bool_value``, button -> ``trigger_value``).
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import websocket  # websocket-client
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

# Element types that are charts (what the pages draw their lessons with).
CHART_TYPES = frozenset({"plotly_chart", "vega_lite_chart", "arrow_vega_lite_chart", "imgs", "deck_gl_json_chart", "graphviz_chart"})


class ProtocolError(RuntimeError):
    """The server closed the socket or sent something this client cannot follow."""


@dataclass
class Element:
    """One element the script produced in a run, at its delta path (container indices)."""

    path: tuple[int, ...]
    kind: str  # the Element oneof name: "plotly_chart", "text_input", "alert", "exception", ...
    proto: Any  # the inner message (e.g. PlotlyChart)

    @property
    def widget_id(self) -> str | None:
        return getattr(self.proto, "id", None) or None

    @property
    def key(self) -> str | None:
        """The user key of a widget (``$$ID-<hash>-<key>``), or None."""
        wid = self.widget_id
        if not wid or not wid.startswith("$$ID-"):
            return None
        parts = wid.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[2] != "None" else None

    def text(self) -> str:
        """The human-readable text an element shows (markdown, headings, code, alerts, labels)."""
        for attr in ("body", "code_text", "label", "message"):
            value = getattr(self.proto, attr, None)
            if isinstance(value, str) and value:
                return value
        return ""


@dataclass
class RunResult:
    """What one rerun produced, and how long the server took (send -> script_finished)."""

    page: str
    status: str  # "ok", "compile_error", "stopped_early", "timeout", "closed"
    seconds: float
    elements: list[Element] = field(default_factory=list)
    bytes_received: int = 0
    page_script_hash: str = ""

    @property
    def exceptions(self) -> list[str]:
        return [f"{e.proto.type}: {e.proto.message}" for e in self.elements if e.kind == "exception"]

    @property
    def error_alerts(self) -> list[str]:
        return [e.proto.body for e in self.elements if e.kind == "alert" and e.proto.format == Alert.ERROR]

    @property
    def warning_alerts(self) -> list[str]:
        return [e.proto.body for e in self.elements if e.kind == "alert" and e.proto.format == Alert.WARNING]

    @property
    def charts(self) -> list[Element]:
        return [e for e in self.elements if e.kind in CHART_TYPES]

    @property
    def widgets(self) -> dict[str, Element]:
        """Widgets with a user key, by key (the last one wins if a key repeats)."""
        return {e.key: e for e in self.elements if e.key}

    def texts(self) -> list[str]:
        return [t for t in (e.text() for e in self.elements) if t]

    @property
    def ok(self) -> bool:
        return self.status == "ok" and not self.exceptions


def encode_widget_value(element: Element, value: Any) -> WidgetState:
    """Build the ``WidgetState`` the frontend would send for ``value`` on this widget."""
    state = WidgetState(id=element.widget_id or "")
    kind = element.kind
    if kind in ("text_input", "text_area", "color_picker", "chat_input"):
        state.string_value = str(value)
    elif kind == "number_input":
        if element.proto.data_type == element.proto.INT:
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif kind == "slider":
        values = value if isinstance(value, (list, tuple)) else [value]
        if element.proto.type == element.proto.SELECT_SLIDER:  # st.select_slider sends formatted options
            state.string_array_value.data.extend(str(v) for v in values)
        else:
            state.double_array_value.data.extend(float(v) for v in values)
    elif kind in ("radio", "selectbox"):
        state.string_value = str(value)
    elif kind == "checkbox":
        state.bool_value = bool(value)
    elif kind in ("multiselect", "button_group"):
        values = value if isinstance(value, (list, tuple)) else [value]
        state.string_array_value.data.extend(str(v) for v in values)
    elif kind == "button":
        state.trigger_value = True
    else:
        raise ValueError(f"setting a value on a {kind} widget is not supported by this client")
    return state


# Widgets whose value the frontend keeps between runs (and sends with every rerun).
STATEFUL_KINDS = frozenset({"text_input", "text_area", "number_input", "slider", "radio", "selectbox", "checkbox"})


def displayed_value(element: Element) -> Any:
    """The value a widget shows after a run (what the frontend would hold for it), or None.

    ``set_value`` means the server forced a value this run (URL seeding, session_state); otherwise the
    widget shows its default until the user changes it.
    """
    proto = element.proto
    kind = element.kind
    if kind not in STATEFUL_KINDS:
        return None
    forced = bool(getattr(proto, "set_value", False))
    if kind in ("text_input", "text_area", "checkbox"):
        return proto.value if forced else proto.default
    if kind == "number_input":
        value = proto.value if forced else proto.default
        return int(value) if proto.data_type == proto.INT else float(value)
    if kind == "slider":
        if proto.type == proto.SELECT_SLIDER:
            return None  # its state is the formatted options; not needed by the tools
        values = list(proto.value if forced else proto.default)
        return values[0] if len(values) == 1 else values
    if kind in ("radio", "selectbox"):
        if forced and proto.raw_value:
            return proto.raw_value
        if proto.HasField("default") and 0 <= proto.default < len(proto.options):
            return proto.options[proto.default]
    return None


class StreamlitSession:
    """One browser-less session: a websocket to ``/_stcore/stream`` and the state a frontend keeps.

    Not thread-safe: use one per thread. ``close()`` (or ``with``) ends the socket.
    """

    def __init__(self, base_url: str, timeout: float = 300.0, headers: Iterable[str] = (), cookie: str | None = None) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.base_url = base_url.rstrip("/")
        self.stream_url = f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream"
        self.timeout = timeout
        self.pages: dict[str, str] = {}  # url path -> page script hash (from the navigation message)
        self.query_string = ""
        self.page = ""
        self.session_id = ""
        self.widget_states: dict[str, WidgetState] = {}
        self.last: RunResult | None = None
        self.response_headers: dict[str, str] = {}
        self._ws = websocket.create_connection(
            self.stream_url,
            subprotocols=["streamlit"],
            timeout=timeout,
            header=list(headers),
            cookie=cookie,
            enable_multithread=False,
        )
        try:
            self.response_headers = {k.lower(): v for k, v in (self._ws.getheaders() or {}).items()}
        except AttributeError:
            self.response_headers = {}

    def __enter__(self) -> StreamlitSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead socket is fine
            self._ws.close()

    # -- driving the app -------------------------------------------------------------------------
    def open(self, page: str = "", query: Mapping[str, Any] | str | None = None) -> RunResult:
        """Navigate to a page (its URL path; "" = default page), like clicking it in the sidebar.

        With ``query``, it is like opening a link instead: a fresh URL and no widget state carried over.
        Without, the widget states of the last run go along, as the browser's frontend sends them:
        that is how the shared sidebar's seed keeps its value (and its place in the URL) across pages.
        """
        if query is not None:
            self.query_string = query if isinstance(query, str) else urlencode(query)
            self.widget_states = {}
        self.page = page
        return self._run()

    def set(self, values: Mapping[str, Any], click: Iterable[str] = ()) -> RunResult:
        """Change widgets (by user key) on the current page and rerun, like a user would."""
        if self.last is None:
            raise ProtocolError("open a page before setting widgets")
        widgets = self.last.widgets
        triggers: list[WidgetState] = []
        for key, value in values.items():
            if key not in widgets:
                raise KeyError(f"no widget with key {key!r} on page {self.page!r}; have {sorted(widgets)}")
            state = encode_widget_value(widgets[key], value)
            self.widget_states[state.id] = state
        for key in click:
            if key not in widgets:
                raise KeyError(f"no button with key {key!r} on page {self.page!r}; have {sorted(widgets)}")
            triggers.append(encode_widget_value(widgets[key], True))
        return self._run(extra=triggers)

    def rerun(self) -> RunResult:
        """Rerun the current page with the current widget values (the "R" key in the browser)."""
        return self._run()

    def _run(self, extra: Iterable[WidgetState] = ()) -> RunResult:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_name = self.page
        if self.page in self.pages:
            state.page_script_hash = self.pages[self.page]
        for widget in list(self.widget_states.values()) + list(extra):
            state.widget_states.widgets.append(widget)
        started = time.perf_counter()
        self._ws.send_binary(msg.SerializeToString())
        result = self._read_until_finished(started)
        self.last = result
        self._remember_widgets(result)
        return result

    def _remember_widgets(self, result: RunResult) -> None:
        """Keep, like the frontend, the state of every widget this run drew (and only those).

        A value the user set stays unless the server forced another; an untouched widget holds what it shows.
        """
        kept: dict[str, WidgetState] = {}
        for element in result.elements:
            wid = element.widget_id
            if not wid or element.kind not in STATEFUL_KINDS:
                continue
            forced = bool(getattr(element.proto, "set_value", False))
            if wid in self.widget_states and not forced:
                kept[wid] = self.widget_states[wid]
                continue
            value = displayed_value(element)
            if value is not None:
                kept[wid] = encode_widget_value(element, value)
        self.widget_states = kept

    def _read_until_finished(self, started: float) -> RunResult:
        result = RunResult(page=self.page, status="timeout", seconds=0.0)
        deadline = started + self.timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._ws.settimeout(remaining)
            try:
                data = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as exc:
                result.status = "closed"
                result.seconds = time.perf_counter() - started
                raise ProtocolError(f"socket closed during a run of {self.page!r}: {exc}") from exc
            if isinstance(data, str):
                raise ProtocolError("server sent a text frame; expected protobuf")
            result.bytes_received += len(data)
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            if fwd.WhichOneof("type") == "ref_hash":
                fwd = self._fetch_cached(fwd.ref_hash, fwd)
            if self._handle(fwd, result):
                result.seconds = time.perf_counter() - started
                return result
        result.seconds = time.perf_counter() - started
        return result

    def _fetch_cached(self, ref_hash: str, ref: ForwardMsg) -> ForwardMsg:
        """Resolve a cached-message reference over HTTP, as the frontend does."""
        with urllib.request.urlopen(f"{self.base_url}/_stcore/message?hash={ref_hash}", timeout=30) as resp:
            full = ForwardMsg()
            full.ParseFromString(resp.read())
        full.metadata.CopyFrom(ref.metadata)
        return full

    def _handle(self, fwd: ForwardMsg, result: RunResult) -> bool:
        """Fold one ForwardMsg into the run; True when the run has finished."""
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self.session_id = fwd.new_session.initialize.session_id or self.session_id
            result.page_script_hash = fwd.new_session.page_script_hash
        elif kind == "navigation":
            for page in fwd.navigation.app_pages:
                self.pages[page.url_pathname] = page.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = fwd.page_info_changed.query_string
        elif kind == "delta":
            delta = fwd.delta
            dkind = delta.WhichOneof("type")
            path = tuple(fwd.metadata.delta_path)
            if dkind == "new_element":
                ekind = delta.new_element.WhichOneof("type")
                result.elements = [e for e in result.elements if e.path != path]
                result.elements.append(Element(path, ekind, getattr(delta.new_element, ekind)))
        elif kind == "script_finished":
            status = fwd.script_finished
            if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                result.status = "ok"
            elif status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                result.status = "compile_error"
            else:
                result.status = "stopped_early"
                return False  # a newer run follows; keep reading for its end
            return True
        elif kind == "session_event" and fwd.session_event.WhichOneof("type") == "script_compilation_exception":
            exc = fwd.session_event.script_compilation_exception
            result.elements.append(Element((-1,), "exception", exc))
        return False
