"""The command line: predictions for scripts, and one-line errors with a non-zero exit on bad input."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.tasks import shapes


def test_translate_prints_the_iso_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", "26 Nov 2026"]) == 0
    assert capsys.readouterr().out.strip() == "2026-11-26"


@pytest.mark.parametrize("text", ["", "   \t "])
def test_translate_refuses_empty_text(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", text]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_classify_a_generated_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hits = 0
    for index, name in enumerate(shapes.CLASSES):
        path = tmp_path / f"{name}.png"
        shapes.sample_image(name, seed=index).save(path)
        assert main(["classify", str(path)]) == 0
        predicted, probability = capsys.readouterr().out.strip().split("\t")
        assert 0.0 <= float(probability) <= 1.0
        hits += predicted == name
    assert hits >= len(shapes.CLASSES) - 1  # the trained ViT knows its own classes


@pytest.mark.parametrize(
    ("name", "content"),
    [("missing.png", None), ("notes.png", b"just some text, renamed"), ("empty.png", b"")],
)
def test_classify_refuses_unreadable_files(tmp_path: Path, name: str, content: bytes | None, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["classify", str(path)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_module_entry_point_exits_non_zero_on_bad_input() -> None:
    result = subprocess.run([sys.executable, "-m", "explorer", "translate", ""], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.strip().startswith("error:")


def test_help_lists_every_command() -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        sys.stdout, saved = out, sys.stdout
        try:
            main(["--help"])
        finally:
            sys.stdout = saved
    assert exit_info.value.code == 0
    for command in ("train", "translate", "classify", "profile"):
        assert command in out.getvalue()
