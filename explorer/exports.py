"""Downloads: every view's numbers as CSV for spreadsheets, NPZ for numpy, PNG for slides.

One home for file formats so every page writes them the same way: tidy long-format CSV (one row
per value, the layout spreadsheets and pandas pivot best), compressed NPZ loadable without pickle
(labels stored as unicode arrays), and PNG through Pillow. Text cells that come from a user (tokens,
names) are quoted by the ``csv`` module and guarded against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

_FORMULA_START = ("=", "+", "-", "@")


def spreadsheet_safe(text: str) -> str:
    """A multi-character cell starting with ``=+-@`` gets a leading ``'`` so a spreadsheet shows it as text.

    Single characters such as '-' cannot form a formula and are kept as they are (a token "-" stays "-").
    """
    return "'" + text if len(text) > 1 and text[:1] in _FORMULA_START else text


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], quote_text: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC if quote_text else csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def table_csv(frame: pd.DataFrame) -> bytes:
    """A DataFrame as CSV without its index; text cells made spreadsheet-safe."""
    safe = frame.copy()
    for column in safe.select_dtypes(include=["object", "string"]).columns:
        safe[column] = safe[column].map(lambda v: spreadsheet_safe(v) if isinstance(v, str) else v)
    return safe.to_csv(index=False).encode("utf-8")


def _as_layers_heads(maps: np.ndarray, query_tokens: Sequence[str], key_tokens: Sequence[str]) -> np.ndarray:
    arr = np.asarray(maps, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None, None]
    if arr.ndim != 4:
        raise ValueError(f"export needs (queries, keys) or (layers, heads, queries, keys), got shape {arr.shape}")
    if arr.shape[2:] != (len(query_tokens), len(key_tokens)):
        raise ValueError(f"map shape {arr.shape[2:]} does not match {len(query_tokens)} x {len(key_tokens)} tokens")
    return arr


@dataclass(frozen=True)
class AttentionTable:
    """Attention maps with their labels, ready to download as CSV or NPZ.

    ``maps`` is (L, H, Tq, Tk) or one (Tq, Tk) map; ``head_names`` labels the head axis (e.g. ["mean"]
    for combined heads). Shapes are checked when a file is written, so a view can hand out
    ``table.csv`` and ``table.npz`` and only the one a student asks for is built.
    """

    maps: np.ndarray
    query_tokens: Sequence[str]
    key_tokens: Sequence[str]
    kind: str = ""
    head_names: Sequence[str] | None = None

    def _checked(self) -> tuple[np.ndarray, list[str]]:
        arr = _as_layers_heads(self.maps, self.query_tokens, self.key_tokens)
        names = list(self.head_names) if self.head_names is not None else [str(h) for h in range(arr.shape[1])]
        return arr, names

    def csv(self) -> bytes:
        """One row per (layer, head, query, key); tokens are quoted text, so commas, quotes or a
        leading ``=`` cannot break the file or inject a formula."""
        arr, names = self._checked()
        n_layers, n_heads = arr.shape[:2]
        rows = (
            [self.kind, layer, names[head], qi, spreadsheet_safe(qt), ki, spreadsheet_safe(kt), round(float(arr[layer, head, qi, ki]), 6)]
            for layer in range(n_layers)
            for head in range(n_heads)
            for qi, qt in enumerate(self.query_tokens)
            for ki, kt in enumerate(self.key_tokens)
        )
        header = ["kind", "layer", "head", "query_index", "query_token", "key_index", "key_token", "weight"]
        return _csv_bytes(header, rows, quote_text=True)

    def npz(self) -> bytes:
        """``weights`` (L, H, Tq, Tk) float32 plus the token and head labels."""
        arr, names = self._checked()
        return arrays_npz(
            {
                "weights": arr,
                "query_tokens": np.array(list(self.query_tokens), dtype=str),
                "key_tokens": np.array(list(self.key_tokens), dtype=str),
                "head_names": np.array(names, dtype=str),
                "kind": np.array(self.kind),
            }
        )


def arrays_npz(arrays: Mapping[str, Any]) -> bytes:
    """Named arrays in one compressed ``.npz``; names are made valid identifiers ("M 5" -> "M_5")."""
    safe = {re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "array": np.asarray(a) for name, a in arrays.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **safe)  # type: ignore[arg-type]
    return buffer.getvalue()


def matrix_csv(matrix: np.ndarray, row_name: str = "row", column_name: str = "col") -> bytes:
    """A 2-D array as CSV with a header row and an index column, 6 significant digits."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        matrix = matrix.reshape(matrix.shape[0], -1)
    header = [f"{row_name}\\{column_name}", *(str(j) for j in range(matrix.shape[1]))]
    rows = ([i, *(f"{v:.6g}" for v in row)] for i, row in enumerate(matrix))
    return _csv_bytes(header, rows)


def grid_attention_csv(maps: np.ndarray) -> bytes:
    """Attention over an image's patch grid (L, H, rows, cols) as CSV: layer, head, patch, row, col, weight."""
    n_layers, n_heads, rows, cols = np.asarray(maps).shape
    lines = (
        [layer, head, r * cols + c, r, c, f"{maps[layer, head, r, c]:.6g}"]
        for layer in range(n_layers)
        for head in range(n_heads)
        for r in range(rows)
        for c in range(cols)
    )
    return _csv_bytes(["layer", "head", "patch", "row", "col", "weight"], lines)


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """A PIL image or a uint8 array (H, W) / (H, W, 3) as PNG bytes."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")  # optimize=True is about 10x slower for almost no smaller file here
    return buffer.getvalue()
