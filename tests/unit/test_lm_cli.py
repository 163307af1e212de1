"""``python -m explorer generate`` / ``heads``: refusals are one line with exit 2; the real model answers (slow)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from explorer.cli import main
from explorer.pretrained import pretrained_status


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["generate", ""], "empty"),
        (["generate", " \t\n"], "empty"),
        (["generate", "\x00\x01"], "empty"),
        (["generate", "hi", "--max-new-tokens", "65"], "1 to 64"),
        (["generate", "hi", "--max-new-tokens", "0"], "1 to 64"),
        (["generate", "hi", "--temperature", "-1"], "temperature"),
        (["generate", "hi", "--top-k", "5000"], "top-k"),
        (["generate", "hi", "--top-p", "1.5"], "top-p"),
        (["generate", "hi", "--seed", "-3"], "seed"),
    ],
)
def test_refusals_are_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


needs_model = pytest.mark.skipif(pretrained_status("smollm2-135m") is not None, reason="SmolLM2 wheel not installed")


@pytest.mark.slow
@needs_model
def test_generate_paris(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "The capital of France is", "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out.startswith(" Paris")


@pytest.mark.slow
@needs_model
def test_prompt_over_the_token_cap_is_refused_with_both_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "word" + " word" * 599, "--max-new-tokens", "1"]) == 2
    err = capsys.readouterr().err
    assert "600 tokens" in err and "512 tokens" in err and err.count("\n") == 1


@pytest.mark.slow
@needs_model
def test_any_script_and_emoji_and_chat(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "مرحبا 😀 日本 \ud800", "--max-new-tokens", "2"]) == 0
    captured = capsys.readouterr()
    assert "U+FFFD" in captured.err  # the lone surrogate was replaced, and said so
    assert main(["generate", "Say hello.", "--chat", "--max-new-tokens", "4", "--temperature", "0.7", "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@needs_model
def test_heads_json_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["heads", "smollm2-135m", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 270 and set(rows[0]) == {"layer", "head", "previous_token", "induction", "first_token", "self", "entropy"}
    assert max(row["induction"] for row in rows) >= 0.8
    assert main(["heads", "smollm2-135m", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 270 and table[-1]["layer"] == "29" and table[-1]["head"] == "8"
