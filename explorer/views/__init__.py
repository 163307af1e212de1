"""What each page shows, computed from validated settings: one module per page.

A page is widgets -> ``explorer.views.<page>`` -> place: the view function takes the settings the
widgets produced (already validated by ``explorer.inputs``) and returns a frozen dataclass holding
everything the page draws (figures, tables, labels and the numbers its captions quote). Views never
import Streamlit, so they can be tested and reused from a notebook; caching lives in ``ui/cache.py``.
"""
