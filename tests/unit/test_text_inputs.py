"""Validation of what a student types: every bad input gets a one-line message, never an exception."""

from __future__ import annotations

import math

import pytest

from explorer.inputs.text import (
    MAX_TEXT_CHARS,
    check_temperature,
    check_text,
    display_token,
    replace_surrogates,
    visible_char,
)
from explorer.tasks.tokenizer import CharTokenizer

TOK = CharTokenizer()


def test_a_normal_date_passes_untouched() -> None:
    check = check_text("Thursday 26 November 2026", TOK, 64)
    assert check.ok and check.text == "Thursday 26 November 2026"
    assert not check.warnings and not check.infos and not check.truncated


@pytest.mark.parametrize("raw, phrase", [("", "empty"), (None, "empty"), ("   \t ", "whitespace")])
def test_empty_and_blank_text_are_errors(raw: str | None, phrase: str) -> None:
    check = check_text(raw, TOK, 64)
    assert not check.ok and phrase in check.error  # type: ignore[operator]
    assert "\n" not in check.error  # type: ignore[operator]


def test_empty_prefix_is_fine() -> None:
    assert check_text("", TOK, 63, what="prefix", allow_empty=True).ok


def test_long_text_is_cut_with_both_lengths_in_the_message() -> None:
    check = check_text("1" * 10_000, TOK, 64)
    assert check.ok and check.truncated and len(check.text) == 64
    assert "10,000" in check.warnings[0] and "64" in check.warnings[0]
    from_url = check_text("1" * MAX_TEXT_CHARS, TOK, 64, original_length=10_000)
    assert "10,000" in from_url.warnings[0]


@pytest.mark.parametrize(
    "raw, shown",
    [("😀 26 Nov", "😀"), ("二〇二六年", "二"), ("שלום 2026", "ש"), ("26\x07Nov\x00", "U+0007"), ("26\u200bnov", "U+200B")],
    ids=["emoji", "cjk", "rtl", "control", "zero-width"],
)
def test_characters_outside_the_vocabulary_are_listed(raw: str, shown: str) -> None:
    check = check_text(raw, TOK, 64)
    assert check.ok
    assert any("<unk>" in w and shown in w for w in check.warnings)


def test_lone_surrogate_is_replaced_so_the_text_can_be_encoded() -> None:
    check = check_text("\ud800 26 nov 2026", TOK, 64)
    assert check.ok
    check.text.encode("utf-8")  # would raise UnicodeEncodeError with the surrogate left in
    assert check.text[0] == "\ufffd"
    assert any("surrogate" in w for w in check.warnings)
    assert replace_surrogates("a\udfffb") == ("a\ufffdb", 1)


def test_script_text_is_plain_characters_with_a_notice() -> None:
    check = check_text("<script>alert(1)</script>", TOK, 64)
    assert check.ok and check.text == "<script>alert(1)</script>"
    assert any("never rendered as HTML" in i for i in check.infos)


def test_case_folding_is_not_reported_as_unknown() -> None:
    assert not check_text("NOVEMBER", TOK, 64).warnings


@pytest.mark.parametrize(
    "value, expected, warns, informs",
    [(0, 0.0, False, True), (0.7, 0.7, False, False), (-1, 0.0, True, False), ("abc", 0.0, True, False),
     (math.nan, 0.0, True, False), (math.inf, 0.0, True, False), (99, 0.0, True, False)],
)
def test_temperature(value: object, expected: float, warns: bool, informs: bool) -> None:
    t, warning, info = check_temperature(value)
    assert t == expected and bool(warning) == warns and bool(info) == informs
    if informs:
        assert "greedy" in info  # type: ignore[operator]


def test_display_tokens_make_invisible_characters_visible() -> None:
    assert visible_char(" ") == "␣"
    assert visible_char("\x07") == "U+0007"
    assert display_token("<unk:\x00>") == "<unk:U+0000>"
    assert display_token("<s>") == "<s>"
    assert display_token("a") == "a"


def test_escape_markdown_neutralises_links_math_and_html() -> None:
    import re

    from explorer.inputs.text import escape_markdown

    out = escape_markdown("[x](javascript:alert(1)) $a$ <b>*y*</b>")
    assert re.search(r"(?<!\\)[\[\]()$<>*]", out) is None  # every special character is backslash-escaped
    assert out.replace("\\", "") == "[x](javascript:alert(1)) $a$ <b>*y*</b>"
