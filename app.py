"""Transformer Explorer: navigation, page config and the shared sidebar; nothing else.

Run with ``streamlit run app.py``. Each page lives in ``app_pages/`` and only places what the
``explorer`` library computes.
"""

from __future__ import annotations

import streamlit as st

from explorer.inputs.params import ParamSpec  # plain Python: the home page never imports torch
from ui.preload import chart_code_hint, device_caption, page_run, preload_in_background, preload_library
from ui.share import clean_link, keep_in_link, link_to_this_view

st.set_page_config(page_title="Transformer Explorer", page_icon=":material/search:", layout="wide")

HOME = st.Page("app_pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True)
PAGES = [
    HOME,
    st.Page("app_pages/transformer.py", title="Transformer", icon=":material/translate:", url_path="transformer"),
    st.Page("app_pages/positional_encoding.py", title="Positional encoding", icon=":material/timeline:", url_path="positional-encoding"),
    st.Page("app_pages/language_model.py", title="Language model", icon=":material/chat:", url_path="language-model"),
    st.Page("app_pages/vit.py", title="Vision Transformer", icon=":material/image:", url_path="vit"),
    st.Page("app_pages/profiler.py", title="Profiler", icon=":material/timer:", url_path="profiler"),
    st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    st.Page("app_pages/lab.py", title="Architecture lab", icon=":material/science:", url_path="lab"),
]

navigation = st.navigation(PAGES)
on_home = navigation.url_path == HOME.url_path  # the default page's url_path is "", not "home"
if (hint := chart_code_hint()) is not None:
    # First thing sent: the browser fetches and compiles the Plotly code while the server imports and
    # computes (ui/preload.py); the container is hidden, the script still runs.
    with st.container(key="chart_code_hint"):
        st.html("<style>.st-key-chart_code_hint{display:none}</style>" + hint, unsafe_allow_javascript=True)
if not on_home:
    # Serialised first import of the library (and torch's thread setting): concurrent first sessions
    # must not import half-built modules. The home page needs none of it, not even torch: it draws
    # first, then starts the import on a background thread (end of this script).
    preload_library()
SEED_MAX = 2**31 - 1
clean_link({"seed": ParamSpec("int", minimum=0, maximum=SEED_MAX)})  # before the bound widget reads the URL

keep_in_link("seed", default=0)  # a sidebar page change must not drop the seed from the URL (and the shared link)
with st.sidebar:
    st.caption(device_caption())
    st.number_input(
        "Random seed",
        min_value=0,
        max_value=SEED_MAX,
        value=0,
        step=1,
        key="seed",
        bind="query-params",
        help="Every random choice (sampling, sample images, untrained weights) uses this seed, so a shared link shows the same numbers.",
    )
    link_slot = st.empty()
# Drawn before the page too: a page that stops on a waiting screen (st.stop(), e.g. an empty text box)
# cannot add elements afterwards, and the box would vanish; the URL already holds this run's settings.
link_to_this_view(link_slot.container())

try:
    with page_run():  # the background warm-up waits while any student's page is running
        navigation.run()
finally:
    link_to_this_view(link_slot.container())  # redrawn after the page's widgets, so the link holds their final values
    preload_in_background()  # after the page is drawn (the home page's import, every page's warm-up), once per process
