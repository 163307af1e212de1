"""Bad input for the Marian translators: the checks, and the CLI's one-line refusals."""

from __future__ import annotations

import pytest

from explorer.inputs.translation import MAX_CHARS, MAX_TOKENS, check_sentence
from explorer.readers import ModelUnavailable
from explorer.readers.marian import MarianTokenizer, find_files

try:
    TOKENIZER = MarianTokenizer(find_files("en-pt").tokenizer)
except ModelUnavailable as missing:
    pytest.skip(str(missing), allow_module_level=True)


@pytest.mark.parametrize("raw", ["", "   ", "\n\t ", None, "\x07\x08"])
def test_empty_blank_and_invisible_text_is_refused(raw: str | None) -> None:
    check = check_sentence(raw, TOKENIZER)
    assert not check.ok and "\n" not in (check.error or "")


def test_long_paste_is_cut_on_the_page_with_both_lengths_said() -> None:
    paste = ("The cat is sleeping on the sofa. " * 70)[:2000]
    check = check_sentence(paste, TOKENIZER, truncate=True)
    assert check.ok and check.truncated
    assert len(check.text) <= MAX_CHARS and len(check.ids) <= MAX_TOKENS
    message = " ".join(check.warnings)
    assert "2,000 characters" in message and f"{len(check.text):,} characters" in message


def test_long_text_is_refused_by_the_cli_with_the_cap() -> None:
    check = check_sentence("word " * 200, TOKENIZER, truncate=False)
    assert not check.ok
    assert f"{MAX_TOKENS} pieces" in (check.error or "") and f"{MAX_CHARS} characters" in (check.error or "")


def test_many_pieces_in_few_characters_hit_the_piece_cap() -> None:
    check = check_sentence("🙂a" * 200, TOKENIZER)  # 400 characters, far more than 128 pieces
    assert check.truncated and len(check.ids) <= MAX_TOKENS


def test_controls_are_removed_and_emoji_become_visible_unknowns() -> None:
    check = check_sentence("I love\x07 🙂 and 日本語", TOKENIZER)
    assert check.ok and "\x07" not in check.text
    assert any("U+0007" in w for w in check.warnings)
    assert any("<unk>" in w for w in check.warnings)
    assert TOKENIZER.pieces(check.ids).count("<unk>") == 2


def test_lone_surrogate_and_markup() -> None:
    check = check_sentence("Hello \ud800 <script>alert(1)</script>", TOKENIZER)
    assert check.ok and "\ud800" not in check.text
    assert check.infos and "plain" in check.infos[0]


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from explorer.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("text", ["", "   ", "word " * 200], ids=["empty", "blank", "over-cap"])
def test_cli_refuses_with_one_line_and_nonzero_exit(capsys: pytest.CaptureFixture[str], text: str) -> None:
    code, out, err = _run_cli(capsys, "translate", "--model", "en-pt", text)
    assert code != 0 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


def test_cli_translates_english(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_cli(capsys, "translate", "--model", "en-pt", "The cat is sleeping on the sofa.")
    assert code == 0 and out.strip() == "O gato está dormindo no sofá."
