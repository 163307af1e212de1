"""ui/share.py: bad link parameters are dropped with a notice before bound widgets see them,
and the "link to this view" holds every setting."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from explorer.inputs.params import ParamSpec
from ui.share import current_link, find_bad_params, link_box_html, link_in_box, notice_text

SCHEMA = {
    "seed": ParamSpec("int", minimum=0, maximum=2**31 - 1),
    "view": ParamSpec("choice", choices=("encoder", "decoder")),
}


def test_find_bad_params_flags_exactly_the_bad_ones() -> None:
    bad = find_bad_params({"seed": ["inf"], "view": ["encoder"], "other": ["x"]}, SCHEMA)
    assert list(bad) == ["seed"]
    assert find_bad_params({"seed": ["1", "2"]}, SCHEMA) == {"seed": "it was given more than once"}
    assert find_bad_params({"seed": ["42"], "view": ["decoder"]}, SCHEMA) == {}
    assert "view" in find_bad_params({"view": ["<img src=x onerror=alert(1)>"]}, SCHEMA)


def test_notice_never_echoes_the_hostile_value() -> None:
    text = notice_text(find_bad_params({"view": ["![x](http://example.invalid/p.png)"]}, SCHEMA))
    assert "view" in text and "example.invalid" not in text and "![" not in text


def test_link_box_escapes_the_link_and_keeps_it_out_of_the_script() -> None:
    """The link holds typed text: it must not be able to close the attribute, add a tag or reach the JavaScript."""
    hostile = 'http://h/transformer?tf_text="><img src=x onerror=alert(1)></script>'
    box = link_box_html(hostile)
    assert "<img" not in box and "</script>\"" not in box and box.count("</script>") == 1
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;" in box
    script = box[box.index("<script>"):]
    assert "onerror" not in script, "the link reaches the copy script only through the data-link attribute"
    assert link_in_box(box) == hostile and link_in_box("<p>other</p>") is None


def test_current_link_keeps_every_param_and_drops_old_query() -> None:
    link = current_link("http://host:8501/transformer?stale=1", {"seed": ["7"], "text": ["26 Nov 2026"]})
    assert link == "http://host:8501/transformer?seed=7&text=26+Nov+2026"
    assert current_link(None, {}) == "?"


APP = '''
import streamlit as st
from explorer.inputs.params import ParamSpec
from ui.share import clean_link, link_to_this_view
valid = clean_link({"seed": ParamSpec("int", minimum=0, maximum=2**31 - 1)})
st.number_input("Random seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="seed", bind="query-params")
link_to_this_view()
'''


def test_clean_link_turns_a_crashing_seed_into_a_notice() -> None:
    at = AppTest.from_string(APP, default_timeout=60)
    at.query_params["seed"] = "inf"  # raises OverflowError inside a bound int number_input otherwise
    at.run()
    assert not at.exception
    assert at.number_input(key="seed").value == 0
    assert any("Ignored from the link" in w.value and "seed" in w.value for w in at.warning)


def test_clean_link_keeps_a_good_seed_and_the_link_shows_it() -> None:
    at = AppTest.from_string(APP, default_timeout=60)
    at.query_params["seed"] = "42"
    at.run()
    assert not at.exception and not at.warning
    assert at.number_input(key="seed").value == 42
    links = [link for box in at.sidebar.get("html") if (link := link_in_box(box.value))]
    assert len(links) == 1 and "seed=42" in links[0], links
