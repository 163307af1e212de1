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
        shown, predicted, probability, in_distribution = capsys.readouterr().out.strip().split("\t")
        assert shown == str(path) and 0.0 <= float(probability) <= 1.0 and in_distribution in ("yes", "no")
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
    captured = capsys.readouterr()
    err, out = captured.err.strip(), captured.out.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert out.startswith(f"{path}\terror: ") and "\n" not in out  # the message sits on that file's line


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
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


def test_classify_many_paths_keeps_going_past_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.inputs.shapes_look import clean_drawing

    good_dark, good_light, bad = tmp_path / "dark.png", tmp_path / "light.png", tmp_path / "bad.png"
    clean_drawing("square", dark_on_light=True).save(good_dark)
    clean_drawing("square", dark_on_light=False).save(good_light)
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["classify", "--model", "shapes", str(good_dark), str(bad), str(good_light)]) == 2
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 3
    assert lines[0].split("\t")[:2] == [str(good_dark), "square"]  # dark-on-white: the polarity step makes it right
    assert lines[1].startswith(f"{bad}\terror: ")
    assert lines[2].split("\t")[:2] == [str(good_light), "square"]


def test_classify_fashion_flags_a_photo(capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.analysis.ood_report import PHOTO_DIR

    assert main(["classify", "--model", "fashion", str(PHOTO_DIR / "chelsea.png")]) == 0
    fields = capsys.readouterr().out.strip().split("\t")
    assert len(fields) == 4 and fields[3] == "no"  # the model does not know cats, and says so
