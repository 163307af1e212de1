"""Share links for every page: drop bad query parameters with a notice, and offer a link to this view.

The UI half of ``explorer/inputs/params.py`` (which stays free of streamlit). Two calls per page::

    from explorer.inputs.params import ParamSpec
    from ui.share import clean_link, link_to_this_view

    LINK = {"layer": ParamSpec("int", minimum=0, maximum=5), "view": ParamSpec("choice", choices=VIEWS)}
    clean_link(LINK)           # FIRST, before any widget bound to the URL is created
    ...widgets with bind="query-params" and the same keys, figures...
    link_to_this_view()        # LAST, after every widget, so the link holds their final values

Why ``clean_link`` must run before the widgets: Streamlit seeds a bound widget from the URL
when the widget is created, and an unparsable value can raise there (``?seed=inf`` on an int
``st.number_input`` raises ``OverflowError`` inside Streamlit 1.67, which the viewer sees as an
error box). ``clean_link`` removes every value that does not fit its ``ParamSpec`` from
``st.query_params`` and reruns once, so the widgets only ever see a clean URL; the notice
("Ignored ... from the link") is kept in the session and shown after that rerun.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException

from explorer.inputs.params import ParamSpec, parse_param

NOTICES_KEY = "_share_link_notices"


def _allowed(spec: ParamSpec) -> str:
    """What a parameter may hold, in words built only from the (trusted) spec."""
    if spec.kind == "choice":
        return "one of " + ", ".join(str(c) for c in spec.choices)
    if spec.kind in ("int", "float"):
        kind = "a whole number" if spec.kind == "int" else "a number"
        if spec.minimum is not None and spec.maximum is not None:
            return f"{kind} from {spec.minimum:g} to {spec.maximum:g}"
        return kind
    if spec.kind == "bool":
        return "true or false"
    return f"text of at most {spec.max_chars} characters"


def find_bad_params(params: Mapping[str, str | list[str]], schema: Mapping[str, ParamSpec]) -> dict[str, str]:
    """The parameters of ``schema`` whose value in ``params`` does not fit: name -> why.

    Pure (no streamlit calls), so it is unit-testable. A parameter given more than once is bad:
    a link should say one thing.
    """
    bad: dict[str, str] = {}
    for name, spec in schema.items():
        if name not in params:
            continue
        raw = params[name]
        if isinstance(raw, list):
            if len(raw) != 1:
                bad[name] = "it was given more than once"
                continue
            raw = raw[0]
        try:
            parse_param(str(raw), spec)
        except (ValueError, TypeError, OverflowError):
            bad[name] = f"expected {_allowed(spec)}"
    return bad


def notice_text(bad: Mapping[str, str]) -> str:
    """One-line notice for the ignored parameters. Only trusted text: names come from the schema."""
    parts = [f"'{name}' ({why})" for name, why in bad.items()]
    return "Ignored from the link: " + "; ".join(parts) + ". Showing the default instead."


def clean_link(schema: Mapping[str, ParamSpec], *, show: bool = True) -> dict[str, object]:
    """Validate this page's query parameters; drop the bad ones with a notice; return the good ones.

    Call it at the top of a page, before any widget bound to these keys. When something was
    dropped it calls ``st.rerun()`` once (the URL is clean afterwards, so it cannot loop).
    Hostile values are never echoed into markdown (a value like ``![x](http://...)`` would
    otherwise load an image); the notice names only the parameter.
    """
    present = {name: st.query_params.get_all(name) for name in schema if name in st.query_params}
    bad = find_bad_params(present, schema)
    if bad:
        removed = [name for name in bad if _drop_param(name)]
        st.session_state.setdefault(NOTICES_KEY, []).append(notice_text(bad))
        if removed:  # never rerun for a parameter we could not remove: that would loop
            st.rerun()
    if show:
        show_link_notices()
    valid: dict[str, object] = {}
    for name, values in present.items():
        if name not in bad and values:
            valid[name] = parse_param(str(values[-1]), schema[name])
    return valid


def _drop_param(name: str) -> bool:
    """Remove one query parameter; False if Streamlit refuses.

    Streamlit refuses to delete a parameter that is bound to a widget already registered in this
    session. That happens when two pages bind the same key (e.g. ``layer`` on two pages): the
    first page's binding is still registered when the second page runs. Page-unique keys avoid it.
    """
    try:
        del st.query_params[name]
    except StreamlitAPIException:
        return False
    return True


def keep_in_link(key: str, default: object) -> None:
    """Put a session-wide bound widget's value back into the URL when a page change dropped it.

    Call it just before creating the widget. The sidebar seed is bound to ``?seed=`` and lives on
    every page; on a sidebar page change the browser can send the new page's URL without it (seen in
    Chromium, depending on timing), and Streamlit then keeps the value but leaves it out of the URL,
    so a copied link would silently show other numbers. A bound parameter cannot be written through
    ``st.query_params``; re-assigning the held value through session state is the supported way to
    make Streamlit write it back into the URL. History navigation (back/forward) still wins: there
    Streamlit lets the URL override this assignment.
    """
    held = st.session_state.get(key)
    if held is not None and held != default and key not in st.query_params:
        st.session_state[key] = held


def show_link_notices() -> None:
    """Show (once) the notices ``clean_link`` stored before its rerun."""
    notices = st.session_state.pop(NOTICES_KEY, None)
    if notices:
        st.warning(" ".join(dict.fromkeys(notices)), icon=":material/link:")


def current_link(base_url: str | None, params: Mapping[str, str | list[str]]) -> str:
    """The full link for this view: the page's URL plus every query parameter (pure, testable)."""
    query = urlencode({k: v for k, v in params.items()}, doseq=True)
    base = (base_url or "").split("?", 1)[0]
    return f"{base}?{query}" if query else (base or "?")


LINK_BOX_CLASS = "explorer-share-link"  # the e2e tests find the box by this class

# One-click copy without ``st.code``: a code box loads Streamlit's syntax-highlighter chunk (1.6 MB of
# JavaScript, ~3.8 s of a new visitor's browser CPU on this machine, bench/bench_first_visit.py) on
# every page, for one line of plain text. The script finds its own box (``document.currentScript``:
# st.html strips inline ``onclick`` handlers but runs scripts) and copies the link; the Clipboard API
# exists only in secure contexts (HTTPS, localhost), so on a classroom's plain-HTTP Network URL it
# falls back to selecting a hidden text area and ``execCommand("copy")``, which a click still allows.
_COPY_SCRIPT = """<script>(() => {
  const box = document.currentScript.closest('.{cls}');
  const button = box.querySelector('button');
  const link = box.querySelector('a').getAttribute('data-link');
  const done = (text) => { button.textContent = text; setTimeout(() => { button.textContent = 'Copy link'; }, 2000); };
  const fallback = () => {
    const area = document.createElement('textarea');
    area.value = link; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    let ok = false; try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    area.remove(); done(ok ? 'Copied' : 'Select the link to copy');
  };
  button.addEventListener('click', () => {
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(link).then(() => done('Copied'), fallback);
    else fallback();
  });
})();</script>""".replace("{cls}", LINK_BOX_CLASS)

_LINK_BOX_STYLE = (
    "<style>.{cls}{font-size:0.8rem;line-height:1.35}"
    ".{cls} a{display:block;font-family:monospace;word-break:break-all;padding:0.4rem 0.5rem;border-radius:0.4rem;"
    "border:1px solid rgba(128,128,128,0.35);color:inherit;text-decoration:none}"
    ".{cls} button{margin-top:0.3rem;font:inherit;color:inherit;background:transparent;cursor:pointer;"
    "border:1px solid rgba(128,128,128,0.6);border-radius:0.4rem;padding:0.2rem 0.7rem}</style>"
).replace("{cls}", LINK_BOX_CLASS)


def link_box_html(link: str) -> str:
    """The link as a selectable box with a copy button (pure, testable).

    The link holds user-typed text (query parameters), so it is HTML-escaped everywhere it appears and
    reaches the script only through a ``data-`` attribute, never inside JavaScript source.
    """
    safe = html.escape(link, quote=True)
    return (
        f'{_LINK_BOX_STYLE}<div class="{LINK_BOX_CLASS}"><a href="{safe}" data-link="{safe}" target="_blank">{safe}</a>'
        f'<button type="button">Copy link</button>{_COPY_SCRIPT}</div>'
    )


def link_in_box(body: str) -> str | None:
    """The link a :func:`link_box_html` body holds (unescaped), or None for any other HTML.

    For tests and tools that read the sidebar without a browser (AppTest sees the st.html body)."""
    match = re.search(r'<a href="[^"]*" data-link="([^"]*)"', body) if LINK_BOX_CLASS in body else None
    return html.unescape(match.group(1)) if match else None


def link_to_this_view(where: object | None = None, label: str = "Link to this view") -> str:
    """Show a copyable link to exactly this view (page + every URL-bound setting + seed).

    Renders in the sidebar by default, in the same place on every page, with a "Copy link" button
    (:func:`link_box_html`). Call it after the page's widgets. Returns the link.
    """
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    link = current_link(st.context.url, params)
    container = where if where is not None else st.sidebar
    with container:  # type: ignore[attr-defined]
        st.caption(f":material/link: {label}: opens this page with these settings and seed.")
        st.html(link_box_html(link), unsafe_allow_javascript=True)
    return link
