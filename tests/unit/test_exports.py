"""Downloads: tidy CSV that survives hostile tokens, NPZ that loads without pickle, PNG through Pillow."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer import exports


def test_attention_csv_is_tidy_and_safe() -> None:
    maps = np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3) / 10
    data = exports.AttentionTable(maps, ["a", "=cmd"], ["x", ",", '"'], kind="encoder_self").csv()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["kind", "layer", "head", "query_index", "query_token", "key_index", "key_token", "weight"]
    assert len(rows) == 1 + 2 * 1 * 2 * 3
    assert rows[1][:7] == ["encoder_self", "0", "0", "0", "a", "0", "x"]
    assert {r[6] for r in rows[1:]} == {"x", ",", '"'}  # commas and quotes survive quoting
    assert all(not r[4].startswith("=") for r in rows[1:])  # no formula injection
    assert float(rows[-1][7]) == pytest.approx(maps[1, 0, 1, 2], abs=1e-6)
    with pytest.raises(ValueError):
        exports.AttentionTable(maps, ["a"], ["x", "y", "z"]).csv()


def test_attention_npz_round_trips_without_pickle() -> None:
    maps = np.random.default_rng(0).random((2, 4, 3, 5)).astype(np.float32)
    data = exports.AttentionTable(maps, ["a", "b", "c"], list("vwxyz"), kind="decoder_cross").npz()
    loaded = np.load(io.BytesIO(data), allow_pickle=False)
    np.testing.assert_array_equal(loaded["weights"], maps)
    assert list(loaded["query_tokens"]) == ["a", "b", "c"]
    assert str(loaded["kind"]) == "decoder_cross"
    single = np.load(io.BytesIO(exports.AttentionTable(maps[0, 0], ["a", "b", "c"], list("vwxyz")).npz()))
    assert single["weights"].shape == (1, 1, 3, 5)


def test_matrix_csv_and_named_arrays_round_trip() -> None:
    matrix = np.arange(6, dtype=float).reshape(2, 3) / 7
    lines = exports.matrix_csv(matrix, "pos", "dim").decode().strip().splitlines()
    assert lines[0] == "pos\\dim,0,1,2" and len(lines) == 3
    assert float(lines[1].split(",")[2]) == pytest.approx(1 / 7, rel=1e-5)
    data = np.load(io.BytesIO(exports.arrays_npz({"M 5": matrix, "rope/scores": np.eye(2)})), allow_pickle=False)
    assert set(data.files) == {"M_5", "rope_scores"}
    assert np.allclose(data["M_5"], matrix)


def test_grid_attention_csv_numbers_patches_row_major_from_zero() -> None:
    maps = np.random.default_rng(1).random((2, 3, 2, 2))
    rows = list(csv.DictReader(io.StringIO(exports.grid_attention_csv(maps).decode())))
    assert len(rows) == 2 * 3 * 4
    last = rows[-1]
    assert (last["layer"], last["head"], last["patch"], last["row"], last["col"]) == ("1", "2", "3", "1", "1")
    assert float(last["weight"]) == pytest.approx(maps[1, 2, 1, 1], rel=1e-5)
    assert (rows[1]["patch"], rows[1]["row"], rows[1]["col"]) == ("1", "0", "1")  # along a row first


def test_table_csv_guards_text_cells_but_keeps_numbers() -> None:
    frame = pd.DataFrame({"name": ["=SUM(A1)", "-", "attn"], "ms": [1.5, -2.0, 3.0]})
    rows = list(csv.DictReader(io.StringIO(exports.table_csv(frame).decode())))
    assert [r["name"] for r in rows] == ["'=SUM(A1)", "-", "attn"]
    assert [float(r["ms"]) for r in rows] == [1.5, -2.0, 3.0]


def test_png_bytes_from_arrays_and_images() -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[0, 0] = 255
    decoded = Image.open(io.BytesIO(exports.png_bytes(pixels)))
    assert decoded.format == "PNG" and decoded.size == (6, 4)
    assert np.asarray(decoded.convert("RGB"))[0, 0].tolist() == [255, 255, 255]
    assert Image.open(io.BytesIO(exports.png_bytes(Image.new("L", (3, 2))))).size == (3, 2)
